"""The chart's dashboard (Deployment, Service, Ingress, read-only RBAC) and Grafana dashboard."""

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from tests.chart.test_chart import CHART, KUBERNETES_VERSION, REPO, by_kind, helm, render, tool

EVERYTHING = (
    "--set",
    "secrets.database.existingSecret=autopack-db",
    "--set",
    "dashboard.ingress.enabled=true",
    "--set",
    "dashboard.ingress.tlsSecretName=autopack-tls",
    "--set",
    "grafanaDashboard.enabled=true",
)


def named(objects: list[dict[str, Any]], kind: str, suffix: str) -> dict[str, Any]:
    return next(o for o in by_kind(objects, kind) if o["metadata"]["name"].endswith(suffix))


def test_dashboard_is_off_without_a_database_and_on_with_one() -> None:
    assert not [o for o in render() if "dashboard" in o["metadata"]["name"]]
    with_db = render("--set", "secrets.database.existingSecret=autopack-db")
    assert named(with_db, "Deployment", "-dashboard")
    assert named(with_db, "Service", "-dashboard")
    dev = render("--set", "devPostgres.enabled=true")
    env = named(dev, "Deployment", "-dashboard")["spec"]["template"]["spec"]["containers"][0]["env"]
    url = next(e for e in env if e["name"] == "AUTOPACK_DATABASE_URL")
    assert url["valueFrom"]["secretKeyRef"]["name"] == "autopack-dev-postgres"
    off = render("--set", "secrets.database.existingSecret=db", "--set", "dashboard.enabled=false")
    assert not [o for o in off if "dashboard" in o["metadata"]["name"]]


def test_dashboard_reads_its_own_read_only_database_secret() -> None:
    objects = render(
        "--set",
        "secrets.database.existingSecret=autopack-db",
        "--set",
        "dashboard.database.existingSecret=autopack-db-readonly",
        "--set",
        "dashboard.database.key=dsn",
    )
    container = named(objects, "Deployment", "-dashboard")["spec"]["template"]["spec"][
        "containers"
    ][0]
    ref = next(e for e in container["env"] if e["name"] == "AUTOPACK_DATABASE_URL")
    assert ref["valueFrom"]["secretKeyRef"] == {"name": "autopack-db-readonly", "key": "dsn"}
    assert container["args"][:2] == ["dashboard", "--host=0.0.0.0"]
    assert "--no-notes" in container["args"]
    assert "--live-status" in container["args"]


def test_dashboard_is_hardened_like_the_operator() -> None:
    objects = render(*EVERYTHING)
    operator = named(objects, "Deployment", "-operator")["spec"]["template"]["spec"]
    dashboard = named(objects, "Deployment", "-dashboard")["spec"]["template"]["spec"]
    assert dashboard["securityContext"] == operator["securityContext"]
    assert (
        dashboard["containers"][0]["securityContext"]
        == operator["containers"][0]["securityContext"]
    )
    assert dashboard["containers"][0]["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert dashboard["containers"][0]["resources"]["limits"]["memory"]


def test_dashboard_rbac_only_reads_runs_and_phases() -> None:
    objects = render(*EVERYTHING)
    role = named(objects, "ClusterRole", "-dashboard")
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted == {
        ("autopack.dev", resource, verb)
        for resource in ("autopackruns", "phases")
        for verb in ("get", "list", "watch")
    }
    binding = named(objects, "ClusterRoleBinding", "-dashboard")
    assert binding["subjects"][0]["name"].endswith("-dashboard")


def test_ingress_routes_to_the_dashboard_service_with_tls() -> None:
    objects = render(*EVERYTHING)
    ingress = named(objects, "Ingress", "-dashboard")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "autopack-dashboard", "port": {"name": "http"}}
    assert ingress["spec"]["tls"][0]["secretName"] == "autopack-tls"


def test_grafana_dashboard_configmap_is_labelled_for_the_sidecar() -> None:
    assert not [o for o in render() if "grafana" in o["metadata"]["name"]]
    configmap = named(render(*EVERYTHING), "ConfigMap", "-grafana-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    board = json.loads(configmap["data"]["autopack-operator.json"])
    exprs = " ".join(t["expr"] for p in board["panels"] for t in p["targets"])
    operator_metrics = (REPO / "src" / "autopack" / "operator" / "metrics.py").read_text()
    for metric in (
        "autopack_runs",
        "autopack_queue_depth",
        "autopack_runner_job_launches_total",
        "autopack_reconcile_duration_seconds",
        "autopack_run_tokens",
        "autopack_run_cost_usd",
    ):
        assert metric in exprs, metric
        assert f'"{metric}"' in operator_metrics, f"{metric} is not an operator metric"


def test_everything_on_is_valid_kubernetes_and_passes_lint() -> None:
    assert "0 chart(s) failed" in helm("lint", str(CHART), *EVERYTHING).stdout
    objects = render(*EVERYTHING)
    for obj in objects:
        if obj["kind"] in {"AutopackRun", "Phase", "ServiceMonitor"}:
            continue
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_values_schema_refuses_a_bad_dashboard_port() -> None:
    bad = helm("template", "x", str(CHART), "--set", "dashboard.port=0", check=False)
    assert bad.returncode != 0
    assert "port" in bad.stderr


def test_checkov_finds_nothing_in_the_dashboard(tmp_path: Path) -> None:
    if os.environ.get("AUTOPACK_SKIP_CHECKOV"):
        pytest.skip("AUTOPACK_SKIP_CHECKOV is set")
    checkov = tool("checkov", REPO / ".tools" / "checkov-venv" / "bin" / "checkov")
    out = helm("template", "autopack", str(CHART), "--namespace", "autopack", *EVERYTHING).stdout
    (tmp_path / "everything.yaml").write_text(out)
    result = subprocess.run(
        [
            checkov,
            "--skip-download",
            "--quiet",
            "--compact",
            "--framework",
            "kubernetes",
            "--config-file",
            str(CHART / ".checkov.yaml"),
            "-d",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
