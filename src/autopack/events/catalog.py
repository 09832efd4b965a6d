"""Typed events the engine emits as a run progresses, and the sink protocol that receives them.

The engine never talks to a terminal, a database or Kubernetes directly: it emits these events
and sinks (console, store, Kubernetes status) turn them into output, rows or status patches.
Events are small, immutable and carry no prompts, diffs or logs — those go to the store.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Event:
    """Something that happened in a run, at ``at``."""

    run: str
    at: datetime


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    """The run began (or resumed) in a fresh workspace."""

    run_id: str
    repo_url: str
    base_ref: str
    branch: str
    resumed_phases: int = 0


@dataclass(frozen=True, kw_only=True)
class PlanReady(Event):
    """The plan was normalized and passed preflight."""

    source: str
    model_calls: int
    titles: tuple[str, ...]
    definitions: tuple[dict[str, object], ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PhaseStarted(Event):
    """Work on a phase began."""

    index: int
    title: str


@dataclass(frozen=True, kw_only=True)
class AttemptStarted(Event):
    """A Builder attempt at a phase began."""

    index: int
    attempt: int
    model: str
    escalation: str | None = None


@dataclass(frozen=True, kw_only=True)
class ModelCalled(Event):
    """A model call finished (the ledger holds the exact row; this is for progress)."""

    role: str
    model: str
    outcome: str
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: float
    index: int | None = None
    attempt: int | None = None
    provider: str = ""
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    latency_ms: int = 0
    stop_reason: str | None = None
    pricing_version: str | None = None


@dataclass(frozen=True, kw_only=True)
class EditsApplied(Event):
    """The attempt's edits were applied (or refused)."""

    index: int
    attempt: int
    files: tuple[str, ...]
    additions: int
    deletions: int
    refusals: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class TestsRan(Event):
    """The project's tests ran; ``attempt`` is None for the baseline."""

    index: int | None
    attempt: int | None
    command: str
    passed: int
    failed: int
    skipped: int = 0
    collection_errors: int = 0
    new_failures: tuple[str, ...] = ()
    flaky: tuple[str, ...] = ()
    blocked: bool = False
    duration_seconds: float = 0.0
    log_excerpt: str = ""


@dataclass(frozen=True, kw_only=True)
class AuditDone(Event):
    """The Auditor reviewed an attempt."""

    index: int
    attempt: int
    verdict: str
    summary: str


@dataclass(frozen=True, kw_only=True)
class DriftChecked(Event):
    """A phase's change was compared with the project's intention."""

    index: int
    attempt: int
    score: float
    threshold: float
    verdict: str
    provider: str
    lexical: bool
    blocks: bool
    message: str


@dataclass(frozen=True, kw_only=True)
class ApprovalNeeded(Event):
    """A phase waits for a person (``Phase.spec.approved`` or ``--approve``)."""

    index: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class AttemptFinished(Event):
    """A Builder attempt ended."""

    index: int
    attempt: int
    outcome: str  # passed | failed | awaiting_approval
    category: str | None = None
    signature: str | None = None
    detail: str | None = None
    mitigation: str | None = None
    doctor_decision: str | None = None


@dataclass(frozen=True, kw_only=True)
class PhaseReplanned(Event):
    """A phase's approach was revised after repeated, similar failures."""

    index: int
    goal: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class PhaseFinished(Event):
    """A phase reached Complete, Failed, Skipped or AwaitingApproval."""

    index: int
    title: str
    state: str
    attempts: int
    commit: str | None = None
    failure: str | None = None


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    """The run ended (or paused for approval)."""

    state: str  # Succeeded | Failed | AwaitingApproval
    reason: str
    message: str
    branch: str | None = None
    commit: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    llm_calls: int = 0
    doctor_calls: int = 0
    doctor_calls_avoided: int = 0
    doctor_tokens_avoided: int = 0


class EventSink(Protocol):
    """Receives every event of a run, in order."""

    def emit(self, event: Event) -> None:
        """Handle one event; must not raise for ordinary failures of its own backend."""


@dataclass
class FanOut:
    """Delivers each event to every sink; a failing sink is logged and never stops the run."""

    sinks: Sequence[EventSink]
    failures: list[str] = field(default_factory=list)

    def emit(self, event: Event) -> None:
        """Send ``event`` to every sink."""
        for sink in self.sinks:
            try:
                sink.emit(event)
            except Exception as exc:  # a sink's outage must not end the run
                message = f"{type(sink).__name__} failed on {type(event).__name__}: {exc}"
                self.failures.append(message)
                logger.warning(message)
