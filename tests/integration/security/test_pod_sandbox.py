"""The runner pod's split in processes: the agent hands commands to the sandbox container.

The "sandbox container" here is a separate process started with an environment without any
secret (as the pod's second container has), serving on a socket in the shared directory.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autopack import sandbox
from autopack.gates import CommandGates
from autopack.toolchains import SuiteCommand


def alive(needle: str) -> bool:
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
            state = (entry / "status").read_text()
        except (OSError, UnicodeDecodeError):
            continue
        if command == needle and "State:\tZ" not in state:
            return True
    return False


def wait_for(condition: object, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[Path]:
    """A shared volume with a workspace, served by a secret-free sandbox process."""
    volume = tmp_path / "volume"
    (volume / "repo").mkdir(parents=True)
    socket_path = volume / ".autopack" / "sandbox.sock"
    clean = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    clean |= {k: v for k, v in os.environ.items() if k.startswith(("PYENV", "PYTHONPATH"))}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "autopack.sandbox",
            "serve",
            "--socket",
            str(socket_path),
            "--root",
            str(volume),
            "--mode",
            "none",
        ],
        env=clean,
    )
    try:
        assert wait_for(socket_path.exists)
        yield volume
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def test_commands_run_in_the_sandbox_process_without_the_agents_secrets(
    shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-agent-only-0123456789abcdef")
    box = sandbox.RemoteSandbox(shared / "repo", socket_path=shared / ".autopack" / "sandbox.sock")
    result = box.run("echo $$ > pid.txt; env", timeout=60)
    assert result.ok, result.tail
    assert result.sandbox == "remote/none"
    assert "agent-only" not in result.tail
    assert "sandbox container" in box.description
    assert (shared / "repo" / "pid.txt").is_file()


def test_the_gates_run_tests_through_the_sandbox_container(shared: Path) -> None:
    (shared / "repo" / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    box = sandbox.RemoteSandbox(shared / "repo", socket_path=shared / ".autopack" / "sandbox.sock")
    gates = CommandGates(
        shared / "repo",
        suite=SuiteCommand(f"{sys.executable} -m pytest -q -p no:cacheprovider", report="junit"),
        sandbox=box,
        timeout=120,
    )
    outcome = gates.baseline()
    assert (outcome.passed, outcome.failed) == (1, 0), outcome.log_excerpt


def test_when_the_agent_dies_the_sandbox_kills_its_command(shared: Path) -> None:
    child = f"sleep 97{time.monotonic_ns() % 100_000}"
    agent = textwrap.dedent(
        f"""
        from pathlib import Path
        from autopack import sandbox
        box = sandbox.RemoteSandbox(
            Path({str(shared / "repo")!r}),
            socket_path=Path({str(shared / ".autopack" / "sandbox.sock")!r}),
        )
        box.run("setsid {child} & {child}", timeout=600)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", agent])
    assert wait_for(lambda: alive(child))
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert wait_for(lambda: not alive(child))


def test_a_workspace_outside_the_shared_volume_is_refused(shared: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    box = sandbox.RemoteSandbox(elsewhere, socket_path=shared / ".autopack" / "sandbox.sock")
    with pytest.raises(sandbox.RemoteSandboxError, match="outside"):
        box.run("true", timeout=30)
