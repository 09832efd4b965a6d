"""Typed events the engine emits as a run progresses, and the sink protocol that receives them.

The engine never talks to a terminal, a database or Kubernetes directly: it emits these events
and sinks (console, store, Kubernetes status) turn them into output, rows or status patches.
Events carry the outcome objects the engine produced (a gate's outcome, an apply's outcome,
an attempt's result, a ledger row) rather than copies of their fields. They never carry
prompts, diffs or logs beyond short excerpts: those go to the store.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from autopack.agents.auditing import AuditResult
from autopack.api import PhaseDefinition
from autopack.edits.applying import ApplyOutcome
from autopack.events.outcomes import AttemptResult, PhaseResult, RunOutcome
from autopack.events.scrubbing import scrubbed
from autopack.gates.outcome import GateOutcome
from autopack.llm.types import CallRecord
from autopack.memory.run import DriftOutcome

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
    sandbox: str = ""
    """How the repository's commands run (bubblewrap, or unsandboxed and why)."""


@dataclass(frozen=True, kw_only=True)
class PlanReady(Event):
    """The plan was normalized and passed preflight."""

    source: str
    model_calls: int
    phases: tuple[PhaseDefinition, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PhaseStarted(Event):
    """Work on a phase began."""

    index: int
    title: str


@dataclass(frozen=True, kw_only=True)
class PhaseAlreadyComplete(Event):
    """A phase found complete on the work branch (a re-run or a new runner skips it)."""

    index: int
    title: str
    commit: str


@dataclass(frozen=True, kw_only=True)
class AttemptStarted(Event):
    """A Builder attempt at a phase began."""

    index: int
    attempt: int
    model: str
    escalation: str | None = None


@dataclass(frozen=True, kw_only=True)
class ModelCalled(Event):
    """A model call (or one failed HTTP attempt of it) finished; ``call`` is the ledger row."""

    call: CallRecord


@dataclass(frozen=True, kw_only=True)
class ProviderNotice(Event):
    """The model layer waited, fell back or skipped a route (a retry wait, an outage)."""

    message: str
    index: int | None = None


@dataclass(frozen=True, kw_only=True)
class EditsApplied(Event):
    """The attempt's edits were applied, or refused (then nothing was written)."""

    index: int
    attempt: int
    outcome: ApplyOutcome


@dataclass(frozen=True, kw_only=True)
class ChangesDiscarded(Event):
    """Files the build or test commands changed outside the governed edits, taken back."""

    index: int
    attempt: int
    paths: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class DiffReviewed(Event):
    """The change the Auditor reviewed, as a unified diff (capped); for the store only."""

    index: int
    attempt: int
    diff: str


@dataclass(frozen=True, kw_only=True)
class TestsRan(Event):
    """The project's tests ran; ``attempt`` is None for the baseline."""

    index: int | None
    attempt: int | None
    outcome: GateOutcome


@dataclass(frozen=True, kw_only=True)
class AuditDone(Event):
    """The Auditor reviewed an attempt."""

    index: int
    attempt: int
    result: AuditResult


@dataclass(frozen=True, kw_only=True)
class DriftChecked(Event):
    """A phase's change was compared with the project's intention."""

    index: int
    attempt: int
    outcome: DriftOutcome


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
    result: AttemptResult


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
    result: PhaseResult


@dataclass(frozen=True, kw_only=True)
class RunFinished(Event):
    """The run ended (or paused for approval)."""

    outcome: RunOutcome
    branch: str | None = None
    doctor_calls: int = 0
    doctor_calls_avoided: int = 0
    doctor_tokens_avoided: int = 0


RunEvent = (
    RunStarted
    | PlanReady
    | PhaseStarted
    | PhaseAlreadyComplete
    | AttemptStarted
    | ModelCalled
    | ProviderNotice
    | EditsApplied
    | ChangesDiscarded
    | DiffReviewed
    | TestsRan
    | AuditDone
    | DriftChecked
    | ApprovalNeeded
    | AttemptFinished
    | PhaseReplanned
    | PhaseFinished
    | RunFinished
)


class EventSink(Protocol):
    """Receives every event of a run, in order."""

    def emit(self, event: RunEvent) -> None:
        """Handle one event; must not raise for ordinary failures of its own backend."""


@dataclass
class FanOut:
    """Delivers each event to every sink; a failing sink is logged and never stops the run."""

    sinks: Sequence[EventSink]
    failures: list[str] = field(default_factory=list)

    def emit(self, event: RunEvent) -> None:
        """Send ``event``, scrubbed of secrets, to every sink."""
        event = scrubbed(event)
        for sink in self.sinks:
            try:
                sink.emit(event)
            except Exception as exc:  # a sink's outage must not end the run
                message = f"{type(sink).__name__} failed on {type(event).__name__}: {exc}"
                self.failures.append(message)
                logger.warning(message)
