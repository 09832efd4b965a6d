from pathlib import Path

import pytest

from autopack.api import ToolchainSpec
from autopack.toolchains import choose_suite_command, detect


def project(tmp_path: Path, files: dict[str, str]) -> tuple[Path, list[str]]:
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    return tmp_path, sorted(files)


@pytest.mark.parametrize(
    ("files", "name", "install", "test"),
    [
        (
            {"requirements.txt": "", "tests/test_a.py": ""},
            "python",
            "python -m pip install -r requirements.txt",
            "python -m pytest -q",
        ),
        (
            {"pyproject.toml": "", "poetry.lock": ""},
            "python",
            "poetry install",
            "python -m pytest -q",
        ),
        ({"pyproject.toml": "", "uv.lock": ""}, "python", "uv sync", "python -m pytest -q"),
        (
            {"package.json": '{"scripts": {"test": "jest"}}', "yarn.lock": ""},
            "node",
            "yarn install --frozen-lockfile",
            "yarn test",
        ),
        (
            {"package.json": '{"scripts": {"test": "vitest run"}}', "pnpm-lock.yaml": ""},
            "node",
            "pnpm install --frozen-lockfile",
            "pnpm test",
        ),
        (
            {"package.json": '{"scripts": {"test": "node --test"}}', "package-lock.json": "{}"},
            "node",
            "npm ci",
            "node --test",
        ),
        ({"go.mod": "module x", "a_test.go": ""}, "go", "go mod download", "go test -json ./..."),
        ({"Cargo.toml": "", "Cargo.lock": ""}, "rust", "cargo fetch", "cargo test --no-fail-fast"),
        ({"pom.xml": ""}, "java", "mvn -q -B dependency:go-offline", "mvn -q -B test"),
        ({"build.gradle.kts": "", "gradlew": ""}, "java", None, "./gradlew test --no-daemon"),
    ],
)
def test_markers_choose_toolchain_and_commands(
    tmp_path: Path, files: dict[str, str], name: str, install: str | None, test: str
) -> None:
    root, listing = project(tmp_path, files)
    [found] = detect(root, listing)
    assert (found.name, found.install, found.test) == (name, install, test)
    assert found.evidence
    assert 0.3 <= found.confidence <= 1.0


def test_monorepo_finds_each_project_with_its_directory(tmp_path: Path) -> None:
    root, listing = project(
        tmp_path,
        {
            "web/package.json": '{"scripts": {"test": "node --test"}}',
            "api/pyproject.toml": "",
            "api/tests/test_x.py": "",
        },
    )
    found = {(d.name, d.working_dir) for d in detect(root, listing)}
    assert found == {("node", "web"), ("python", "api")}


def test_node_project_without_test_script_says_what_was_looked_for(tmp_path: Path) -> None:
    root, listing = project(
        tmp_path, {"package.json": '{"scripts": {"test": "echo \\"Error: no test specified\\""}}'}
    )
    [found] = detect(root, listing)
    assert found.test is None
    assert found.notes == ("no test command: looked for a 'test' script in package.json",)
    assert choose_suite_command([found]) is None


def test_run_spec_overrides_win(tmp_path: Path) -> None:
    root, listing = project(tmp_path, {"pyproject.toml": "", "tests/test_a.py": ""})
    suite = choose_suite_command(
        detect(root, listing), ToolchainSpec(test="make check", working_dir="sub/")
    )
    assert suite is not None
    assert (suite.command, suite.working_dir, suite.report) == ("make check", "sub", "exit-code")


def test_nothing_detected_in_an_empty_directory(tmp_path: Path) -> None:
    assert detect(tmp_path, []) == []
