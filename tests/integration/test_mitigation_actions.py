"""Mitigation actions on real directories, with a real pip into a real virtualenv."""

import os
import stat
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from autopack.hardening.actions import (
    ACTIONS,
    MitigationContext,
    add_python_dependency,
    fix_working_directory,
    make_executable,
    point_at_tests,
    run_command,
)
from autopack.hardening.registry import load_hardening_config


def context(root: Path, **overrides: object) -> MitigationContext:
    values: dict[str, object] = {
        "root": root,
        "run": run_command(root),
        "allowed_paths": ["src/"],
        "test_command": "python -m pytest -q",
    }
    values.update(overrides)
    return MitigationContext(**values)  # type: ignore[arg-type]


def make_wheel(directory: Path, name: str) -> Path:
    """Write a minimal pure-Python wheel for ``name`` (no network, no build backend)."""
    wheel = directory / f"{name}-1.0-py3-none-any.whl"
    info = f"{name}-1.0.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{name}/__init__.py", "VALUE = 42\n")
        archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        archive.writestr(
            f"{info}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        archive.writestr(f"{info}/RECORD", "")
    return wheel


@pytest.mark.slow
def test_missing_module_is_declared_and_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "requirements.txt").write_text("requests\n")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "tinydep")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    monkeypatch.setattr(sys, "executable", str(python))
    result = add_python_dependency({"module": "tinydep"}, context(root))
    assert result.applied, result.description
    assert result.changed_files == ["requirements.txt"]
    assert (root / "requirements.txt").read_text() == "requests\ntinydep\n"
    check = subprocess.run(
        [str(python), "-c", "import tinydep; print(tinydep.VALUE)"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.stdout.strip() == "42"


def test_dependency_is_added_to_pyproject_once(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = [\n    "rich",\n]\n'
    )
    ctx = context(tmp_path, run=lambda argv: (0, ""), python_distributions={"yaml": "pyyaml"})
    assert add_python_dependency({"module": "yaml"}, ctx).applied
    assert add_python_dependency({"module": "yaml"}, ctx).applied
    text = (tmp_path / "pyproject.toml").read_text()
    assert text.count('"pyyaml"') == 1
    assert '"rich",\n    "pyyaml",' in text


def test_a_local_package_is_not_treated_as_a_dependency(tmp_path: Path) -> None:
    (tmp_path / "mylib").mkdir()
    result = add_python_dependency({"module": "mylib"}, context(tmp_path, run=lambda argv: (0, "")))
    assert not result.applied
    assert "part of the repository" in result.description


def test_tests_run_from_the_directory_that_holds_them(tmp_path: Path) -> None:
    (tmp_path / "backend" / "tests" / "unit").mkdir(parents=True)
    (tmp_path / "backend" / "tests" / "unit" / "test_a.py").write_text("")
    result = fix_working_directory({"path": "tests/unit"}, context(tmp_path))
    assert result.applied
    assert result.test_command == "cd backend && python -m pytest -q"


def test_discovery_failure_points_at_the_test_directory(tmp_path: Path) -> None:
    (tmp_path / "test").mkdir()
    result = point_at_tests({}, context(tmp_path))
    assert result.test_command == "python -m pytest -q test"


def test_script_gets_its_execute_bit(tmp_path: Path) -> None:
    script = tmp_path / "scripts" / "check.sh"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)
    result = make_executable({"path": "scripts/check.sh"}, context(tmp_path))
    assert result.applied
    assert script.stat().st_mode & stat.S_IXUSR
    assert os.access(script, os.X_OK)


def test_scripts_outside_the_repository_are_left_alone(tmp_path: Path) -> None:
    outside = tmp_path / "outside.sh"
    outside.write_text("")
    root = tmp_path / "repo"
    root.mkdir()
    assert not make_executable({"path": "../outside.sh"}, context(root)).applied


def test_every_configured_action_exists() -> None:
    assert {rule.action for rule in load_hardening_config().mitigations} <= set(ACTIONS)
