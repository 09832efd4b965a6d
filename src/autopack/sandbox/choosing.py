"""``--sandbox auto|bwrap|none``: pick the sandbox a run's commands use, and say why.

``auto`` (the default) uses bubblewrap when it is installed and works here (a container without
user namespaces refuses it), and otherwise runs commands unsandboxed, saying so in the summary.
``bwrap`` insists and fails with a clear message; ``none`` is an explicit choice.
"""

import functools
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from subprocess import PIPE
from typing import Literal

from autopack.sandbox.running import SANDBOX_UID, Bubblewrap, Sandbox, Unsandboxed

SandboxMode = Literal["auto", "bwrap", "none"]
MODES: tuple[SandboxMode, ...] = ("auto", "bwrap", "none")


class SandboxUnavailable(RuntimeError):
    """``--sandbox bwrap`` was asked for and bubblewrap cannot run here."""


@functools.cache
def probe_bubblewrap(executable: str = "bwrap") -> tuple[bool, str]:
    """(works, version or reason): run a trivial command with the flags the sandbox uses."""
    path = shutil.which(executable)
    if path is None:
        return False, "bubblewrap is not installed (apt-get install bubblewrap)"
    with tempfile.TemporaryDirectory(prefix="autopack-bwrap-probe-") as scratch:
        argv = [path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        argv += ["--tmpfs", "/tmp"]  # noqa: S108 - the sandbox's private /tmp
        argv += ["--bind", scratch, scratch, "--unshare-pid", "--unshare-net"]
        argv += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]
        argv += ["--cap-drop", "ALL", "--die-with-parent", "--clearenv", "--", "true"]
        started: list[subprocess.Popen[str]] = []
        try:  # both at once: each is mostly process start-up
            for command in (argv, [path, "--version"]):
                started.append(subprocess.Popen(command, stdout=PIPE, stderr=PIPE, text=True))
            (_, stderr), (stdout, _) = (process.communicate(timeout=30) for process in started)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"bubblewrap could not start: {exc}"
        finally:
            for process in started:
                if process.poll() is None:
                    process.kill()
                    process.communicate()
    code = started[0].returncode
    if code != 0:
        reason = (stderr.strip().splitlines() or [f"exit code {code}"])[-1]
        return False, f"bubblewrap cannot create its namespaces here: {reason}"
    version = stdout.split()
    return True, version[-1] if version else ""


def choose(
    mode: SandboxMode,
    *,
    workspace: Path,
    env_names: Iterable[str] = (),
    network: bool = False,
    scratch: Path | None = None,
    source_env: Mapping[str, str] | None = None,
) -> Sandbox:
    """The sandbox for ``mode``; ``sandbox.description`` is the line for the summary."""
    if mode not in MODES:
        raise ValueError(f"--sandbox must be one of {', '.join(MODES)}, not {mode!r}")
    works, detail = (False, "--sandbox none") if mode == "none" else probe_bubblewrap()
    if not works and mode == "bwrap":
        raise SandboxUnavailable(f"--sandbox bwrap: {detail}; use --sandbox auto or none")
    kind = Bubblewrap if works else Unsandboxed
    sandbox = kind(
        workspace,
        env_names=env_names,
        network=network,
        scratch=scratch,
        source_env=source_env,
    )
    if isinstance(sandbox, Bubblewrap):
        sandbox.version = detail
    elif isinstance(sandbox, Unsandboxed):
        sandbox.reason = detail
    return sandbox
