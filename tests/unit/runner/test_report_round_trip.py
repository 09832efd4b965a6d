"""From the engine's outcome through the runner's report to the operator's status and events."""

from datetime import UTC, datetime
from typing import Any

from autopack.api import AutopackRunStatus, RunPhase
from autopack.api.conditions import Reason
from autopack.api.report import RunnerReport
from autopack.events import RunOutcome
from autopack.operator.decisions import Observed, decide
from autopack.runner.main import report_of
from tests.builders.api import a_run
from tests.builders.k8s import a_job, a_pod

NOW = datetime(2026, 5, 1, tzinfo=UTC)


def status_after(outcome: RunOutcome) -> tuple[AutopackRunStatus, list[tuple[Any, str, str]]]:
    report = RunnerReport.decode(report_of(outcome, branch="autopack/demo").encode())
    assert report is not None
    run = a_run("demo").obj()
    run.status = AutopackRunStatus(phase=RunPhase.RUNNING)
    state = "succeeded" if outcome.state == RunPhase.SUCCEEDED else "failed"
    decision = decide(
        Observed(
            run=run,
            now=NOW,
            jobs=[a_job(state=state)],
            pods=[a_pod(exit_code=outcome.exit_code, reason="Completed", report=report)],
            phases=[],
        ),
        max_launches=3,
    )
    return decision.status, decision.events


def test_a_reason_is_shown_once_from_engine_to_status_and_event() -> None:
    outcome = RunOutcome(RunPhase.FAILED, Reason.HEALTH_BUDGET_EXHAUSTED, "8 provider errors")
    status, posted = status_after(outcome)
    assert status.message == "8 provider errors"
    succeeded = next(c for c in status.conditions if c.type == "Succeeded")
    assert (succeeded.status, succeeded.reason) == ("False", "HealthBudgetExhausted")
    assert ("Warning", "RunFailed", "HealthBudgetExhausted: 8 provider errors") in posted
    assert all("HealthBudgetExhausted: HealthBudgetExhausted" not in m for _, _, m in posted)


def test_a_long_message_is_truncated_with_a_marker_not_rejected() -> None:
    outcome = RunOutcome(RunPhase.FAILED, Reason.PLAN_INVALID, "phase 0: " + "x" * 5000)
    report = report_of(outcome, branch=None)
    assert report.message.endswith("(truncated)")
    assert len(report.message) <= 2048
    status, _ = status_after(outcome)
    assert (status.message or "").startswith("phase 0: xxx")


def test_success_reaches_the_status_with_its_commit_and_pull_request() -> None:
    outcome = RunOutcome(RunPhase.SUCCEEDED, Reason.SUCCEEDED, "2 phases complete", commit="c0ffee")
    outcome.pull_request = "https://github.com/acme/stats/pull/7"
    status, posted = status_after(outcome)
    assert status.phase == RunPhase.SUCCEEDED
    assert status.result is not None
    assert status.result.commit == "c0ffee"
    assert status.result.pull_request == "https://github.com/acme/stats/pull/7"
    assert any("pull request https://github.com/acme/stats/pull/7" in m for _, _, m in posted)
