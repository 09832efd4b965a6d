"""A runner pod the kubelet cannot start fails its run at once, instead of at the Job's deadline.

The kubelet keeps a container waiting in ``CreateContainerConfigError`` when a Secret or key the
run names is missing, and in ``ImagePullBackOff`` (or ``InvalidImageName``,
``ErrImageNeverPull``) when the image cannot be had; the pod stays Pending and is retried for
hours. The operator reads that waiting state from the runner pod's watch, fails the run with
reason RunnerCannotStart, the kubelet's message and a hint, posts an event, does not relaunch
(another pod would wait the same way) and suspends the Job so the pod stops retrying. A first
``ErrImagePull`` may be a registry's hiccup and is waited out.
"""

from datetime import UTC, datetime
from typing import Any

import pytest

from autopack.api import AutopackRun, AutopackRunStatus, RunPhase, conditions
from autopack.operator import acting
from autopack.operator.config import OperatorConfig
from autopack.operator.decisions import Decision, Observed, decide
from autopack.operator.observing import MAX_WAITING_MESSAGE, pod_view
from autopack.operator.reconciling import Reconciler, Snapshot
from autopack.operator.status import job_outcome
from tests.builders.api import a_run
from tests.builders.k8s import a_job, a_waiting_pod
from tests.unit.operator.test_reconciling import KEY, FakeApi, run_body

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
NOT_FOUND = 'secret "llm-keys" not found'
NO_KEY = "couldn't find key token in Secret team/git-creds"


def running_run(**annotations: str) -> AutopackRun:
    run = a_run("demo").obj()
    run.metadata.namespace = "team"
    run.metadata.annotations.update(annotations)
    run.status = AutopackRunStatus(phase=RunPhase.PLANNING, job_name="demo-runner-1")
    return run


def decide_for(
    run: AutopackRun, *pods: dict[str, Any], job: dict[str, Any] | None = None
) -> Decision:
    observed = Observed(
        run=run,
        jobs=[job or a_job()],
        pods=[pod_view(pod) for pod in pods],
        phases=[],
        now=NOW,
    )
    return decide(observed, max_launches=3)


def reason_of(decision: Decision) -> str:
    found = conditions.find_condition(decision.status.conditions, conditions.SUCCEEDED)
    assert found is not None
    return f"{found.status}/{found.reason}"


def test_a_missing_secret_fails_the_run_at_once_and_suspends_its_job() -> None:
    pod = a_waiting_pod("CreateContainerConfigError", NOT_FOUND)
    decision = decide_for(running_run(), pod)
    status = decision.status
    assert status.phase == RunPhase.FAILED
    assert reason_of(decision) == "False/RunnerCannotStart"
    stalled = conditions.find_condition(status.conditions, conditions.STALLED)
    assert stalled is not None
    assert (stalled.status, stalled.reason) == ("True", "RunnerCannotStart")
    assert status.message == (
        "pod demo-runner-1-x7k2p cannot start: container agent is waiting in "
        'CreateContainerConfigError: secret "llm-keys" not found'
    )
    assert status.finished_at == NOW
    # Not relaunched: a new pod would wait for the same Secret. The stuck pod stops retrying.
    assert decision.launch is None
    assert decision.suspend_job == "demo-runner-1"
    assert status.runner_restarts == 0
    assert decision.events == [("Warning", "RunFailed", f"RunnerCannotStart: {status.message}")]
    assert status.hint is not None
    assert "create the one the message names in namespace team" in status.hint
    assert "kubectl -n team annotate apr demo autopack.dev/retry=$(date +%s)" in status.hint
    assert "kubectl -n team describe job demo-runner-1" in status.hint


@pytest.mark.parametrize(
    ("reason", "message", "init"),
    [
        ("CreateContainerConfigError", NO_KEY, False),
        ("ImagePullBackOff", 'Back-off pulling image "ghcr.io/autopack/runner:typo"', True),
        ("ImagePullBackOff", 'Back-off pulling image "ghcr.io/autopack/runner:typo"', False),
        ("InvalidImageName", 'Failed to apply default image tag "Runner:": invalid', True),
        ("ErrImageNeverPull", 'Container image "runner:dev" is not present with pull policy', True),
    ],
)
def test_each_waiting_reason_that_will_not_clear_fails_the_run(
    reason: str, message: str, init: bool
) -> None:
    container = "sandbox" if init else "agent"
    decision = decide_for(
        running_run(), a_waiting_pod(reason, message, container=container, init=init)
    )
    assert reason_of(decision) == "False/RunnerCannotStart"
    assert f"container {container} is waiting in {reason}: {message}" in (
        decision.status.message or ""
    )
    assert decision.suspend_job == "demo-runner-1"
    assert decision.launch is None


@pytest.mark.parametrize(
    "reason", ["ErrImagePull", "ContainerCreating", "PodInitializing", "CreateContainerError"]
)
def test_a_container_still_starting_or_a_first_pull_error_is_waited_out(reason: str) -> None:
    decision = decide_for(running_run(), a_waiting_pod(reason, "rpc error: i/o timeout"))
    assert decision.status.phase == RunPhase.PLANNING
    assert decision.suspend_job is None
    assert decision.events == []
    assert job_outcome(a_job(), [pod_view(a_waiting_pod(reason))]).state == "running"


def test_the_pod_view_keeps_why_a_container_cannot_start_and_nothing_more() -> None:
    stuck = a_waiting_pod("ImagePullBackOff", "x" * 5000, container="sandbox", init=True)
    view = pod_view(stuck)
    [sandbox] = view["status"]["initContainerStatuses"]
    assert sandbox["name"] == "sandbox"
    waiting = sandbox["state"]["waiting"]
    assert waiting["reason"] == "ImagePullBackOff"
    assert len(waiting["message"]) == MAX_WAITING_MESSAGE
    # The agent waiting for its sidecar says nothing the operator decides on.
    assert view["status"]["containerStatuses"] == [{"name": "agent"}]
    assert "spec" not in view
    # A pod that starts normally keeps the view it had (no init containers in it).
    starting = pod_view(a_waiting_pod("PodInitializing", init=True))
    assert "initContainerStatuses" not in starting["status"]
    assert starting["status"]["containerStatuses"] == [{"name": "agent"}]


def test_a_suspended_job_or_a_finished_one_is_read_as_before() -> None:
    stuck = [pod_view(a_waiting_pod("CreateContainerConfigError", NOT_FOUND))]
    assert job_outcome(a_job(state="suspended"), stuck).state == "suspended"
    failed = job_outcome(a_job(state="failed", reason="DeadlineExceeded"), stuck)
    assert (failed.state, failed.reason) == ("failed", "DeadlineExceeded")


def test_the_failed_run_is_left_alone_once_its_job_is_suspended() -> None:
    first = decide_for(running_run(), a_waiting_pod("CreateContainerConfigError", NOT_FOUND))
    run = running_run()
    run.status = first.status
    later = decide_for(run, job=a_job(state="suspended"))
    assert later.status.phase == RunPhase.FAILED
    assert reason_of(later) == "False/RunnerCannotStart"
    assert later.suspend_job is None
    assert later.resume_job is None
    assert later.launch is None
    assert later.events == []


def test_a_retry_after_the_secret_is_created_launches_the_next_runner() -> None:
    first = decide_for(running_run(), a_waiting_pod("CreateContainerConfigError", NOT_FOUND))
    run = running_run(**{"autopack.dev/retry": "1"})
    run.status = first.status
    retried = decide_for(run, job=a_job(state="suspended"))
    assert retried.launch == 2
    assert retried.status.phase == RunPhase.PLANNING
    assert retried.status.job_name == "demo-runner-2"


def test_a_suspended_run_whose_pod_cannot_start_suspends_its_job() -> None:
    run = running_run()
    run.spec.suspend = True
    decision = decide_for(run, a_waiting_pod("CreateContainerConfigError", NOT_FOUND))
    assert decision.status.phase == RunPhase.SUSPENDED
    assert decision.suspend_job == "demo-runner-1"


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    fake = FakeApi()
    monkeypatch.setattr(acting, "create_runner_job", fake.create)
    monkeypatch.setattr(acting, "patch_run_status", fake.patch)
    monkeypatch.setattr(
        acting, "post_event", lambda body, *, type, reason, message: fake.events.append(message)
    )
    return fake


def test_a_reconcile_pass_writes_the_failure_suspends_the_job_and_posts_the_event(
    api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, bool]] = []

    def set_job_suspended(name: str, *, namespace: str, suspended: bool) -> None:
        calls.append((name, suspended))

    monkeypatch.setattr(acting, "set_job_suspended", set_job_suspended)
    body = run_body({"phase": "Planning", "jobName": "demo-runner-1"})
    stuck = pod_view(a_waiting_pod("CreateContainerConfigError", NOT_FOUND))
    result = Reconciler(OperatorConfig()).reconcile(
        Snapshot(KEY, body, jobs=[a_job()], pods=[stuck]), now=NOW
    )
    assert result.decision is not None
    assert api.jobs == []  # nothing relaunched
    assert calls == [("demo-runner-1", True)]
    [written] = api.status_writes
    assert written["phase"] == "Failed"
    assert NOT_FOUND in written["message"]
    assert api.events == [f"RunnerCannotStart: {written['message']}"]
    assert result.slot_freed
