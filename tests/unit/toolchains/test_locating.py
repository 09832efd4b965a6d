"""Toolchains installed off PATH (Go's archive, rustup) are still found and put on PATH."""

import subprocess
from pathlib import Path

from autopack.toolchains import SuiteCommand, locating


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('#!/bin/sh\necho found "$0"\n')
    path.chmod(0o755)
    return path


def test_rustups_cargo_is_found_under_home_when_path_lacks_it(tmp_path: Path) -> None:
    cargo = executable(tmp_path / "home" / ".cargo" / "bin" / "cargo")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home")}
    assert locating.find_tool("cargo", env) == cargo


def test_goroot_and_cargo_home_win_over_the_usual_places(tmp_path: Path) -> None:
    go = executable(tmp_path / "go-1.26" / "bin" / "go")
    cargo = executable(tmp_path / "cargo" / "bin" / "cargo")
    executable(tmp_path / "home" / ".cargo" / "bin" / "cargo")
    env = {
        "PATH": "/nonexistent",
        "HOME": str(tmp_path / "home"),
        "GOROOT": str(tmp_path / "go-1.26"),
        "CARGO_HOME": str(tmp_path / "cargo"),
    }
    assert locating.find_tool("go", env) == go
    assert locating.find_tool("cargo", env) == cargo


def test_a_program_on_path_needs_no_prefix(tmp_path: Path) -> None:
    executable(tmp_path / "bin" / "go")
    executable(tmp_path / "home" / ".cargo" / "bin" / "cargo")
    env = {"PATH": str(tmp_path / "bin"), "HOME": str(tmp_path / "home")}
    assert locating.path_prefix("go test -json ./...", env) == ""
    assert locating.find_tool("node", {"PATH": "/nonexistent", "HOME": str(tmp_path)}) is None
    assert locating.path_prefix("cargo test", env) == (
        f'export PATH="$PATH":{tmp_path / "home" / ".cargo" / "bin"}; '
    )


def test_the_program_is_read_past_variable_assignments() -> None:
    assert locating.program_of("RUST_BACKTRACE=1 cargo test") == "cargo"
    assert locating.program_of("./gradlew test") is None
    assert locating.program_of("go test ./... && go vet ./...") == "go"
    assert locating.program_of("'unbalanced") is None


def test_the_test_command_runs_the_program_found_off_path(tmp_path: Path) -> None:
    home = tmp_path / "home"
    executable(home / ".cargo" / "bin" / "cargo")
    (tmp_path / "crate").mkdir()
    suite = SuiteCommand("cargo test", working_dir="crate", report="libtest")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home)}
    line = suite.command_with_report(tmp_path, env=env)
    done = subprocess.run(
        ["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"found {home}/.cargo/bin/cargo" in done.stdout
    # The whole output is kept beside the reports, not only the tail the gate keeps.
    assert "found" in (tmp_path / "cargo-test.txt").read_text()
