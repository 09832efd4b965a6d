"""The emulated API server behaves as Kubernetes does where our operator and runner depend on it.

Each test talks to the emulator over HTTP with the official kubernetes client (the same client
the runner uses), so a gap here would otherwise surface as a confusing scenario failure.
"""

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from autopack.api.run import RunBudgets
from tests.cluster.harness import Cluster
from tests.cluster.store import Change

GROUP, VERSION = "autopack.dev", "v1alpha1"


@pytest.fixture
def api(cluster: Cluster) -> Iterator[client.ApiClient]:
    """A kubernetes ApiClient configured for the emulator."""
    configuration = client.Configuration()
    config.load_kube_config(  # type: ignore[no-untyped-call]
        str(cluster.kubeconfig), client_configuration=configuration
    )
    with client.ApiClient(configuration) as api_client:
        yield api_client


def raw_request(
    cluster: Cluster, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, bytes, str]:
    """A raw HTTP request to the emulator (what a client without local validation sends).

    Returns the status code, the body and the Content-Type.
    """
    connection = http.client.HTTPConnection("127.0.0.1", cluster.port, timeout=10)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(), response.headers["Content-Type"]
    finally:
        connection.close()


def a_run(name: str = "fidelity", **spec: Any) -> dict[str, Any]:
    """A minimal valid AutopackRun body."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "AutopackRun",
        "metadata": {"name": name},
        "spec": {"repo": {"url": "https://example.com/r.git"}, "plan": "do it", **spec},
    }


def create_run(api: client.ApiClient, body: dict[str, Any]) -> dict[str, Any]:
    """Create a run; return the stored object."""
    custom: Any = client.CustomObjectsApi(api)
    created: dict[str, Any] = custom.create_namespaced_custom_object(
        GROUP, VERSION, "default", "autopackruns", body
    )
    return created


def test_create_stamps_uid_resource_version_generation_and_defaults(api: client.ApiClient) -> None:
    created = create_run(api, a_run())
    meta = created["metadata"]
    assert meta["uid"]
    assert meta["creationTimestamp"]
    assert meta["resourceVersion"]
    assert meta["generation"] == 1
    defaults = RunBudgets()
    assert created["spec"]["budgets"]["maxAttemptsPerPhase"] == defaults.max_attempts_per_phase
    assert created["spec"]["repo"]["ref"] == "main"


def test_status_is_isolated_and_only_spec_changes_bump_generation(api: client.ApiClient) -> None:
    custom: Any = client.CustomObjectsApi(api)
    create_run(api, a_run())
    args = (GROUP, VERSION, "default", "autopackruns", "fidelity")
    through_main = custom.patch_namespaced_custom_object(*args, {"status": {"phase": "Running"}})
    assert "status" not in through_main
    status = custom.patch_namespaced_custom_object_status(
        *args, {"status": {"phase": "Running"}, "spec": {"plan": "changed"}}
    )
    assert status["status"]["phase"] == "Running"
    assert status["spec"]["plan"] == "do it"
    assert status["metadata"]["generation"] == 1
    labelled = custom.patch_namespaced_custom_object(*args, {"metadata": {"labels": {"a": "b"}}})
    assert labelled["metadata"]["generation"] == 1
    changed = custom.patch_namespaced_custom_object(*args, {"spec": {"suspend": True}})
    assert changed["metadata"]["generation"] == 2
    assert int(changed["metadata"]["resourceVersion"]) > int(status["metadata"]["resourceVersion"])


def test_stale_resource_version_conflicts_and_failed_json_patch_test_is_invalid(
    api: client.ApiClient,
) -> None:
    custom: Any = client.CustomObjectsApi(api)
    created = create_run(api, a_run())
    args = (GROUP, VERSION, "default", "autopackruns", "fidelity")
    custom.patch_namespaced_custom_object(*args, {"spec": {"suspend": True}})
    stale = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}}
    with pytest.raises(ApiException) as conflict:
        custom.patch_namespaced_custom_object(*args, {**stale, "spec": {"suspend": False}})
    assert conflict.value.status == 409
    test_op = [{"op": "test", "path": "/metadata/resourceVersion", "value": "1"}]
    with pytest.raises(ApiException) as invalid:
        custom.patch_namespaced_custom_object(
            *args, test_op, _content_type="application/json-patch+json"
        )
    assert invalid.value.status == 422


def test_schema_and_cel_rules_refuse_invalid_runs_with_field_paths(api: client.ApiClient) -> None:
    with pytest.raises(ApiException) as bad_budget:
        create_run(api, a_run(budgets={"costUSD": -1}))
    assert bad_budget.value.status == 422
    assert "spec.budgets.costUSD" in json.loads(str(bad_budget.value.body))["message"]
    with pytest.raises(ApiException) as unknown:
        create_run(api, a_run(plan=""))
    assert "give spec.plan (text) or spec.phases" in json.loads(str(unknown.value.body))["message"]
    create_run(api, a_run())
    with pytest.raises(ApiException) as immutable:
        client.CustomObjectsApi(api).patch_namespaced_custom_object(
            GROUP,
            VERSION,
            "default",
            "autopackruns",
            "fidelity",
            {"spec": {"repo": {"url": "https://example.com/other.git"}}},
        )
    assert "immutable" in json.loads(str(immutable.value.body))["message"]


def test_unknown_fields_are_pruned(api: client.ApiClient) -> None:
    created = create_run(api, a_run(colour="blue"))
    assert "colour" not in created["spec"]


def test_generate_name_label_selectors_and_field_selectors(api: client.ApiClient) -> None:
    core: Any = client.CoreV1Api(api)
    for labels in ({"app": "a", "tier": "x"}, {"app": "b"}, {}):
        core.create_namespaced_config_map(
            "default", {"metadata": {"generateName": "cm-", "labels": labels}}
        )
    listed = core.list_namespaced_config_map("default").items
    names = [c.metadata.name for c in listed if c.metadata.name.startswith("cm-")]
    assert len(names) == 3
    assert all(n.startswith("cm-") and len(n) == 8 for n in names)
    selected = core.list_namespaced_config_map("default", label_selector="app in (a,b),!tier")
    assert [c.metadata.labels for c in selected.items] == [{"app": "b"}]
    one = core.list_namespaced_config_map("default", field_selector=f"metadata.name={names[0]}")
    assert [c.metadata.name for c in one.items] == [names[0]]


def test_owner_reference_cascade_and_finalizers(api: client.ApiClient, cluster: Cluster) -> None:
    core: Any = client.CoreV1Api(api)
    run = create_run(api, a_run())
    owner = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "AutopackRun", "name": "fidelity"}
    owned = {**owner, "uid": run["metadata"]["uid"]}
    core.create_namespaced_config_map(
        "default", {"metadata": {"name": "child", "ownerReferences": [owned]}}
    )
    core.create_namespaced_config_map(
        "default",
        {"metadata": {"name": "held", "ownerReferences": [owned], "finalizers": ["x/y"]}},
    )
    no_uid = raw_request(
        cluster,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        {"metadata": {"name": "orphan", "ownerReferences": [owner]}},
    )
    assert no_uid[0] == 422
    client.CustomObjectsApi(api).delete_namespaced_custom_object(
        GROUP, VERSION, "default", "autopackruns", "fidelity"
    )
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("child", "default")
    held = core.read_namespaced_config_map("held", "default")
    assert held.metadata.deletion_timestamp is not None
    core.patch_namespaced_config_map("held", "default", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("held", "default")
    deleted = [c for c in cluster.api.store.log if c.type == "DELETED"]
    assert {c.obj["metadata"]["name"] for c in deleted} == {"fidelity", "child", "held"}


def test_watch_resumes_from_a_resource_version(cluster: Cluster, api: client.ApiClient) -> None:
    core: Any = client.CoreV1Api(api)
    first = core.create_namespaced_config_map("default", {"metadata": {"name": "one"}})
    core.create_namespaced_config_map("default", {"metadata": {"name": "two"}})
    core.patch_namespaced_config_map("two", "default", {"data": {"k": "v"}})
    since = int(first.metadata.resource_version)

    async def collect() -> list[Change]:
        seen = []
        configmaps = cluster.api.kind("", "v1", "configmaps")
        async for change in cluster.api.changes(configmaps, since, timeout=0.2):
            seen.append(change)
        return seen

    seen = cluster.run(collect())
    assert [(c.type, c.obj["metadata"]["name"]) for c in seen] == [
        ("ADDED", "two"),
        ("MODIFIED", "two"),
    ]
    raw = raw_request(
        cluster,
        "GET",
        f"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={since}&timeoutSeconds=1",
    )
    lines = [json.loads(line) for line in raw[1].decode().splitlines() if line.strip()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in lines] == [
        ("ADDED", "two"),
        ("MODIFIED", "two"),
    ]
    assert raw[2] == "application/json"


def test_kubectl_explains_nothing_but_gets_tables_from_printer_columns(
    cluster: Cluster, tmp_path: Path
) -> None:
    manifest = tmp_path / "run.yaml"
    manifest.write_text(json.dumps(a_run()))
    cluster.kubectl("apply", "--validate=false", "-f", str(manifest))
    header = cluster.kubectl("get", "apr").splitlines()[0].split()
    assert header == ["NAME", "PHASE", "PROGRESS", "COST", "AGE", "MESSAGE"]
    assert "fidelity" in cluster.kubectl("get", "autopack", "-o", "name")
