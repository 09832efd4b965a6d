"""Run one untrusted command: allowlisted environment, bounded time, no surviving process.

``Sandbox.run`` is the one way gates, mitigations and toolchain installs execute a repository's
commands. Two implementations share it: :class:`Bubblewrap` (the workspace is the only writable
path besides a private HOME, /tmp is private, ``.git`` is read-only, no network unless asked,
own user and PID namespaces, no capabilities, credential files hidden) and :class:`Unsandboxed`
(the same environment and process handling, without isolation). Output goes to a file (the
caller's, or a temporary one) and only its tail is kept, scrubbed by the redactor.
"""

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from autopack import redaction
from autopack.sandbox import environment, processes

TAIL_BYTES = 20_000

# Inside bubblewrap the command runs as this user (mapped to the runner's user outside).
SANDBOX_UID = 65532

# Build caches that must be writable: when they point outside the sandbox's writable paths, the
# command gets a private one under its HOME (never a writable host directory another process
# might later execute from).
_CACHE_NAMES = (
    "GOCACHE", "npm_config_cache", "PIP_CACHE_DIR", "UV_CACHE_DIR", "YARN_CACHE_FOLDER",
    "CARGO_TARGET_DIR",
)  # fmt: skip

# Credential stores the runner may have; hidden from the command (bubblewrap only).
_CREDENTIAL_FILES = (
    ".netrc", ".git-credentials", ".pypirc", ".npmrc", ".ssh", ".aws", ".kube", ".docker",
    ".azure", ".config/gh", ".config/gcloud", ".config/git/credentials",
)  # fmt: skip
_SECRET_DIRECTORIES = ("/var/run/secrets", "/run/secrets")


@dataclass(frozen=True)
class CommandResult:
    """What one command did: its exit code (None after a timeout), time and output tail."""

    command: str
    exit_code: int | None
    timed_out: bool
    tail: str
    duration: float
    sandbox: str

    @property
    def ok(self) -> bool:
        """True when the command finished in time with exit code 0."""
        return self.exit_code == 0 and not self.timed_out


def _display(command: str | Sequence[str]) -> str:
    return command if isinstance(command, str) else " ".join(command)


def _argv(command: str | Sequence[str]) -> list[str]:
    return ["bash", "-c", command] if isinstance(command, str) else list(command)


def _read_tail(output: IO[bytes], tail_bytes: int) -> str:
    size = output.seek(0, os.SEEK_END)
    output.seek(max(0, size - tail_bytes))
    return redaction.redact(output.read().decode("utf-8", errors="replace"))


class Sandbox:
    """Runs commands for one workspace; subclasses decide the isolation."""

    name = "none"

    def __init__(
        self,
        workspace: Path,
        *,
        env_names: Iterable[str] = (),
        network: bool = False,
        scratch: Path | None = None,
        source_env: Mapping[str, str] | None = None,
    ) -> None:
        """Commands run in ``workspace``; ``env_names`` come from ``spec.toolchain.env``.

        ``network`` is the default for :meth:`run` (``spec.toolchain.network``). ``scratch``
        holds the private HOME and temporary directories (default: a new temporary directory,
        removed by :meth:`close`).
        """
        self.workspace = workspace.resolve()
        # Forbidden names (the run file's validation refuses them) are skipped, never passed.
        self.env_names = tuple(name for name in env_names if not environment.is_forbidden(name))
        self.network = network
        self._own_scratch = scratch is None
        base = Path(tempfile.mkdtemp(prefix="autopack-sandbox-")) if scratch is None else scratch
        self.scratch = base.resolve()
        self.home = self.scratch / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self._source_env = dict(os.environ if source_env is None else source_env)

    @property
    def description(self) -> str:
        """One line for the run summary: which sandbox ran the commands and what it stops."""
        return "none: commands run without isolation, with an allowlisted environment"

    def close(self) -> None:
        """Remove the scratch directory when the sandbox made it."""
        if self._own_scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def environment(
        self, *, tmpdir: Path, extra: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """The allowlisted environment a command gets."""
        return environment.build_environment(
            self._source_env,
            home=str(self.home),
            tmpdir=str(tmpdir),
            extra_names=self.env_names,
            extra=extra,
        )

    def _wrap(self, argv: list[str], *, cwd: Path, env: dict[str, str], network: bool) -> list[str]:
        return argv

    def _start(
        self, argv: list[str], *, cwd: Path, env: dict[str, str], out: IO[bytes]
    ) -> "subprocess.Popen[bytes]":
        return subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=processes.die_with_parent(os.getpid()),  # noqa: PLW1509 - see there
        )

    def _finish(self, process: "subprocess.Popen[bytes]", *, token: str) -> None:
        processes.kill_group(process.pid)
        processes.kill_marked(token)

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
        """Run ``command`` (a shell line or an argument list) and return its result.

        ``cwd`` defaults to the workspace and must lie inside it. Every process the command
        started is killed when it ends, times out or ``cancel`` is set (then it counts as timed
        out). ``output_path`` keeps the whole output; ``env`` adds non-secret variables
        Autopack sets for this command.
        """
        directory = (cwd or self.workspace).resolve()
        if not directory.is_relative_to(self.workspace):
            raise ValueError(f"command directory {directory} is outside the workspace")
        token = uuid.uuid4().hex
        started = time.monotonic()
        tmpdir = Path(tempfile.mkdtemp(prefix="autopack-tests-", dir=self.scratch))
        try:
            variables = self.environment(tmpdir=tmpdir, extra=env)
            variables[processes.MARKER] = token
            argv = self._wrap(
                _argv(command),
                cwd=directory,
                env=variables,
                network=self.network if network is None else network,
            )
            with contextlib.ExitStack() as stack:
                out: IO[bytes] = (
                    stack.enter_context(output_path.open("w+b"))
                    if output_path is not None
                    else stack.enter_context(tempfile.TemporaryFile())
                )
                process = self._start(argv, cwd=directory, env=variables, out=out)
                # A timer ends it: Popen.wait(timeout=...) polls, adding up to 50 ms per command.
                expired = threading.Event()

                def expire() -> None:
                    expired.set()
                    self._finish(process, token=token)

                timer = threading.Timer(timeout, expire)
                timer.daemon = True
                timer.start()
                finished = threading.Event()
                if cancel is not None:

                    def watch() -> None:
                        while not finished.wait(0.2):
                            if cancel.is_set():
                                expire()
                                return

                    threading.Thread(target=watch, daemon=True).start()
                try:
                    code: int | None = process.wait()
                finally:
                    finished.set()
                    timer.cancel()
                    self._finish(process, token=token)
                    process.wait()
                timed_out = expired.is_set()
                if timed_out:
                    code = None
                tail = _read_tail(out, tail_bytes)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
        return CommandResult(
            command=_display(command),
            exit_code=code,
            timed_out=timed_out,
            tail=tail,
            duration=time.monotonic() - started,
            sandbox=self.name,
        )


class Unsandboxed(Sandbox):
    """No isolation: the allowlisted environment and process-group killing only."""

    name = "none"

    reason = ""
    """Why no sandbox is used (shown in the summary)."""

    @property
    def description(self) -> str:
        """Which sandbox ran the commands, and why not a stronger one."""
        text = "none: commands run without isolation, with an allowlisted environment"
        return f"{text} ({self.reason})" if self.reason else text


class Bubblewrap(Sandbox):
    """bubblewrap: read-only host, writable workspace, private /tmp, namespaces, no caps."""

    name = "bwrap"

    executable = "bwrap"
    """The bubblewrap binary."""

    version = ""
    """bubblewrap's version, for the summary."""

    @property
    def description(self) -> str:
        """Which sandbox ran the commands and what it stops."""
        network = "network allowed" if self.network else "no network"
        name = f"bubblewrap {self.version}".strip()
        return (
            f"{name}: workspace the only writable path, read-only .git, private /tmp and HOME, "
            f"{network}, own user and PID namespaces, allowlisted environment"
        )

    def _hidden_paths(self) -> list[Path]:
        home = Path(self._source_env.get("HOME") or "/root")
        candidates = [home / name for name in _CREDENTIAL_FILES]
        candidates += [Path(path) for path in _SECRET_DIRECTORIES]
        credentials = self._source_env.get("AUTOPACK_GIT_CREDENTIALS_DIR")
        if credentials:
            candidates.append(Path(credentials))
        found: list[Path] = []
        for path in candidates:
            with contextlib.suppress(OSError):
                if path.exists():
                    resolved = path.resolve()
                    writable = (self.workspace, self.scratch)
                    if not any(resolved.is_relative_to(root) for root in writable):
                        found.append(resolved)
        return found

    def _tools_under_tmp(self, env: dict[str, str]) -> list[Path]:
        """Directories under /tmp the commands need read-only: this Python and PATH's tools.

        The private /tmp would hide them (e.g. a checkout and its virtualenv under /tmp).
        """
        wanted = [Path(sys.prefix), Path(sys.base_prefix)]
        wanted += [Path(entry) for entry in env.get("PATH", "").split(os.pathsep) if entry]
        found: list[Path] = []
        for path in wanted:
            with contextlib.suppress(OSError):
                resolved = path.resolve()
                if (
                    resolved.is_relative_to("/tmp")  # noqa: S108 - checking, not creating
                    and resolved.is_dir()
                    and not any(resolved.is_relative_to(r) for r in (self.workspace, self.scratch))
                    and resolved not in found
                ):
                    found.append(resolved)
        return found

    def _identity_file(self, name: str) -> Path:
        """A passwd or group file naming the sandbox user, with its private HOME."""
        path = self.scratch / f".{name}"
        if not path.exists():
            entries = {
                "passwd": f"root:x:0:0:root:/root:/bin/sh\n"
                f"sandbox:x:{SANDBOX_UID}:{SANDBOX_UID}:sandbox:{self.home}:/bin/sh\n",
                "group": f"root:x:0:\nsandbox:x:{SANDBOX_UID}:\n",
            }
            path.write_text(entries[name], encoding="utf-8")
        return path

    def _wrap(self, argv: list[str], *, cwd: Path, env: dict[str, str], network: bool) -> list[str]:
        writable = (self.workspace, self.scratch)
        for name in _CACHE_NAMES:
            value = env.get(name)
            if value and not any(Path(value).is_relative_to(root) for root in writable):
                env[name] = str(self.home / ".cache" / name.lower())
        args = [self.executable, "--ro-bind", "/", "/", "--dev", "/dev", "--tmpfs", "/dev/shm"]  # noqa: S108
        args += ["--proc", "/proc", "--tmpfs", "/tmp"]  # noqa: S108 - a private, empty /tmp
        for path in self._tools_under_tmp(env):  # interpreters and tools installed under /tmp
            args += ["--ro-bind", str(path), str(path)]
        for path in self._hidden_paths():
            args += (
                ["--tmpfs", str(path)] if path.is_dir() else ["--ro-bind", "/dev/null", str(path)]
            )
        args += ["--bind", str(self.scratch), str(self.scratch)]
        args += ["--bind", str(self.workspace), str(self.workspace)]
        git_dir = self.workspace / ".git"
        if git_dir.is_dir() and not git_dir.is_symlink():
            args += ["--ro-bind", str(git_dir), str(git_dir)]
        # The sandbox user has a name and a home (Java, Maven and others read them from passwd).
        args += ["--ro-bind", str(self._identity_file("passwd")), "/etc/passwd"]
        args += ["--ro-bind", str(self._identity_file("group")), "/etc/group"]
        # No cgroup namespace: JDK 17 cannot read its memory limits inside one on cgroup v1 hosts.
        args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts"]
        if not network:
            args.append("--unshare-net")
        args += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
        args += ["--cap-drop", "ALL", "--die-with-parent", "--new-session", "--clearenv"]
        for name, value in env.items():
            args += ["--setenv", name, value]
        args += ["--chdir", str(cwd), "--", *argv]
        return args

    def _finish(self, process: "subprocess.Popen[bytes]", *, token: str) -> None:
        # Killing bubblewrap kills its PID namespace's init (--die-with-parent), and with it
        # every process the command started, wherever it moved (setsid, double fork).
        processes.kill_group(process.pid)
