"""What users do with plain kubectl, against the operator and runner on the real control plane.

The real etcd, kube-apiserver and kube-controller-manager of ``tests/controlplane/`` serve the
API; the test kubelet is the only stand-in. Each test starts the real operator process
(``autopack operator``, as the chart's ServiceAccount), applies a run with the real ``kubectl`` and lets the test kubelet execute runner Jobs as local processes driven by
the scripted model (the demo cassette). Assertions read what a user reads: ``kubectl get``,
``kubectl describe``, the Phase objects and the pushed branch.
"""

import json
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cluster.harness import ClusterUser
from tests.operator.conftest import REAL_ONLY, branch_commits, cluster_on

# A two-phase demo run takes minutes on a loaded 2-core machine: waits are on conditions with
# generous limits, and the per-test limit leaves room for scenarios that run two of them.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


@pytest.fixture(params=REAL_ONLY)
def cluster(request: pytest.FixtureRequest) -> ClusterUser:
    """Each scenario on the real control plane (the emulator no longer runs these)."""
    return cluster_on(request)


RUN = "textstats-demo"
BRANCH = f"autopack/{RUN}"


def phase_of(cluster: ClusterUser, name: str = RUN) -> str:
    """The run's status.phase."""
    return str(cluster.run_status(name).get("phase", ""))


def wait_phase(cluster: ClusterUser, *phases: str, name: str = RUN, timeout: float = 600) -> None:
    """Wait until the run is in one of ``phases``."""
    cluster.wait_for(
        f"{name} in {phases}", lambda: phase_of(cluster, name) in phases, timeout=timeout
    )


def jobs(cluster: ClusterUser) -> list[dict[str, object]]:
    """The runner Jobs, as ``kubectl get jobs -o json`` lists them."""
    listed = json.loads(
        cluster.kubectl("get", "jobs", "-l", "autopack.dev/component=runner", "-o", "json")
    )
    items: list[dict[str, object]] = listed["items"]
    return items


def test_applied_run_succeeds_and_kubectl_shows_progress_conditions_and_events(
    cluster: ClusterUser, run_manifest: Callable[..., Path], origin: Path
) -> None:
    cluster.start_operator()
    cluster.kubectl("apply", "--validate=false", "-f", str(run_manifest()))
    wait_phase(cluster, "Succeeded")

    table = cluster.kubectl("get", "autopack")
    assert "textstats-demo" in table
    assert "Succeeded" in table
    assert "2/2" in table
    describe = cluster.kubectl("describe", "autopackrun", RUN)
    for expected in (
        "RunSucceeded",
        "PhaseCompleted",
        "autopack-runner",  # who posted the phases' ends ("From")
        "Type:                  Succeeded",
    ):
        assert expected in describe
    assert describe.count("PhaseCompleted") == 2
    status = cluster.run_status(RUN)
    assert status["progress"] == "2/2"
    assert status["jobName"] == f"{RUN}-runner-1"
    assert status["usage"]["llmCalls"] > 0
    assert status["result"]["branch"] == BRANCH
    conditions = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert conditions["Succeeded"] == ("True", "RunSucceeded")
    assert conditions["Ready"] == ("True", "RunSucceeded")
    assert conditions["Reconciling"][0] == "False"
    assert conditions["Stalled"][0] == "False"

    phases = json.loads(
        cluster.kubectl("get", "aph", "-l", f"autopack.dev/run={RUN}", "-o", "json")
    )
    assert [p["metadata"]["name"] for p in phases["items"]] == [f"{RUN}-p00", f"{RUN}-p01"]
    assert all(p["status"]["state"] == "Complete" for p in phases["items"])
    assert all(
        p["metadata"]["ownerReferences"][0]["kind"] == "AutopackRun" for p in phases["items"]
    )
    subjects = branch_commits(origin, BRANCH)
    assert len([s for s in subjects if "reading-time" in s or "Add a reading-time" in s]) == 1
    assert status["result"]["commit"]

    metrics = (
        urllib.request.urlopen(f"http://127.0.0.1:{cluster.metrics_port}/metrics", timeout=5)
        .read()
        .decode()
    )
    assert 'autopack_runner_job_launches_total{kind="first"} 1.0' in metrics
    assert 'autopack_runs{phase="Succeeded"} 1.0' in metrics
    live = urllib.request.urlopen(cluster.liveness, timeout=5)  # noqa: S310 - http://127.0.0.1
    assert live.status == 200

    # The runner pod's split: the sandbox container, which ran every test, got no API
    # credentials and no secret; the agent got them.
    [sandbox_env] = list(cluster.workdir.rglob("sandbox.env-names"))
    [agent_env] = list(cluster.workdir.rglob("agent.env-names"))
    # (PATH, LANG and the termination-log path are the test kubelet's own.)
    assert set(sandbox_env.read_text().split()) <= {
        "PATH",
        "LANG",
        "HOME",
        "AUTOPACK_TERMINATION_LOG",
    }
    assert {"KUBECONFIG", "AUTOPACK_SANDBOX_SOCKET"} <= set(agent_env.read_text().split())


def test_invalid_run_is_rejected_by_schema_validation(
    cluster: ClusterUser, run_manifest: Callable[..., Path]
) -> None:
    out = cluster.kubectl(
        "apply", "--validate=false", "-f", str(run_manifest(budgets={"costUSD": -1})), check=False
    )
    assert "spec.budgets.costUSD" in out
    no_plan = cluster.kubectl(
        "apply", "--validate=false", "-f", str(run_manifest(name="no-plan", phases=[])), check=False
    )
    assert "give spec.plan (text) or spec.phases (a list)" in no_plan
    assert "No resources found" in cluster.kubectl("get", "autopack", check=False)


def test_suspend_stops_the_job_and_resume_finishes_the_run(
    cluster: ClusterUser, run_manifest: Callable[..., Path]
) -> None:
    cluster.start_operator()
    cluster.kubectl("apply", "--validate=false", "-f", str(run_manifest()))
    wait_phase(cluster, "Planning", "Running")
    cluster.kubectl("patch", "autopackrun", RUN, "--type=merge", "-p", '{"spec":{"suspend":true}}')
    wait_phase(cluster, "Suspended")
    cluster.wait_for(
        "the runner Job suspended and its pod gone",
        lambda: (
            jobs(cluster)[0]["spec"]["suspend"] is True  # type: ignore[index]
            and not cluster.call(lambda: list(cluster.kubelet.pods))
        ),
    )
    cluster.kubectl("patch", "autopackrun", RUN, "--type=merge", "-p", '{"spec":{"suspend":false}}')
    wait_phase(cluster, "Succeeded")
    assert len(jobs(cluster)) == 1


def test_deleting_a_run_removes_its_job_pods_and_phases(
    cluster: ClusterUser, run_manifest: Callable[..., Path]
) -> None:
    cluster.start_operator()
    cluster.kubectl("apply", "--validate=false", "-f", str(run_manifest()))
    cluster.wait_for(
        "Phase objects", lambda: "p00" in cluster.kubectl("get", "aph", check=False), timeout=600
    )
    cluster.kubectl("delete", "autopackrun", RUN, "--wait=true", "--timeout=300s")
    cluster.wait_for(
        "children gone",
        lambda: not cluster.kubectl("get", "jobs,pods,aph", "-o", "name").strip(),
    )
    cluster.wait_for(
        "the pod process ended", lambda: not cluster.call(lambda: list(cluster.kubelet.pods))
    )


def test_runs_beyond_the_concurrency_limit_queue_fifo(
    cluster: ClusterUser, run_manifest: Callable[..., Path]
) -> None:
    cluster.start_operator(max_concurrent_runs="1")
    cluster.kubectl("apply", "--validate=false", "-f", str(run_manifest(name="first")))
    wait_phase(cluster, "Planning", "Running", name="first")
    cluster.kubectl("apply", "--validate=false", "-f", str(run_manifest(name="second")))
    wait_phase(cluster, "Queued", name="second")
    assert "waiting for a runner slot" in cluster.run_status("second")["message"]
    assert "Queued" in cluster.kubectl("get", "autopack")
    wait_phase(cluster, "Succeeded", name="first")
    wait_phase(cluster, "Succeeded", name="second")
    first = cluster.run_status("first")["finishedAt"]
    second = cluster.run_status("second")["startedAt"]
    assert second >= first


def test_kueue_mode_creates_a_suspended_labelled_job_that_kueue_admits(
    cluster: ClusterUser, run_manifest: Callable[..., Path]
) -> None:
    cluster.start_operator()
    cluster.kubectl(
        "apply", "--validate=false", "-f", str(run_manifest(runner={"queueName": "team-a"}))
    )
    cluster.wait_for("the runner Job", lambda: bool(jobs(cluster)))
    job = jobs(cluster)[0]
    assert job["spec"]["suspend"] is True  # type: ignore[index]
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "team-a"  # type: ignore[index]
    wait_phase(cluster, "Queued")
    assert "Kueue" in cluster.run_status(RUN)["message"]
    # What Kueue's admission does: unsuspend the Job.
    cluster.kubectl(
        "patch", "job", f"{RUN}-runner-1", "--type=merge", "-p", '{"spec":{"suspend":false}}'
    )
    wait_phase(cluster, "Succeeded")


def test_approval_waits_for_phase_spec_approved(
    cluster: ClusterUser, run_manifest: Callable[..., Path]
) -> None:
    cluster.start_operator()
    cluster.kubectl(
        "apply", "--validate=false", "-f", str(run_manifest(approval={"policy": "always"}))
    )
    for index in (0, 1):
        wait_phase(cluster, "AwaitingApproval")
        assert "ApprovalRequired" in cluster.kubectl("describe", "autopackrun", RUN)
        cluster.kubectl(
            "patch", "phase", f"{RUN}-p0{index}", "--type=merge", "-p", '{"spec":{"approved":true}}'
        )
        cluster.wait_for(
            "the run to leave AwaitingApproval",
            lambda: phase_of(cluster) != "AwaitingApproval",
        )
    wait_phase(cluster, "Succeeded")
    # Every wait for approval ended its runner cleanly: no Job of this run failed.
    jobs = json.loads(cluster.kubectl("get", "jobs", "-o", "json"))["items"]
    assert len(jobs) == 3
    assert all(not job["status"].get("failed") for job in jobs), jobs


def test_operator_restarted_mid_run_loses_nothing(
    cluster: ClusterUser, run_manifest: Callable[..., Path]
) -> None:
    cluster.start_operator()
    cluster.kubectl("apply", "--validate=false", "-f", str(run_manifest()))
    wait_phase(cluster, "Planning", "Running")
    cluster.stop_operator(kill=True)
    cluster.start_operator()
    wait_phase(cluster, "Succeeded")
    assert [j["metadata"]["name"] for j in jobs(cluster)] == [f"{RUN}-runner-1"]  # type: ignore[index]
    # The runner posts each phase's end once; a restarted operator posts none again.
    assert cluster.kubectl("describe", "autopackrun", RUN).count("PhaseCompleted") == 2


def test_runner_killed_mid_run_resumes_without_redoing_completed_phases(
    cluster: ClusterUser, run_manifest: Callable[..., Path], origin: Path
) -> None:
    cluster.start_operator()
    cluster.kubectl("apply", "--validate=false", "-f", str(run_manifest()))
    cluster.wait_for(
        "phase 0 complete",
        lambda: cluster.get("phase", f"{RUN}-p00").get("status", {}).get("state") == "Complete",
        timeout=600,
    )
    pods = cluster.call(lambda: list(cluster.kubelet.pods))
    assert pods, "the runner finished before it could be killed"
    cluster.call(lambda: cluster.kubelet.evict(*pods[0]))
    wait_phase(cluster, "Succeeded")
    assert [j["metadata"]["name"] for j in jobs(cluster)] == [  # type: ignore[index]
        f"{RUN}-runner-1",
        f"{RUN}-runner-2",
    ]
    assert "Evicted" in cluster.kubectl("describe", "autopackrun", RUN)
    assert cluster.run_status(RUN)["runnerRestarts"] == 1
    subjects = branch_commits(origin, BRANCH)
    assert sum("reading-time" in s.lower() for s in subjects) == 1, subjects


def test_job_deadline_fails_the_run_and_retry_relaunches_it(
    cluster: ClusterUser, run_manifest: Callable[..., Path]
) -> None:
    cluster.start_operator()
    slow = run_manifest(budgets={"activeDeadlineSeconds": 60}, toolchain={"test": "sleep 300"})
    cluster.kubectl("apply", "--validate=false", "-f", str(slow))
    wait_phase(cluster, "Failed")
    status = cluster.run_status(RUN)
    # The reason is the condition's; the message says what to change.
    assert "spec.budgets.activeDeadlineSeconds" in status["message"]
    succeeded = {c["type"]: c for c in status["conditions"]}["Succeeded"]
    assert (succeeded["status"], succeeded["reason"]) == ("False", "DeadlineExceeded")

    cluster.kubectl(
        "patch",
        "autopackrun",
        RUN,
        "--type=merge",
        "-p",
        '{"spec":{"toolchain":{"test":"python -m pytest -q"}}}',
    )
    cluster.kubectl("annotate", "autopackrun", RUN, "autopack.dev/retry=first")
    wait_phase(cluster, "Succeeded")
    launched = {
        job["metadata"]["name"]: (job["metadata"].get("annotations"), job.get("status"))  # type: ignore[index, attr-defined]
        for job in jobs(cluster)
    }
    assert sorted(launched) == [f"{RUN}-runner-1", f"{RUN}-runner-2"], launched
    assert launched[f"{RUN}-runner-2"][0]["autopack.dev/retry-handled"] == "first"


def test_finished_run_is_deleted_after_its_ttl(
    cluster: ClusterUser, run_manifest: Callable[..., Path]
) -> None:
    cluster.start_operator()
    cluster.kubectl("apply", "--validate=false", "-f", str(run_manifest(ttlSecondsAfterFinished=1)))
    wait_phase(cluster, "Succeeded")
    cluster.wait_for(
        "the run and its children deleted",
        lambda: not cluster.kubectl("get", "autopack,jobs,pods,aph", "-o", "name").strip(),
        timeout=300,
    )
