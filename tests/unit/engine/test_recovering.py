import pytest

from autopack.api import FailureCategory, PhaseDefinition
from autopack.api.conditions import Reason
from autopack.engine.doctoring import Doctor
from autopack.engine.ports import AttemptFailed
from autopack.engine.recovering import PhaseRecovery, Retry, Revise, SkipPhase, StopRun
from autopack.events import Failure
from autopack.hardening.health import RunHealth
from autopack.hardening.mitigator import Mitigation
from autopack.hardening.registry import HealthSettings
from tests.unit.engine.fakes import FakeMitigations, FakeModels, FakeWorkspace, doctor_says

PHASE = PhaseDefinition.model_validate(
    {"title": "t", "goal": "add reading time", "deliverables": ["pkg/"],
     "scope": {"allowedPaths": ["pkg/"]}},
    by_alias=True,
)  # fmt: skip
CI = Failure(FailureCategory.CI, "1 passed, 1 failed; newly failing: test_x", ("New failure",))


def recovery(
    models: FakeModels | None = None,
    *,
    mitigation: Mitigation | None = None,
    max_failures: int = 25,
    health: HealthSettings | None = None,
) -> tuple[PhaseRecovery, FakeWorkspace]:
    workspace = FakeWorkspace()
    return (
        PhaseRecovery(
            index=0,
            workspace=workspace,
            health=RunHealth(max_failures=max_failures, settings=health or HealthSettings()),
            mitigations=FakeMitigations(mitigation),
            doctor=Doctor(models=models) if models is not None else None,
        ),
        workspace,
    )


def test_without_a_doctor_a_failure_is_retried_with_its_feedback() -> None:
    phase_recovery, _ = recovery()
    assert phase_recovery.recover(CI, phase=PHASE, attempt=1) == Retry(feedback=CI.feedback)


def test_a_mitigation_that_worked_is_committed_and_spares_the_doctor() -> None:
    models = FakeModels()
    fixed = Mitigation("wrong-test-path", "tests point at tests/", ["use tests/"], ["setup.cfg"])
    phase_recovery, workspace = recovery(models, mitigation=fixed)
    outcome = phase_recovery.recover(CI, phase=PHASE, attempt=1)
    assert isinstance(outcome, Retry)
    assert outcome.mitigation == "tests point at tests/"
    assert "Autopack already applied: tests point at tests/" in outcome.feedback
    assert workspace.commits
    assert "Autopack-Mitigation: 0" in workspace.commits[0]
    assert models.asked == []
    assert phase_recovery.doctor is not None
    assert phase_recovery.doctor.avoided == 1


def test_a_mitigation_that_did_not_apply_is_rolled_back_and_the_doctor_is_asked() -> None:
    models = FakeModels().say("doctor", doctor_says("retry_with_hint", hint="guard empty text"))
    failed = Mitigation("missing-module", "pip install x", ["x is not declared"], applied=False)
    phase_recovery, workspace = recovery(models, mitigation=failed)
    outcome = phase_recovery.recover(CI, phase=PHASE, attempt=1)
    assert workspace.rollbacks == ["c0"]
    assert workspace.commits == []
    assert isinstance(outcome, Retry)
    assert outcome.mitigation is None
    assert "Doctor's hint: guard empty text" in outcome.feedback
    assert "x is not declared" in outcome.feedback


@pytest.mark.parametrize(
    ("decision", "expected"),
    [
        ("skip_phase", SkipPhase),
        ("mark_fatal", StopRun),
        ("rollback_run", StopRun),
    ],
)
def test_doctor_decisions_become_values(decision: str, expected: type) -> None:
    models = FakeModels().say("doctor", doctor_says(decision, reason="hopeless"))
    phase_recovery, workspace = recovery(models)
    outcome = phase_recovery.recover(CI, phase=PHASE, attempt=1)
    assert isinstance(outcome, expected)
    assert outcome.decision is not None
    assert outcome.decision.startswith(decision)
    if decision == "mark_fatal":
        assert isinstance(outcome, StopRun)
        assert outcome.stop.reason == Reason.DOCTOR_MARKED_FATAL
        assert outcome.stop.message == "hopeless"
    if decision == "rollback_run":
        assert isinstance(outcome, StopRun)
        assert outcome.stop.reason == Reason.ROLLBACK_REQUESTED
        assert workspace.rolled_back_run
        assert "rolled-back" in outcome.stop.message


def test_the_same_failure_twice_is_replanned_once_then_goes_to_the_doctor() -> None:
    models = (
        FakeModels()
        .say("doctor", doctor_says("retry_with_hint", confidence=0.9, hint="h1"))
        .say("planner", "a better goal")
        .say("doctor", doctor_says("retry_with_hint", confidence=0.9, hint="h2"))
    )
    phase_recovery, _ = recovery(models)
    first = phase_recovery.recover(CI, phase=PHASE, attempt=1)
    second = phase_recovery.recover(CI, phase=PHASE, attempt=2)
    third = phase_recovery.recover(CI, phase=PHASE, attempt=3)
    assert isinstance(first, Retry)
    assert not isinstance(first, Revise)
    assert isinstance(second, Revise)
    assert second.phase is not None
    assert second.phase.goal == "a better goal"
    assert isinstance(third, Retry)
    assert "Doctor's hint: h2" in third.feedback
    assert models.asked == ["doctor", "planner", "doctor"]


def test_an_unavailable_doctor_gives_no_advice_and_no_sentinel() -> None:
    def outage() -> str:
        raise AttemptFailed.of(FailureCategory.PROVIDER, "overloaded")

    models = FakeModels().say("doctor", outage)
    phase_recovery, _ = recovery(models)
    outcome = phase_recovery.recover(CI, phase=PHASE, attempt=1)
    assert outcome == Retry(feedback=CI.feedback)


def test_provider_failures_skip_mitigation_and_doctor_but_count_for_health() -> None:
    models = FakeModels()
    outage = Failure(FailureCategory.PROVIDER, "every model of the route failed")
    phase_recovery, _ = recovery(models, health=HealthSettings(max_provider_errors=2))
    assert isinstance(phase_recovery.recover(outage, phase=PHASE, attempt=1), Retry)
    stopped = phase_recovery.recover(outage, phase=PHASE, attempt=2)
    assert isinstance(stopped, StopRun)
    assert stopped.stop.reason == Reason.HEALTH_BUDGET_EXHAUSTED
    assert stopped.stop.message.startswith("2 provider errors")
    assert models.asked == []
