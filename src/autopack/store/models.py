"""SQLAlchemy 2 models of the run store: runs, phases, attempts, model calls, CI results, events.

Large data (prompts, diffs, logs) lives here and never in Kubernetes status. Rows are keyed so
that writers can upsert idempotently: a run by its id (the AutopackRun uid, or a generated
uuid for local runs), a phase by (run, index), an attempt by (phase, number).
"""

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Deterministic constraint names keep Alembic migrations portable between SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSONB on PostgreSQL (indexable, compact); plain JSON text elsewhere.
Json = JSON().with_variant(postgresql.JSONB(), "postgresql")
Money = Numeric(14, 6)


def utcnow() -> datetime:
    """Return the current time in UTC (timezone-aware)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UsageColumns:
    """Token and cost totals shared by runs and phases (sums of their ``llm_calls``)."""

    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    llm_calls: Mapped[int] = mapped_column(Integer, default=0)


class Run(UsageColumns, Base):
    """One AutopackRun, local or in a cluster."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(253))
    namespace: Mapped[str] = mapped_column(String(253), default="")
    source: Mapped[str] = mapped_column(String(16), default="local")  # local | kubernetes
    state: Mapped[str] = mapped_column(String(32), default="Pending")
    reason: Mapped[str | None] = mapped_column(String(128))
    message: Mapped[str | None] = mapped_column(Text)
    repo_url: Mapped[str] = mapped_column(String(2048))
    base_ref: Mapped[str] = mapped_column(String(255))
    push_branch: Mapped[str] = mapped_column(String(255))
    result_commit: Mapped[str | None] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    phases: Mapped[list["PhaseRecord"]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="PhaseRecord.index"
    )

    __table_args__ = (
        Index("ix_runs_namespace_name", "namespace", "name"),
        # The dashboard lists runs newest first, optionally by state (migration 0002).
        Index("ix_runs_created_at", "created_at"),
        Index("ix_runs_state_created_at", "state", "created_at"),
    )


class PhaseRecord(UsageColumns, Base):
    """One phase of a run (named ``PhaseRecord`` to keep it apart from the API's ``Phase``)."""

    __tablename__ = "phases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(32), default="Queued")
    attempts_made: Mapped[int] = mapped_column(Integer, default=0)
    model: Mapped[str | None] = mapped_column(String(256))
    commit: Mapped[str | None] = mapped_column(String(64))
    failure_signature: Mapped[str | None] = mapped_column(Text)
    mitigation: Mapped[str | None] = mapped_column(Text)
    definition: Mapped[dict[str, Any]] = mapped_column(Json)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    run: Mapped[Run] = relationship(back_populates="phases")
    attempts: Mapped[list["Attempt"]] = relationship(
        back_populates="phase", cascade="all, delete-orphan", order_by="Attempt.number"
    )

    __table_args__ = (UniqueConstraint("run_id", "index", name="uq_phases_run_id_index"),)


class Attempt(Base):
    """One Builder attempt at a phase, with what happened to it."""

    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("phases.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(32), default="running")
    model: Mapped[str | None] = mapped_column(String(256))
    failure_category: Mapped[str | None] = mapped_column(String(64))
    failure_signature: Mapped[str | None] = mapped_column(Text)
    failure_detail: Mapped[str | None] = mapped_column(Text)
    mitigation: Mapped[str | None] = mapped_column(Text)
    mitigation_fixed: Mapped[bool | None] = mapped_column()
    doctor_decision: Mapped[str | None] = mapped_column(String(64))
    escalation: Mapped[str | None] = mapped_column(Text)
    diff_files: Mapped[int | None] = mapped_column(Integer)
    diff_additions: Mapped[int | None] = mapped_column(Integer)
    diff_deletions: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    phase: Mapped[PhaseRecord] = relationship(back_populates="attempts")

    __table_args__ = (UniqueConstraint("phase_id", "number", name="uq_attempts_phase_id_number"),)


class LlmCall(Base):
    """One model call as the provider billed it; token counts are null when not reported."""

    __tablename__ = "llm_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    phase_id: Mapped[int | None] = mapped_column(ForeignKey("phases.id", ondelete="CASCADE"))
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(256))
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    cache_read_tokens: Mapped[int | None] = mapped_column(Integer)
    cache_write_tokens: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[Decimal | None] = mapped_column(Money)
    pricing_version: Mapped[str | None] = mapped_column(String(64))
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    outcome: Mapped[str] = mapped_column(String(32))  # ok | truncated | error | budget_exceeded
    stop_reason: Mapped[str | None] = mapped_column(String(64))
    error_type: Mapped[str | None] = mapped_column(String(128))
    error_message: Mapped[str | None] = mapped_column(Text)
    # The HTTP status of this try (migration 0003); null for calls that never reached a server.
    status_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        Index("ix_llm_calls_run_id_phase_id", "run_id", "phase_id"),
        # The dashboard's usage over a time window (migration 0002).
        Index("ix_llm_calls_created_at", "created_at"),
    )


class CiResult(Base):
    """One run of the project's tests: the baseline, an attempt, or a flakiness re-run."""

    __tablename__ = "ci_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    phase_id: Mapped[int | None] = mapped_column(ForeignKey("phases.id", ondelete="CASCADE"))
    attempt_id: Mapped[int | None] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # baseline | attempt | rerun | validation
    command: Mapped[str] = mapped_column(Text)
    exit_code: Mapped[int | None] = mapped_column(Integer)
    timed_out: Mapped[bool] = mapped_column(default=False)
    passed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    collection_errors: Mapped[int] = mapped_column(Integer, default=0)
    new_failures: Mapped[list[str]] = mapped_column(Json, default=list)
    duration_seconds: Mapped[float] = mapped_column(default=0.0)
    log_excerpt: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Event(Base):
    """Something that happened during a run, in the order it happened."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    phase_id: Mapped[int | None] = mapped_column(ForeignKey("phases.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(128))
    message: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_events_run_id_id", "run_id", "id"),)


class Note(Base):
    """A person's note on a run: shown on the dashboard and handed to the next prompts.

    ``key`` makes a write idempotent when the writer has a natural key (e.g. the operator
    recording the ``autopack.dev/note`` annotation: the same annotation value is one note).
    """

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(253), default="")
    source: Mapped[str] = mapped_column(String(16), default="cli")  # cli | dashboard | annotation
    key: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        UniqueConstraint("run_id", "key", name="uq_notes_run_id_key"),
        Index("ix_notes_run_id_id", "run_id", "id"),
    )


class UsageDaily(Base):
    """Model calls summed per UTC day, provider, model and role: the dashboard's usage source.

    Kept equal to ``llm_calls`` by database triggers (migration 0004) on insert, update and
    delete, so spend over months reads a few thousand rows instead of millions of calls.
    """

    __tablename__ = "usage_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(256), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(20, 6), default=Decimal(0))
    llm_calls: Mapped[int] = mapped_column(BigInteger, default=0)
