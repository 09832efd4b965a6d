import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from autopack.cli.app import app

runner = CliRunner()
DEMO = Path(__file__).resolve().parents[3] / "examples" / "demo" / "project"


def test_inspect_prints_toolchains_and_a_baseline_as_json(tmp_path: Path) -> None:
    project = tmp_path / "p"
    shutil.copytree(DEMO, project)
    (project / "tests" / "test_known.py").write_text("def test_known():\n    assert False\n")
    result = runner.invoke(app, ["inspect", str(project), "--baseline", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    [python] = document["toolchains"]
    assert (python["name"], python["test"]) == ("python", "python -m pytest -q")
    assert "pyproject.toml (pyproject.toml)" in python["evidence"]
    assert document["baseline"]["passed"] == 30
    assert document["baseline"]["failing"] == ["tests.test_known::test_known"]


def test_inspect_without_any_test_command_says_what_it_looked_for(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    result = runner.invoke(app, ["inspect", str(tmp_path)])
    assert result.exit_code == 1
    assert "no test command found" in result.stderr
    assert "pyproject.toml" in result.stderr
    assert "package.json" in result.stderr
