"""Starting and ending a command's processes so that none outlives the command.

Three things end a command: it exits, its timeout expires, or the runner itself dies. Under
bubblewrap the command's PID namespace does the work (its init dies with the runner and takes
every process with it). Without a sandbox the command leads its own process group, the child
is killed when the thread that started it dies (``PR_SET_PDEATHSIG``), and after it ends every
process still carrying the command's marker variable is killed, which catches descendants that
left the group with ``setsid`` and kept their environment. The unsandboxed path is best effort:
a process that clears its environment and calls ``setsid`` escapes it.
"""

import contextlib
import ctypes
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

MARKER = "AUTOPACK_SANDBOX_COMMAND"

_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


# Looked up once here: the child between fork and exec must do as little as possible.
_PRCTL = _load_prctl()


def die_with_parent(parent: int) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets SIGKILL when the thread that started it dies.

    ``parent`` is the starting process's PID: a parent that died before the signal was armed
    is noticed, and the child ends at once.
    """

    def arm() -> None:
        if _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(137)

    return arm


def kill_group(pgid: int) -> None:
    """SIGKILL every process in the group ``pgid`` (gone already is fine)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def marked_processes(token: str, *, proc: Path = Path("/proc")) -> list[int]:
    """PIDs of processes whose environment carries ``MARKER=token``."""
    needle = f"{MARKER}={token}".encode()
    found: list[int] = []
    me = os.getpid()
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


QUIET_SCANS = 2
"""Scans in a row that must find no marked process before the command counts as ended."""
SCAN_PAUSE = 0.02
"""Seconds between scans: a process between ``setsid`` and its next ``exec`` (or in the middle
of one) may show no environment in a single scan, and a busy machine may not have run it yet."""


def kill_marked(token: str, *, rounds: int = 50) -> int:
    """SIGKILL every process carrying ``MARKER=token``, until scans find none twice in a row.

    Some may fork, or leave the group with ``setsid``, meanwhile; one empty scan is not proof.
    """
    killed = 0
    quiet = 0
    for _ in range(rounds):
        pids = marked_processes(token)
        if not pids:
            quiet += 1
            if quiet >= QUIET_SCANS:
                break
            time.sleep(SCAN_PAUSE)
            continue
        quiet = 0
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
    return killed
