"""The runner pod's split: the agent container hands commands to the sandbox container.

In a cluster the runner pod has two containers sharing the workspace volume. The agent
container (credentials, service-account token, models, git remote) never runs repository code:
its :class:`RemoteSandbox` sends each command over a Unix socket on the shared volume to
:func:`serve`, running in the sandbox container (no secrets, no token, its own UID, read-only
root), which runs it with the local sandbox machinery and answers with the result. When the
agent goes away mid-command (its connection closes), the command and everything it started are
killed; so they are on timeout and when the command ends.

The protocol is one JSON line each way per connection; paths are the same in both containers
(the volume is mounted at the same place).
"""

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from autopack.sandbox import choosing
from autopack.sandbox.running import TAIL_BYTES, CommandResult, Sandbox

MAX_REQUEST_BYTES = 1_000_000
CONNECT_WAIT_SECONDS = 120.0  # how long the agent waits for the sandbox container to listen
MAX_REPLY_BYTES = 64_000_000


class RemoteSandboxError(RuntimeError):
    """The sandbox container could not be reached or answered nonsense."""


def _read_line(connection: socket.socket, limit: int) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > limit:
            raise RemoteSandboxError(f"message over {limit:,} bytes")
    return data


class RemoteSandbox(Sandbox):
    """Runs commands in the pod's sandbox container, through ``socket_path``."""

    name = "remote"

    def __init__(
        self,
        workspace: Path,
        *,
        socket_path: Path,
        env_names: Iterable[str] = (),
        network: bool = False,
        scratch: Path | None = None,
    ) -> None:
        """``scratch`` must be on the shared volume (default: beside the socket)."""
        shared = scratch if scratch is not None else socket_path.parent / "scratch"
        shared.mkdir(parents=True, exist_ok=True)
        super().__init__(workspace, env_names=env_names, network=network, scratch=shared)
        self.socket_path = socket_path

    @property
    def description(self) -> str:
        """Which sandbox ran the commands and what it stops."""
        return (
            "sandbox container: commands run in the runner pod's second container (no "
            "secrets, no service-account token, own UID, read-only root, allowlisted "
            "environment)"
        )

    def _connect(self, connection: socket.socket) -> None:
        """Connect, waiting for the sandbox container to listen (it may start after the agent)."""
        deadline = time.monotonic() + CONNECT_WAIT_SECONDS
        while True:
            try:
                with _address(self.socket_path) as address:
                    connection.connect(address)
                return
            except (FileNotFoundError, ConnectionRefusedError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def run(
        self,
        command: str | Sequence[str],
        *,
        cwd: Path | None = None,
        timeout: float = 900.0,
        network: bool | None = None,
        output_path: Path | None = None,
        tail_bytes: int = TAIL_BYTES,
        env: Mapping[str, str] | None = None,
        cancel: threading.Event | None = None,
    ) -> CommandResult:
        """Send ``command`` to the sandbox container and wait for its result."""
        directory = (cwd or self.workspace).resolve()
        if not directory.is_relative_to(self.workspace):
            raise ValueError(f"command directory {directory} is outside the workspace")
        request = {
            "command": command if isinstance(command, str) else list(command),
            "workspace": str(self.workspace),
            "scratch": str(self.scratch),
            "cwd": str(directory),
            "timeout": timeout,
            "network": self.network if network is None else network,
            "output_path": str(output_path) if output_path is not None else None,
            "tail_bytes": tail_bytes,
            "env": dict(env or {}),
            "env_names": list(self.env_names),
        }
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(timeout + 120)
            try:
                self._connect(connection)
                connection.sendall(json.dumps(request).encode() + b"\n")
                reply = _read_line(connection, MAX_REPLY_BYTES)
            except OSError as exc:
                raise RemoteSandboxError(
                    f"the sandbox container is unreachable at {self.socket_path}: {exc}"
                ) from None
        try:
            answer: dict[str, Any] = json.loads(reply)
        except json.JSONDecodeError:
            raise RemoteSandboxError("the sandbox container's answer was not JSON") from None
        if "error" in answer:
            raise RemoteSandboxError(f"the sandbox container refused: {answer['error']}")
        return CommandResult(
            command=str(answer["command"]),
            exit_code=answer["exit_code"],
            timed_out=bool(answer["timed_out"]),
            tail=str(answer["tail"]),
            duration=float(answer["duration"]),
            sandbox=f"remote/{answer['sandbox']}",
        )


def _handle(connection: socket.socket, *, mode: choosing.SandboxMode, root: Path) -> None:
    """Run one request; kill it when the client disconnects first."""
    with connection:
        try:
            request = json.loads(_read_line(connection, MAX_REQUEST_BYTES))
            workspace = Path(request["workspace"]).resolve()
            if not workspace.is_relative_to(root):
                raise ValueError(f"workspace {workspace} is outside {root}")
            box = choosing.choose(
                mode,
                workspace=workspace,
                env_names=request.get("env_names", []),
                network=bool(request.get("network")),
                scratch=Path(request["scratch"]),
            )
        except (ValueError, KeyError, TypeError, RemoteSandboxError, OSError) as exc:
            connection.sendall(json.dumps({"error": str(exc)}).encode() + b"\n")
            return
        cancel = threading.Event()
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                output = request.get("output_path")
                result = box.run(
                    request["command"],
                    cwd=Path(request["cwd"]),
                    timeout=float(request["timeout"]),
                    network=bool(request.get("network")),
                    output_path=Path(output) if output else None,
                    tail_bytes=int(request.get("tail_bytes", TAIL_BYTES)),
                    env=request.get("env") or {},
                    cancel=cancel,
                )
                outcome.update(
                    command=result.command,
                    exit_code=result.exit_code,
                    timed_out=result.timed_out,
                    tail=result.tail,
                    duration=result.duration,
                    sandbox=result.sandbox,
                )
            except (ValueError, OSError) as exc:
                outcome["error"] = str(exc)

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        connection.settimeout(0.2)
        while worker.is_alive():
            try:
                if connection.recv(1) == b"":  # the agent went away: end the command
                    cancel.set()
                    break
            except TimeoutError:
                continue
            except OSError:
                cancel.set()
                break
        worker.join()
        with contextlib.suppress(OSError):
            connection.settimeout(30)
            connection.sendall(json.dumps(outcome).encode() + b"\n")


@contextlib.contextmanager
def _address(path: Path) -> Iterator[str]:
    """A Unix socket address for ``path``, short enough for the kernel (108 bytes at most).

    A long path is reached through the directory's descriptor (``/proc/self/fd/N/name``).
    """
    if len(os.fsencode(path)) < 100:
        yield str(path)
        return
    directory = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{directory}/{path.name}"
    finally:
        os.close(directory)


def serve(
    socket_path: Path,
    *,
    root: Path,
    mode: choosing.SandboxMode = "auto",
    ready: threading.Event | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Serve commands for workspaces under ``root`` on ``socket_path`` until ``stop`` is set.

    Runs in the sandbox container; ``mode`` is the isolation inside it (``auto`` uses
    bubblewrap when the container allows user namespaces, else the container is the sandbox).
    """
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        socket_path.unlink()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        with _address(socket_path) as address:
            server.bind(address)
        os.chmod(socket_path, 0o666)  # noqa: S103 - the agent container runs as another UID
        server.listen(16)
        server.settimeout(0.5)
        if ready is not None:
            ready.set()
        while stop is None or not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            threading.Thread(
                target=_handle,
                args=(connection,),
                kwargs={"mode": mode, "root": root.resolve()},
                daemon=True,
            ).start()
