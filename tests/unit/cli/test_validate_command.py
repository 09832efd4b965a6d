from pathlib import Path

import pytest
from typer.testing import CliRunner

from autopack.cli.app import app
from tests.builders.api import a_run

REPO = Path(__file__).resolve().parents[3]
runner = CliRunner()


def test_examples_are_valid_and_summarised_one_line_each() -> None:
    examples = sorted(str(p) for p in (REPO / "examples").glob("*.yaml"))
    assert examples
    result = runner.invoke(app, ["validate", *examples])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(examples)
    assert all(line.startswith("✓ ") and ": AutopackRun " in line for line in lines)


def test_invalid_file_exits_1_with_precise_errors_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(a_run().budget(tokens=-1).set("spec.colour", "red").yaml())
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}: document 1: spec.budgets.tokens: must be greater than or equal to 1000" in (
        result.stderr
    )
    assert f"{path}: document 1: spec.colour: unknown field" in result.stderr
    assert "2 error(s) found" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "holds no YAML documents"),
        (b"\xff\xfe\x00binary", "not UTF-8 text"),
        (b"a: [", "not valid YAML: line 1"),
    ],
)
def test_unusable_files_fail_cleanly(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_missing_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "cannot read file: No such file or directory" in result.stderr


def test_good_and_bad_files_together_report_both_and_fail(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(a_run("good").yaml())
    bad = tmp_path / "bad.yaml"
    bad.write_text(a_run("bad").unset("spec.repo.url").yaml())
    result = runner.invoke(app, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert "AutopackRun good" in result.stdout
    assert "spec.repo.url: required field is missing" in result.stderr
