"""Runner namespaces that do not exist yet: the chart creates them on request.

``runner.createNamespaces=true`` renders a Namespace per extra runner namespace (Helm installs
Namespaces before what goes into them); by default none is rendered, and against a live
cluster the chart refuses, with a message naming it, a namespace that does not exist.
"""

from tests.chart.test_chart import by_kind, helm, render


def test_runner_namespaces_are_created_on_request() -> None:
    objects = render(
        "--set", "runner.namespaces={team-a,team-b}", "--set", "runner.createNamespaces=true"
    )
    assert sorted(n["metadata"]["name"] for n in by_kind(objects, "Namespace")) == [
        "team-a",
        "team-b",
    ]
    roles = {r["metadata"]["namespace"] for r in by_kind(objects, "Role")}
    assert {"team-a", "team-b"} <= roles


def test_runner_namespaces_are_not_created_by_default() -> None:
    objects = render("--set", "runner.namespaces={team-a}")
    assert not by_kind(objects, "Namespace")
    assert "team-a" in {r["metadata"]["namespace"] for r in by_kind(objects, "Role")}


def test_create_namespaces_must_be_a_boolean() -> None:
    refused = helm(
        "template",
        "autopack",
        "charts/autopack",
        "--set-string",
        "runner.createNamespaces=yes",
        check=False,
    )
    assert refused.returncode != 0
    assert "createNamespaces" in refused.stderr
