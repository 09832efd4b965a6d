from datetime import UTC, datetime

from autopack.api import AutopackRun, AutopackRunStatus, PhaseState, RunPhase, conditions
from autopack.api.report import RunnerReport
from autopack.operator.decisions import Decision, Observed, decide
from tests.builders.api import a_run
from tests.builders.k8s import a_job, a_phase_in, a_pod

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def run_in(phase: RunPhase | None = None, **annotations: str) -> AutopackRun:
    run = a_run("demo").obj()
    run.metadata.generation = 3
    run.metadata.annotations.update(annotations)
    if phase is not None:
        run.status = AutopackRunStatus(phase=phase)
    return run


def decide_for(run: AutopackRun, **observed: object) -> Decision:
    return decide(
        Observed(run=run, now=NOW, **{"jobs": [], "pods": [], "phases": [], **observed}),  # type: ignore[arg-type]
        max_launches=3,
    )


def condition(decision: Decision, type_: str) -> str:
    found = conditions.find_condition(decision.status.conditions, type_)
    assert found is not None
    return f"{found.status}/{found.reason}"


def test_new_run_launches_its_first_runner() -> None:
    decision = decide_for(run_in())
    assert decision.launch == 1
    assert decision.status.phase == RunPhase.PLANNING
    assert decision.status.job_name == "demo-runner-1"
    assert decision.status.started_at == NOW
    assert decision.status.observed_generation == 3
    assert decision.events == []
    assert condition(decision, "Succeeded") == "Unknown/Planning"
    assert condition(decision, "Reconciling") == "True/Planning"
    assert condition(decision, "Ready") == "False/Planning"


def test_run_over_the_concurrency_limit_waits_queued() -> None:
    decision = decide_for(run_in(), may_start=False, queue_position=2)
    assert decision.launch is None
    assert decision.status.phase == RunPhase.QUEUED
    assert decision.status.message == "waiting for a runner slot (2 run(s) ahead)"


def test_running_job_reports_progress_from_phases() -> None:
    phases = [
        a_phase_in(PhaseState.COMPLETE, 0, cost=0.5, tokens=100),
        a_phase_in(PhaseState.BUILDING, 1, cost=0.25, tokens=50),
        a_phase_in(PhaseState.QUEUED, 2),
    ]
    decision = decide_for(run_in(RunPhase.RUNNING), jobs=[a_job()], phases=phases)
    status = decision.status
    assert status.phase == RunPhase.RUNNING
    assert status.progress == "1/3"
    assert status.current_phase == "demo-p01"
    assert status.usage.cost_usd == 0.75
    assert status.usage.input_tokens == 150
    assert status.phase_counts.running == 1
    assert decision.launch is None


def test_succeeded_job_marks_run_succeeded_with_result() -> None:
    report = RunnerReport(
        state="Succeeded",
        reason="RunSucceeded",
        message="2 phases",
        branch="autopack/demo",
        commit="abc123",
    )
    decision = decide_for(
        run_in(RunPhase.RUNNING), jobs=[a_job(state="succeeded")], pods=[a_pod(report=report)]
    )
    assert decision.status.phase == RunPhase.SUCCEEDED
    assert decision.status.result is not None
    assert decision.status.result.commit == "abc123"
    assert decision.status.finished_at == NOW
    assert condition(decision, "Ready") == "True/RunSucceeded"
    assert condition(decision, "Succeeded") == "True/RunSucceeded"
    assert condition(decision, "Reconciling") == "False/RunSucceeded"


def test_failed_run_report_marks_run_failed_with_its_reason() -> None:
    report = RunnerReport(state="Failed", reason="PlanInvalid", message="phase 0: no deliverables")
    decision = decide_for(
        run_in(RunPhase.RUNNING),
        jobs=[a_job(state="failed")],
        pods=[a_pod(exit_code=1, reason="Error", report=report)],
    )
    assert decision.status.phase == RunPhase.FAILED
    assert decision.status.message == "phase 0: no deliverables"
    assert condition(decision, "Stalled") == "True/PlanInvalid"
    assert condition(decision, "Succeeded") == "False/PlanInvalid"
    assert ("Warning", "RunFailed", "PlanInvalid: phase 0: no deliverables") in decision.events
    assert decision.launch is None


def test_a_failed_run_keeps_its_reason_on_later_passes() -> None:
    report = RunnerReport(state="Failed", reason="BudgetExceeded", message="run has 0 tokens left")
    first = decide_for(
        run_in(RunPhase.RUNNING),
        jobs=[a_job(state="failed")],
        pods=[a_pod(exit_code=1, reason="Error", report=report)],
    )
    failed = run_in()
    failed.status = first.status
    later = decide_for(
        failed,
        jobs=[a_job(state="failed")],
        pods=[a_pod(exit_code=1, reason="Error", report=report)],
    )
    assert condition(later, "Succeeded") == "False/BudgetExceeded"
    assert later.status.message == "run has 0 tokens left"


def test_deadline_ends_the_run_without_relaunch() -> None:
    decision = decide_for(
        run_in(RunPhase.RUNNING),
        jobs=[a_job(state="failed", reason="DeadlineExceeded")],
        pods=[a_pod(exit_code=137, reason="Error")],
    )
    assert decision.status.phase == RunPhase.FAILED
    assert condition(decision, "Stalled") == "True/DeadlineExceeded"
    assert decision.launch is None


def test_oom_killed_runner_is_relaunched_then_given_up() -> None:
    first = decide_for(
        run_in(RunPhase.RUNNING),
        jobs=[a_job(state="failed")],
        pods=[a_pod(exit_code=137, reason="OOMKilled")],
    )
    assert first.launch == 2
    assert first.status.runner_restarts == 1
    assert first.status.phase_counts.failed == 0  # counted apart from phase failures
    assert first.status.message == "relaunching the runner after OOMKilled (2/3)"
    assert first.events[-1][:2] == ("Warning", "OOMKilled")
    last = decide_for(
        run_in(RunPhase.RUNNING),
        jobs=[a_job(launch=n, state="failed") for n in (1, 2, 3)],
        pods=[a_pod(exit_code=137, reason="OOMKilled")],
    )
    assert last.launch is None
    assert last.status.phase == RunPhase.FAILED
    assert condition(last, "Stalled") == "True/OOMKilled"


def test_evicted_runner_is_relaunched() -> None:
    decision = decide_for(
        run_in(RunPhase.RUNNING), jobs=[a_job(state="failed")], pods=[a_pod(evicted=True)]
    )
    assert decision.launch == 2


def test_approval_wait_then_approval_launches_the_next_runner() -> None:
    report = RunnerReport(
        state="AwaitingApproval", reason="AwaitingApproval", message="phase 1 deletes 400 lines"
    )
    waiting = decide_for(
        run_in(RunPhase.RUNNING),
        jobs=[a_job(state="failed")],
        pods=[a_pod(exit_code=2, reason="Error", report=report)],
        phases=[a_phase_in(PhaseState.AWAITING_APPROVAL, 1)],
    )
    assert waiting.status.phase == RunPhase.AWAITING_APPROVAL
    assert waiting.launch is None
    assert ("Normal", "ApprovalRequired", "phase 1 deletes 400 lines") in waiting.events
    approved = decide_for(
        run_in(RunPhase.AWAITING_APPROVAL),
        jobs=[a_job(state="failed")],
        pods=[a_pod(exit_code=2, reason="Error", report=report)],
        phases=[a_phase_in(PhaseState.AWAITING_APPROVAL, 1, approved=True)],
    )
    assert approved.launch == 2
    assert approved.status.phase == RunPhase.RUNNING


def test_suspend_stops_the_active_job_and_resume_continues_it() -> None:
    run = run_in(RunPhase.RUNNING)
    run.spec.suspend = True
    suspended = decide_for(run, jobs=[a_job()])
    assert suspended.suspend_job == "demo-runner-1"
    assert suspended.status.phase == RunPhase.SUSPENDED
    run.spec.suspend = False
    resumed = decide_for(run, jobs=[a_job(state="suspended")])
    assert resumed.resume_job == "demo-runner-1"
    assert resumed.status.phase == RunPhase.RUNNING


def test_kueue_run_waits_for_admission() -> None:
    run = run_in(RunPhase.PENDING)
    run.spec.runner.queue_name = "q"
    job = a_job(state="suspended")
    job["metadata"]["labels"] = {"kueue.x-k8s.io/queue-name": "q"}
    decision = decide_for(run, jobs=[job])
    assert decision.status.phase == RunPhase.QUEUED
    assert decision.resume_job is None


def test_retry_annotation_resets_failed_phases_and_relaunches_once() -> None:
    phases = [a_phase_in(PhaseState.COMPLETE, 0), a_phase_in(PhaseState.FAILED, 1)]
    failed_job = [a_job(state="failed")]
    decision = decide_for(
        run_in(RunPhase.FAILED, **{"autopack.dev/retry": "t1"}), jobs=failed_job, phases=phases
    )
    assert decision.reset_phases == ("demo-p01",)
    assert decision.retry_token == "t1"
    assert decision.launch == 2
    handled = decide_for(
        run_in(RunPhase.FAILED, **{"autopack.dev/retry": "t1", "autopack.dev/retry-handled": "t1"}),
        jobs=failed_job,
        phases=phases,
    )
    assert handled.launch is None
    assert handled.status.phase == RunPhase.FAILED


def test_retry_already_launched_is_not_launched_again_from_a_stale_run() -> None:
    # A pass that sees the retry Job but not yet the run's retry-handled annotation.
    retry_job = a_job(launch=2, state="running")
    retry_job["metadata"]["annotations"]["autopack.dev/retry-handled"] = "t1"
    decision = decide_for(
        run_in(RunPhase.FAILED, **{"autopack.dev/retry": "t1"}),
        jobs=[a_job(state="failed"), retry_job],
        phases=[a_phase_in(PhaseState.FAILED, 0)],
    )
    assert decision.launch is None
    assert decision.reset_phases == ()
    # A new token is a new retry.
    again = decide_for(
        run_in(RunPhase.FAILED, **{"autopack.dev/retry": "t2"}),
        jobs=[a_job(state="failed"), retry_job],
        phases=[a_phase_in(PhaseState.FAILED, 0)],
    )
    assert again.launch == 3


def test_finished_run_is_left_alone() -> None:
    decision = decide_for(run_in(RunPhase.SUCCEEDED), jobs=[a_job(state="succeeded")])
    assert decision.launch is None
    assert decision.events == []


def test_runner_crash_without_report_is_an_infrastructure_failure() -> None:
    decision = decide_for(
        run_in(RunPhase.RUNNING),
        jobs=[a_job(state="failed")],
        pods=[a_pod(exit_code=139, reason="Error")],
    )
    assert decision.launch == 2
    assert "BackoffLimitExceeded" in (decision.status.message or "")
