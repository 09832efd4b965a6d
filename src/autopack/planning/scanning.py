"""List a repository's files the way git sees them, within a time and size bound.

Scope inference and preflight need to know which files and directories exist, without
descending into ignored trees (``node_modules``, build output) and without hanging on a huge
monorepo. Inside a git work tree ``git ls-files`` answers exactly and fast; elsewhere the
root ``.gitignore`` is honoured through pathspec's gitignore semantics.

The repository is untrusted, so a scan lists only regular files (and symlinks to regular files
inside the repository): a symlink to ``/proc/self/environ`` or ``/dev/zero``, a FIFO or a device
is left out, and :func:`read_text` is how every reader opens a listed file (bounded bytes,
never through a symlink that leaves the repository, never a special file).
"""

import os
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pathspec


@dataclass(frozen=True)
class RepoScan:
    """The files of a repository (POSIX paths relative to its root) and how the scan went."""

    root: Path
    files: tuple[str, ...]
    truncated: bool = False
    elapsed_seconds: float = 0.0
    method: str = "git"
    directories: frozenset[str] = field(default_factory=frozenset)
    file_set: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(
        cls, root: Path, files: list[str], *, truncated: bool, started: float, method: str
    ) -> "RepoScan":
        """Build a scan, deriving every directory prefix (``a/``, ``a/b/``) from the files."""
        directories: set[str] = set()
        for path in files:
            parts = path.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                directories.add("/".join(parts[:depth]) + "/")
        return cls(
            root=root,
            files=tuple(sorted(files)),
            truncated=truncated,
            elapsed_seconds=time.monotonic() - started,
            method=method,
            directories=frozenset(directories),
            file_set=frozenset(files),
        )

    def exists(self, path: str) -> bool:
        """Return whether ``path`` names a scanned file or a directory prefix (``dir/``)."""
        return path in self.directories if path.endswith("/") else path in self.file_set

    def is_dir(self, path: str) -> bool:
        """Return whether ``path`` (with or without a trailing ``/``) is a directory."""
        return path.rstrip("/") + "/" in self.directories

    def files_under(self, prefix: str) -> list[str]:
        """Return the files inside directory ``prefix`` (``""`` for all)."""
        return [path for path in self.files if path.startswith(prefix)]


# Bytes one reader takes from one file; a longer file is cut (and says so).
MAX_READ_BYTES = 200_000


def _regular_inside(root: Path, relative: str) -> str | None:
    """``root/relative`` resolved, when it is a regular file inside ``root``; None otherwise.

    Plain ``os.path`` strings: every reader of a repository's files comes through here, many
    times per prompt, and ``Path.resolve`` costs several times as much for the same answer.
    """
    try:
        resolved = os.path.realpath(os.path.join(root, relative), strict=True)
        base = os.path.realpath(root)
        if resolved != base and not resolved.startswith(base.rstrip("/") + "/"):
            return None
        if not stat.S_ISREG(os.stat(resolved).st_mode):
            return None
    except (OSError, RuntimeError):  # missing, unreadable, or a symlink loop
        return None
    return resolved


def is_readable_file(root: Path, relative: str) -> bool:
    """Whether ``root/relative`` is a regular file inside ``root`` (symlinks resolved)."""
    return _regular_inside(root, relative) is not None


def read_bytes(root: Path, relative: str, *, max_bytes: int = MAX_READ_BYTES) -> bytes | None:
    """At most ``max_bytes + 1`` bytes of a regular file inside ``root``, or None.

    None for a missing file, a special file (device, FIFO, socket, directory) and a symlink that
    leads out of the repository. Opening does not block on a FIFO swapped in meanwhile.
    """
    resolved = _regular_inside(root, relative)
    if resolved is None:
        return None
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(resolved, flags)
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read(max_bytes + 1)


def read_text(root: Path, relative: str, *, max_bytes: int = MAX_READ_BYTES) -> str | None:
    """The text of ``root/relative`` as :func:`read_bytes` allows, cut at ``max_bytes``."""
    data = read_bytes(root, relative, max_bytes=max_bytes)
    if data is None:
        return None
    text = data[:max_bytes].decode("utf-8", errors="replace")
    if len(data) > max_bytes:
        text += f"\n... (cut: the file is longer than {max_bytes:,} bytes)"
    return text


def _listable(root: Path, relative: str) -> bool:
    """Regular files and symlinks to regular files inside the repository; nothing else."""
    try:
        mode = os.lstat(root / relative).st_mode
    except OSError:
        return False
    if stat.S_ISREG(mode):
        return True
    return stat.S_ISLNK(mode) and is_readable_file(root, relative)


def _git_files(root: Path, *, max_files: int, deadline: float) -> tuple[list[str], bool] | None:
    try:
        process = subprocess.Popen(
            [
                "git",
                "-c",
                "core.fsmonitor=false",
                "-c",
                "core.hooksPath=/dev/null",
                "-C",
                str(root),
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except OSError:
        return None
    if process.stdout is None:
        return None
    files: list[str] = []
    truncated = False
    buffer = b""
    while chunk := process.stdout.read(1 << 16):
        buffer += chunk
        *complete, buffer = buffer.split(b"\0")
        files.extend(name.decode("utf-8", "replace") for name in complete if name)
        if len(files) >= max_files or time.monotonic() > deadline:
            truncated = True
            process.kill()
            break
    process.stdout.close()
    if process.wait() != 0 and not truncated:
        return None  # not a git work tree
    return files[:max_files], truncated


def _walk_files(root: Path, *, max_files: int, deadline: float) -> tuple[list[str], bool]:
    lines = (read_text(root, ".gitignore") or "").splitlines()
    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    files: list[str] = []
    for current, dirnames, filenames in os.walk(root):
        relative = Path(current).relative_to(root).as_posix()
        prefix = "" if relative == "." else f"{relative}/"
        dirnames[:] = sorted(
            d for d in dirnames if d != ".git" and not spec.match_file(f"{prefix}{d}/")
        )
        for name in sorted(filenames):
            path = f"{prefix}{name}"
            if not spec.match_file(path):
                files.append(path)
        if len(files) >= max_files or time.monotonic() > deadline:
            return files[:max_files], True
    return files, False


def scan_repository(
    root: Path, *, max_files: int = 200_000, time_limit_seconds: float = 5.0
) -> RepoScan:
    """List the repository's files (tracked and untracked, not ignored), bounded in time."""
    started = time.monotonic()
    deadline = started + time_limit_seconds
    listed = _git_files(root, max_files=max_files, deadline=deadline)
    if listed is not None:
        files, truncated = listed
    else:
        files, truncated = _walk_files(root, max_files=max_files, deadline=deadline)
    files = [path for path in files if _listable(root, path)]
    method = "git" if listed is not None else "walk"
    return RepoScan.of(root, files, truncated=truncated, started=started, method=method)
