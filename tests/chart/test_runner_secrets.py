"""Secrets runner pods read exist where they run, and the operator may check them by name only.

A pod refers only to Secrets of its own namespace. The chart's devPostgres Secret is rendered
into the release namespace and every runner namespace; for Secrets the chart does not hold
(``secrets.database.existingSecret``, ``memory.qdrant.apiKeySecret``) it renders, in each
runner namespace, a Role letting the operator ``get`` exactly those names (no list, no watch,
no other Secret), so it can end a run whose namespace lacks one instead of starting a stuck pod.
"""

from typing import Any

import kubernetes_validate

from tests.chart.test_chart import KUBERNETES_VERSION, by_kind, render

RUNNER_NAMESPACES = ("--set", "runner.namespaces={team-a,team-b}")


def secret_roles(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The operator's Secret-reading Roles by namespace."""
    return {
        r["metadata"]["namespace"]: r
        for r in by_kind(objects, "Role")
        if r["metadata"]["name"] == "autopack-operator-secrets"
    }


def operator_env(objects: list[dict[str, Any]]) -> dict[str, Any]:
    operator = next(
        d for d in by_kind(objects, "Deployment") if d["metadata"]["name"] == "autopack-operator"
    )
    container = operator["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_dev_postgres_secret_is_in_every_runner_namespace_with_the_charts_labels() -> None:
    objects = render("--set", "devPostgres.enabled=true", *RUNNER_NAMESPACES)
    secrets = {s["metadata"]["namespace"]: s for s in by_kind(objects, "Secret")}
    assert sorted(secrets) == ["autopack", "team-a", "team-b"]
    release = secrets["autopack"]
    for secret in secrets.values():
        assert secret["metadata"]["name"] == "autopack-dev-postgres"
        assert secret["metadata"]["labels"] == release["metadata"]["labels"]
        assert secret["metadata"]["labels"]["app.kubernetes.io/instance"] == "autopack"
        assert secret["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        # Every copy points at the one server in the release namespace.
        assert secret["stringData"] == release["stringData"]
        assert "@autopack-dev-postgres.autopack.svc:5432/" in secret["stringData"]["url"]
        kubernetes_validate.validate(secret, KUBERNETES_VERSION, strict=True)
    env = operator_env(objects)
    assert env["AUTOPACK_OPERATOR_DATABASE_SECRET"] == "autopack-dev-postgres"
    assert env["AUTOPACK_OPERATOR_DATABASE_SECRET_KEY"] == "url"
    # The dev server itself runs once, in the release namespace.
    postgres = [
        d for d in by_kind(objects, "Deployment") if "dev-postgres" in d["metadata"]["name"]
    ]
    assert [d["metadata"]["namespace"] for d in postgres] == ["autopack"]


def test_without_runner_namespaces_the_dev_secret_is_in_the_release_namespace_only() -> None:
    objects = render("--set", "devPostgres.enabled=true")
    assert [s["metadata"]["namespace"] for s in by_kind(objects, "Secret")] == ["autopack"]
    assert sorted(secret_roles(objects)) == ["autopack"]


def test_operator_may_get_only_the_named_secrets_in_runner_namespaces_only() -> None:
    objects = render(
        "--set",
        "secrets.database.existingSecret=history-db",
        "--set",
        "secrets.database.key=DATABASE_URL",
        "--set",
        "memory.qdrant.url=https://qdrant.example.com:6333",
        "--set",
        "memory.qdrant.apiKeySecret=qdrant-key",
        *RUNNER_NAMESPACES,
    )
    assert not by_kind(objects, "Secret")  # the chart never holds an existing Secret's value
    roles = secret_roles(objects)
    assert sorted(roles) == ["autopack", "team-a", "team-b"]
    for role in roles.values():
        assert role["rules"] == [
            {
                "apiGroups": [""],
                "resources": ["secrets"],
                "resourceNames": ["history-db", "qdrant-key"],
                "verbs": ["get"],
            }
        ]
        kubernetes_validate.validate(role, KUBERNETES_VERSION, strict=True)
    bindings = {
        b["metadata"]["namespace"]: b
        for b in by_kind(objects, "RoleBinding")
        if b["metadata"]["name"] == "autopack-operator-secrets"
    }
    assert sorted(bindings) == ["autopack", "team-a", "team-b"]
    for binding in bindings.values():
        assert binding["roleRef"]["name"] == "autopack-operator-secrets"
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "autopack-operator", "namespace": "autopack"}
        ]
    for cluster_role in by_kind(objects, "ClusterRole"):
        assert not any("secrets" in rule["resources"] for rule in cluster_role["rules"])
    env = operator_env(objects)
    # Runners read the URL under the same key as the operator (secrets.database.key).
    assert env["AUTOPACK_OPERATOR_DATABASE_SECRET_KEY"] == "DATABASE_URL"
    assert env["AUTOPACK_OPERATOR_DATABASE_URL"] == {
        "secretKeyRef": {"name": "history-db", "key": "DATABASE_URL"}
    }


def test_no_secret_to_check_means_no_secret_role() -> None:
    assert secret_roles(render(*RUNNER_NAMESPACES)) == {}
    # An API key without a Qdrant server is unused, and so not checked.
    unused = render("--set", "memory.qdrant.apiKeySecret=qdrant-key", *RUNNER_NAMESPACES)
    assert secret_roles(unused) == {}


def test_dev_qdrant_with_an_api_key_secret_checks_only_that_key() -> None:
    objects = render(
        "--set", "devQdrant.enabled=true", "--set", "memory.qdrant.apiKeySecret=qdrant-key"
    )
    [role] = secret_roles(objects).values()
    assert role["rules"][0]["resourceNames"] == ["qdrant-key"]
