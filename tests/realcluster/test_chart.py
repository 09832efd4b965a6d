"""The Helm chart installed on a real API server, and the operator running with its RBAC.

``helm install`` speaks protobuf and server-side dry runs that the emulator cannot serve. The
operator then runs out of cluster as the chart's operator ServiceAccount with the chart's
settings, so a permission missing from the chart's ClusterRole fails here, not in production.
"""

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.controlplane import audit
from tests.controlplane.fixtures import Release
from tests.controlplane.server import ControlPlane
from tests.controlplane.tools import Tool
from tests.realcluster.conftest import as_input
from tests.realcluster.operator_process import (
    OperatorProcess,
    chart_operator_environment,
    service_account_kubeconfig,
)

pytestmark = [pytest.mark.controlplane, pytest.mark.slow]


@pytest.fixture
def operator(
    control_plane: ControlPlane, kubectl: Tool, release: Release, tmp_path: Path
) -> Iterator[OperatorProcess]:
    """``autopack operator`` as the chart's operator ServiceAccount, with the chart's env."""
    kubeconfig = service_account_kubeconfig(
        control_plane,
        kubectl,
        tmp_path / "operator.kubeconfig",
        namespace=release.namespace,
        name=release.operator_service_account,
    )
    environment = chart_operator_environment(
        kubectl, namespace=release.namespace, deployment=release.operator_service_account
    )
    process = OperatorProcess(tmp_path, kubeconfig=kubeconfig, environment=environment).start()
    yield process
    process.stop()


def test_helm_install_creates_the_operator_and_its_rbac(kubectl: Tool, release: Release) -> None:
    objects = kubectl(
        "get",
        "deployment,serviceaccount,role,rolebinding",
        "-n",
        release.namespace,
        "-o",
        "name",
    ).split()
    assert f"deployment.apps/{release.fullname}-operator" in objects
    assert f"serviceaccount/{release.fullname}-operator" in objects
    assert "serviceaccount/autopack-runner" in objects
    assert f"role.rbac.authorization.k8s.io/{release.fullname}-runner" in objects
    can = kubectl(
        "auth",
        "can-i",
        "create",
        "jobs.batch",
        "--as",
        f"system:serviceaccount:{release.namespace}:{release.operator_service_account}",
        "-n",
        release.namespace,
    )
    assert can.strip() == "yes"


def test_operator_with_the_charts_rbac_launches_a_runner_job_for_a_new_run(
    control_plane: ControlPlane,
    kubectl: Tool,
    release: Release,
    operator: OperatorProcess,
    demo_run: Callable[..., dict[str, Any]],
) -> None:
    run = demo_run("rbac-check", release.namespace)
    kubectl("apply", "-f", "-", input=as_input(run))

    def job() -> dict[str, Any]:
        found: dict[str, Any] = json.loads(
            kubectl("get", "job", "rbac-check-runner-1", "-n", release.namespace, "-o", "json")
        )
        return found

    operator.wait_for("the runner Job rbac-check-runner-1", lambda: bool(job()))
    created = job()
    assert created["spec"]["template"]["spec"]["serviceAccountName"] == "autopack-runner"
    owner = created["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"]) == ("AutopackRun", "rbac-check")

    def run_status() -> dict[str, Any]:
        found: dict[str, Any] = json.loads(
            kubectl("get", "autopackrun", "rbac-check", "-n", release.namespace, "-o", "json")
        )
        return found.get("status") or {}

    operator.wait_for(
        "the run's status to name its Job",
        lambda: run_status().get("jobName") == created["metadata"]["name"],
    )
    assert "Forbidden" not in operator.log_text()
    # The audit log names the writer: the Job was created by the chart's operator account.
    operator_user = audit.service_account_user(release.namespace, release.operator_service_account)
    writes = audit.count_writes(control_plane.audit_log, namespace=release.namespace)
    assert writes[(operator_user, "jobs", "create")] == 1, writes
    assert writes[(operator_user, "autopackruns/status", "patch")] >= 1, writes
    kubectl("delete", "autopackrun", "rbac-check", "-n", release.namespace, "--wait=false")
