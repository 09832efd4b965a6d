"""Clone and push over SSH with a mounted key and known_hosts, against a private sshd."""

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from autopack.workspace import GitWorkspace, WorkspaceError
from tests.builders.scenario import git

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
pytestmark = pytest.mark.skipif(
    not Path(SSHD).exists() or shutil.which("ssh-keygen") is None,
    reason="openssh-server is not installed (scripts/setup.sh installs it as root)",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[tuple[int, Path, str]]:
    """(port, a credentials directory with the client key and known_hosts, host key line)."""
    home = tmp_path / "sshd"
    home.mkdir()
    keygen(home / "host_key")
    keygen(home / "client_key")
    (home / "authorized_keys").write_text((home / "client_key.pub").read_text())
    os.chmod(home / "authorized_keys", 0o600)
    port = free_port()
    config = home / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {home / 'host_key'}\n"
        f"AuthorizedKeysFile {home / 'authorized_keys'}\nPasswordAuthentication no\n"
        f"KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        f"PidFile {home / 'sshd.pid'}\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
    log = home / "sshd.log"
    server = subprocess.Popen(
        [SSHD, "-D", "-E", str(log), "-f", str(config)], stdin=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                detail = log.read_text() if log.exists() else "no log"
                raise RuntimeError(f"sshd did not start: {detail}") from None
            time.sleep(0.1)
    credentials = tmp_path / "mounted-secret"
    credentials.mkdir()
    shutil.copy(home / "client_key", credentials / "ssh-privatekey")
    os.chmod(credentials / "ssh-privatekey", 0o400)
    host_key = (home / "host_key.pub").read_text().split()
    (credentials / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    try:
        yield port, credentials, host_key[1]
    finally:
        server.terminate()
        server.wait(timeout=30)


def origin(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    (source / "a.txt").write_text("a\n")
    git("init", "-q", "-b", "main", cwd=source)
    git("add", "-A", cwd=source)
    git("commit", "-q", "-m", "initial", cwd=source)
    bare = tmp_path / "origin.git"
    git("clone", "-q", "--bare", str(source), str(bare), cwd=tmp_path)
    return bare


def test_clone_and_push_over_ssh_with_the_mounted_key(
    tmp_path: Path, sshd: tuple[int, Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, credentials, _ = sshd
    bare = origin(tmp_path)
    monkeypatch.setenv("AUTOPACK_GIT_CREDENTIALS_DIR", str(credentials))
    url = f"ssh://{getpass.getuser()}@127.0.0.1:{port}{bare}"
    workspace = GitWorkspace.clone(
        url, ref="main", dest=tmp_path / "work" / "run", branch="autopack/run"
    )
    (workspace.root / "b.txt").write_text("b\n")
    workspace.commit("autopack: phase 0 b\n\nAutopack-Phase: 0")
    workspace.push()
    assert git("show", "autopack/run:b.txt", cwd=bare) == "b\n"
    # The key stays where the Secret is mounted: nothing of it is in the workspace.
    key = (credentials / "ssh-privatekey").read_text()
    for path in (tmp_path / "work").rglob("*"):
        if path.is_file():
            assert key not in path.read_text(errors="replace"), path


def test_an_unknown_host_key_is_refused(
    tmp_path: Path, sshd: tuple[int, Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port, credentials, _ = sshd
    (credentials / "known_hosts").write_text("")  # the host is not known
    bare = origin(tmp_path)
    monkeypatch.setenv("AUTOPACK_GIT_CREDENTIALS_DIR", str(credentials))
    with pytest.raises(WorkspaceError, match="cannot clone") as refused:
        GitWorkspace.clone(
            f"ssh://{getpass.getuser()}@127.0.0.1:{port}{bare}",
            ref="main",
            dest=tmp_path / "work" / "run",
            branch="autopack/run",
        )
    assert "host key is known for" in str(refused.value)  # ssh says why, not just git
