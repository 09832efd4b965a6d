"""What happens after a failed attempt: mitigation, the Doctor, replanning, the health budget.

The phase loop (:mod:`autopack.engine.attempts`) decides whether an attempt failed; this module
decides what the failure leads to. A deterministic mitigation is tried first and, when it
changed files, committed on its own so the next attempt's rollback keeps it. Failures no
mitigation fixes go to the Doctor (an approach flaw is replanned once without asking it).
Every failure counts against the run's health budget, whose caps — and the Doctor's
``mark_fatal`` / ``rollback_run`` decisions — stop the run.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from autopack.api import PhaseDefinition
from autopack.engine.doctoring import Doctor
from autopack.hardening.mitigator import Mitigator
from autopack.engine.ports import MITIGATION_TRAILER, EngineStop, Workspace
from autopack.hardening.registry import HealthSettings
from autopack.hardening.signatures import FailureSignature


@dataclass
class Failure:
    """Why an attempt failed, ready for the prompt, the store and the status."""

    category: str  # malformed | apply | ci | validation | deliverables | audit | drift | provider
    summary: str
    feedback: list[str]


def mitigate(
    mitigator: Mitigator | None,
    workspace: Workspace,
    failure: Failure,
    *,
    phase: PhaseDefinition,
    index: int,
) -> str | None:
    """Try the registry's mitigation for ``failure``; its notes join the failure's feedback."""
    if mitigator is None:
        return None
    detail = "\n".join([failure.summary, *failure.feedback])
    mitigation = mitigator.mitigate(category=failure.category, message=detail, phase=phase)
    if mitigation is None:
        return None
    failure.feedback.extend(mitigation.feedback)
    failure.feedback.append(f"Autopack already applied: {mitigation.description}")
    if mitigation.changed_files:
        # Its own commit, so the next attempt's rollback keeps it (e.g. a declared dependency).
        workspace.commit(
            f"autopack: {mitigation.rule} in phase {index}\n\n"
            f"{mitigation.description}\n\n{MITIGATION_TRAILER}: {index}"
        )
    return mitigation.description


Replan = Callable[[PhaseDefinition, str], None]  # the revised phase and why


@dataclass
class Treatment:
    """The Doctor's view of one phase: its failures so far and what it decided."""

    doctor: Doctor | None
    index: int
    history: list[FailureSignature] = field(default_factory=list)
    replanned: bool = False
    skip_reason: str | None = None
    fatal: tuple[str, str] | None = None  # (decision, reason) that must stop the run

    def treat(
        self,
        phase: PhaseDefinition,
        *,
        attempt: int,
        failure: Failure,
        normalized: FailureSignature,
        replan: Replan,
    ) -> str | None:
        """After an unmitigated failure: replan a flawed approach once, else ask the Doctor.

        Returns the decision as reported on the attempt; ``replan`` receives a revised phase.
        """
        doctor = self.doctor
        if doctor is None:
            return None
        self.history.append(normalized)
        if not self.replanned and doctor.approach_flawed(self.history):
            self._replan(phase, attempt, replan, reason=f"repeated failure: {normalized}")
            return "replan (approach flaw)"
        diagnosis = doctor.diagnose(
            phase=phase,
            index=self.index,
            attempt=attempt,
            category=failure.category,
            signature=normalized.text,
            detail="\n".join(failure.feedback),
        )
        if diagnosis is None:
            return None
        decision = diagnosis.decision
        if decision == "retry_with_hint" and diagnosis.hint:
            failure.feedback.append(f"Doctor's hint: {diagnosis.hint}")
        elif decision == "replan" and not self.replanned:
            self._replan(phase, attempt, replan, reason=f"Doctor: {diagnosis.reason}")
        elif decision == "skip_phase":
            self.skip_reason = diagnosis.reason or "the Doctor skipped the phase"
        elif decision in ("mark_fatal", "rollback_run"):
            self.fatal = (decision, diagnosis.reason or decision)
        return f"{decision} (confidence {diagnosis.confidence:.2f})"

    def _replan(self, phase: PhaseDefinition, attempt: int, replan: Replan, *, reason: str) -> None:
        assert self.doctor is not None  # noqa: S101 - only called when a Doctor exists
        revised = self.doctor.replan(
            phase=phase, index=self.index, attempt=attempt, history=self.history
        )
        self.replanned = True
        replan(revised, reason)


def check_health(
    failures_in_run: list[str],
    *,
    max_failures: int,
    health: HealthSettings,
    last: FailureSignature,
) -> None:
    """Stop the run when its failures, apply failures or provider errors reach their caps."""
    caps = (
        (len(failures_in_run), max_failures, "failures"),
        (
            sum(1 for f in failures_in_run if f.startswith("apply:")),
            health.max_apply_failures,
            "apply failures",
        ),
        (
            sum(1 for f in failures_in_run if f.startswith("provider:")),
            health.max_provider_errors,
            "provider errors",
        ),
    )
    for count, cap, what in caps:
        if count >= cap:
            raise EngineStop(
                "HealthBudgetExhausted", f"HealthBudgetExhausted: {count} {what}, last: {last}"
            )


def stop_as_decided(fatal: tuple[str, str], workspace: Workspace) -> EngineStop:
    """The stop for the Doctor's ``mark_fatal`` or ``rollback_run`` (which resets the branch)."""
    decision, reason = fatal
    if decision == "mark_fatal":
        return EngineStop("DoctorMarkedFatal", f"DoctorMarkedFatal: {reason}")
    kept = workspace.rollback_run()
    undone = (
        f"; the work branch is back where the run began, the undone work is on {kept}"
        if kept
        else "; the run had committed nothing"
    )
    return EngineStop("RollbackRequested", f"RollbackRequested: {reason}{undone}")
