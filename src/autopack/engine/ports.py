"""What the run loop needs from the world: small Protocols and the two control-flow exceptions.

The loop (:mod:`autopack.engine.attempts`) is written against these ports; the composition root
(:mod:`autopack.engine.wiring`) connects them to the git workspace, the gates, the model layer,
the edit applier and intention memory. Two exceptions steer it: :class:`AttemptFailed` (this
attempt failed, the loop goes on) and :class:`RunStopped` (the run stops). Nothing here knows
about Kubernetes, SQL or terminals.
"""

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

from autopack.api import FailureCategory, PhaseDefinition
from autopack.api.conditions import Reason
from autopack.edits import ApplyOutcome, ParsedEdits
from autopack.events import Failure, Stop
from autopack.gates import GateOutcome
from autopack.hardening.mitigator import Mitigation
from autopack.llm.types import Prompt
from autopack.memory.run import DriftOutcome

log = logging.getLogger(__name__)


class AttemptFailed(Exception):
    """This attempt failed; recovery decides what the next one gets."""

    def __init__(self, failure: Failure) -> None:
        """Carry the failure."""
        super().__init__(failure.summary)
        self.failure = failure

    @classmethod
    def of(cls, category: FailureCategory, summary: str, *feedback: str) -> "AttemptFailed":
        """Build from a category, a one-line summary and feedback for the next prompt."""
        return cls(Failure(category, summary, feedback))


class RunStopped(Exception):
    """The run stops (budget, provider, health budget, the Doctor, an internal error)."""

    def __init__(self, stop: Stop) -> None:
        """Carry the reason and message."""
        super().__init__(f"{stop.reason}: {stop.message}")
        self.stop = stop


def one_line(exc: BaseException) -> str:
    """An unexpected error as one line: its type and the first line of its message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def stop_of(exc: Exception) -> Stop:
    """The stop a :class:`RunStopped` carries; any other exception is an ``InternalError``."""
    if isinstance(exc, RunStopped):
        return exc.stop
    log.exception("the run stopped on an unexpected error", exc_info=exc)
    return Stop(Reason.INTERNAL_ERROR, one_line(exc))


class Models(Protocol):
    """Budgeted, recorded model calls for a role; raises AttemptFailed or RunStopped."""

    def ask(
        self,
        *,
        role: str,
        phase: PhaseDefinition | None,
        phase_index: int | None,
        attempt: int,
        failures: int,
        prompt: Prompt,
        max_tokens: int,
    ) -> str:
        """Call the model for ``role`` with ``prompt`` (laid out for caching); return its text."""

    def model_for(self, *, role: str, phase: PhaseDefinition, failures: int) -> str:
        """Name the model the next call for ``role`` would use."""


class Editor(Protocol):
    """Parses Builder output and applies it inside the phase's scope."""

    def format_instructions(self) -> str:
        """The edit format, as told to the Builder."""

    def parse(self, text: str) -> ParsedEdits:
        """Parse an answer (truncation tolerant)."""

    def apply(self, edits: ParsedEdits, *, phase: PhaseDefinition, approved: bool) -> ApplyOutcome:
        """Apply all edits or none; report refusals and whether approval is needed."""


class Context(Protocol):
    """Selects the repository context for a Builder prompt."""

    def render(self, *, phase: PhaseDefinition, feedback: list[str], budget_tokens: int) -> str:
        """The repository map and the most relevant files, within ``budget_tokens``."""

    def render_related(
        self, *, phase: PhaseDefinition, feedback: list[str], budget_tokens: int
    ) -> str:
        """Files the last failure names that the phase's own context does not show."""


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

    def changed_files(self) -> list[str]:
        """Paths changed in the working tree since HEAD."""

    def snapshot(self, paths: Iterable[str]) -> dict[str, bytes | None]:
        """The current bytes of ``paths``, taken right after the governed apply."""

    def discard_side_effects(self, accepted: Mapping[str, bytes | None]) -> list[str]:
        """Take back every change that is not an accepted edit; return the paths."""

    def push(self) -> None:
        """Push the work branch."""

    def completed_phases(self) -> dict[int, str]:
        """Phase index -> commit, read from the work branch's commit trailers."""

    def pending_approval(self) -> int | None:
        """Index of a phase whose change waits for approval on the branch, if any."""

    def set_aside_pending(self) -> str:
        """Take the pending-approval commit off the branch (tree clean); return it."""

    def restore_pending(self, commit: str) -> None:
        """Put a set-aside pending change back into the working tree, uncommitted."""

    def rollback_run(self) -> str | None:
        """Reset the work branch to the run's start; return the branch keeping the old work."""


class Memory(Protocol):
    """The run's intention memory."""

    def recall(self, phase: PhaseDefinition) -> str:
        """Return the memory text to put into prompts about ``phase`` (size-capped)."""

    def check(self, *, index: int, phase: PhaseDefinition, summary: str) -> DriftOutcome | None:
        """Remember the phase's change and judge its drift (None when memory is unavailable)."""

    def close(self) -> None:
        """Release the vector store."""


class Mitigations(Protocol):
    """Deterministic fixes for known failures, tried before any model is asked."""

    def new_phase(self) -> None:
        """Each phase may try each rule once."""

    def mitigate(self, *, category: str, message: str, phase: PhaseDefinition) -> Mitigation | None:
        """Try the first matching rule; None when none matches."""
