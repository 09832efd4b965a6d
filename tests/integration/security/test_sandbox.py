"""Untrusted commands under the real sandbox: no secrets, no escape, no surviving process."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autopack import sandbox

BWRAP_WORKS = sandbox.probe_bubblewrap()[0]
needs_bwrap = pytest.mark.skipif(not BWRAP_WORKS, reason="bubblewrap cannot run here")
MODES = [pytest.param("bwrap", marks=needs_bwrap), "none"]

CANARIES = {
    "ANTHROPIC_API_KEY": "sk-ant-sandbox-canary-0123456789abcdef",
    "OPENAI_API_KEY": "sk-proj-sandbox-canary-0123456789abcdef",
    "AUTOPACK_GIT_TOKEN": "ghp_sandboxcanary0123456789abcdefghij",
    "AUTOPACK_DATABASE_URL": "postgresql://u:sandbox-canary-db@h/d",
    "GIT_CONFIG_VALUE_0": "Authorization: Basic c2FuZGJveC1jYW5hcnk=",
    "KUBERNETES_SERVICE_HOST": "10.0.0.1",
    "MY_TEAM_SETTING": "passed-because-named",
}


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    root = tmp_path / "repo"
    (root / ".git" / "hooks").mkdir(parents=True)
    return root


@pytest.fixture(params=MODES)
def box(request: pytest.FixtureRequest, workspace: Path) -> Iterator[sandbox.Sandbox]:
    with sandbox.choose(request.param, workspace=workspace, env_names=["MY_TEAM_SETTING"]) as s:
        assert s.name == request.param
        yield s


def alive(needle: str, *, exact: bool = False) -> list[int]:
    """PIDs of live (non-zombie) processes whose command line contains (or is) ``needle``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "status").read_text()
        except (OSError, UnicodeDecodeError):
            continue
        matches = command.strip() == needle if exact else needle in command
        if matches and "State:\tZ" not in state and entry.name.isdigit():
            found.append(int(entry.name))
    return found


def wait_gone(needle: str, seconds: float = 15.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while (pids := alive(needle)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return pids


def unique_sleep() -> str:
    return f"sleep 86{time.monotonic_ns() % 1_000_000}"


def test_commands_get_an_allowlisted_environment(box: sandbox.Sandbox, workspace: Path) -> None:
    result = box.run("env; cat /proc/self/environ | tr '\\0' '\\n'", timeout=60)
    assert result.ok, result.tail
    for name, value in CANARIES.items():
        if name == "MY_TEAM_SETTING":
            assert f"{name}={value}" in result.tail
        else:
            assert value not in result.tail
            assert f"{name}=" not in result.tail
    assert f"HOME={box.home}" in result.tail
    assert "CI=true" in result.tail


def test_a_test_that_prints_the_runner_environment_finds_no_secret(
    box: sandbox.Sandbox, workspace: Path
) -> None:
    probe = workspace / "test_env.py"
    probe.write_text(
        "import os, pathlib\n"
        "print(dict(os.environ))\n"
        "for p in pathlib.Path('/proc').iterdir():\n"
        "    try: print(open(p / 'environ', 'rb').read())\n"
        "    except OSError: pass\n"
    )
    result = box.run([sys.executable, str(probe)], timeout=60, tail_bytes=10_000_000)
    for name, value in CANARIES.items():
        if name != "MY_TEAM_SETTING":
            assert value not in result.tail, name


@pytest.mark.parametrize("how", ["setsid", "double-fork", "nohup"])
def test_nothing_a_command_started_survives_its_timeout(box: sandbox.Sandbox, how: str) -> None:
    child = unique_sleep()
    starts = {
        "setsid": f"setsid {child} &",
        "double-fork": f"( {child} & ) &",
        "nohup": f"nohup {child} >/dev/null 2>&1 &",
    }
    started = time.monotonic()
    result = box.run(f"{starts[how]} sleep 1; sleep 600", timeout=3)
    assert result.timed_out
    assert result.exit_code is None
    assert time.monotonic() - started < 30
    assert wait_gone(child) == []


def test_background_children_of_a_command_that_exits_0_are_killed(box: sandbox.Sandbox) -> None:
    child = unique_sleep()
    result = box.run(f"setsid {child} & ( {child} & ) & exit 0", timeout=30)
    assert result.ok
    assert wait_gone(child) == []


@needs_bwrap
def test_when_the_runner_dies_its_commands_die(tmp_path: Path) -> None:
    child = unique_sleep()
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from autopack import sandbox
        box = sandbox.choose("bwrap", workspace=Path({str(tmp_path)!r}))
        print("ready", flush=True)
        box.run("setsid {child} & {child}", timeout=600)
        """
    )
    runner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert runner.stdout is not None
    assert runner.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 30
    while len(alive(child, exact=True)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)  # both sleeps run: the sandbox is set up
    assert len(alive(child, exact=True)) == 2
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    runner.stdout.close()
    assert wait_gone(child) == []


@needs_bwrap
def test_bubblewrap_keeps_writes_inside_the_workspace(workspace: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    with sandbox.choose("bwrap", workspace=workspace) as box:
        result = box.run(
            f"echo ok > inside.txt; echo x > {outside}/pwned 2>&1; "
            "echo '#!/bin/sh' > .git/hooks/pre-commit 2>&1; "
            "echo x > /tmp/shared-with-host-$$; ls /tmp | wc -l; id -u",
            timeout=60,
        )
    assert (workspace / "inside.txt").read_text() == "ok\n"
    assert not (outside / "pwned").exists()
    assert not (workspace / ".git" / "hooks" / "pre-commit").exists()
    assert "Read-only file system" in result.tail
    assert list(Path("/tmp").glob("shared-with-host-*")) == []
    assert result.tail.split()[-1] != "0"  # not root inside


@needs_bwrap
def test_bubblewrap_has_no_network_unless_the_run_allows_it(workspace: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]

    def accept_once() -> None:
        connection, _ = server.accept()
        connection.close()

    accepting = threading.Thread(target=accept_once, daemon=True)
    accepting.start()
    probe = (
        f"{sys.executable} -c \"import socket; socket.create_connection(('127.0.0.1', {port}), "
        "timeout=5); print('connected')\""
    )
    try:
        with sandbox.choose("bwrap", workspace=workspace) as box:
            assert "no network" in box.description
            offline = box.run(probe, timeout=60)
            online = box.run(probe, timeout=60, network=True)
    finally:
        accepting.join(timeout=10)
        server.close()
    assert not offline.ok
    assert "connected" not in offline.tail
    assert online.ok, online.tail
    assert "connected" in online.tail


@needs_bwrap
def test_credential_files_of_the_runner_are_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "runner-home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("ssh-canary-key")
    (home / ".git-credentials").write_text("https://u:gitcred-canary@example.com")
    secrets = tmp_path / "git-secret"
    secrets.mkdir()
    (secrets / "token").write_text("mounted-token-canary")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AUTOPACK_GIT_CREDENTIALS_DIR", str(secrets))
    workspace = tmp_path / "repo"
    workspace.mkdir()
    with sandbox.choose("bwrap", workspace=workspace) as box:
        result = box.run(
            f"cat {home}/.ssh/id_ed25519 {home}/.git-credentials {secrets}/token 2>&1; true",
            timeout=60,
        )
    assert "canary" not in result.tail


def test_auto_says_which_sandbox_it_chose(workspace: Path) -> None:
    with sandbox.choose("auto", workspace=workspace) as box:
        expected = "bubblewrap" if BWRAP_WORKS else "none"
        assert box.description.startswith(expected)


def test_an_unknown_mode_is_refused(workspace: Path) -> None:
    with pytest.raises(ValueError, match="--sandbox must be one of auto, bwrap, none"):
        sandbox.choose("docker", workspace=workspace)  # type: ignore[arg-type]


def test_a_command_may_not_run_outside_the_workspace(workspace: Path, tmp_path: Path) -> None:
    with (
        sandbox.choose("none", workspace=workspace) as box,
        pytest.raises(ValueError, match="outside the workspace"),
    ):
        box.run("true", cwd=tmp_path, timeout=10)


def test_output_tail_is_redacted(box: sandbox.Sandbox) -> None:
    result = box.run("echo Authorization: Bearer abcdefghijklmnopqrstu", timeout=30)
    assert "abcdefghijklmnopqrstu" not in result.tail
    assert os.environ["AUTOPACK_GIT_TOKEN"] not in result.tail
