"""Runs in a runner namespace other than the release's: the Secrets runner pods read are there.

The chart is installed with devPostgres and one extra runner namespace; the operator runs as
the chart's operator ServiceAccount with the chart's settings, so the Role that lets it get
the runner Secrets by name is what the real API server authorizes. A run in that namespace gets
its runner Job; once the Secret is gone, the next run there fails with RunnerSecretMissing and
gets no Job (no pod stuck in CreateContainerConfigError); in a namespace outside the chart's
runner namespaces the operator may not read Secrets and launches as before.
"""

import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.controlplane.fixtures import CHART
from tests.controlplane.server import ControlPlane
from tests.controlplane.tools import Tool
from tests.realcluster.conftest import as_input
from tests.realcluster.operator_process import (
    OperatorProcess,
    chart_operator_environment,
    service_account_kubeconfig,
)

pytestmark = [pytest.mark.controlplane, pytest.mark.slow]

RELEASE = "autopack-sec"  # contains the chart's name: the fullname is the release name
SECRET = f"{RELEASE}-dev-postgres"
WAIT = 180.0


@pytest.fixture
def installed(helm: Tool, kubectl: Tool, crds: list[str], namespace: str) -> Iterator[str]:
    """The chart with devPostgres and runner namespace ``namespace``; its release namespace."""
    release_namespace = f"{RELEASE}-{secrets.token_hex(3)}"
    helm(
        "install",
        RELEASE,
        str(CHART),
        "--namespace",
        release_namespace,
        "--create-namespace",
        "--set",
        "devPostgres.enabled=true",
        "--set",
        f"runner.namespaces={{{namespace}}}",
    )
    yield release_namespace
    helm("uninstall", RELEASE, "--namespace", release_namespace, "--wait=false")
    kubectl("delete", "namespace", release_namespace, "--wait=false")


@pytest.fixture
def operator(
    control_plane: ControlPlane, kubectl: Tool, installed: str, tmp_path: Path
) -> Iterator[OperatorProcess]:
    """``autopack operator`` as the release's operator ServiceAccount, with its env."""
    account = f"{RELEASE}-operator"
    kubeconfig = service_account_kubeconfig(
        control_plane, kubectl, tmp_path / "operator.kubeconfig", namespace=installed, name=account
    )
    environment = chart_operator_environment(kubectl, namespace=installed, deployment=account)
    assert environment["AUTOPACK_OPERATOR_DATABASE_SECRET"] == SECRET
    process = OperatorProcess(tmp_path, kubeconfig=kubeconfig, environment=environment).start()
    yield process
    process.stop()


def get(kubectl: Tool, *args: str) -> dict[str, Any] | None:
    """An object as JSON, or None when it does not exist."""
    result = kubectl.run("get", *args, "-o", "json")
    if result.returncode != 0:
        assert "NotFound" in result.stderr, result.stderr
        return None
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def test_runner_secrets_are_checked_in_the_runs_namespace(
    kubectl: Tool,
    installed: str,
    namespace: str,
    operator: OperatorProcess,
    demo_run: Callable[..., dict[str, Any]],
) -> None:
    secret = get(kubectl, "secret", SECRET, "-n", namespace)
    assert secret is not None, "the chart puts the devPostgres Secret into the runner namespace"
    assert secret["metadata"]["labels"]["app.kubernetes.io/instance"] == RELEASE
    released = get(kubectl, "secret", SECRET, "-n", installed)
    assert released is not None
    assert secret["data"] == released["data"]

    # The Secret is there: the runner Job is created.
    kubectl("apply", "-f", "-", input=as_input(demo_run("with-secret", namespace)))
    operator.wait_for(
        "the runner Job with-secret-runner-1",
        lambda: get(kubectl, "job", "with-secret-runner-1", "-n", namespace) is not None,
        timeout=WAIT,
    )

    # Gone: the next run fails at once with the Secret and namespace named, and no Job.
    kubectl("delete", "secret", SECRET, "-n", namespace)
    kubectl("apply", "-f", "-", input=as_input(demo_run("without-secret", namespace)))

    def status() -> dict[str, Any]:
        run = get(kubectl, "autopackrun", "without-secret", "-n", namespace) or {}
        found: dict[str, Any] = run.get("status") or {}
        return found

    operator.wait_for(
        "the run without its Secret to fail",
        lambda: status().get("phase") == "Failed",
        timeout=WAIT,
    )
    final = status()
    succeeded = next(c for c in final["conditions"] if c["type"] == "Succeeded")
    assert (succeeded["status"], succeeded["reason"]) == ("False", "RunnerSecretMissing")
    assert f'Secret "{SECRET}"' in final["message"]
    assert f"namespace {namespace}" in final["message"]
    assert f"namespace {namespace}" in final["hint"]
    assert not final.get("jobName")
    assert get(kubectl, "job", "without-secret-runner-1", "-n", namespace) is None
    events = json.loads(
        kubectl(
            "get",
            "events",
            "-n",
            namespace,
            "--field-selector",
            "involvedObject.name=without-secret",
            "-o",
            "json",
        )
    )["items"]
    assert any("RunnerSecretMissing" in (e.get("message") or "") for e in events)
    # It read the Secret it may read (other tests' namespaces may be terminating meanwhile).
    assert f"may not read Secret {SECRET} in namespace {namespace}" not in operator.log_text()


def test_outside_the_charts_runner_namespaces_the_operator_launches_unchecked(
    kubectl: Tool,
    installed: str,
    operator: OperatorProcess,
    demo_run: Callable[..., dict[str, Any]],
) -> None:
    elsewhere = f"test-{secrets.token_hex(4)}"
    kubectl("create", "namespace", elsewhere)
    try:
        kubectl("apply", "-f", "-", input=as_input(demo_run("elsewhere", elsewhere)))
        operator.wait_for(
            "the runner Job elsewhere-runner-1",
            lambda: get(kubectl, "job", "elsewhere-runner-1", "-n", elsewhere) is not None,
            timeout=WAIT,
        )
        assert f"may not read Secret {SECRET} in namespace {elsewhere}" in operator.log_text()
    finally:
        kubectl("delete", "namespace", elsewhere, "--wait=false")
