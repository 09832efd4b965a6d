"""What ``kubectl describe autopackrun`` shows: models, spend against budget, what to do next."""

from datetime import UTC, datetime

import pytest

from autopack.api import (
    AutopackRun,
    AutopackRunStatus,
    PhaseLedger,
    PhaseState,
    RunPhase,
    Usage,
    conditions,
    hints,
)
from autopack.api.conditions import Reason
from autopack.api.report import RunnerReport
from autopack.operator.decisions import Decision, Observed, decide
from tests.builders.api import a_run
from tests.builders.k8s import a_job, a_phase_in, a_pod

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

# Reasons that describe where a run is, not why it failed.
NOT_FAILURES = {
    Reason.PENDING,
    Reason.QUEUED,
    Reason.PLANNING,
    Reason.RUNNING,
    Reason.SUSPENDED,
    Reason.AWAITING_APPROVAL,
    Reason.SUCCEEDED,
    Reason.FAILED,
    Reason.DATABASE_AVAILABLE,
    Reason.DATABASE_UNAVAILABLE,
}


def a_run_in(phase: RunPhase | None = None, *, cost: float = 10.0) -> AutopackRun:
    run = (
        a_run("demo")
        .set("metadata.namespace", "team")
        .set("spec.models.profile", "balanced")
        .budget(costUSD=cost, tokens=50_000)
        .obj()
    )
    if phase is not None:
        run.status = AutopackRunStatus(phase=phase)
    return run


def decide_for(run: AutopackRun, **observed: object) -> Decision:
    return decide(
        Observed(run=run, now=NOW, **{"jobs": [], "pods": [], "phases": [], **observed}),  # type: ignore[arg-type]
        max_launches=3,
    )


def failed_with(reason: str, message: str = "details") -> Decision:
    report = RunnerReport(state="Failed", reason=reason, message=message)
    return decide_for(
        a_run_in(RunPhase.RUNNING),
        jobs=[a_job(state="failed")],
        pods=[a_pod(exit_code=1, reason="Error", report=report)],
    )


def test_a_running_run_shows_its_profile_models_and_spend_against_budget() -> None:
    done = a_phase_in(PhaseState.COMPLETE, 0, cost=0.5, tokens=1000)
    building = a_phase_in(PhaseState.BUILDING, 1, cost=0.25, tokens=500)
    queued = a_phase_in(PhaseState.QUEUED, 2)
    assert done.status is not None
    assert building.status is not None
    done.status.model = "claude-sonnet"
    done.status.usage.output_tokens = 200
    done.status.usage.cache_read_tokens = 300
    building.status.model = "claude-opus"
    status = decide_for(
        a_run_in(RunPhase.RUNNING), jobs=[a_job()], phases=[queued, building, done]
    ).status
    assert status.models is not None
    assert status.models.profile == "balanced"
    assert status.models.used == ["claude-sonnet", "claude-opus"]
    assert status.budget is not None
    assert (status.budget.cost_usd, status.budget.cost_limit_usd) == (0.75, 10.0)
    assert (status.budget.tokens, status.budget.token_limit) == (2000, 50_000)
    assert status.hint is None
    written = status.to_api()
    assert written["budget"] == {
        "costUSD": 0.75,
        "costLimitUSD": 10.0,
        "tokens": 2000,
        "tokenLimit": 50_000,
    }


def test_what_runners_that_stopped_mid_phase_left_unrecorded_is_shown_with_the_spend() -> None:
    done = a_phase_in(PhaseState.COMPLETE, 0, cost=0.5, tokens=1000)
    building = a_phase_in(PhaseState.BUILDING, 1, cost=0.25, tokens=500)
    assert done.status is not None
    assert building.status is not None
    # A runner stopped twice: in phase 0 and in phase 1; a live one holds a reservation in 1.
    done.status.ledger = PhaseLedger(unrecorded_tokens=4000, unrecorded_cost_usd=0.2)
    building.status.ledger = PhaseLedger(
        reserved_tokens=9000, reserved_cost_usd=1.5, unrecorded_tokens=500, unrecorded_cost_usd=0.05
    )
    status = decide_for(a_run_in(RunPhase.RUNNING), jobs=[a_job()], phases=[building, done]).status
    assert status.to_api()["budget"] == {
        "costUSD": 0.75,
        "costLimitUSD": 10.0,
        "tokens": 1500,
        "tokenLimit": 50_000,
        "unrecordedTokens": 4500,  # a live runner's reservation is not spend
        "unrecordedCostUSD": 0.25,
    }


def test_a_budget_failure_says_to_raise_the_budget_and_how_to_retry() -> None:
    status = failed_with(Reason.BUDGET_EXCEEDED, "run has $0.00 left").status
    assert status.hint is not None
    assert "spec.budgets.costUSD" in status.hint
    assert "kubectl -n team annotate apr demo autopack.dev/retry=" in status.hint
    # The reason, the message and the hint stay apart.
    succeeded = conditions.find_condition(status.conditions, conditions.SUCCEEDED)
    assert succeeded is not None
    assert (succeeded.reason, succeeded.message) == ("BudgetExceeded", "run has $0.00 left")
    assert status.message == "run has $0.00 left"


@pytest.mark.parametrize(
    ("reason", "advice"),
    [
        (Reason.PLAN_INVALID, "spec.plan or spec.phases"),
        (Reason.PROVIDER_ERROR, "spec.models.credentialsSecret"),
        (Reason.CLONE_FAILED, "spec.repo.credentialsSecret"),
        (Reason.INTERNAL_ERROR, "kubectl -n team logs job/demo-runner-1 -c agent"),
        (Reason.HEALTH_BUDGET_EXHAUSTED, "spec.budgets.maxFailuresPerRun"),
    ],
)
def test_each_failure_reason_says_what_to_do(reason: str, advice: str) -> None:
    status = failed_with(reason).status
    assert status.hint is not None
    assert advice in status.hint


def test_a_deadline_says_to_raise_active_deadline_seconds() -> None:
    status = decide_for(
        a_run_in(RunPhase.RUNNING),
        jobs=[a_job(state="failed", reason="DeadlineExceeded")],
        pods=[a_pod(exit_code=137, reason="Error")],
    ).status
    assert status.hint is not None
    assert "spec.budgets.activeDeadlineSeconds" in status.hint


def test_every_failure_reason_has_a_hint_of_its_own() -> None:
    for reason in set(Reason) - NOT_FAILURES:
        assert hints.has_hint(reason), reason
    # An unknown reason still gets the general advice.
    general = hints.hint_for("SomethingNew", run="demo", namespace="team", job="demo-runner-2")
    assert "kubectl -n team logs job/demo-runner-2 -c agent" in general


def test_a_run_waiting_for_approval_says_how_to_approve_the_waiting_phase() -> None:
    phases = [
        a_phase_in(PhaseState.COMPLETE, 0),
        a_phase_in(PhaseState.AWAITING_APPROVAL, 1),
    ]
    status = decide_for(a_run_in(RunPhase.RUNNING), jobs=[a_job()], phases=phases).status
    assert status.phase == RunPhase.AWAITING_APPROVAL
    assert status.hint is not None
    assert "kubectl -n team patch aph demo-p01 --type merge" in status.hint
    assert '{"spec":{"approved":true}}' in status.hint


def test_a_retry_clears_the_hint() -> None:
    failed = a_run_in()
    failed.status = failed_with(Reason.BUDGET_EXCEEDED).status
    failed.metadata.annotations["autopack.dev/retry"] = "1"
    retried = decide_for(failed, jobs=[a_job(state="failed")])
    assert retried.launch == 2
    assert retried.status.hint is None


def test_runs_finished_before_the_fields_existed_are_left_as_they_are() -> None:
    old = a_run_in(RunPhase.SUCCEEDED)
    again = decide_for(old, jobs=[a_job(state="succeeded")])
    assert (again.status.models, again.status.budget) == (None, None)
    described = a_run_in()
    described.status = failed_with(Reason.BUDGET_EXCEEDED).status
    later = decide_for(described, jobs=[a_job(state="failed")])
    assert later.status.budget == described.status.budget
    assert later.status.hint == described.status.hint


def test_the_planners_usage_on_the_first_phase_is_part_of_the_runs_usage() -> None:
    first = a_phase_in(PhaseState.COMPLETE, 0, cost=0.5, tokens=1000)
    second = a_phase_in(PhaseState.BUILDING, 1, cost=0.25, tokens=500)
    assert first.status is not None
    first.status.plan_usage = Usage(input_tokens=300, output_tokens=100, cost_usd=0.1, llm_calls=1)
    status = decide_for(a_run_in(RunPhase.RUNNING), jobs=[a_job()], phases=[second, first]).status
    assert status.usage.input_tokens == 1800
    assert status.usage.cost_usd == 0.85
    assert status.budget is not None
    assert status.budget.tokens == 1900
