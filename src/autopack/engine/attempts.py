"""One phase, attempt by attempt: build, apply inside scope, gate, audit, commit — or recover.

Each attempt starts from a savepoint and ends in one of three ways: a commit that completes the
phase (or waits for approval); :class:`~autopack.engine.ports.AttemptFailed`, after which the
attempt is rolled back and recovery (:mod:`autopack.engine.recovering`) says what comes next;
or a stop (:class:`~autopack.engine.ports.RunStopped`, or any unexpected exception, which
becomes ``InternalError``), after which the attempt is rolled back and the phase ends
``Failed`` with the stop's reason. Either way the attempt and the phase get a final state.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import assert_never

from autopack import events
from autopack.api import FailureCategory, PhaseDefinition, PhaseState
from autopack.engine.ports import AttemptFailed, stop_of
from autopack.engine.recovering import PhaseRecovery, Retry, Revise, SkipPhase, StopRun
from autopack.engine.steps import AttemptSteps, RunContext
from autopack.events import AttemptOutcome, AttemptResult, Failure, PhaseResult, Stop

log = logging.getLogger(__name__)


@dataclass
class PhaseLoop:
    """Runs the attempts of one phase; ``previous_attempts`` were made by earlier processes."""

    ctx: RunContext
    recovery: PhaseRecovery
    index: int
    phase: PhaseDefinition
    previous_attempts: int = 0

    def _emit(self, event: events.RunEvent) -> None:
        self.ctx.emit(event)

    def run(self, *, approved: bool = False, pending: str | None = None) -> PhaseResult:
        """Attempt the phase until it completes, waits for approval, fails, is skipped or stops.

        ``pending`` is an approved change set aside before the baseline: the first attempt
        puts it back and gates it instead of asking the Builder.
        """
        ctx = self.ctx
        steps = AttemptSteps(ctx, self.index, self.phase)
        self._emit(
            events.PhaseStarted(run=ctx.run, at=ctx.now(), index=self.index, title=self.phase.title)
        )
        if self.recovery.mitigations is not None:
            self.recovery.mitigations.new_phase()
        budget = self.phase.budgets.max_attempts or 1
        made, number = 0, self.previous_attempts
        feedback: tuple[str, ...] = ()
        last: Failure | None = None
        model: str | None = None
        while made < budget:
            made, number = made + 1, number + 1
            model = self._attempt_started(steps, number, previous_model=model)
            savepoint = ctx.workspace.head()
            try:
                return self._attempt(
                    steps, number, feedback, savepoint, approved=approved, pending=pending
                )
            except AttemptFailed as failed:
                self._rollback(savepoint)
                last = failed.failure
                if last.category == FailureCategory.PROVIDER:
                    budget += 1  # an outage is not the phase's fault: it costs no attempt
                else:
                    steps.failures += 1
                try:  # recovery talks to models and git too: it may stop the run as well
                    recovered = self._recover(steps, number, last)
                except Exception as exc:
                    return self._stopped(steps, number, savepoint, stop_of(exc))
                if isinstance(recovered, PhaseResult):
                    return recovered
                feedback = recovered
            except Exception as exc:
                return self._stopped(steps, number, savepoint, stop_of(exc))
            finally:
                pending = None
        failure = str(last.signature) if last else "no attempt was made"
        result = PhaseResult(PhaseState.FAILED, number, failure=failure[:1024])
        return self._phase_finished(steps, result)

    def _attempt_started(
        self, steps: AttemptSteps, number: int, *, previous_model: str | None
    ) -> str:
        """Announce the attempt with its model (and the escalation, when the model changed)."""
        ctx = self.ctx
        model = ctx.models.model_for(role="builder", phase=steps.phase, failures=steps.failures)
        escalation = (
            f"builder {previous_model} -> {model} after {steps.failures} failures"
            if previous_model is not None and model != previous_model
            else None
        )
        self._emit(
            events.AttemptStarted(
                run=ctx.run,
                at=ctx.now(),
                index=self.index,
                attempt=number,
                model=model,
                escalation=escalation,
            )
        )
        return model

    def _attempt(
        self,
        steps: AttemptSteps,
        number: int,
        feedback: tuple[str, ...],
        savepoint: str,
        *,
        approved: bool,
        pending: str | None,
    ) -> PhaseResult:
        """One attempt from ``savepoint``; raises AttemptFailed or RunStopped."""
        workspace = self.ctx.workspace
        if pending is not None:
            workspace.restore_pending(pending)
            accepted = workspace.snapshot(workspace.changed_files())
            return self._check_and_commit(steps, number, savepoint, accepted)
        parsed = steps.build(number, feedback)
        applied = steps.apply(number, parsed, approved=approved)
        if applied.approval_reason and not approved:
            return self._await_approval(steps, number, applied.approval_reason)
        # What the apply wrote, byte for byte: the commit holds exactly this.
        accepted = workspace.snapshot(applied.files)
        return self._check_and_commit(steps, number, savepoint, accepted)

    def _recover(
        self, steps: AttemptSteps, number: int, failure: Failure
    ) -> PhaseResult | tuple[str, ...]:
        """Record the failed attempt and follow recovery: the next feedback, or the phase's end."""
        ctx = self.ctx
        outcome = self.recovery.recover(failure, phase=steps.phase, attempt=number)
        self._attempt_finished(number, outcome.recorded(failure))
        match outcome:
            case Revise(phase=PhaseDefinition() as revised, reason=reason):
                steps.phase = revised
                self._emit(
                    events.PhaseReplanned(
                        run=ctx.run,
                        at=ctx.now(),
                        index=self.index,
                        goal=revised.goal,
                        reason=reason,
                    )
                )
                return outcome.feedback
            case Retry(feedback=feedback):
                return feedback
            case SkipPhase(reason=reason):
                skipped = PhaseResult(PhaseState.SKIPPED, number, failure=reason[:1024])
                return self._phase_finished(steps, skipped)
            case StopRun(stop=stop):
                signature = str(failure.signature)[:1024]
                stopped = PhaseResult(PhaseState.FAILED, number, failure=signature, stop=stop)
                return self._phase_finished(steps, stopped)
            case _:
                assert_never(outcome)

    def _check_and_commit(
        self,
        steps: AttemptSteps,
        number: int,
        savepoint: str,
        accepted: Mapping[str, bytes | None],
    ) -> PhaseResult:
        """Gate the governed change, drop what the commands changed besides it, review, commit."""
        tests = steps.gate(number)
        discarded = steps.keep_only(number, accepted)
        steps.deliverables()
        steps.audit(number, savepoint=savepoint, tests=tests)
        steps.drift(number, savepoint=savepoint)
        commit = steps.commit(pending=False)
        self._attempt_finished(number, AttemptResult(AttemptOutcome.PASSED, discarded=discarded))
        done = PhaseResult(PhaseState.COMPLETE, number, commit=commit, tests=tests)
        return self._phase_finished(steps, done)

    def _await_approval(self, steps: AttemptSteps, number: int, reason: str) -> PhaseResult:
        """Commit the change as pending and stop the phase until someone approves it."""
        commit = steps.commit(pending=True)
        ctx = self.ctx
        self._emit(
            events.ApprovalNeeded(run=ctx.run, at=ctx.now(), index=self.index, reason=reason)
        )
        self._attempt_finished(number, AttemptResult(AttemptOutcome.AWAITING_APPROVAL))
        result = PhaseResult(
            PhaseState.AWAITING_APPROVAL, number, commit=commit, approval_reason=reason
        )
        return self._phase_finished(steps, result)

    def _stopped(self, steps: AttemptSteps, number: int, savepoint: str, stop: Stop) -> PhaseResult:
        """The run stops inside this attempt: roll it back and end attempt and phase ``Failed``."""
        self._rollback(savepoint)
        self._attempt_finished(number, AttemptResult(AttemptOutcome.STOPPED, stop=stop))
        failure = f"{stop.reason}: {stop.message}"[:1024]
        return self._phase_finished(
            steps, PhaseResult(PhaseState.FAILED, number, failure=failure, stop=stop)
        )

    def _rollback(self, savepoint: str) -> None:
        try:
            self.ctx.workspace.rollback(savepoint)
        except Exception:  # the stop that brought us here says more than a failed rollback
            log.exception("could not roll the workspace back to %s", savepoint)

    def _attempt_finished(self, number: int, result: AttemptResult) -> None:
        ctx = self.ctx
        self._emit(
            events.AttemptFinished(
                run=ctx.run, at=ctx.now(), index=self.index, attempt=number, result=result
            )
        )

    def _phase_finished(self, steps: AttemptSteps, result: PhaseResult) -> PhaseResult:
        ctx = self.ctx
        self._emit(
            events.PhaseFinished(
                run=ctx.run, at=ctx.now(), index=self.index, title=steps.phase.title, result=result
            )
        )
        return result
