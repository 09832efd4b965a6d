"""The chart's NetworkPolicies as a real API server validates them, with every network option.

The API server checks what the OpenAPI schema cannot (CIDR syntax, ``except`` ranges inside
their ``cidr``, port ranges). Nothing here enforces the policies: the test control plane has
no CNI, so which connections they let through is read from the rendered policy in
``tests/chart/test_runner_network.py``.
"""

from pathlib import Path

import pytest
import yaml

from tests.controlplane.tools import Tool
from tests.realcluster.conftest import as_input

pytestmark = [pytest.mark.controlplane, pytest.mark.slow]

CHART = Path(__file__).resolve().parents[2] / "charts" / "autopack"
OPTIONS = [
    "devPostgres.enabled=true",
    "devQdrant.enabled=true",
    "networkPolicy.apiServer.cidrs={172.18.0.2/32,10.96.0.1/32}",
    "networkPolicy.apiServer.ports={6443,443}",
    "networkPolicy.database.cidrs={10.3.0.7/32}",
    "networkPolicy.qdrant.cidrs={10.4.0.0/24}",
    "networkPolicy.endpoints.cidrs={0.0.0.0/0,203.0.113.0/24,2001:db8::/32}",
    "networkPolicy.allowedCIDRs={10.20.0.0/16}",
]


@pytest.mark.parametrize("options", [[], OPTIONS], ids=["defaults", "every-option"])
def test_the_api_server_accepts_the_network_policies(
    kubectl: Tool, helm: Tool, namespace: str, options: list[str]
) -> None:
    settings = [arg for option in options for arg in ("--set", option)]
    rendered = helm(
        "template",
        "autopack",
        str(CHART),
        "--namespace",
        namespace,
        *settings,
        "--set",
        "dashboard.enabled=false",
    )
    policies = [
        doc for doc in yaml.safe_load_all(rendered) if doc and doc["kind"] == "NetworkPolicy"
    ]
    assert {p["metadata"]["name"] for p in policies} >= {"autopack-runner", "autopack-operator"}
    for policy in policies:
        kubectl("create", "-f", "-", "--dry-run=server", "-o", "name", input=as_input(policy))
