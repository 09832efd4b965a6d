"""Mitigation actions on real directories, with a real pip into a real virtualenv."""

import os
import stat
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

from autopack.hardening.actions import (
    ACTIONS,
    MitigationContext,
    add_python_dependency,
    fix_working_directory,
    make_executable,
    point_at_tests,
    project_python,
    run_command,
)
from autopack.hardening.registry import load_hardening_config
from tests.builders.python_env import make_wheel


def context(root: Path, **overrides: object) -> MitigationContext:
    values: dict[str, object] = {
        "root": root,
        "run": run_command(root),
        "allowed_paths": ["src/"],
        "test_command": "python -m pytest -q",
    }
    values.update(overrides)
    return MitigationContext(**values)  # type: ignore[arg-type]


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
    result = add_python_dependency(
        {"module": "tinydep"},
        context(
            root,
            test_command=f"{python} -m pytest -q",
            allowed_installs={"python": ["tinydep"]},
        ),
    )
    assert result.applied, result.description
    assert result.changed_files == ["requirements.txt"]
    assert result.installs == [
        f"{python} -m pip install --quiet tinydep (allowed by allowed_installs): installed"
    ]
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
    ctx = context(
        tmp_path,
        run=lambda argv: (0, ""),
        python_distributions={"yaml": "pyyaml"},
        allowed_installs={"python": ["PyYAML"]},
    )
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


def test_a_project_without_a_dependency_list_gets_one(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
    )
    ctx = context(tmp_path, run=lambda argv: (0, ""), allowed_installs={"python": ["tinydep"]})
    result = add_python_dependency({"module": "tinydep"}, ctx)
    assert result.changed_files == ["pyproject.toml"]
    document = tomllib.loads((tmp_path / "pyproject.toml").read_text())
    assert document["project"]["dependencies"] == ["tinydep"]
    assert document["tool"]["pytest"]["ini_options"] == {"testpaths": ["tests"]}


def test_poetry_dependencies_and_spelling_variants_are_recognised(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.poetry]\nname = "x"\n\n[tool.poetry.dependencies]\npython = "^3.11"\n'
        'Python_Dateutil = "^2.9"\n'
    )
    ctx = context(
        tmp_path,
        run=lambda argv: (0, ""),
        python_distributions={"dateutil": "python-dateutil"},
        allowed_installs={"python": ["attr"]},
    )
    assert add_python_dependency({"module": "dateutil"}, ctx).applied
    assert add_python_dependency({"module": "attr"}, ctx).applied
    poetry = tomllib.loads((tmp_path / "pyproject.toml").read_text())["tool"]["poetry"]
    assert poetry["dependencies"] == {"python": "^3.11", "Python_Dateutil": "^2.9", "attr": "*"}


def test_requirements_with_versions_are_not_declared_twice(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("PyYAML>=6.0  # config\nrich\n")
    ctx = context(tmp_path, run=lambda argv: (0, ""), python_distributions={"yaml": "pyyaml"})
    assert add_python_dependency({"module": "yaml"}, ctx).applied
    assert (tmp_path / "requirements.txt").read_text() == "PyYAML>=6.0  # config\nrich\n"


def test_the_dependency_is_installed_with_the_interpreter_the_tests_use(tmp_path: Path) -> None:
    env_dir = tmp_path / ".venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    (env_dir / "bin" / "pytest").write_text("#!/bin/sh\n")
    (env_dir / "bin" / "pytest").chmod(0o755)
    python = str(env_dir / "bin" / "python")
    assert project_python(".venv/bin/python -m pytest -q", tmp_path) == python
    assert project_python("PYTHONHASHSEED=0 .venv/bin/pytest -q", tmp_path) == python
    assert project_python(f"cd backend && {python} -m pytest", tmp_path) == python
    assert project_python("npm test", tmp_path) == sys.executable
    assert project_python("", tmp_path) == sys.executable
    calls: list[list[str]] = []

    def run(argv: object) -> tuple[int, str]:
        calls.append(list(argv))  # type: ignore[call-overload]
        return 0, ""

    (tmp_path / "requirements.txt").write_text("tinydep==1.0\n")
    ctx = context(tmp_path, run=run, test_command=".venv/bin/python -m pytest")
    assert add_python_dependency({"module": "tinydep"}, ctx).applied
    assert calls == [[python, "-m", "pip", "install", "--quiet", "tinydep"]]
