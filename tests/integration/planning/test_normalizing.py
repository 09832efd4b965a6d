"""Plan normalization and preflight against a real multi-package repository."""

import shutil
from pathlib import Path

import pytest

from autopack.api import AutopackRunSpec
from autopack.api.phase import Scope
from autopack.planning import (
    NormalizedPlan,
    PlanUnusableError,
    load_planning_config,
    normalize_plan,
    preflight,
    scan_repository,
)
from tests.builders.api import a_run
from tests.builders.monorepo import make_monorepo

CONFIG = load_planning_config()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_monorepo(tmp_path / "shop")


def normalize(spec: AutopackRunSpec, repo: Path, **kwargs) -> NormalizedPlan:  # type: ignore[no-untyped-def]
    scan = scan_repository(repo)
    return normalize_plan(
        spec,
        scan=scan,
        config=CONFIG,
        test_command=kwargs.pop("test_command", "pytest -q"),
        **kwargs,
    )


def covers(allowed: list[str] | tuple[str, ...], path: str) -> bool:
    return any(path == a or (a.endswith("/") and path.startswith(a)) for a in allowed)


def spec_with_plan(text: str, **budgets: object) -> AutopackRunSpec:
    builder = a_run().set("spec.phases", []).plan(text)
    if budgets:
        builder.budget(**budgets)
    return builder.obj().spec


def test_scan_respects_gitignore(repo: Path) -> None:
    scan = scan_repository(repo)
    assert "services/auth/auth/tokens.py" in scan.files
    assert not any(p.startswith(("web/node_modules/", "build/")) for p in scan.files)
    assert scan.method == "git"


def test_scan_without_git_honours_the_root_gitignore(repo: Path) -> None:
    shutil.rmtree(repo / ".git")
    scan = scan_repository(repo)
    assert scan.method == "walk"
    assert "web/src/components/Cart.tsx" in scan.files
    assert not any("node_modules" in p or p.endswith(".log") for p in scan.files)


def test_scan_stops_at_its_bound_and_says_so(repo: Path) -> None:
    scan = scan_repository(repo, max_files=3)
    assert scan.truncated
    assert len(scan.files) == 3


def test_tagged_markdown_becomes_phases_with_no_model_call(repo: Path) -> None:
    def planner(_: str) -> tuple[list[dict[str, object]], int]:
        raise AssertionError("the planner must not be called for a tagged plan")

    plan = normalize(
        spec_with_plan(
            "## Add JWT auth [complexity:high] [paths:services/auth/]\n"
            "Issue signed tokens.\n- Deliverables: services/auth/auth/jwt.py\n- tokens expire\n"
        ),
        repo,
        planner=planner,
    )
    assert (plan.source, plan.model_calls) == ("markdown", 0)
    phase = plan.phases[0]
    assert phase.complexity == "high"
    assert phase.scope.allowed_paths == ["services/auth/"]
    assert plan.provenance[0].scope.sources == "explicit"
    assert phase.budgets.tokens == 600_000
    assert phase.budgets.cost_usd == 5.0
    assert plan.provenance[0].validation == "toolchain tests: pytest -q"
    assert preflight(plan, spec=spec_with_plan("x"), scan=scan_repository(repo)).ok


def test_scope_is_inferred_from_deliverables_and_words(repo: Path) -> None:
    spec = (
        a_run()
        .set("spec.phases", [])
        .phase(
            "Add invoice totals",
            goal="Invoices compute totals with tax",
            deliverables=["services/billing/billing/invoices.py::total_with_tax"],
        )
        .obj()
        .spec
    )
    plan = normalize(spec, repo)
    inferred = plan.provenance[0].scope
    assert covers(inferred.allowed_paths, "services/billing/billing/invoices.py")
    assert covers(inferred.allowed_paths, "services/billing/tests/test_invoices.py")
    assert "services/auth/" not in " ".join(inferred.allowed_paths)
    assert inferred.confidence == 0.95
    reasons = {e.path: e.reason for e in inferred.evidence}
    assert reasons["services/billing/tests/test_invoices.py"] == (
        "tests of services/billing/billing/invoices.py"
    )


def test_keyword_only_scope_finds_the_right_package(repo: Path) -> None:
    plan = normalize(
        spec_with_plan(
            "- Harden login tokens: refresh tokens on login [complexity:medium]\n  - ok\n"
        ),
        repo,
    )
    paths = plan.phases[0].scope.allowed_paths
    assert any(p.startswith("services/auth/") for p in paths), paths
    assert not any(p.startswith("services/billing/") for p in paths), paths
    assert 0 < plan.provenance[0].scope.confidence <= 0.8


def test_messy_notes_go_to_the_planner_once(repo: Path) -> None:
    calls: list[str] = []

    def planner(text: str) -> tuple[list[dict[str, object]], int]:
        calls.append(text)
        return (
            [
                {
                    "title": "Add JWT auth",
                    "goal": "Issue and verify JWTs on login",
                    "deliverables": ["services/auth/auth/jwt.py"],
                    "complexity": "high",
                },
                {
                    "title": "Write API docs",
                    "goal": "Document the endpoints",
                    "deliverables": ["docs/api.md"],
                    "category": "docs",
                },
            ],
            1,
        )

    plan = normalize(
        spec_with_plan("we need auth somehow, maybe JWT? and write docs"), repo, planner=planner
    )
    assert len(calls) == 1
    assert (plan.source, plan.model_calls) == ("planner", 1)
    assert [p.title for p in plan.phases] == ["Add JWT auth", "Write API docs"]
    assert covers(plan.phases[0].scope.allowed_paths, "services/auth/auth/jwt.py")


def test_messy_notes_without_a_planner_explain_what_to_do(repo: Path) -> None:
    with pytest.raises(PlanUnusableError, match=r"tag the markdown phases"):
        normalize(spec_with_plan("we need auth somehow"), repo)


def test_preflight_rejects_paths_outside_the_repository(repo: Path) -> None:
    escaping = {"allowedPaths": ["../other/", "/etc/passwd", ".git/hooks/"]}
    with pytest.raises(ValueError, match=r"contains '\.\.'"):  # a run file cannot say it ...
        a_run().set("spec.phases", []).phase("Escape", scope=escaping).obj()
    spec = a_run().set("spec.phases", []).phase("Escape").obj().spec
    # ... but a planned phase can: preflight refuses it too.
    spec.phases[0] = spec.phases[0].model_copy(
        update={"scope": Scope.model_validate(escaping, by_alias=True)}
    )
    plan = normalize(spec, repo)
    errors = [str(e) for e in preflight(plan, spec=spec, scan=scan_repository(repo)).errors]
    assert errors == [
        "phase 0 'Escape': scope.allowedPaths: '../other/' leaves the repository through '..'",
        "phase 0 'Escape': scope.allowedPaths: '/etc/passwd' is absolute; use a path relative "
        "to the repository root",
        "phase 0 'Escape': scope.allowedPaths: '.git/hooks/' is inside .git/, which is never "
        "editable",
    ]


def test_preflight_rejects_a_phase_without_deliverables(repo: Path) -> None:
    spec = a_run().set("spec.phases", []).phase("Vague", deliverables=[]).obj().spec
    report = preflight(normalize(spec, repo), spec=spec, scan=scan_repository(repo))
    assert "phase 0 'Vague': deliverables: none given; name at least one file or directory " in (
        "\n".join(str(e) for e in report.errors) + " "
    )


def test_preflight_rejects_budgets_above_the_run(repo: Path) -> None:
    spec = (
        a_run()
        .set("spec.phases", [])
        .budget(tokens=100_000, costUSD=1.0)
        .phase("Big", budgets={"tokens": 500_000, "costUSD": 3.0})
        .obj()
        .spec
    )
    errors = [
        str(e)
        for e in preflight(normalize(spec, repo), spec=spec, scan=scan_repository(repo)).errors
    ]
    assert errors == [
        "phase 0 'Big': budgets.tokens: 500,000 exceeds the run's budget of 100,000 tokens; "
        "lower it or raise spec.budgets.tokens",
        "phase 0 'Big': budgets.costUSD: $3.00 exceeds the run's budget of $1.00; lower it or "
        "raise spec.budgets.costUSD",
    ]


def test_default_budgets_are_capped_by_the_run(repo: Path) -> None:
    spec = a_run().budget(tokens=50_000, costUSD=0.5).obj().spec
    plan = normalize(spec, repo)
    assert plan.phases[0].budgets.tokens == 50_000
    assert plan.phases[0].budgets.cost_usd == 0.5
    assert preflight(plan, spec=spec, scan=scan_repository(repo)).ok


def test_preflight_needs_validation_or_a_test_command(repo: Path) -> None:
    spec = a_run().obj().spec
    plan = normalize(spec, repo, test_command=None)
    errors = [str(e) for e in preflight(plan, spec=spec, scan=scan_repository(repo)).errors]
    assert errors == [
        "phase 0 'Add a greeting': validation: no validation command and no test command "
        "detected for the repository; add validation commands or spec.toolchain.test"
    ]


def test_preflight_rejects_dependencies_on_later_phases(repo: Path) -> None:
    with pytest.raises(ValueError, match="does not come before it"):  # a run file cannot ...
        (
            a_run()
            .set("spec.phases", [])
            .phase("First", id="first", dependsOn=["second"])
            .phase("Second", id="second")
            .obj()
        )
    spec = (
        (a_run().set("spec.phases", []).phase("First", id="first").phase("Second", id="second"))
        .obj()
        .spec
    )
    # ... but a planned phase can: preflight refuses it too.
    spec.phases[0] = spec.phases[0].model_copy(update={"depends_on": ["second"]})
    errors = [
        str(e)
        for e in preflight(normalize(spec, repo), spec=spec, scan=scan_repository(repo)).errors
    ]
    assert errors == [
        "phase 0 'First': dependsOn: 'second' is phase 1, which does not run before this one; "
        "reorder the phases"
    ]
