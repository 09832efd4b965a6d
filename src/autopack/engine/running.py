"""A whole run: baseline, then each phase in order, resuming where the branch says it stopped.

The work branch is the durable record: every completed phase is a commit carrying an
``Autopack-Phase: N`` trailer, so a new process (a re-run, a new runner pod) skips what is
done and continues with the first phase that is not. A phase waiting for approval is a
commit with an ``Autopack-Pending-Approval: N`` trailer that is gated once approved.
"""

from collections.abc import Collection
from dataclasses import dataclass, field

from autopack.api import PhaseDefinition
from autopack import events
from autopack.engine.attempts import PhaseContext, PhaseRunner
from autopack.engine.ports import EngineStop, PhaseResult

EXIT_CODES = {"Succeeded": 0, "Failed": 1, "AwaitingApproval": 2}


@dataclass
class RunOutcome:
    """How the run ended."""

    state: str  # Succeeded | Failed | AwaitingApproval
    reason: str
    message: str
    commit: str | None = None
    results: dict[int, PhaseResult] = field(default_factory=dict)
    baseline: str = ""
    skipped: list[int] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 succeeded, 1 failed, 2 waiting for approval (the CLI's and the runner's)."""
        return EXIT_CODES[self.state]


def _emit(ctx: PhaseContext, event_type: type[events.Event], **fields: object) -> None:
    ctx.emit(event_type(run=ctx.run, at=ctx.now(), **fields))


def execute_phases(
    ctx: PhaseContext,
    *,
    phases: list[PhaseDefinition],
    approved: Collection[int] = (),
) -> RunOutcome:
    """Run the phases not yet completed on the branch; stop at the first that does not finish."""
    workspace = ctx.workspace
    done = workspace.completed_phases()
    pending = workspace.pending_approval()
    baseline = ctx.gates.baseline()
    _emit(
        ctx,
        events.TestsRan,
        index=None,
        attempt=None,
        command=baseline.command,
        passed=baseline.passed,
        failed=baseline.failed,
        skipped=baseline.skipped,
        collection_errors=baseline.collection_errors,
        duration_seconds=baseline.duration_seconds,
    )
    outcome = RunOutcome("Succeeded", "RunSucceeded", "", baseline=baseline.summary)
    last_commit = workspace.head()
    try:
        for index, phase in enumerate(phases):
            if index in done:
                _emit(
                    ctx,
                    events.PhaseFinished,
                    index=index,
                    title=phase.title,
                    state="Complete",
                    attempts=0,
                    commit=done[index],
                )
                continue
            waiting = pending == index
            if waiting and index not in approved:
                _emit(
                    ctx,
                    events.ApprovalNeeded,
                    index=index,
                    reason="the change waits on the branch for approval",
                )
                _emit(
                    ctx,
                    events.PhaseFinished,
                    index=index,
                    title=phase.title,
                    state="AwaitingApproval",
                    attempts=0,
                    commit=workspace.head(),
                )
                return RunOutcome(
                    "AwaitingApproval",
                    "AwaitingApproval",
                    f"phase {index} {phase.title!r} needs approval",
                    commit=workspace.head(),
                    baseline=baseline.summary,
                )
            result = PhaseRunner(ctx, index=index, phase=phase).run(
                approved=index in approved, resume_pending=waiting
            )
            outcome.results[index] = result
            if result.state == "AwaitingApproval":
                return RunOutcome(
                    "AwaitingApproval",
                    "AwaitingApproval",
                    f"phase {index} {phase.title!r} needs approval: {result.approval_reason}",
                    commit=result.commit,
                    results=outcome.results,
                    baseline=baseline.summary,
                )
            if result.state == "Skipped":
                outcome.skipped.append(index)
                continue
            if result.state != "Complete":
                return RunOutcome(
                    "Failed",
                    "PhaseFailed",
                    f"phase {index} {phase.title!r} failed after {result.attempts} "
                    f"attempts: {result.failure}",
                    commit=last_commit,
                    results=outcome.results,
                    baseline=baseline.summary,
                )
            last_commit = result.commit or last_commit
    except EngineStop as stop:
        return RunOutcome(
            "Failed",
            stop.reason,
            stop.message,
            commit=workspace.head() if stop.reason == "RollbackRequested" else last_commit,
            results=outcome.results,
            baseline=baseline.summary,
        )
    outcome.commit = last_commit
    finished = len(phases) - len(outcome.skipped)
    outcome.message = f"{finished} phases complete" + (
        f", skipped: {', '.join(str(i) for i in outcome.skipped)}" if outcome.skipped else ""
    )
    return outcome
