"""The store sink: turns engine events into rows, and catches up after a database outage.

Every event is queued, then the queue is flushed in order inside one transaction per event.
If the database is unreachable the events stay queued, the run carries on, and the next
event that finds the database up writes the backlog first; ``flush()`` at the end of a run
tries once more. Writes are upserts keyed by natural keys, so repeating one is harmless.
"""

import dataclasses
import logging
from collections import deque
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, assert_never, cast

from pydantic import BaseModel
from sqlalchemy import ColumnElement, CursorResult, case, func, insert, literal, select, update
from sqlalchemy.orm import Session

from autopack import events
from autopack.api import PhaseState, RunPhase
from autopack.llm.types import CallRecord
from autopack.store import Store, StoreUnavailableError, models, records, runrows

logger = logging.getLogger(__name__)

# The sink writes through Core statements on the tables: the ORM's unit of work (an object
# per row, a flush to learn its id) cost more than the SQL itself on every event.
_TABLES = models.Base.metadata.tables
_PHASES = _TABLES[models.PhaseRecord.__tablename__]
_ATTEMPTS = _TABLES[models.Attempt.__tablename__]
_INSERT_EVENT = insert(_TABLES[models.Event.__tablename__])
_INSERT_PHASE = insert(_PHASES)
_INSERT_ATTEMPT = insert(_ATTEMPTS)
_INSERT_CI_RESULT = insert(_TABLES[models.CiResult.__tablename__])
_INSERT_LLM_CALL = insert(_TABLES[models.LlmCall.__tablename__])


def _jsonable(value: Any) -> Any:  # noqa: PLR0911 - one return per kind of value
    """An event's fields as JSON: dataclasses nested, enums as values, times as ISO text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    return value


def _event_data(event: events.RunEvent) -> dict[str, Any]:
    data = _jsonable(event)
    for key in ("run", "at", "phases", "diff"):
        data.pop(key, None)
    return dict(data)


class StoreSink:
    """Records a run's events in the store (runs, phases, attempts, ci_results, events)."""

    def __init__(self, store: Store, *, run_id: str, run_row: dict[str, Any] | None = None) -> None:
        """Record events of the run with id ``run_id``.

        The run row must exist when the run starts, unless ``run_row`` (the arguments of
        :func:`records.upsert_run`) is given: then it is written with RunStarted, so a run that
        starts while the database is down still gets its row when the backlog is written.
        """
        self.store = store
        self.run_id = run_id
        self.run_row = run_row
        self.pending: deque[events.RunEvent] = deque()
        self.available = True
        self.last_error: str | None = None
        # Row ids of phases (by index) and attempts (by phase id and number) known to be
        # committed: an event then updates its rows by id instead of looking them up first.
        # Ids found while writing an event count only once its transaction has committed.
        self._phase_ids: dict[int, int] = {}
        self._attempt_ids: dict[tuple[int, int], int] = {}
        self._new_phase_ids: dict[int, int] = {}
        self._new_attempt_ids: dict[tuple[int, int], int] = {}

    def emit(self, event: events.RunEvent) -> None:
        """Queue the event and write everything queued, oldest first."""
        self.pending.append(event)
        self.flush()

    def flush(self) -> bool:
        """Write queued events; return whether the queue is empty afterwards."""
        while self.pending:
            event = self.pending[0]
            self._new_phase_ids, self._new_attempt_ids = {}, {}
            try:
                with self.store.session() as session:
                    self._write(session, event)
            except StoreUnavailableError as exc:
                if self.available:
                    logger.warning(
                        "run store unavailable, %d event(s) queued: %s", len(self.pending), exc
                    )
                self.available = False
                self.last_error = str(exc)
                return False
            self.pending.popleft()
            self.available = True
            self._phase_ids.update(self._new_phase_ids)
            self._attempt_ids.update(self._new_attempt_ids)
        return True

    def _phase_id(self, session: Session, index: int) -> int:
        """The id of the phase row for ``index`` (created if missing), from the cache if known."""
        known = self._phase_ids.get(index, self._new_phase_ids.get(index))
        if known is None:
            known = self._new_phase_ids[index] = self._phase(session, index).id
        return known

    def _attempt_id(self, session: Session, phase_id: int, number: int) -> int:
        """The id of the attempt row (phase, number), created if missing; cached like phases."""
        key = (phase_id, number)
        known = self._attempt_ids.get(key, self._new_attempt_ids.get(key))
        if known is None:
            known = session.scalar(
                select(_ATTEMPTS.c.id).where(
                    _ATTEMPTS.c.phase_id == phase_id, _ATTEMPTS.c.number == number
                )
            )
            if known is None:
                row = {"phase_id": phase_id, "number": number}
                inserted = cast(CursorResult[Any], session.execute(_INSERT_ATTEMPT, row))
                known = int(inserted.inserted_primary_key[0])  # type: ignore[index]
            self._new_attempt_ids[key] = known
        return known

    def _update_phase(self, session: Session, phase_id: int, **values: Any) -> None:
        session.execute(update(_PHASES).where(_PHASES.c.id == phase_id).values(**values))

    def _update_attempt(self, session: Session, attempt_id: int, **values: Any) -> None:
        session.execute(update(_ATTEMPTS).where(_ATTEMPTS.c.id == attempt_id).values(**values))

    def _attempt_details(self, session: Session, attempt_id: int) -> dict[str, Any]:
        details: dict[str, Any] = session.execute(
            select(_ATTEMPTS.c.details).where(_ATTEMPTS.c.id == attempt_id)
        ).scalar_one()
        return details

    def _phase(self, session: Session, index: int) -> models.PhaseRecord:
        phase = records.find_phase(session, run_id=self.run_id, index=index)
        if phase is None:
            phase = records.upsert_phase(
                session, run_id=self.run_id, index=index, title=f"phase {index}", definition={}
            )
        return phase

    def _write(self, session: Session, event: events.RunEvent) -> None:
        phase_id = self._apply(session, event)
        session.execute(
            _INSERT_EVENT,
            {
                "run_id": self.run_id,
                "phase_id": phase_id,
                "type": type(event).__name__,
                "reason": None,
                "message": "",
                "data": _event_data(event),
                "created_at": event.at,
            },
        )

    def _apply(self, session: Session, event: events.RunEvent) -> int | None:  # noqa: PLR0911, PLR0912 - one case per event
        """Update the rows ``event`` concerns; return the phase row it belongs to."""
        match event:
            case events.RunStarted():
                if self.run_row is not None:
                    records.upsert_run(session, run_id=self.run_id, **self.run_row)
                runrows.start(session, run_id=self.run_id, now=event.at)
                return None
            case events.PlanReady():
                self._plan_ready(session, event)
                return None
            case events.PhaseStarted():
                phase_id = self._phase_id(session, event.index)
                started = models.PhaseRecord.started_at
                self._update_phase(
                    session,
                    phase_id,
                    state=PhaseState.BUILDING,
                    started_at=func.coalesce(started, literal(event.at, started.type)),
                )
                return phase_id
            case events.PhaseAlreadyComplete():
                phase_id = self._phase_id(session, event.index)
                self._update_phase(
                    session, phase_id, state=PhaseState.COMPLETE, commit=event.commit
                )
                return phase_id
            case events.AttemptStarted():
                phase_id = self._phase_id(session, event.index)
                attempt_id = self._attempt_id(session, phase_id, event.attempt)
                self._update_attempt(
                    session,
                    attempt_id,
                    model=event.model,
                    escalation=event.escalation,
                    started_at=event.at,
                )
                self._update_phase(
                    session,
                    phase_id,
                    attempts_made=_at_least(models.PhaseRecord.attempts_made, event.attempt),
                    model=event.model,
                )
                return phase_id
            case events.EditsApplied():
                phase_id = self._phase_id(session, event.index)
                attempt_id = self._attempt_id(session, phase_id, event.attempt)
                self._update_attempt(
                    session,
                    attempt_id,
                    diff_files=len(event.outcome.files),
                    diff_additions=event.outcome.additions,
                    diff_deletions=event.outcome.deletions,
                )
                return phase_id
            case events.TestsRan():
                return self._tests(session, event)
            case events.DiffReviewed():
                return self._diff_reviewed(session, event)
            case events.AttemptFinished():
                return self._attempt_finished(session, event)
            case events.PhaseFinished():
                phase_id = self._phase_id(session, event.index)
                result = event.result
                values: dict[str, Any] = {
                    "state": result.state,
                    "commit": result.commit,
                    "failure_signature": result.failure,
                    "attempts_made": _at_least(models.PhaseRecord.attempts_made, result.attempts),
                }
                if result.state != PhaseState.AWAITING_APPROVAL:
                    values["finished_at"] = event.at
                self._update_phase(session, phase_id, **values)
                return phase_id
            case events.ModelCalled():
                return self._model_called(session, event.call, at=event.at)
            case events.RunFinished():
                outcome = event.outcome
                runrows.finish(
                    session,
                    run_id=self.run_id,
                    state=outcome.state,
                    reason=outcome.reason,
                    message=outcome.message,
                    result_commit=outcome.commit,
                    now=event.at,
                    finished=outcome.state != RunPhase.AWAITING_APPROVAL,
                )
                return None
            case events.ProviderNotice():
                return None if event.index is None else self._phase_id(session, event.index)
            case (
                events.AuditDone()
                | events.ChangesDiscarded()
                | events.DriftChecked()
                | events.ApprovalNeeded()
                | events.PhaseReplanned()
            ):
                return self._phase_id(session, event.index)
            case _:
                assert_never(event)

    def _tests(self, session: Session, event: events.TestsRan) -> int | None:
        phase_id = None if event.index is None else self._phase_id(session, event.index)
        attempt_id = None
        if phase_id is not None and event.attempt is not None:
            attempt_id = self._attempt_id(session, phase_id, event.attempt)
        outcome = event.outcome
        session.execute(
            _INSERT_CI_RESULT,
            {
                "run_id": self.run_id,
                "phase_id": phase_id,
                "attempt_id": attempt_id,
                "kind": "baseline" if event.index is None else "attempt",
                "command": outcome.command,
                "passed": outcome.passed,
                "failed": outcome.failed,
                "skipped": outcome.skipped,
                "collection_errors": outcome.collection_errors,
                "new_failures": list(outcome.new_failures),
                "duration_seconds": outcome.duration_seconds,
                "log_excerpt": outcome.log_excerpt or None,
            },
        )
        return phase_id

    def _plan_ready(self, session: Session, event: events.PlanReady) -> None:
        """Create each phase's row, or refresh its title and definition when they changed."""
        columns = (_PHASES.c.index, _PHASES.c.id, _PHASES.c.title, _PHASES.c.definition)
        rows = session.execute(select(*columns).where(_PHASES.c.run_id == self.run_id))
        known = {index: (phase_id, title, data) for index, phase_id, title, data in rows}
        for index, definition in enumerate(event.phases):
            values = {"title": definition.title, "definition": definition.to_api()}
            if index not in known:
                row = {"run_id": self.run_id, "index": index, **values}
                inserted = cast(CursorResult[Any], session.execute(_INSERT_PHASE, row))
                phase_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
            else:
                phase_id, title, data = known[index]
                stored = {"title": title, "definition": data}
                changed = {name: value for name, value in values.items() if stored[name] != value}
                if changed:
                    self._update_phase(session, phase_id, **changed)
            self._new_phase_ids[index] = phase_id

    def _diff_reviewed(self, session: Session, event: events.DiffReviewed) -> int:
        phase_id = self._phase_id(session, event.index)
        attempt_id = self._attempt_id(session, phase_id, event.attempt)
        details = {**self._attempt_details(session, attempt_id), "diff": event.diff}
        self._update_attempt(session, attempt_id, details=details)
        return phase_id

    def _attempt_finished(self, session: Session, event: events.AttemptFinished) -> int:
        phase_id = self._phase_id(session, event.index)
        attempt_id = self._attempt_id(session, phase_id, event.attempt)
        result = event.result
        values: dict[str, Any] = {"outcome": result.outcome}
        failure = result.failure
        if failure is not None:
            values["failure_category"] = failure.category
            values["failure_signature"] = failure.signature.text[:1024]
            values["failure_detail"] = "\n".join(result.next_feedback or failure.feedback)[:8000]
        elif result.stop is not None:
            values["failure_category"] = "stopped"
            values["failure_signature"] = f"{result.stop.reason}: {result.stop.message}"[:1024]
        values["mitigation"] = result.mitigation
        values["doctor_decision"] = (result.doctor_decision or "")[:64] or None
        values["finished_at"] = event.at
        if result.discarded:
            details = self._attempt_details(session, attempt_id)
            values["details"] = {**details, "discarded": list(result.discarded)}
        self._update_attempt(session, attempt_id, **values)
        return phase_id

    def _model_called(self, session: Session, call: CallRecord, *, at: datetime) -> int | None:
        phase_id = None if call.phase_index is None else self._phase_id(session, call.phase_index)
        attempt_id = (
            self._attempt_id(session, phase_id, call.attempt)
            if phase_id is not None and call.attempt
            else None
        )
        usage = call.usage
        session.execute(
            _INSERT_LLM_CALL,
            {
                "run_id": self.run_id,
                "phase_id": phase_id,
                "attempt_id": attempt_id,
                "role": call.role,
                "provider": call.provider,
                "model": call.model,
                "input_tokens": usage.input_tokens if usage else None,
                "output_tokens": usage.output_tokens if usage else None,
                "cache_read_tokens": usage.cache_read_tokens if usage else None,
                "cache_write_tokens": usage.cache_write_tokens if usage else None,
                "cost_usd": Decimal(str(call.cost_usd)),
                "pricing_version": call.pricing_version,
                "latency_ms": call.latency_ms,
                "outcome": call.outcome,
                "stop_reason": call.stop_reason,
                "error_type": call.error_type,
                "error_message": call.error_message,
                "status_code": call.status_code,
                "created_at": at,
            },
        )
        return phase_id


def _at_least(column: Any, value: int) -> ColumnElement[Any]:
    """SQL for the larger of ``column`` and ``value`` (SQLite and PostgreSQL alike)."""
    return case((column > value, column), else_=literal(value))
