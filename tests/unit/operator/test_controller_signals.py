"""How the operator reads what the real Job controller and kubelet write, and the approval wait."""

from datetime import UTC, datetime
from typing import Any

from autopack.api import AutopackRun, AutopackRunStatus, PhaseState, RunPhase
from autopack.api.common import truncate
from autopack.api.report import RunnerReport
from autopack.operator import observing
from autopack.operator.decisions import MAX_MESSAGE, Decision, Observed, decide
from autopack.operator.status import awaits_pod_end, job_outcome
from tests.builders.api import a_run
from tests.builders.k8s import a_job, a_phase_in, a_pod

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
APPROVAL = RunnerReport(state="AwaitingApproval", reason="AwaitingApproval", message="p1 deletes")


def ending(kind: str, reason: str | None = None, *, failed: int = 0) -> dict[str, Any]:
    """A runner Job the controller is ending: only the first of its two conditions is set."""
    job = a_job(state="running")
    job["status"] = {"conditions": [{"type": kind, "status": "True", "reason": reason}]}
    if failed:
        job["status"]["failed"] = failed
    return job


def run_in(phase: RunPhase) -> AutopackRun:
    run = a_run("demo").obj()
    run.status = AutopackRunStatus(phase=phase)
    return run


def decide_for(run: AutopackRun, **observed: Any) -> Decision:
    return decide(
        Observed(run=run, now=NOW, **{"jobs": [], "pods": [], "phases": [], **observed}),
        max_launches=3,
    )


def test_failure_target_with_a_deadline_is_a_final_deadline_not_a_crash() -> None:
    killed = a_pod(exit_code=137, reason="Error")
    outcome = job_outcome(ending("FailureTarget", "DeadlineExceeded", failed=1), [killed])
    assert (outcome.state, outcome.reason, outcome.infrastructure) == (
        "failed",
        "DeadlineExceeded",
        False,
    )
    decision = decide_for(
        run_in(RunPhase.RUNNING),
        jobs=[ending("FailureTarget", "DeadlineExceeded", failed=1)],
        pods=[killed],
    )
    assert decision.launch is None
    assert decision.status.phase == RunPhase.FAILED


def test_a_failed_pod_count_alone_is_not_the_end_of_the_job() -> None:
    job = a_job(state="running")
    job["status"] = {"failed": 1}
    assert job_outcome(job, [a_pod(exit_code=1, reason="Error")]).state == "pending"


def test_success_criteria_met_is_success() -> None:
    report = RunnerReport(state="Succeeded", reason="RunSucceeded", message="done")
    outcome = job_outcome(
        ending("SuccessCriteriaMet", "CompletionsReached"), [a_pod(report=report)]
    )
    assert outcome.state == "succeeded"
    assert outcome.report == report


def test_a_disrupted_pod_is_an_infrastructure_failure() -> None:
    pod = a_pod(exit_code=137, reason="Error")
    pod["status"]["conditions"] = [
        {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler"}
    ]
    outcome = job_outcome(ending("FailureTarget", "BackoffLimitExceeded", failed=1), [pod])
    assert (outcome.reason, outcome.infrastructure) == ("Evicted", True)
    assert "PreemptionByScheduler" in outcome.message


def test_a_runner_that_succeeded_waiting_for_approval_leaves_the_run_awaiting_it() -> None:
    decision = decide_for(
        run_in(RunPhase.RUNNING),
        jobs=[a_job(state="succeeded")],
        pods=[a_pod(report=APPROVAL)],
        phases=[a_phase_in(PhaseState.COMPLETE, 0), a_phase_in(PhaseState.AWAITING_APPROVAL, 1)],
    )
    assert decision.status.phase == RunPhase.AWAITING_APPROVAL
    assert decision.launch is None
    assert [e[1] for e in decision.events] == ["ApprovalRequired"]


def test_approval_starts_the_next_runner_and_the_run_does_not_flap_back() -> None:
    approved = [a_phase_in(PhaseState.AWAITING_APPROVAL, 1, approved=True)]
    launched = decide_for(
        run_in(RunPhase.AWAITING_APPROVAL),
        jobs=[a_job(state="succeeded")],
        pods=[a_pod(report=APPROVAL)],
        phases=approved,
    )
    assert launched.launch == 2
    # The new runner runs; the phase still says AwaitingApproval until it picks it up.
    running = decide_for(run_in(RunPhase.RUNNING), jobs=[a_job(launch=2)], phases=approved)
    assert running.status.phase == RunPhase.RUNNING
    assert not [e for e in running.events if e[1] == "ApprovalRequired"]


def test_a_long_message_is_cut_with_a_marker() -> None:
    cut = truncate("x" * 5000, MAX_MESSAGE)
    assert len(cut) == 4096
    assert cut.endswith("(truncated)")
    assert truncate("short", MAX_MESSAGE) == "short"


def test_indexes_keep_only_what_decisions_read() -> None:
    job = a_job(state="failed", reason="DeadlineExceeded")
    job["metadata"]["labels"] = {"a": "b", "kueue.x-k8s.io/queue-name": "q"}
    job["spec"]["template"] = {"spec": {"containers": [{"env": ["big"] * 100}]}}
    view = observing.job_view(job)
    assert "template" not in view["spec"]
    assert view["metadata"]["labels"] == {"kueue.x-k8s.io/queue-name": "q"}
    assert job_outcome(view, []).reason == job_outcome(job, []).reason
    run = {
        "metadata": {
            "managedFields": [1],
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": "{...}",
                "keep": "me",
            },
        }
    }
    assert observing.run_view(run)["metadata"] == {"annotations": {"keep": "me"}}


def test_a_job_seen_ending_before_its_pod_waits_for_the_pods_report_for_a_while() -> None:
    job = a_job(state="succeeded")
    job["status"]["conditions"][0]["lastTransitionTime"] = "2026-01-01T11:59:58Z"
    running_pod = {"metadata": {}, "status": {"containerStatuses": [{"name": "runner"}]}}
    assert awaits_pod_end(job, [running_pod], now=NOW, grace=30)
    assert not awaits_pod_end(job, [a_pod(report=APPROVAL)], now=NOW, grace=30)
    later = datetime(2026, 1, 1, 12, 1, tzinfo=UTC)
    assert not awaits_pod_end(job, [running_pod], now=later, grace=30)
    assert not awaits_pod_end(a_job(state="running"), [running_pod], now=NOW, grace=30)
