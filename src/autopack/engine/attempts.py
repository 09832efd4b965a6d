"""One phase, attempt by attempt: build, apply inside scope, gate, audit, commit — or recover.

An attempt starts from a savepoint and ends with a commit (the phase completes or waits for
approval), with :class:`~autopack.engine.ports.AttemptFailed` (rolled back; the value recovery
returns, see :mod:`autopack.engine.recovering`, says what comes next), or with a stop
(:class:`~autopack.engine.ports.RunStopped`, or any unexpected exception as ``InternalError``:
rolled back, and the phase ends ``Failed``). Each attempt and each phase ends with an event.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from autopack import events
from autopack.api import FailureCategory, PhaseDefinition, PhaseState
from autopack.engine.ports import AttemptFailed, stop_of
from autopack.engine.recovering import PhaseRecovery, Revise, SkipPhase, StopRun
from autopack.engine.steps import AttemptSteps, RunContext
from autopack.events import AttemptOutcome, AttemptResult, PhaseResult

log = logging.getLogger(__name__)


class Where(TypedDict):
    """What every event of a phase carries: the run, the time and the phase's index."""

    run: str
    at: datetime
    index: int


@dataclass
class PhaseLoop:
    """Runs the attempts of one phase; ``previous_attempts`` were made by earlier processes."""

    ctx: RunContext
    recovery: PhaseRecovery
    index: int
    phase: PhaseDefinition
    previous_attempts: int = 0

    def run(self, *, approved: bool = False, pending: str | None = None) -> PhaseResult:
        """Attempt the phase until it completes, waits for approval, fails, is skipped or stops.

        ``pending`` is an approved change set aside before the baseline: the first attempt
        puts it back and gates it instead of asking the Builder.
        """
        self.ctx.emit(events.PhaseStarted(**self._where(), title=self.phase.title))
        if self.recovery.mitigations is not None:
            self.recovery.mitigations.new_phase()
        steps = AttemptSteps(self.ctx, self.index, self.phase)
        result = self._attempts(steps, approved=approved, pending=pending)
        self.ctx.emit(events.PhaseFinished(**self._where(), title=steps.phase.title, result=result))
        return result

    def _attempts(self, steps: AttemptSteps, *, approved: bool, pending: str | None) -> PhaseResult:
        number, model = self.previous_attempts, None
        feedback: tuple[str, ...] = ()
        while steps.failures < (self.phase.budgets.max_attempts or 1):
            number += 1
            model = self._attempt_started(steps, number, previous=model)
            savepoint = self.ctx.workspace.head()
            try:
                try:
                    return self._attempt(
                        steps, number, feedback, savepoint, approved=approved, pending=pending
                    )
                except AttemptFailed as failed:
                    self._rollback(savepoint)
                    failure, pending = failed.failure, None
                    if failure.category != FailureCategory.PROVIDER:  # an outage costs no attempt
                        steps.failures += 1
                    outcome = self.recovery.recover(failure, phase=steps.phase, attempt=number)
                    self._attempt_finished(number, outcome.recorded(failure))
            except Exception as exc:  # a stop, in the attempt or in recovery (models, git)
                stop = stop_of(exc)
                self._rollback(savepoint)
                self._attempt_finished(number, AttemptResult(AttemptOutcome.STOPPED, stop=stop))
                reason = f"{stop.reason}: {stop.message}"[:1024]
                return PhaseResult(PhaseState.FAILED, number, failure=reason, stop=stop)
            match outcome:
                case SkipPhase(reason=reason):
                    return PhaseResult(PhaseState.SKIPPED, number, failure=reason[:1024])
                case StopRun(stop=stop):
                    signature = str(failure.signature)[:1024]
                    return PhaseResult(PhaseState.FAILED, number, failure=signature, stop=stop)
                case Revise(phase=revised, reason=reason):
                    steps.phase = revised
                    self.ctx.emit(
                        events.PhaseReplanned(**self._where(), goal=revised.goal, reason=reason)
                    )
            feedback = outcome.feedback
        return PhaseResult(PhaseState.FAILED, number, failure=str(failure.signature)[:1024])

    def _attempt_started(self, steps: AttemptSteps, number: int, *, previous: str | None) -> str:
        ctx = self.ctx
        model = ctx.models.model_for(role="builder", phase=steps.phase, failures=steps.failures)
        escalation = (
            f"builder {previous} -> {model} after {steps.failures} failures"
            if previous is not None and model != previous
            else None
        )
        started = events.AttemptStarted(
            **self._where(), attempt=number, model=model, escalation=escalation
        )
        ctx.emit(started)
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
        else:
            parsed = steps.build(number, feedback)
            applied = steps.apply(number, parsed, approved=approved)
            reason = applied.approval_reason
            if reason and not approved:
                commit = steps.commit(pending=True)
                self.ctx.emit(events.ApprovalNeeded(**self._where(), reason=reason))
                self._attempt_finished(number, AttemptResult(AttemptOutcome.AWAITING_APPROVAL))
                return PhaseResult(
                    PhaseState.AWAITING_APPROVAL, number, commit=commit, approval_reason=reason
                )
            # What the apply wrote, byte for byte: the commit holds exactly this.
            accepted = workspace.snapshot(applied.files)
        tests = steps.gate(number)
        discarded = steps.keep_only(number, accepted)  # what the commands changed besides it
        steps.deliverables()
        steps.audit(number, savepoint=savepoint, tests=tests)
        steps.drift(number, savepoint=savepoint)
        commit = steps.commit(pending=False)
        self._attempt_finished(number, AttemptResult(AttemptOutcome.PASSED, discarded=discarded))
        return PhaseResult(PhaseState.COMPLETE, number, commit=commit, tests=tests)

    def _rollback(self, savepoint: str) -> None:
        try:
            self.ctx.workspace.rollback(savepoint)
        except Exception:  # the stop that brought us here says more than a failed rollback
            log.exception("could not roll the workspace back to %s", savepoint)

    def _attempt_finished(self, number: int, result: AttemptResult) -> None:
        self.ctx.emit(events.AttemptFinished(**self._where(), attempt=number, result=result))

    def _where(self) -> Where:
        return Where(run=self.ctx.run, at=self.ctx.now(), index=self.index)
