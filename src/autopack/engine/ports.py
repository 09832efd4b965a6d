"""What the run loop needs from the world, as small Protocols and plain result types.

The loop in :mod:`autopack.engine.attempts` is written against these ports; adapters in
:mod:`autopack.engine.wiring` connect them to the real workspace, toolchains and gates, model
layer and edit application. Tests can drive the real loop with real adapters and a scripted
model; nothing here knows about Kubernetes.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from autopack.api import PhaseDefinition

# Commit trailers the loop writes and the workspace reads back (resume, approval, rollback).
PHASE_TRAILER = "Autopack-Phase"
PENDING_TRAILER = "Autopack-Pending-Approval"
MITIGATION_TRAILER = "Autopack-Mitigation"


class EngineStop(Exception):
    """Stops the whole run with a reason (BudgetExceeded, HealthBudgetExhausted, ...)."""

    def __init__(self, reason: str, message: str) -> None:
        """Keep the CamelCase reason and the human message."""
        super().__init__(message)
        self.reason = reason
        self.message = message


class ProviderOutage(EngineStop):
    """Every model of the route stayed unavailable after retries: a failed attempt, not a stop.

    The phase loop counts it against the health budget's provider-error cap and tries again;
    anywhere else it stops the run like any ProviderError.
    """

    def __init__(self, message: str) -> None:
        """Carry the provider's last error."""
        super().__init__("ProviderError", message)


@dataclass(frozen=True)
class ModelReply:
    """A model's answer as the loop needs it."""

    text: str
    model: str
    truncated: bool = False


class Models(Protocol):
    """Makes budgeted, recorded model calls for a role."""

    def complete(
        self,
        *,
        role: str,
        phase: PhaseDefinition | None,
        phase_index: int | None,
        attempt: int,
        failures: int,
        system: str,
        messages: list[tuple[str, str]],
        max_tokens: int,
    ) -> ModelReply:
        """Call the model for ``role``; raise EngineStop("BudgetExceeded", ...) when it may not."""

    def model_for(self, *, role: str, phase: PhaseDefinition, failures: int) -> str:
        """Name the model the next call for ``role`` would use."""


@dataclass(frozen=True)
class ParsedEdits:
    """Edits read from the Builder's answer."""

    edits: tuple[object, ...]
    truncated_path: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class ApplyOutcome:
    """What applying one attempt's edits did."""

    files: tuple[str, ...]
    additions: int
    deletions: int
    refusals: tuple[str, ...] = ()
    approval_reason: str | None = None


class Editor(Protocol):
    """Parses Builder output and applies it inside the phase's scope."""

    def format_instructions(self) -> str:
        """The edit format, as told to the Builder."""

    def parse(self, text: str) -> ParsedEdits:
        """Parse an answer (truncation tolerant)."""

    def apply(self, edits: ParsedEdits, *, phase: PhaseDefinition, approved: bool) -> ApplyOutcome:
        """Apply all edits or none; report refusals and whether approval is needed."""

    def context(self, *, phase: PhaseDefinition, feedback: list[str], budget_tokens: int) -> str:
        """Select the repository context for a Builder prompt."""


@dataclass(frozen=True)
class GateOutcome:
    """The project's tests after a change, relative to the baseline."""

    command: str
    passed: int
    failed: int
    skipped: int = 0
    collection_errors: int = 0
    new_failures: tuple[str, ...] = ()
    flaky: tuple[str, ...] = ()
    failing: tuple[str, ...] = ()
    baseline_failures: int = 0
    blocked: bool = False
    summary: str = ""
    log_excerpt: str = ""
    duration_seconds: float = 0.0


class Gates(Protocol):
    """Judges a change deterministically: tests against the baseline, commands, deliverables."""

    def baseline(self) -> GateOutcome:
        """Run the tests once before any change."""

    def tests(self) -> GateOutcome:
        """Run the tests now and compare with the baseline."""

    def validation(self, commands: list[str]) -> list[str]:
        """Run the phase's commands; return a message per failing one."""

    def deliverables(self, deliverables: list[str]) -> list[str]:
        """Return a message per missing deliverable."""


class Workspace(Protocol):
    """The run's git checkout."""

    root: Path

    def head(self) -> str:
        """Current commit."""

    def rollback(self, to: str) -> None:
        """Discard every change since ``to``."""

    def diff(self, since: str) -> str:
        """Unified diff of the working tree against ``since``."""

    def commit(self, message: str) -> str:
        """Commit everything; return the commit."""

    def push(self) -> None:
        """Push the work branch."""

    def completed_phases(self) -> dict[int, str]:
        """Phase index -> commit, read from the work branch's commit trailers."""

    def pending_approval(self) -> int | None:
        """Index of a phase whose change waits for approval on the branch, if any."""

    def reopen_pending(self) -> None:
        """Undo the pending-approval commit but keep its changes in the working tree."""

    def rollback_run(self) -> str | None:
        """Reset the work branch to the run's start; return the branch keeping the old work."""


@dataclass(frozen=True)
class DriftOutcome:
    """The goal-drift verdict on a phase's change."""

    score: float
    threshold: float
    verdict: str
    provider: str
    lexical: bool
    blocks: bool
    message: str


class Memory(Protocol):
    """The run's intention memory."""

    def recall(self, phase: PhaseDefinition) -> str:
        """Return the memory text to put into prompts about ``phase`` (size-capped)."""

    def check(self, *, index: int, phase: PhaseDefinition, summary: str) -> DriftOutcome | None:
        """Remember the phase's change and judge its drift (None when memory is unavailable)."""


@dataclass
class PhaseResult:
    """How a phase ended."""

    state: str  # Complete | Failed | AwaitingApproval | Skipped
    attempts: int
    commit: str | None = None
    failure: str | None = None
    approval_reason: str | None = None
    feedback: list[str] = field(default_factory=list)
