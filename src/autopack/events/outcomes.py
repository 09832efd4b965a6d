"""How attempts, phases and runs end: the outcome objects events carry and entry points read.

Every value that crosses a boundary is typed here once: states are the API's enums, reasons
are :class:`~autopack.api.conditions.Reason`, failure kinds :class:`FailureCategory`. A reason
and its message stay apart until whoever shows them formats them.
"""

from dataclasses import dataclass, field
from enum import StrEnum

from autopack.api import FailureCategory, PhaseState, RunPhase
from autopack.api.conditions import Reason
from autopack.hardening.signatures import FailureSignature, signature

EXIT_CODES = {RunPhase.SUCCEEDED: 0, RunPhase.FAILED: 1, RunPhase.AWAITING_APPROVAL: 2}


@dataclass(frozen=True)
class Failure:
    """Why an attempt failed, ready for the next prompt, the store and the status."""

    category: FailureCategory
    summary: str
    feedback: tuple[str, ...] = ()

    @property
    def signature(self) -> FailureSignature:
        """The normalized signature (same mistake, same text)."""
        return signature(self.category, self.summary)

    def with_feedback(self, *lines: str) -> "Failure":
        """The same failure with more feedback for the next attempt."""
        return Failure(self.category, self.summary, (*self.feedback, *lines))


@dataclass(frozen=True)
class Stop:
    """Why the whole run stops."""

    reason: Reason
    message: str


class AttemptOutcome(StrEnum):
    """How one Builder attempt ended."""

    PASSED = "passed"
    FAILED = "failed"
    AWAITING_APPROVAL = "awaiting_approval"
    STOPPED = "stopped"  # the run stopped during the attempt (budget, health, error, ...)
    INTERRUPTED = "interrupted"  # found unfinished when the run started again


@dataclass(frozen=True)
class AttemptResult:
    """One attempt's end: its failure and what recovery did about it."""

    outcome: AttemptOutcome
    failure: Failure | None = None
    mitigation: str | None = None
    doctor_decision: str | None = None
    doctor_hint: str | None = None
    stop: Stop | None = None
    discarded: tuple[str, ...] = ()  # paths the build or test commands changed, not committed
    next_feedback: tuple[str, ...] = ()  # what the next attempt is told (failure and advice)


@dataclass(frozen=True)
class PhaseResult:
    """How a phase ended; ``stop`` is set when the run must stop with it."""

    state: PhaseState
    attempts: int
    commit: str | None = None
    failure: str | None = None
    approval_reason: str | None = None
    stop: Stop | None = None
    tests: str | None = None  # the test summary of the attempt that completed the phase


@dataclass
class RunOutcome:
    """How the run ended."""

    state: RunPhase  # Succeeded | Failed | AwaitingApproval
    reason: Reason
    message: str
    commit: str | None = None
    results: dict[int, PhaseResult] = field(default_factory=dict)
    baseline: str = ""
    pull_request: str | None = None

    @property
    def exit_code(self) -> int:
        """0 succeeded, 1 failed, 2 waiting for approval (the CLI's and the runner's)."""
        return EXIT_CODES[self.state]

    @classmethod
    def stopped(
        cls, stop: Stop, *, commit: str | None, results: dict[int, PhaseResult], baseline: str
    ) -> "RunOutcome":
        """A failed run that ``stop`` ended."""
        return cls(
            RunPhase.FAILED,
            stop.reason,
            stop.message,
            commit=commit,
            results=results,
            baseline=baseline,
        )
