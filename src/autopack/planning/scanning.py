"""List a repository's files the way git sees them, within a time and size bound.

Scope inference and preflight need to know which files and directories exist, without
descending into ignored trees (``node_modules``, build output) and without hanging on a huge
monorepo. Inside a git work tree ``git ls-files`` answers exactly and fast; elsewhere the
root ``.gitignore`` is honoured through pathspec's gitignore semantics.
"""

import os
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


def _git_files(root: Path, *, max_files: int, deadline: float) -> tuple[list[str], bool] | None:
    try:
        process = subprocess.Popen(
            [
                "git",
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
    ignore_file = root / ".gitignore"
    lines = ignore_file.read_text(errors="replace").splitlines() if ignore_file.is_file() else []
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
        return RepoScan.of(root, files, truncated=truncated, started=started, method="git")
    files, truncated = _walk_files(root, max_files=max_files, deadline=deadline)
    return RepoScan.of(root, files, truncated=truncated, started=started, method="walk")
