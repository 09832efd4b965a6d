"""HEAD and refs read from ``.git`` itself, without a git process, when that is unambiguous.

A git process costs several milliseconds and the engine asks for HEAD once per attempt and once
per commit. Autopack's own checkouts and commits leave HEAD naming a branch with a loose ref (or
a detached commit), which a file read answers exactly; anything else (packed refs, reftable,
symlinks, special files, variables that send git elsewhere) is left to ``git rev-parse``.
A fresh clone keeps the remote's branches in ``packed-refs``, read the same way (:func:`ref`).
"""

import os
import re
import stat
from pathlib import Path

_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# With one of these set, git looks for the repository (or its refs) somewhere else.
_REPOSITORY_VARIABLES = ("GIT_DIR", "GIT_COMMON_DIR", "GIT_WORK_TREE", "GIT_NAMESPACE")
_REF_NAME = re.compile(r"refs(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+")
_MAX_PACKED_REFS = 1 << 20  # a longer packed-refs file is git's to read


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


def _is_plain_repository(git_dir: Path) -> bool:
    """Whether git reads this repository's refs from the files in ``git_dir``.

    Not when a variable sends it elsewhere, for a linked worktree (``commondir``), nor with
    reftable.
    """
    if any(name in os.environ for name in _REPOSITORY_VARIABLES) or git_dir.is_symlink():
        return False
    return not (git_dir / "commondir").exists() and not (git_dir / "reftable").exists()


_ABSENT = ""
_UNSURE = None


def _loose_ref(git_dir: Path, name: str) -> str | None:
    """The loose ref file's object, "" without a file; None: unreadable or not an object."""
    try:
        os.lstat(git_dir / name)
    except FileNotFoundError:
        return _ABSENT
    except OSError:  # e.g. a file where a directory of the name would be
        return _UNSURE
    value = _read_small_file(git_dir / name)
    return value if value is not None and _OBJECT_ID.fullmatch(value) else _UNSURE


def _packed_ref(git_dir: Path, name: str) -> str | None:
    """The object ``packed-refs`` gives ``name``, "" when it lists no such ref; None: unsure."""
    packed = git_dir / "packed-refs"
    try:
        info = os.lstat(packed)
    except FileNotFoundError:
        return _ABSENT
    except OSError:
        return _UNSURE
    if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_PACKED_REFS:
        return _UNSURE
    for line in packed.read_bytes().decode("utf-8", errors="replace").splitlines():
        value, _, refname = line.partition(" ")
        if refname == name and not line.startswith(("#", "^")):
            return value if _OBJECT_ID.fullmatch(value) else _UNSURE
    return _ABSENT


def ref(git_dir: Path, name: str) -> str | None:
    """The object ref ``name`` (``refs/...``) names, "" when it does not exist; None: ask git.

    A loose ref file wins over a ``packed-refs`` line, as in git. Symbolic refs, unusual
    names, special files and anything unreadable are left to git.
    """
    plain_name = _REF_NAME.fullmatch(name) and not name.endswith(".lock") and "/." not in name
    if not plain_name or ".." in name or not _is_plain_repository(git_dir):
        return _UNSURE
    loose = _loose_ref(git_dir, name)
    return _packed_ref(git_dir, name) if loose == _ABSENT else loose
