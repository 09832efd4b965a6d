"""The committed CRDs on a real API server: applied by plain kubectl, enforced at admission.

The emulator checks schemas with our own reimplementation; here kube-apiserver itself
validates, defaults, prunes and runs the CEL rules, and kubectl reads its OpenAPI.
"""

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.controlplane.fixtures import CRDS
from tests.controlplane.tools import Tool
from tests.realcluster.conftest import as_input

pytestmark = [pytest.mark.controlplane, pytest.mark.slow]


def test_crds_apply_with_validation_and_kubectl_explains_fields(
    kubectl: Tool, crds: list[str]
) -> None:
    # A second apply of the same files changes nothing (no field the server rewrites).
    assert "unchanged" in kubectl("apply", "-f", str(CRDS))
    # The server publishes a new CRD's OpenAPI a little after it is Established.
    deadline = time.monotonic() + 120
    explained = kubectl.run("explain", "autopackrun.spec.budgets")
    while explained.returncode != 0 and time.monotonic() < deadline:
        time.sleep(1)
        explained = kubectl.run("explain", "autopackrun.spec.budgets")
    assert explained.returncode == 0, explained.stderr
    explained_text = explained.stdout
    assert "costUSD" in explained_text
    assert "maxAttemptsPerPhase" in explained_text
    assert "autopackruns" in kubectl("api-resources", "--api-group=autopack.dev")


def test_valid_run_is_admitted_with_schema_defaults(
    kubectl: Tool, crds: list[str], namespace: str, demo_run: Callable[..., dict[str, Any]]
) -> None:
    kubectl("apply", "-f", "-", input=as_input(demo_run("admitted", namespace)))
    run = kubectl(
        "get", "autopackrun", "admitted", "-n", namespace, "-o", "jsonpath={.spec.approval}"
    )
    assert "deletionThresholdLines" in run


def test_invalid_runs_are_rejected_with_the_field_and_the_reason(
    kubectl: Tool, crds: list[str], namespace: str, demo_run: Callable[..., dict[str, Any]]
) -> None:
    negative = demo_run("negative-cost", namespace, budgets={"costUSD": -1})
    result = kubectl.run("apply", "-f", "-", input=as_input(negative))
    assert result.returncode != 0
    assert "spec.budgets.costUSD" in result.stderr

    empty = demo_run("no-plan", namespace, phases=[])
    result = kubectl.run("apply", "-f", "-", input=as_input(empty))
    assert result.returncode != 0
    assert "give spec.plan (text) or spec.phases (a list)" in result.stderr

    unknown = demo_run("unknown-field", namespace, budgets={"tokens": 10, "dollars": 3})
    result = kubectl.run("apply", "-f", "-", input=as_input(unknown))
    assert result.returncode != 0
    assert 'unknown field "spec.budgets.dollars"' in result.stderr

    listed = kubectl.run("get", "autopackruns", "-n", namespace)
    assert "No resources found" in listed.stderr
