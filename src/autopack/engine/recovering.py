"""What a failed attempt leads to: a mitigation, the Doctor, a replan, a skip, or a stop.

The loop (:mod:`autopack.engine.attempts`) hands each failure to :meth:`PhaseRecovery.recover`
and gets back a value: :class:`Retry` (with feedback), :class:`Revise` (a revised phase),
:class:`SkipPhase` or :class:`StopRun`. A deterministic mitigation is tried first
(:mod:`autopack.engine.mitigating`). Failures no mitigation fixes go to the Doctor (an
approach flaw is replanned once without asking it). Every failure counts against the run's
health budget (:class:`~autopack.hardening.health.RunHealth`), whose caps stop the run.
"""

from dataclasses import dataclass, field

from autopack.api import FailureCategory, PhaseDefinition
from autopack.api.conditions import Reason
from autopack.engine.doctoring import Doctor
from autopack.engine.mitigating import mitigate
from autopack.engine.ports import Mitigations, Workspace
from autopack.events import AttemptOutcome, AttemptResult, Failure, Stop
from autopack.hardening.health import RunHealth
from autopack.hardening.signatures import FailureSignature


@dataclass(frozen=True)
class Recovery:
    """What recovery did, as the attempt's record shows it."""

    mitigation: str | None = None
    decision: str | None = None
    hint: str | None = None

    def recorded(self, failure: Failure) -> AttemptResult:
        """The failed attempt's record: the failure, and what recovery did about it."""
        return AttemptResult(
            AttemptOutcome.FAILED,
            failure=failure,
            mitigation=self.mitigation,
            doctor_decision=self.decision,
            doctor_hint=self.hint,
            next_feedback=self.feedback if isinstance(self, Retry) else (),
            stop=self.stop if isinstance(self, StopRun) else None,
        )


@dataclass(frozen=True)
class Retry(Recovery):
    """Try again with this feedback."""

    feedback: tuple[str, ...] = ()


@dataclass(frozen=True)
class Revise(Retry):
    """Try again with a revised phase (same deliverables and scope)."""

    phase: PhaseDefinition | None = None
    reason: str = ""


@dataclass(frozen=True)
class SkipPhase(Recovery):
    """Leave the phase and go on with the next one."""

    reason: str = ""


@dataclass(frozen=True)
class StopRun(Recovery):
    """Stop the run."""

    stop: Stop = field(default_factory=lambda: Stop(Reason.FAILED, ""))


Outcome = Retry | SkipPhase | StopRun


@dataclass
class PhaseRecovery:
    """Recovery for the attempts of one phase: its failures so far and whether it replanned."""

    index: int
    workspace: Workspace
    health: RunHealth
    mitigations: Mitigations | None
    doctor: Doctor | None
    history: list[FailureSignature] = field(default_factory=list)
    replanned: bool = False

    def recover(self, failure: Failure, *, phase: PhaseDefinition, attempt: int) -> Outcome:
        """Decide what follows ``failure`` (the attempt has been rolled back already)."""
        signature = failure.signature
        if failure.category == FailureCategory.PROVIDER:
            stop = self._health(signature)
            return StopRun(stop=stop) if stop else Retry(feedback=failure.feedback)
        mitigation = None
        if self.mitigations is not None:
            mitigation, failure = mitigate(
                self.mitigations, self.workspace, self.index, failure, phase
            )
        outcome: Outcome
        if mitigation is not None and self.doctor is not None:
            self.doctor.avoided += 1
        if mitigation is not None or self.doctor is None:
            outcome = Retry(mitigation=mitigation, feedback=failure.feedback)
        else:
            outcome = self._treat(failure, signature, phase=phase, attempt=attempt)
        stop = self._health(signature)
        if stop is not None and not isinstance(outcome, StopRun):
            return StopRun(mitigation=outcome.mitigation, decision=outcome.decision, stop=stop)
        return outcome

    def _health(self, signature: FailureSignature) -> Stop | None:
        exhausted = self.health.record(signature)
        return Stop(Reason.HEALTH_BUDGET_EXHAUSTED, exhausted) if exhausted else None

    def _treat(  # noqa: PLR0911 - one return per Doctor decision
        self, failure: Failure, signature: FailureSignature, *, phase: PhaseDefinition, attempt: int
    ) -> Outcome:
        """Replan a flawed approach once, else follow the Doctor's decision."""
        assert self.doctor is not None  # noqa: S101 - only called with a Doctor
        doctor = self.doctor
        self.history.append(signature)
        if not self.replanned and doctor.approach_flawed(self.history):
            reason = f"repeated failure: {signature}"
            return self._revise(phase, attempt, failure, reason, "replan (approach flaw)")
        diagnosis = doctor.diagnose(
            phase=phase,
            index=self.index,
            attempt=attempt,
            category=failure.category,
            signature=signature.text,
            detail="\n".join(failure.feedback),
        )
        if diagnosis is None:
            return Retry(feedback=failure.feedback)
        decision = f"{diagnosis.decision} (confidence {diagnosis.confidence:.2f})"
        reason = diagnosis.reason or diagnosis.decision
        match diagnosis.decision:
            case "retry_with_hint" if diagnosis.hint:
                hinted = failure.with_feedback(f"Doctor's hint: {diagnosis.hint}")
                return Retry(decision=decision, hint=diagnosis.hint, feedback=hinted.feedback)
            case "replan" if not self.replanned:
                return self._revise(phase, attempt, failure, f"Doctor: {reason}", decision)
            case "skip_phase":
                return SkipPhase(decision=decision, reason=reason)
            case "mark_fatal":
                return StopRun(decision=decision, stop=Stop(Reason.DOCTOR_MARKED_FATAL, reason))
            case "rollback_run":
                return StopRun(decision=decision, stop=self._rollback_run(reason))
            case _:
                return Retry(decision=decision, feedback=failure.feedback)

    def _revise(
        self, phase: PhaseDefinition, attempt: int, failure: Failure, reason: str, decision: str
    ) -> Revise:
        assert self.doctor is not None  # noqa: S101 - only called with a Doctor
        self.replanned = True
        revised = self.doctor.replan(
            phase=phase, index=self.index, attempt=attempt, history=self.history
        )
        return Revise(decision=decision, feedback=failure.feedback, phase=revised, reason=reason)

    def _rollback_run(self, reason: str) -> Stop:
        """Reset the work branch to where the run began, keeping the undone work on a branch."""
        kept = self.workspace.rollback_run()
        undone = (
            f"; the work branch is back where the run began, the undone work is on {kept}"
            if kept
            else "; the run had committed nothing"
        )
        return Stop(Reason.ROLLBACK_REQUESTED, f"{reason}{undone}")
