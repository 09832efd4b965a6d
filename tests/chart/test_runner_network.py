"""Runner networking as the chart renders it: what runner pods may reach, and where Qdrant is.

The rendered NetworkPolicy is read the way a CNI enforcing it would: a connection leaves a
runner pod when some egress rule admits both its peer (an ``ipBlock`` holding the address and
not its ``except``, or a namespace and pod selector matching the peer) and its port. No CNI
runs on the test control plane, so enforcement itself is not exercised here.
"""

import ipaddress
from typing import Any

import kubernetes_validate
import pytest

from tests.chart.test_chart import CHART, KUBERNETES_VERSION, by_kind, helm, render

Policy = dict[str, Any]
RELEASE_NAMESPACE = "autopack"


def runner_policy(objects: list[dict[str, Any]], namespace: str = RELEASE_NAMESPACE) -> Policy:
    """The runner NetworkPolicy of ``namespace``."""
    [policy] = [
        p
        for p in by_kind(objects, "NetworkPolicy")
        if p["metadata"]["name"].endswith("-runner") and p["metadata"]["namespace"] == namespace
    ]
    return policy


def _port_matches(rule: dict[str, Any], port: int, protocol: str) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    return any(p["port"] == port and p.get("protocol", "TCP") == protocol for p in ports)


def _selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return True
    assert not selector.get("matchExpressions"), "this reader knows matchLabels only"
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


def reaches_address(policy: Policy, address: str, port: int, protocol: str = "TCP") -> bool:
    """Whether a runner may open a connection to ``address:port``."""
    ip = ipaddress.ip_address(address)
    for rule in policy["spec"]["egress"]:
        if not _port_matches(rule, port, protocol):
            continue
        peers = rule.get("to")
        if not peers:
            return True
        for peer in peers:
            block = peer.get("ipBlock")
            if block is None:
                continue
            inside = ip in ipaddress.ip_network(block["cidr"])
            excepted = any(ip in ipaddress.ip_network(cidr) for cidr in block.get("except", []))
            if inside and not excepted:
                return True
    return False


def reaches_pod(
    policy: Policy, *, namespace: str, labels: dict[str, str], port: int, protocol: str = "TCP"
) -> bool:
    """Whether a runner may open a connection to a pod with ``labels`` in ``namespace``."""
    namespace_labels = {"kubernetes.io/metadata.name": namespace}
    for rule in policy["spec"]["egress"]:
        if not _port_matches(rule, port, protocol):
            continue
        for peer in rule.get("to") or [{}]:
            if "ipBlock" in peer:
                continue
            if "namespaceSelector" not in peer and namespace != policy["metadata"]["namespace"]:
                continue
            if _selects(peer.get("namespaceSelector"), namespace_labels) and _selects(
                peer.get("podSelector"), labels
            ):
                return True
    return False


def dev_pod(component: str) -> dict[str, str]:
    """Labels of a development service pod of the release ``autopack``."""
    return {"app.kubernetes.io/instance": "autopack", "app.kubernetes.io/component": component}


def qdrant_env(objects: list[dict[str, Any]]) -> dict[str, str]:
    """The operator's Qdrant settings (what it passes to runners)."""
    operator = next(
        d for d in by_kind(objects, "Deployment") if d["metadata"]["name"].endswith("-operator")
    )
    env = operator["spec"]["template"]["spec"]["containers"][0]["env"]
    return {e["name"]: e.get("value", "") for e in env if "QDRANT" in e["name"]}


# ----- defaults ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_policy() -> Policy:
    """The runner policy with the chart's default values."""
    return runner_policy(render())


def test_runners_resolve_names_through_cluster_dns(default_policy: Policy) -> None:
    dns = {"k8s-app": "kube-dns"}
    for protocol in ("UDP", "TCP"):
        assert reaches_pod(
            default_policy, namespace="kube-system", labels=dns, port=53, protocol=protocol
        )
    assert not reaches_pod(default_policy, namespace="kube-system", labels=dns, port=80)


@pytest.mark.parametrize(
    ("address", "port"),
    [("10.96.0.1", 443), ("172.18.0.2", 6443), ("192.168.49.2", 6443), ("10.0.0.1", 443)],
)
def test_runners_reach_the_api_server_at_a_private_address(
    default_policy: Policy, address: str, port: int
) -> None:
    assert reaches_address(default_policy, address, port)


@pytest.mark.parametrize(
    ("address", "port"),
    [("160.79.104.10", 443), ("162.159.140.245", 443), ("140.82.112.3", 443), ("140.82.112.3", 22)],
)
def test_runners_reach_model_apis_and_git_remotes_on_public_addresses(
    default_policy: Policy, address: str, port: int
) -> None:
    assert reaches_address(default_policy, address, port)


@pytest.mark.parametrize(
    ("address", "port"),
    [
        ("169.254.169.254", 80),  # cloud metadata
        ("169.254.169.254", 443),
        ("100.100.100.200", 443),  # metadata in the shared address space
        ("10.1.2.3", 5432),  # an in-cluster database the chart did not configure
        ("10.1.2.3", 22),
        ("192.168.1.10", 8080),
        ("8.8.8.8", 80),  # plain HTTP to the internet
        ("140.82.112.3", 9418),  # git://
    ],
)
def test_everything_else_is_blocked(default_policy: Policy, address: str, port: int) -> None:
    assert not reaches_address(default_policy, address, port)


def test_runners_accept_no_connections(default_policy: Policy) -> None:
    assert default_policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert default_policy["spec"]["ingress"] == []
    assert all(rule.get("ports") for rule in default_policy["spec"]["egress"])


def test_dev_services_are_unreachable_when_not_deployed(default_policy: Policy) -> None:
    for component, port in (("dev-postgres", 5432), ("dev-qdrant", 6333)):
        assert not reaches_pod(
            default_policy, namespace=RELEASE_NAMESPACE, labels=dev_pod(component), port=port
        )


# ----- options ----------------------------------------------------------------------------------


def test_dev_postgres_and_dev_qdrant_are_reached_by_their_pod_labels() -> None:
    objects = render(
        "--set",
        "devPostgres.enabled=true",
        "--set",
        "devQdrant.enabled=true",
        "--set",
        "runner.namespaces={team-a}",
    )
    for namespace in (RELEASE_NAMESPACE, "team-a"):
        policy = runner_policy(objects, namespace)
        postgres, qdrant = dev_pod("dev-postgres"), dev_pod("dev-qdrant")
        assert reaches_pod(policy, namespace=RELEASE_NAMESPACE, labels=postgres, port=5432)
        assert reaches_pod(policy, namespace=RELEASE_NAMESPACE, labels=qdrant, port=6333)
        assert not reaches_pod(policy, namespace=RELEASE_NAMESPACE, labels=postgres, port=6333)
        assert not reaches_pod(policy, namespace="team-b", labels=postgres, port=5432)
        assert not reaches_pod(policy, namespace=RELEASE_NAMESPACE, labels={}, port=5432)
    # The development services admit the runners of the other runner namespaces too.
    [services] = [
        p
        for p in by_kind(objects, "NetworkPolicy")
        if p["metadata"]["name"].endswith("-dev-services")
    ]
    sources = services["spec"]["ingress"][0]["from"]
    assert {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "team-a"}},
        "podSelector": {"matchLabels": {"autopack.dev/component": "runner"}},
    } in sources


def test_an_external_database_and_qdrant_are_reached_by_address_and_port() -> None:
    policy = runner_policy(
        render(
            "--set",
            "networkPolicy.database.cidrs={10.3.0.7/32}",
            "--set",
            "networkPolicy.database.port=6432",
            "--set",
            "networkPolicy.qdrant.cidrs={10.4.0.0/24}",
        )
    )
    assert reaches_address(policy, "10.3.0.7", 6432)
    assert not reaches_address(policy, "10.3.0.7", 5432)
    assert not reaches_address(policy, "10.3.0.8", 6432)
    assert reaches_address(policy, "10.4.0.9", 6333)
    assert reaches_address(policy, "10.4.0.9", 6334)
    assert not reaches_address(policy, "10.4.0.9", 22)


def test_the_api_server_can_be_narrowed_to_its_endpoints() -> None:
    policy = runner_policy(
        render(
            "--set",
            "networkPolicy.apiServer.cidrs={172.18.0.2/32}",
            "--set",
            "networkPolicy.apiServer.ports={6443}",
        )
    )
    assert reaches_address(policy, "172.18.0.2", 6443)
    assert not reaches_address(policy, "172.18.0.3", 6443)
    assert not reaches_address(policy, "10.96.0.1", 443)


def test_model_and_git_endpoints_can_be_narrowed() -> None:
    objects = render(
        "--set",
        "networkPolicy.endpoints.cidrs={203.0.113.0/24}",
        "--set",
        "networkPolicy.endpoints.ports={443}",
    )
    policy = runner_policy(objects)
    assert reaches_address(policy, "203.0.113.5", 443)
    assert not reaches_address(policy, "203.0.113.5", 22)
    assert not reaches_address(policy, "160.79.104.10", 443)
    # ``except`` is only cut out of 0.0.0.0/0; other ranges would make the policy invalid.
    kubernetes_validate.validate(policy, KUBERNETES_VERSION, strict=True)
    assert "except" not in str(policy["spec"]["egress"])


def test_allowed_cidrs_are_reached_on_any_port() -> None:
    policy = runner_policy(render("--set", "networkPolicy.allowedCIDRs={10.20.0.0/16}"))
    assert reaches_address(policy, "10.20.1.1", 3000)
    assert not reaches_address(policy, "10.21.1.1", 3000)


def test_policy_values_are_checked() -> None:
    for bad in ("networkPolicy.apiServer.ports={}", "networkPolicy.database.port=70000"):
        result = helm("template", "x", str(CHART), "--set", bad, check=False)
        assert result.returncode != 0, bad
        assert "networkPolicy" in result.stderr


# ----- Qdrant -----------------------------------------------------------------------------------


def test_runners_get_no_qdrant_server_by_default() -> None:
    assert qdrant_env(render()) == {}


def test_dev_qdrant_is_wired_into_runners() -> None:
    objects = render("--set", "devQdrant.enabled=true")
    url = "http://autopack-dev-qdrant.autopack.svc:6333"
    assert qdrant_env(objects) == {"AUTOPACK_OPERATOR_QDRANT_URL": url}
    [service] = [s for s in by_kind(objects, "Service") if "dev-qdrant" in s["metadata"]["name"]]
    assert f"http://{service['metadata']['name']}.{service['metadata']['namespace']}.svc:" in url
    assert service["spec"]["ports"][0]["port"] == 6333


def test_an_external_qdrant_with_an_api_key_wins_over_dev_qdrant() -> None:
    env = qdrant_env(
        render(
            "--set",
            "devQdrant.enabled=true",
            "--set",
            "memory.qdrant.url=https://qdrant.example.com:6333",
            "--set",
            "memory.qdrant.apiKeySecret=qdrant-key",
        )
    )
    assert env == {
        "AUTOPACK_OPERATOR_QDRANT_URL": "https://qdrant.example.com:6333",
        "AUTOPACK_OPERATOR_QDRANT_API_KEY_SECRET": "qdrant-key",
        "AUTOPACK_OPERATOR_QDRANT_API_KEY_KEY": "api-key",
    }


def test_a_qdrant_url_must_be_http() -> None:
    result = helm(
        "template", "x", str(CHART), "--set", "memory.qdrant.url=qdrant:6333", check=False
    )
    assert result.returncode != 0
    assert "url" in result.stderr
