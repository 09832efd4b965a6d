"""`autopack plan` on a real repository: readable, machine-readable, and changes nothing."""

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from autopack.cli.app import app
from tests.builders.api import RunBuilder
from tests.builders.monorepo import make_monorepo

runner = CliRunner()

PLAN = (
    "## Add JWT auth [complexity:high]\n"
    "Issue signed tokens on login in `services/auth/auth/jwt.py`.\n"
    "- tokens expire after an hour\n"
    "## Invoice totals [category:fix] [paths:services/billing/]\n"
    "- Deliverables: services/billing/billing/totals.py\n"
    "- totals include tax\n"
)


@pytest.fixture
def run_file(tmp_path: Path) -> Path:
    make_monorepo(tmp_path / "repo")
    builder = RunBuilder("shop", repo_url="./repo").set("spec.phases", []).plan(PLAN)
    builder.set("spec.toolchain", {"test": "python -m pytest -q"})
    path = tmp_path / "run.yaml"
    path.write_text(builder.yaml())
    return path


def git_state(repo: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_table_shows_scope_origin_and_confidence(run_file: Path) -> None:
    before = git_state(run_file.parent / "repo")
    result = runner.invoke(app, ["plan", str(run_file)])
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())  # rich wraps at the terminal width
    assert "plan from markdown: 2 tagged markdown phases (no model call)" in out
    assert "0 Add JWT auth [high · feature]" in out
    assert "from deliverable+keyword, confidence 0.85" in out
    assert "from explicit, confidence 1.00" in out
    assert "600,000 tokens · $5.00 · 4 attempts" in out
    assert git_state(run_file.parent / "repo") == before


def test_json_output_carries_provenance(run_file: Path) -> None:
    result = runner.invoke(app, ["plan", str(run_file), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["source"], document["modelCalls"]) == ("markdown", 0)
    auth = document["phases"][0]
    assert auth["scope"]["allowedPaths"][0] == "services/auth/auth/"
    assert auth["provenance"]["scope"]["sources"] == "deliverable+keyword"
    assert auth["provenance"]["validation"] == "toolchain tests: python -m pytest -q"
    assert document["errors"] == []


def test_yaml_output_parses(run_file: Path) -> None:
    result = runner.invoke(app, ["plan", str(run_file), "-o", "yaml"])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout)["phases"][1]["title"] == "Invoice totals"


def test_preflight_errors_exit_1_and_name_phase_and_field(tmp_path: Path) -> None:
    make_monorepo(tmp_path / "repo")
    builder = RunBuilder("bad", repo_url="./repo").set("spec.phases", [])
    builder.plan("- Escape [paths:../elsewhere/]\n  - criterion\n")
    path = tmp_path / "run.yaml"
    path.write_text(builder.yaml())
    result = runner.invoke(app, ["plan", str(path)])
    assert result.exit_code == 1
    assert (
        "phase 0 'Escape': scope.allowedPaths: '../elsewhere/' leaves the repository"
        in result.stderr
    )


def test_messy_notes_without_planner_fail_with_plan_invalid(tmp_path: Path) -> None:
    make_monorepo(tmp_path / "repo")
    builder = RunBuilder("notes", repo_url="./repo").set("spec.phases", [])
    builder.plan("we need auth somehow, maybe JWT? also fix the flaky tests and write docs")
    path = tmp_path / "run.yaml"
    path.write_text(builder.yaml())
    result = runner.invoke(app, ["plan", str(path)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: PlanInvalid: the plan needs the planner model")


def test_remote_repository_needs_a_local_checkout(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(RunBuilder("remote").phase("X").yaml())
    result = runner.invoke(app, ["plan", str(path)])
    assert result.exit_code == 1
    assert "is not a local directory; pass --repo PATH" in result.stderr
