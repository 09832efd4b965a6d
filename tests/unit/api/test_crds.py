"""The generated CRDs: committed copies match, they are structural, valid and behave."""

from pathlib import Path
from typing import Any

import celpy
import kubernetes_validate
import pytest
import yaml
from celpy.adapter import json_to_cel

from autopack.api import AutopackRunStatus, PhaseStatus, schema
from tests.builders.api import a_phase, a_run

REPO = Path(__file__).resolve().parents[3]
CRD_DIR = REPO / "crds"


def crd_schema(crd: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return node


def walk(node: Any, path: str = "") -> Any:
    if isinstance(node, dict):
        yield path, node
        for key, value in node.get("properties", {}).items():
            yield from walk(value, f"{path}.{key}")
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                yield from walk(node[key], f"{path}[{key}]")


def prune(value: Any, node: dict[str, Any]) -> Any:
    """Structural pruning as the API server does it: drop whatever the schema does not declare."""
    if isinstance(value, dict) and "properties" in node:
        return {
            k: prune(v, node["properties"][k]) for k, v in value.items() if k in node["properties"]
        }
    if isinstance(value, dict) and isinstance(node.get("additionalProperties"), dict):
        return {k: prune(v, node["additionalProperties"]) for k, v in value.items()}
    if isinstance(value, list) and "items" in node:
        return [prune(item, node["items"]) for item in value]
    if isinstance(value, dict) and node.get("type") == "object":
        return {}
    return value


@pytest.mark.parametrize("name", sorted(schema.render_crds()))
def test_committed_crd_matches_the_models(name: str) -> None:
    committed = (CRD_DIR / name).read_text(encoding="utf-8")
    assert committed == schema.render_crds()[name], "run `autopack crds` and commit crds/"


@pytest.mark.parametrize("name", sorted(schema.render_crds()))
def test_crd_is_a_valid_apiextensions_v1_object(name: str) -> None:
    crd = yaml.safe_load((CRD_DIR / name).read_text(encoding="utf-8"))
    kubernetes_validate.validate(crd, "1.30.0", strict=True)


@pytest.mark.parametrize("crd", schema.build_crds().values(), ids=sorted(schema.build_crds()))
def test_crd_schema_is_structural(crd: dict[str, Any]) -> None:
    for path, node in walk(crd_schema(crd)):
        forbidden = {"$ref", "$defs", "anyOf", "oneOf", "allOf", "title", "const"} & node.keys()
        assert not forbidden, f"{path} has {forbidden}"
        assert "type" in node, f"{path} has no type"
        assert node.get("additionalProperties") is not False, path
        if node["type"] == "array":
            assert "maxItems" in node, f"{path}: unbounded list makes CEL cost unbounded"
        if node["type"] == "string" and "enum" not in node and "format" not in node:
            assert "maxLength" in node or path.count(".") <= 1, f"{path}: unbounded string"


@pytest.mark.parametrize("crd", schema.build_crds().values(), ids=sorted(schema.build_crds()))
def test_spec_and_status_fields_are_described_for_kubectl_explain(crd: dict[str, Any]) -> None:
    root = crd_schema(crd)
    for part in ("spec", "status"):
        for path, node in walk(root["properties"][part], part):
            if "[" not in path.rsplit(".", 1)[-1]:
                assert node.get("description"), f"{path} has no description"


def test_run_crd_names_columns_and_status_subresource() -> None:
    crd = schema.build_run_crd()
    names = crd["spec"]["names"]
    assert names["shortNames"] == ["apr"]
    assert names["categories"] == ["autopack"]
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"]]
    assert columns == [
        "Phase",
        "Progress",
        "Cost",
        "Age",
        "Message",
        "Profile",
        "Budget",
        "Pull Request",
    ]
    wide = [c["name"] for c in version["additionalPrinterColumns"] if c.get("priority")]
    assert wide == ["Profile", "Budget", "Pull Request"]
    phase_names = schema.build_phase_crd()["spec"]["names"]
    assert phase_names["shortNames"] == ["aph"]
    assert phase_names["categories"] == ["autopack"]


def test_defaults_and_enums_reach_the_schema() -> None:
    spec = crd_schema(schema.build_run_crd())["properties"]["spec"]
    budgets = spec["properties"]["budgets"]
    assert budgets["default"] == {}
    assert budgets["properties"]["tokens"]["default"] == 2_000_000
    assert budgets["properties"]["costUSD"]["minimum"] == 0
    assert budgets["properties"]["costUSD"]["exclusiveMinimum"] is True
    assert spec["properties"]["approval"]["properties"]["policy"]["enum"] == [
        "auto",
        "risky",
        "always",
    ]
    assert spec["required"] == ["repo"]
    assert "default" not in spec["properties"]["repo"]


def test_conditions_are_list_maps_keyed_by_type() -> None:
    status = crd_schema(schema.build_run_crd())["properties"]["status"]
    conditions = status["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert conditions["items"]["required"] == ["type", "status", "lastTransitionTime", "reason"]


def full_run_status() -> dict[str, Any]:
    return {
        "observedGeneration": 2,
        "phase": "Running",
        "conditions": [
            {
                "type": "Succeeded",
                "status": "Unknown",
                "observedGeneration": 2,
                "lastTransitionTime": "2026-01-01T00:00:00Z",
                "reason": "Running",
                "message": "phase 2 of 3",
            }
        ],
        "progress": "1/3",
        "currentPhase": "demo-p01",
        "phaseCounts": {
            "total": 3,
            "queued": 1,
            "running": 1,
            "awaitingApproval": 0,
            "complete": 1,
            "failed": 0,
            "skipped": 0,
        },
        "usage": {
            "inputTokens": 10,
            "outputTokens": 5,
            "cacheReadTokens": 3,
            "cacheWriteTokens": 2,
            "costUSD": 0.01,
            "llmCalls": 2,
        },
        "startedAt": "2026-01-01T00:00:00Z",
        "finishedAt": "2026-01-01T01:00:00Z",
        "jobName": "demo-runner-1",
        "runnerRestarts": 1,
        "models": {"profile": "default", "used": ["claude-sonnet"]},
        "budget": {
            "costUSD": 0.01,
            "costLimitUSD": 10.0,
            "tokens": 20,
            "tokenLimit": 2000000,
            "unrecordedTokens": 3,
            "unrecordedCostUSD": 0.001,
        },
        "result": {"branch": "autopack/demo", "commit": "abc123"},
        "message": "building phase 2",
        "hint": "Review the waiting phase and approve it",
    }


def test_every_run_status_field_survives_structural_pruning() -> None:
    status = full_run_status()
    assert set(status) == {f.alias for f in AutopackRunStatus.model_fields.values()}
    assert prune(status, crd_schema(schema.build_run_crd())["properties"]["status"]) == status


def test_every_phase_status_field_survives_structural_pruning() -> None:
    status = {
        "state": "Validating",
        "attempts": 2,
        "model": "claude-sonnet",
        "usage": {
            "inputTokens": 1,
            "outputTokens": 1,
            "cacheReadTokens": 0,
            "cacheWriteTokens": 0,
            "costUSD": 0.5,
            "llmCalls": 1,
        },
        "planUsage": {
            "inputTokens": 3,
            "outputTokens": 4,
            "cacheReadTokens": 0,
            "cacheWriteTokens": 0,
            "costUSD": 0.01,
            "llmCalls": 1,
        },
        "ledger": {
            "reservedTokens": 5000,
            "reservedCostUSD": 0.25,
            "unrecordedTokens": 1200,
            "unrecordedCostUSD": 0.05,
        },
        "ci": {
            "passed": 10,
            "failed": 1,
            "newFailures": ["tests/test_a.py::test_x"],
            "baselineFailures": 1,
        },
        "audit": {"verdict": "changes_requested", "summary": "missing docs"},
        "diff": {"files": 2, "additions": 10, "deletions": 3},
        "commit": "abc",
        "failure": {"signature": "ImportError: no module named <mod>", "mitigation": "pip"},
        "drift": {
            "score": 0.61,
            "threshold": 0.3,
            "verdict": "on_goal",
            "provider": "minilm",
            "lexical": False,
        },
        "conditions": [],
        "startedAt": "2026-01-01T00:00:00Z",
        "finishedAt": "2026-01-01T00:10:00Z",
    }
    assert set(status) == {f.alias for f in PhaseStatus.model_fields.values()}
    assert prune(status, crd_schema(schema.build_phase_crd())["properties"]["status"]) == status
    PhaseStatus.model_validate(status, by_alias=True)


def cel_rules(crd: dict[str, Any], path: str) -> list[dict[str, str]]:
    node = crd_schema(crd)
    for part in filter(None, path.split(".")):
        node = node["properties"][part]
    rules: list[dict[str, str]] = node["x-kubernetes-validations"]
    return rules


def evaluate(rule: str, **variables: Any) -> bool:
    env = celpy.Environment()
    program = env.program(env.compile(rule))
    activation = {name: json_to_cel(value) for name, value in variables.items()}
    return bool(program.evaluate(activation))


def rule_verdicts(crd: dict[str, Any], path: str, **variables: Any) -> dict[str, bool]:
    return {r["message"]: evaluate(r["rule"], **variables) for r in cel_rules(crd, path)}


def test_cel_rules_refuse_what_the_python_models_refuse() -> None:
    crd = schema.build_run_crd()
    good = a_run().dict()["spec"]
    assert all(rule_verdicts(crd, "spec", self=good).values())
    empty = {**good, "phases": [], "plan": ""}
    no_plan = "give spec.plan (text) or spec.phases (a list); both are empty"
    assert rule_verdicts(crd, "spec", self=empty)[no_plan] is False
    same_branch = {**good, "repo": {**good["repo"], "ref": "main", "pushBranch": "main"}}
    assert not all(rule_verdicts(crd, "spec", self=same_branch).values())
    duplicated = a_run().phase("B", id="x").phase("C", id="x").dict()["spec"]
    assert rule_verdicts(crd, "spec", self=duplicated)["phase ids must be unique"] is False
    mixed = a_run().phase("B", id="x").phase("C", id="y").dict()["spec"]
    assert rule_verdicts(crd, "spec", self=mixed)["phase ids must be unique"] is True


def test_cel_rules_guard_name_length_and_immutable_fields() -> None:
    crd = schema.build_run_crd()
    assert not all(rule_verdicts(crd, "", self={"metadata": {"name": "a" * 46}}).values())
    assert all(rule_verdicts(crd, "", self={"metadata": {"name": "a" * 45}}).values())
    repo = {"url": "https://a/x.git", "ref": "main"}
    moved = {"url": "https://b/y.git", "ref": "main"}
    assert all(rule_verdicts(crd, "spec.repo", self=repo, oldSelf=repo).values())
    assert not all(rule_verdicts(crd, "spec.repo", self=moved, oldSelf=repo).values())
    phase_crd = schema.build_phase_crd()
    spec = a_phase().to_api()["spec"]
    assert all(rule_verdicts(phase_crd, "spec.index", self=1, oldSelf=1).values())
    assert not all(
        rule_verdicts(phase_crd, "spec.runName", self="b", oldSelf=spec["runName"]).values()
    )
