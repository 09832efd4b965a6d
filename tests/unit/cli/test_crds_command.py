from pathlib import Path

from typer.testing import CliRunner

from autopack.api import schema
from autopack.cli.app import app

runner = CliRunner()


def test_crds_writes_both_files_then_check_passes(tmp_path: Path) -> None:
    result = runner.invoke(app, ["crds", "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "autopackruns.autopack.dev.yaml",
        "phases.autopack.dev.yaml",
    ]
    assert runner.invoke(app, ["crds", "--check", "--output", str(tmp_path)]).exit_code == 0


def test_check_fails_on_drift_and_says_how_to_fix(tmp_path: Path) -> None:
    runner.invoke(app, ["crds", "--output", str(tmp_path)])
    (tmp_path / "phases.autopack.dev.yaml").write_text("edited by hand\n")
    result = runner.invoke(app, ["crds", "--check", "--output", str(tmp_path)])
    assert result.exit_code == 1
    assert "phases.autopack.dev.yaml (differs)" in result.stderr
    assert "run `autopack crds --output" in result.stderr


def test_check_fails_when_files_are_missing(tmp_path: Path) -> None:
    result = runner.invoke(app, ["crds", "--check", "--output", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "(missing)" in result.stderr


def test_generated_files_start_with_do_not_edit_header(tmp_path: Path) -> None:
    runner.invoke(app, ["crds", "--output", str(tmp_path)])
    text = (tmp_path / "autopackruns.autopack.dev.yaml").read_text()
    assert text.startswith(schema.GENERATED_HEADER)
