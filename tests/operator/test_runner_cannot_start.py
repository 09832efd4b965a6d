"""A run whose runner pod cannot start fails at once, on the real control plane.

The run names a Secret (``spec.models.credentialsSecret``) its namespace does not have. The real
Job controller creates the runner pod; the test kubelet, like a real one, does not start its
container but leaves it waiting in ``CreateContainerConfigError`` with the kubelet's message
(``secret "llm-keys" not found``) and tries again. The operator reads that from the pod's watch:
the run fails with reason RunnerCannotStart, the message and a hint in ``kubectl describe``, an
event, no relaunch, and the runner Job suspended, which takes the stuck pod away. Created, the
Secret lets a retry run to the end. (An image that cannot be pulled is not reproducible with the
test kubelet, which runs no images: the unit tests cover that branch.)
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.harness import Cluster, ClusterUser
from tests.operator.conftest import REAL_ONLY, cluster_on

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

RUN = "textstats-demo"
SECRET = "llm-keys"
WAIT = 300.0
"""Generous: a busy 2-core machine starts the operator, the Job and the pod in seconds."""


@pytest.fixture(params=REAL_ONLY)
def cluster(request: pytest.FixtureRequest) -> ClusterUser:
    """The real control plane."""
    return cluster_on(request)


def items(cluster: ClusterUser, *args: str) -> list[dict[str, Any]]:
    """What ``kubectl get ARGS -o json`` lists."""
    listed: list[dict[str, Any]] = json.loads(cluster.kubectl("get", *args, "-o", "json"))["items"]
    return listed


def failed_run(cluster: ClusterUser, manifest: Path) -> tuple[dict[str, Any], str]:
    """Start the operator, apply ``manifest``, wait until the run Failed: its status, reason."""
    cluster.start_operator()
    cluster.kubectl("apply", "-f", str(manifest))
    cluster.wait_for(
        "the run Failed",
        lambda: cluster.run_status(RUN).get("phase") == "Failed",
        timeout=WAIT,
    )
    status = cluster.run_status(RUN)
    succeeded = {c["type"]: c for c in status["conditions"]}["Succeeded"]
    assert succeeded["status"] == "False", succeeded
    return status, str(succeeded["reason"])


def test_a_run_naming_a_missing_secret_fails_at_once_and_its_pod_stops_retrying(
    cluster: ClusterUser, run_manifest: Callable[..., Path]
) -> None:
    status, reason = failed_run(cluster, run_manifest(models={"credentialsSecret": SECRET}))
    assert reason == "RunnerCannotStart"
    assert f'CreateContainerConfigError: secret "{SECRET}" not found' in status["message"]
    assert f"namespace {cluster.namespace}" in status["hint"]
    assert "autopack.dev/retry=" in status["hint"]
    assert status["jobName"] == f"{RUN}-runner-1"
    assert not status.get("runnerRestarts")

    describe = cluster.kubectl("describe", "autopackrun", RUN)
    assert f'secret "{SECRET}" not found' in describe
    assert "RunnerCannotStart" in describe
    assert f"create the one the message names in namespace {cluster.namespace}" in describe
    events = items(cluster, "events", "--field-selector", f"involvedObject.name={RUN}")
    assert any(
        e["reason"] == "RunFailed" and e["message"].startswith("RunnerCannotStart: ")
        for e in events
    ), events

    # Not relaunched; the Job is kept, suspended, and its pod is gone.
    cluster.wait_for(
        "the runner Job suspended and its pod gone",
        lambda: (
            [job["spec"]["suspend"] for job in items(cluster, "jobs")] == [True]
            and not items(cluster, "pods", "-l", f"job-name={RUN}-runner-1")
        ),
        timeout=WAIT,
    )
    pod_events = items(cluster, "events", "--field-selector", "involvedObject.kind=Pod")
    assert any(
        e["reason"] == "Failed" and e["message"] == f'Error: secret "{SECRET}" not found'
        for e in pod_events
    ), pod_events

    # With the Secret, a retry runs the run to its end.
    cluster.kubectl("create", "secret", "generic", SECRET, "--from-literal=UNUSED=1")
    cluster.kubectl("annotate", "autopackrun", RUN, "autopack.dev/retry=after-secret")
    cluster.wait_for(
        "the retried run Succeeded",
        lambda: cluster.run_status(RUN).get("phase") == "Succeeded",
        timeout=900,
    )
    assert sorted(job["metadata"]["name"] for job in items(cluster, "jobs")) == [
        f"{RUN}-runner-1",
        f"{RUN}-runner-2",
    ]


def test_a_run_naming_a_missing_git_secret_fails_with_what_to_create(
    cluster: ClusterUser, run_manifest: Callable[..., Path]
) -> None:
    # spec.repo.credentialsSecret is a volume: a real kubelet would leave the pod mounting it
    # (FailedMount events only) until the deadline; the volume is optional, so the runner
    # starts, finds no credentials and says which Secret to create.
    status, reason = failed_run(cluster, run_manifest(repo={"credentialsSecret": "git-missing"}))
    assert reason == "CloneFailed"
    assert "Secret 'git-missing'" in status["message"], status["message"]
    assert f"namespace '{cluster.namespace}'" in status["message"], status["message"]
    assert "spec.repo.credentialsSecret" in status["hint"]
    assert not status.get("runnerRestarts")


def test_the_test_kubelet_starts_a_pod_once_its_missing_secret_key_appears(
    cluster: ClusterUser,
) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "needs-a-key"},
        "spec": {
            "restartPolicy": "Never",
            "serviceAccountName": "autopack-runner",
            "containers": [
                {
                    "name": "main",
                    "image": "busybox",
                    "command": ["python", "-c", "import os; print(os.environ['TOKEN'])"],
                    "env": [
                        {
                            "name": "TOKEN",
                            "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}},
                        },
                        {
                            "name": "OPTIONAL",
                            "valueFrom": {
                                "secretKeyRef": {"name": "absent", "key": "x", "optional": True}
                            },
                        },
                    ],
                }
            ],
        },
    }
    cluster.kubectl("create", "secret", "generic", "creds", "--from-literal=other=1")
    cluster.kubectl("apply", "-f", "-", input=json.dumps(pod))
    namespace = cluster.namespace

    def state() -> dict[str, Any]:
        found = json.loads(cluster.kubectl("get", "pod", "needs-a-key", "-o", "json"))
        statuses = found.get("status", {}).get("containerStatuses") or [{}]
        return {"phase": found["status"].get("phase"), **(statuses[0].get("state") or {})}

    expected = {
        "reason": "CreateContainerConfigError",
        "message": f"couldn't find key token in Secret {namespace}/creds",
    }
    cluster.wait_for("the container waiting", lambda: "waiting" in state(), timeout=WAIT)
    assert state() == {"phase": "Pending", "waiting": expected}

    cluster.kubectl(
        "patch", "secret", "creds", "--type=merge", "-p", '{"stringData":{"token":"t0k"}}'
    )
    cluster.wait_for(
        "the pod started with the key", lambda: state()["phase"] == "Succeeded", timeout=WAIT
    )
    assert state()["terminated"]["exitCode"] == 0


def test_the_emulators_kubelet_does_the_same_and_starts_the_pod_when_the_secret_appears(
    emulated: Cluster,
) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "needs-a-secret", "namespace": "default"},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "main",
                            "image": "busybox",
                            "command": ["python", "-c", "import os; print(os.environ['TOKEN'])"],
                            "envFrom": [{"secretRef": {"name": "creds"}}],
                        }
                    ],
                }
            },
        },
    }
    emulated.kubectl("apply", "--validate=false", "-f", "-", input=json.dumps(job))

    def pod() -> dict[str, Any]:
        found = items(emulated, "pods", "-l", "job-name=needs-a-secret")
        return found[0] if found else {}

    emulated.wait_for("the pod created", lambda: bool(pod()), timeout=WAIT)
    status = pod()["status"]
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["state"] == {
        "waiting": {"reason": "CreateContainerConfigError", "message": 'secret "creds" not found'}
    }
    # Applied: ``kubectl create secret`` sends protobuf, which the emulator does not speak.
    secret: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}}
    secret["stringData"] = {"TOKEN": "t0k"}
    emulated.kubectl("apply", "--validate=false", "-f", "-", input=json.dumps(secret))
    emulated.wait_for(
        "the Job Complete",
        lambda: any(
            c["type"] == "Complete"
            for c in emulated.get("jobs", "needs-a-secret").get("status", {}).get("conditions", [])
        ),
        timeout=WAIT,
    )
    assert pod()["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
