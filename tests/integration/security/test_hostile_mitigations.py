"""Mitigations follow the run's rules: no install from test output alone, no stray changes."""

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from autopack.api import PhaseDefinition
from autopack.hardening import actions
from autopack.hardening.mitigator import Mitigator
from autopack.hardening.registry import load_hardening_config


class Recorder:
    """A command runner that records argv and answers with a fixed exit code."""

    def __init__(self, code: int = 0) -> None:
        self.code = code
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> tuple[int, str]:
        self.calls.append(list(argv))
        return self.code, "boom" if self.code else ""


def context(root: Path, run: Recorder, **overrides: object) -> actions.MitigationContext:
    values: dict[str, object] = {
        "root": root,
        "run": run,
        "allowed_paths": ["src/"],
        "test_command": "python -m pytest -q",
    }
    values.update(overrides)
    return actions.MitigationContext(**values)  # type: ignore[arg-type]


def test_a_name_read_only_from_test_output_is_never_installed(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = []\n')
    before = (tmp_path / "pyproject.toml").read_bytes()
    run = Recorder()
    # A collection error printed "No module named 'test_'": not a dependency of the project.
    result = actions.add_python_dependency({"module": "test_"}, context(tmp_path, run))
    assert not result.applied
    assert run.calls == []
    assert "not declared by the project" in result.description
    assert "does not declare the distribution 'test_'" in result.feedback[0]
    assert (tmp_path / "pyproject.toml").read_bytes() == before


@pytest.mark.parametrize(
    ("files", "module", "distribution"),
    [
        ({"requirements-dev.txt": "requests>=2\n"}, "requests", "requests"),
        ({"pyproject.toml": '[project]\nname="x"\ndependencies=["PyYAML>=6"]\n'}, "yaml", "pyyaml"),
        (
            {
                "pyproject.toml": '[project]\nname="x"\n[project.optional-dependencies]\nt=["rich"]\n'
            },
            "rich",
            "rich",
        ),
        ({"poetry.lock": '[[package]]\nname = "attrs"\nversion = "1"\n'}, "attr", "attrs"),
        ({"Pipfile": '[dev-packages]\nhttpx = "*"\n'}, "httpx", "httpx"),
    ],
)
def test_a_declared_dependency_is_installed_without_touching_any_file(
    tmp_path: Path, files: dict[str, str], module: str, distribution: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    run = Recorder()
    ctx = context(tmp_path, run, python_distributions={"yaml": "pyyaml", "attr": "attrs"})
    result = actions.add_python_dependency({"module": module}, ctx)
    assert result.applied, result.description
    assert result.changed_files == []
    assert run.calls[0][-1] == distribution
    assert "declared in" in result.installs[0]
    for name, text in files.items():
        assert (tmp_path / name).read_text() == text


def test_a_failed_install_leaves_the_dependency_files_as_they_were(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    before = (tmp_path / "pyproject.toml").read_bytes()
    run = Recorder(code=1)
    ctx = context(tmp_path, run, allowed_installs={"python": ["tinydep"]})
    result = actions.add_python_dependency({"module": "tinydep"}, ctx)
    assert not result.applied
    assert (tmp_path / "pyproject.toml").read_bytes() == before
    assert result.installs == [
        f"{actions.project_python(ctx.test_command, tmp_path)} -m pip install "
        "--quiet tinydep (allowed by allowed_installs): failed, exit 1"
    ]


def test_node_modules_are_installed_only_when_package_json_declares_them(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"devDependencies": {"left-pad": "1"}}))
    run = Recorder()
    refused = actions.add_node_dependency({"module": "evil-pkg"}, context(tmp_path, run))
    assert not refused.applied
    assert run.calls == []
    installed = actions.add_node_dependency({"module": "left-pad"}, context(tmp_path, run))
    assert installed.applied
    assert run.calls == [["npm", "install"]]


def test_the_mitigator_rolls_back_a_failed_mitigation_and_records_installs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "requirements.txt").write_text("requests\n")
    config = load_hardening_config().model_copy(update={"allowed_installs": {"python": ["zzz"]}})
    mitigator = Mitigator(root=tmp_path, gates=object(), config=config)

    def failing(root: Path, sandbox: object = None) -> actions.CommandRunner:
        return Recorder(code=1)

    monkeypatch.setattr(actions, "run_command", failing)
    phase = PhaseDefinition(title="t", goal="g")
    mitigation = mitigator.mitigate(
        category="ci", message="ModuleNotFoundError: No module named 'zzz'", phase=phase
    )
    assert mitigation is not None
    assert not mitigation.applied
    assert len(mitigation.installs) == 1
    assert "failed, exit 1" in mitigation.installs[0]
    assert (tmp_path / "requirements.txt").read_text() == "requests\n"


def test_installs_never_see_autopack_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-mitigation-canary-0123456789")
    monkeypatch.setenv("AUTOPACK_GIT_TOKEN", "ghp_mitigationcanary0123456789abcd")
    run = actions.run_command(tmp_path)
    code, output = run(["env"])
    assert code == 0
    assert "canary" not in output
    assert "ANTHROPIC_API_KEY" not in output
    assert "AUTOPACK_" not in output.replace("AUTOPACK_SANDBOX_COMMAND", "")
