"""HEAD read from ``.git`` itself, without a git process, when that is unambiguous.

A git process costs several milliseconds and the engine asks for HEAD once per attempt and once
per commit. Autopack's own checkouts and commits leave HEAD naming a branch with a loose ref (or
a detached commit), which a file read answers exactly; anything else (packed refs, reftable,
symlinks, special files, variables that send git elsewhere) is left to ``git rev-parse``.
"""

import os
import re
import stat
from pathlib import Path

_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# With one of these set, git looks for the repository (or its refs) somewhere else.
_REPOSITORY_VARIABLES = ("GIT_DIR", "GIT_COMMON_DIR", "GIT_WORK_TREE", "GIT_NAMESPACE")


def _read_small_file(path: Path) -> str | None:
    """The text of a regular file of at most 4 KiB, never read through a final symlink."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        descriptor = os.open(path, flags)
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read(4097).decode("ascii", errors="replace").strip()


def loose_head(git_dir: Path) -> str | None:
    """The commit HEAD names when it is a loose branch ref or a commit; None: ask git."""
    if any(name in os.environ for name in _REPOSITORY_VARIABLES) or git_dir.is_symlink():
        return None
    value = _read_small_file(git_dir / "HEAD")
    if value is not None and value.startswith("ref: refs/heads/"):
        name = value.removeprefix("ref: ")
        if ".." in name or "//" in name or name.endswith("/"):
            return None
        value = _read_small_file(git_dir / name)
    return value if value is not None and _OBJECT_ID.fullmatch(value) else None
