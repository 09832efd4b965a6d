"""The operator under what a real API server and Job controller do, with stand-in runners.

These runs need no model and no repository: the test kubelet runs a shell command in place of
the runner (it writes a report, fails, or sleeps), so each scenario is about the operator alone:
how it reads the Job controller's two-step endings (``FailureTarget`` before ``Failed``), that
runs as large as the CRD allows can be created, changed and deleted, that deleting never waits
for the operator (no finalizer), and how many API writes a run costs.
"""

import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from autopack.api.report import RunnerReport
from tests.cluster.harness import Cluster, emulated_cluster

pytestmark = pytest.mark.slow

SUCCEEDED = RunnerReport(state="Succeeded", reason="RunSucceeded", message="stand-in").encode()
WRITES_REPORT = f"printf '%s' '{SUCCEEDED}' > \"$AUTOPACK_TERMINATION_LOG\""


@pytest.fixture
def stand_in(tmp_path: Path) -> Iterator[Callable[[str], Cluster]]:
    """Start an emulated cluster whose pods run a shell command instead of the runner."""
    started: list[Any] = []

    def start(command: str) -> Cluster:
        manager = emulated_cluster(
            tmp_path / f"cluster-{len(started)}", runner_command=["/bin/sh", "-c", command]
        )
        cluster = manager.__enter__()
        started.append(manager)
        return cluster

    yield start
    for manager in reversed(started):
        manager.__exit__(None, None, None)


def a_run(name: str = "scale", **spec: Any) -> dict[str, Any]:
    """A minimal AutopackRun manifest."""
    return {
        "apiVersion": "autopack.dev/v1alpha1",
        "kind": "AutopackRun",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"repo": {"url": "https://example.com/repo.git"}, "plan": "stand-in", **spec},
    }


def apply(cluster: Cluster, manifest: dict[str, Any]) -> str:
    """``kubectl apply`` a manifest (it keeps its last-applied-configuration annotation)."""
    return cluster.kubectl("apply", "--validate=false", "-f", "-", input=json.dumps(manifest))


def run_phase(cluster: Cluster, name: str = "scale") -> str:
    """The run's status.phase."""
    return str(cluster.run_status(name).get("phase", ""))


def runner_jobs(cluster: Cluster) -> list[dict[str, Any]]:
    """Runner Jobs by name."""
    listed = json.loads(cluster.kubectl("get", "jobs", "-o", "json"))
    return sorted(listed["items"], key=lambda job: job["metadata"]["name"])


def operator_writes(cluster: Cluster) -> Counter[tuple[str, str]]:
    """API writes of the operator (kopf's client and its own) by (resource, verb)."""
    writes = cluster.call(lambda: Counter(cluster.api.store.writes))
    counted: Counter[tuple[str, str]] = Counter()
    for (source, plural, verb), count in writes.items():
        if source in ("kopf", "operator"):
            counted[(plural, verb)] += count
    return counted


def test_failing_runner_is_relaunched_once_per_failure_though_the_job_ends_in_two_steps(
    stand_in: Callable[[str], Cluster],
) -> None:
    cluster = stand_in("exit 3")
    cluster.start_operator()
    apply(cluster, a_run())
    cluster.wait_for("the run Failed", lambda: run_phase(cluster) == "Failed", timeout=240)
    jobs = runner_jobs(cluster)
    assert [job["metadata"]["name"] for job in jobs] == [f"scale-runner-{n}" for n in (1, 2, 3)]
    cluster.wait_for(
        "every Job failed",
        lambda: all(
            "Failed" in {c["type"] for c in job["status"].get("conditions", [])}
            for job in runner_jobs(cluster)
        ),
    )
    for job in runner_jobs(cluster):
        types = [c["type"] for c in job["status"]["conditions"]]
        assert types.index("FailureTarget") < types.index("Failed"), types
    status = cluster.run_status("scale")
    assert status["runnerRestarts"] == 2
    assert "exit code 3" in status["message"]


def test_deadline_fails_the_run_without_a_relaunch(stand_in: Callable[[str], Cluster]) -> None:
    cluster = stand_in("sleep 600")
    cluster.start_operator()
    apply(cluster, a_run(budgets={"activeDeadlineSeconds": 60}))
    cluster.wait_for("the run Failed", lambda: run_phase(cluster) == "Failed", timeout=300)
    succeeded = {c["type"]: c for c in cluster.run_status("scale")["conditions"]}["Succeeded"]
    assert (succeeded["status"], succeeded["reason"]) == ("False", "DeadlineExceeded")
    assert [job["metadata"]["name"] for job in runner_jobs(cluster)] == ["scale-runner-1"]
    described = cluster.kubectl("describe", "autopackrun", "scale")
    assert "Hint:" in described
    assert "raise spec.budgets.activeDeadlineSeconds" in described


def large_run(plan_marker: str) -> dict[str, Any]:
    """A run near the CRD's size limits (about 150 KB of spec)."""
    phases = [
        {"id": f"p{n}", "title": f"phase {n}", "goal": f"{plan_marker} goal {n} " + "g" * 7900}
        for n in range(12)
    ]
    return a_run(plan=f"{plan_marker} " + "p" * 60000, phases=phases)


def test_a_run_as_large_as_the_crd_allows_is_created_updated_and_deleted(
    stand_in: Callable[[str], Cluster],
) -> None:
    cluster = stand_in(WRITES_REPORT)
    cluster.start_operator()
    apply(cluster, large_run("first"))
    cluster.wait_for("the run Succeeded", lambda: run_phase(cluster) == "Succeeded", timeout=180)
    annotations = cluster.get("autopackrun", "scale")["metadata"].get("annotations") or {}
    assert not [key for key in annotations if key.startswith("kopf.")], annotations
    assert len(annotations["kubectl.kubernetes.io/last-applied-configuration"]) > 140_000
    apply(cluster, large_run("second"))
    assert cluster.get("autopackrun", "scale")["spec"]["plan"].startswith("second")
    cluster.kubectl("delete", "autopackrun", "scale", "--wait=true", "--timeout=60s")
    assert "No resources found" in cluster.kubectl("get", "autopack", check=False)


def test_annotations_over_256_kib_are_refused_like_the_api_server_does(
    stand_in: Callable[[str], Cluster],
) -> None:
    cluster = stand_in(WRITES_REPORT)
    manifest = a_run()
    manifest["metadata"]["annotations"] = {"example.com/big": "x" * (256 * 1024)}
    refused = cluster.kubectl(
        "create", "--validate=false", "-f", "-", input=json.dumps(manifest), check=False
    )
    assert "must have at most 262144 bytes" in refused


def test_deleting_a_run_never_waits_for_the_operator(stand_in: Callable[[str], Cluster]) -> None:
    cluster = stand_in(WRITES_REPORT)
    cluster.start_operator()
    apply(cluster, a_run())
    cluster.wait_for("the run Succeeded", lambda: run_phase(cluster) == "Succeeded")
    assert not cluster.get("autopackrun", "scale")["metadata"].get("finalizers")
    cluster.stop_operator()
    cluster.kubectl("delete", "autopackrun", "scale", "--wait=true", "--timeout=30s")
    cluster.wait_for("the Job gone", lambda: not runner_jobs(cluster))


def test_a_run_costs_few_operator_writes_and_none_to_its_metadata(
    stand_in: Callable[[str], Cluster],
) -> None:
    cluster = stand_in(WRITES_REPORT)
    cluster.start_operator()
    runs = 5
    for n in range(runs):
        apply(cluster, a_run(f"run-{n}"))
    cluster.wait_for(
        "every run Succeeded",
        lambda: all(run_phase(cluster, f"run-{n}") == "Succeeded" for n in range(runs)),
        timeout=180,
    )
    writes = operator_writes(cluster)
    # Per run: its Job, two status writes (Planning, Succeeded) and RunSucceeded.
    assert writes[("jobs", "create")] == runs
    assert writes[("autopackruns", "patch")] <= 2 * runs, writes
    assert writes[("events", "create")] <= runs, writes
    assert sum(writes.values()) <= 4 * runs, writes
    described = cluster.kubectl("describe", "autopackrun", "run-0")
    assert "RunSucceeded" in described
    # Model profile and spend against budget come in the same writes.
    assert "Profile:  default" in described
    assert "Cost Limit USD:" in described
    assert "Token Limit:" in described
    assert "autopack-operator" in described  # the events' reporting component ("From")
