"""Messy notes become grounded phases through the Planner role (scripted provider)."""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from autopack.engine.wiring import RoutedCalls, model_factory, model_planner
from autopack.llm.pricing import load_prices
from autopack.llm.routed import RoutedModels
from autopack.llm.routing import load_models_config
from autopack.llm.scripted import Cassette
from autopack.planning import (
    PlanUnusableError,
    load_planning_config,
    normalize_plan,
    preflight,
    scan_repository,
)
from tests.builders.api import a_run
from tests.builders.monorepo import make_monorepo

NOTES = "we need auth somehow, maybe JWT? also fix the flaky tests and write docs"

PLANNED = {
    "phases": [
        {
            "title": "Add JWT authentication",
            "goal": "Issue and verify JWTs on login",
            "deliverables": ["services/auth/auth/jwt.py"],
            "allowedPaths": ["services/auth/"],
            "acceptanceCriteria": ["a bad signature is rejected"],
            "complexity": "high",
            "category": "feature",
        },
        {
            "title": "Fix the flaky token tests",
            "goal": "Make tests/test_tokens.py deterministic",
            "deliverables": ["services/auth/tests/test_tokens.py"],
            "allowedPaths": ["services/auth/tests/"],
            "complexity": "low",
            "category": "tests",
        },
        {
            "title": "Document the API",
            "goal": "Describe the login and token endpoints",
            "deliverables": ["docs/api.md"],
            "allowedPaths": ["docs/"],
            "complexity": "low",
            "category": "docs",
        },
    ]
}


def planner_for(responses: list[str], root: Path) -> tuple[Any, Cassette]:
    cassette = Cassette.from_data({"responses": {"planner": [{"text": t} for t in responses]}})
    models = RoutedModels(
        config=load_models_config(),
        prices=load_prices(),
        profile="scripted",
        run="notes",
        run_tokens=1_000_000,
        run_cost=Decimal(10),
        record=lambda call: None,
        factory=model_factory(cassette=cassette, record=None),
    )
    return model_planner(RoutedCalls(models), root), cassette


def normalize_notes(repo: Path, planner: Any) -> Any:
    spec = a_run("notes").set("spec.phases", []).plan(NOTES).obj().spec
    scan = scan_repository(repo)
    plan = normalize_plan(
        spec, scan=scan, config=load_planning_config(), test_command="pytest", planner=planner
    )
    return plan, preflight(plan, spec=spec, scan=scan)


def test_messy_notes_become_sensible_grounded_phases(tmp_path: Path) -> None:
    repo = make_monorepo(tmp_path / "shop")
    planner, cassette = planner_for([json.dumps(PLANNED)], repo)
    plan, report = normalize_notes(repo, planner)
    assert (plan.source, plan.model_calls) == ("planner", 1)
    assert [p.title for p in plan.phases] == [
        "Add JWT authentication",
        "Fix the flaky token tests",
        "Document the API",
    ]
    assert plan.phases[0].scope.allowed_paths == ["services/auth/"]
    assert plan.phases[2].category == "docs"
    assert report.ok, [str(e) for e in report.errors]
    assert "services/auth/auth/tokens.py" in cassette.requests[0][1]  # grounded in the repo


def test_invalid_planner_output_is_reasked_once_with_the_errors(tmp_path: Path) -> None:
    repo = make_monorepo(tmp_path / "shop")
    broken = json.dumps({"phases": [{"title": "Auth", "goal": "JWT"}]})
    planner, cassette = planner_for([broken, "```json\n" + json.dumps(PLANNED) + "\n```"], repo)
    plan, _ = normalize_notes(repo, planner)
    assert plan.model_calls == 2
    reask = cassette.requests[1][1]
    assert "phases.0.deliverables: Field required" in reask
    assert "phases.0.allowedPaths: Field required" in reask


def test_planner_failing_twice_makes_the_plan_invalid(tmp_path: Path) -> None:
    repo = make_monorepo(tmp_path / "shop")
    planner, _ = planner_for(["no json here", "still none"], repo)
    with pytest.raises(PlanUnusableError, match="did not validate twice: the answer is not JSON"):
        normalize_notes(repo, planner)
