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


@dataclass(frozen=True, kw_only=True)
class Recovery:
    """What recovery did, as the attempt's record shows it."""

    mitigation: str | None = None
    decision: str | None = None
    hint: str | None = None

    def recorded(self, failure: Failure) -> AttemptResult:
        return AttemptResult(
            AttemptOutcome.FAILED,
            failure=failure,
            mitigation=self.mitigation,
            doctor_decision=self.decision,
            doctor_hint=self.hint,
            next_feedback=self.feedback if isinstance(self, Retry) else (),
            stop=self.stop if isinstance(self, StopRun) else None,
        )


@dataclass(frozen=True, kw_only=True)
class Retry(Recovery):
    """Try again with this feedback."""

    feedback: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Revise(Retry):
    """Try again with a revised phase (same deliverables and scope)."""

    phase: PhaseDefinition
    reason: str


@dataclass(frozen=True, kw_only=True)
class SkipPhase(Recovery):
    """Leave the phase and go on with the next one."""

    reason: str


@dataclass(frozen=True, kw_only=True)
class StopRun(Recovery):
    """Stop the run."""

    stop: Stop


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
        outcome = self._decide(failure, phase=phase, attempt=attempt)
        exhausted = self.health.record(failure.signature)
        if exhausted and not isinstance(outcome, StopRun):
            stop = Stop(Reason.HEALTH_BUDGET_EXHAUSTED, exhausted)
            return StopRun(mitigation=outcome.mitigation, decision=outcome.decision, stop=stop)
        return outcome

    def _decide(self, failure: Failure, *, phase: PhaseDefinition, attempt: int) -> Outcome:
        if failure.category == FailureCategory.PROVIDER:
            return Retry(feedback=failure.feedback)
        mitigation = None
        if self.mitigations is not None:
            mitigation, failure = mitigate(
                self.mitigations, self.workspace, self.index, failure, phase
            )
        if self.doctor is not None:
            if mitigation is None:
                return self._treat(self.doctor, failure, phase=phase, attempt=attempt)
            self.doctor.avoided += 1  # the mitigation spared a Doctor call
        return Retry(mitigation=mitigation, feedback=failure.feedback)

    def _treat(  # noqa: PLR0911 - one return per Doctor decision
        self, doctor: Doctor, failure: Failure, *, phase: PhaseDefinition, attempt: int
    ) -> Outcome:
        """Replan a flawed approach once, else follow the Doctor's decision."""
        signature = failure.signature
        self.history.append(signature)
        if not self.replanned and doctor.approach_flawed(self.history):
            decision, reason = "replan (approach flaw)", f"repeated failure: {signature}"
        else:
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
                case "replan" if not self.replanned:
                    reason = f"Doctor: {reason}"  # replanned below
                case "retry_with_hint" if diagnosis.hint:
                    hinted = (*failure.feedback, f"Doctor's hint: {diagnosis.hint}")
                    return Retry(decision=decision, hint=diagnosis.hint, feedback=hinted)
                case "skip_phase":
                    return SkipPhase(decision=decision, reason=reason)
                case "mark_fatal":
                    return StopRun(decision=decision, stop=Stop(Reason.DOCTOR_MARKED_FATAL, reason))
                case "rollback_run":
                    kept = self.workspace.rollback_run()
                    undone = (
                        f"the work branch is back where the run began, the undone work is on {kept}"
                        if kept
                        else "the run had committed nothing"
                    )
                    stop = Stop(Reason.ROLLBACK_REQUESTED, f"{reason}; {undone}")
                    return StopRun(decision=decision, stop=stop)
                case _:
                    return Retry(decision=decision, feedback=failure.feedback)
        self.replanned = True  # once per phase
        phase = doctor.replan(phase=phase, index=self.index, attempt=attempt, history=self.history)
        return Revise(decision=decision, feedback=failure.feedback, phase=phase, reason=reason)
