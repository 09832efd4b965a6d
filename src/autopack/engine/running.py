"""A whole run: baseline, then each phase in order, resuming where the branch says it stopped.

The work branch is the durable record: every completed phase is a commit carrying the
``Autopack-Phase: N`` and ``Autopack-Run: <run id>`` trailers, so a new process (a re-run, a
new runner pod) skips what this run finished and continues with the first phase that is not.
A phase waiting for approval is a commit with an ``Autopack-Pending-Approval: N`` trailer;
once approved it is set aside before the baseline is measured, so the change is gated against
the commit before it.
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from autopack import events
from autopack.api import PhaseDefinition, PhaseState, RunPhase
from autopack.api.conditions import Reason
from autopack.engine.attempts import PhaseLoop
from autopack.engine.doctoring import Doctor
from autopack.engine.ports import Mitigations
from autopack.engine.recovering import PhaseRecovery
from autopack.engine.steps import RunContext
from autopack.events import PhaseResult, RunOutcome
from autopack.hardening.health import RunHealth


@dataclass
class Recovery:
    """The run-wide parts of recovery: mitigations, the Doctor and the health budget."""

    health: RunHealth
    mitigations: Mitigations | None = None
    doctor: Doctor | None = None


def execute_phases(
    ctx: RunContext,
    *,
    phases: list[PhaseDefinition],
    recovery: Recovery,
    approved: Collection[int] = (),
    previous_attempts: Mapping[int, int] | None = None,
) -> RunOutcome:
    """Run the phases this run has not completed; stop at the first that does not finish."""
    workspace = ctx.workspace
    attempts_before = previous_attempts or {}
    done = workspace.completed_phases()
    pending_index = workspace.pending_approval()
    pending = workspace.set_aside_pending() if pending_index in approved else None
    baseline = ctx.gates.baseline()
    ctx.emit(events.TestsRan(run=ctx.run, at=ctx.now(), index=None, attempt=None, outcome=baseline))
    if baseline.unrunnable:
        # Nothing could be gated: every change would "pass" the tests it never ran.
        last = (baseline.log_excerpt.strip().splitlines() or ["no output"])[-1]
        return RunOutcome(
            RunPhase.FAILED,
            Reason.PLAN_INVALID,
            f"the test command `{baseline.command}` cannot start (exit code "
            f"{baseline.exit_code}: {last}); set spec.toolchain.test to a command that runs "
            "in the repository",
            baseline=baseline.summary,
        )
    results: dict[int, PhaseResult] = {}
    last_commit = workspace.head()
    for index, phase in enumerate(phases):
        if index in done:
            ctx.emit(
                events.PhaseAlreadyComplete(
                    run=ctx.run, at=ctx.now(), index=index, title=phase.title, commit=done[index]
                )
            )
            results[index] = PhaseResult(
                PhaseState.COMPLETE, attempts_before.get(index, 0), commit=done[index]
            )
            continue
        if index == pending_index and pending is None:
            head = workspace.head()
            reason = "the change waits on the branch for approval"
            result = PhaseResult(
                PhaseState.AWAITING_APPROVAL,
                attempts_before.get(index, 0),
                commit=head,
                approval_reason=reason,
            )
            ctx.emit(events.ApprovalNeeded(run=ctx.run, at=ctx.now(), index=index, reason=reason))
            ctx.emit(
                events.PhaseFinished(
                    run=ctx.run, at=ctx.now(), index=index, title=phase.title, result=result
                )
            )
            results[index] = result
            return RunOutcome(
                RunPhase.AWAITING_APPROVAL,
                Reason.AWAITING_APPROVAL,
                f"phase {index} {phase.title!r} needs approval",
                commit=head,
                results=results,
                baseline=baseline.summary,
            )
        loop = PhaseLoop(
            ctx,
            PhaseRecovery(
                index=index,
                workspace=workspace,
                health=recovery.health,
                mitigations=recovery.mitigations,
                doctor=recovery.doctor,
            ),
            index=index,
            phase=phase,
            previous_attempts=attempts_before.get(index, 0),
        )
        result = loop.run(
            approved=index in approved, pending=pending if index == pending_index else None
        )
        results[index] = result
        if result.stop is not None:
            rolled_back = result.stop.reason == Reason.ROLLBACK_REQUESTED
            return RunOutcome.stopped(
                result.stop,
                commit=workspace.head() if rolled_back else last_commit,
                results=results,
                baseline=baseline.summary,
            )
        match result.state:
            case PhaseState.AWAITING_APPROVAL:
                return RunOutcome(
                    RunPhase.AWAITING_APPROVAL,
                    Reason.AWAITING_APPROVAL,
                    f"phase {index} {phase.title!r} needs approval: {result.approval_reason}",
                    commit=result.commit,
                    results=results,
                    baseline=baseline.summary,
                )
            case PhaseState.FAILED:
                return RunOutcome(
                    RunPhase.FAILED,
                    Reason.PHASE_FAILED,
                    f"phase {index} {phase.title!r} failed after {result.attempts} "
                    f"attempts: {result.failure}",
                    commit=last_commit,
                    results=results,
                    baseline=baseline.summary,
                )
            case PhaseState.COMPLETE:
                last_commit = result.commit or last_commit
    skipped = [index for index, result in results.items() if result.state == PhaseState.SKIPPED]
    message = f"{len(phases) - len(skipped)} phases complete" + (
        f", skipped: {', '.join(str(i) for i in skipped)}" if skipped else ""
    )
    return RunOutcome(
        RunPhase.SUCCEEDED,
        Reason.SUCCEEDED,
        message,
        commit=last_commit,
        results=results,
        baseline=baseline.summary,
    )
