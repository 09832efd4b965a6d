"""Paths the Builder names: normalized once, then checked for escapes, protections and scope.

A model can respell a path (``.github//workflows/ci.yml``, ``pkg/./secret.py``) or hide one
(a NUL, a control character, a right-to-left override that makes ``txt.py`` read as ``yp.txt``).
Every check runs on the normalized spelling, and a path with hidden characters is refused
before anything else looks at it. Built-in protections (lockfiles, CI configuration, submodule
settings) match at any depth; the run's own ``protectedPaths`` are anchored at the root.
"""

import re
import unicodedata
from pathlib import PurePosixPath

# Lockfiles, CI configuration and submodule settings: never changed by a model, at any depth.
DEFAULT_PROTECTED = (
    ".git/",
    ".github/workflows/",
    ".gitlab-ci.yml",
    ".gitlab/",
    ".ci/",
    ".circleci/",
    ".buildkite/",
    ".travis.yml",
    "azure-pipelines.yml",
    "Jenkinsfile",
    ".gitmodules",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "poetry.lock",
    "uv.lock",
    "Pipfile.lock",
    "pdm.lock",
    "Cargo.lock",
    "go.sum",
    "yarn.lock",
    "pnpm-lock.yaml",
    "bun.lockb",
    "Gemfile.lock",
    "composer.lock",
    "gradle.lockfile",
    "packages.lock.json",
    "flake.lock",
)

# Bidirectional controls (embeddings, overrides, isolates, marks) that make text read differently.
_BIDI = frozenset("\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_DRIVE = re.compile(r"^[A-Za-z]:")


def hidden_character(path: str) -> str | None:
    """Describe the first NUL, control, bidirectional or invisible format character, or None."""
    for position, char in enumerate(path):
        if char == "\0":
            return f"a NUL byte at position {position}"
        if char in _BIDI:
            return f"a bidirectional control character (U+{ord(char):04X}) at position {position}"
        category = unicodedata.category(char)
        if category == "Cc":
            return f"a control character (U+{ord(char):04X}) at position {position}"
        if category == "Cf":
            return f"an invisible format character (U+{ord(char):04X}) at position {position}"
    return None


def normalize(path: str) -> str:
    """The canonical spelling: forward slashes, no empty or ``.`` segments, no trailing slash.

    ``..`` segments are kept (so that they are refused, not resolved) and a leading ``/`` too.
    """
    text = path.strip().replace("\\", "/")
    absolute = text.startswith("/")
    parts = [part for part in text.split("/") if part not in ("", ".")]
    return ("/" if absolute else "") + "/".join(parts)


def _matches(path: str, entry: str, *, anywhere: bool) -> bool:
    """Whether ``path`` is ``entry`` (a file) or lies under it (a directory ending in ``/``)."""
    wanted = normalize(entry).split("/")
    if wanted == [""]:
        return False
    parts = path.split("/")
    size = len(wanted)
    for start in range(len(parts) - size + 1) if anywhere else (0,):
        if parts[start : start + size] == wanted and (
            entry.endswith("/") or start + size == len(parts)
        ):
            return True
    return False


def is_protected(path: str, protected: tuple[str, ...] | list[str]) -> bool:
    """Whether normalized ``path`` is protected: built-ins at any depth, others from the root."""
    return any(_matches(path, entry, anywhere=entry in DEFAULT_PROTECTED) for entry in protected)


def is_inside(path: str, allowed: tuple[str, ...] | list[str]) -> bool:
    """Whether normalized ``path`` lies in one of the ``allowed`` files or directory prefixes."""
    for entry in allowed:
        wanted = normalize(entry)
        if not wanted:
            if entry.strip().endswith("/"):  # "./": the whole repository
                return True
            continue
        if path == wanted or (entry.endswith("/") and path.startswith(wanted + "/")):
            return True
    return False


def problem(path: str, *, allowed: list[str], protected: tuple[str, ...]) -> str | None:
    """Why the normalized ``path`` may not be written (lexically), or None."""
    parts = PurePosixPath(path).parts
    checks = (
        (
            not path or path.startswith(("/", "~")) or bool(_DRIVE.match(path)),
            "is absolute; use a path relative to the repository root",
        ),
        (".." in parts, "contains '..'; paths must stay inside the repository"),
        (
            any(part.lower() == ".git" for part in parts),
            "is inside .git/, which is never editable",
        ),
        (is_protected(path, protected), "is a protected path"),
        (
            not is_inside(path, allowed),
            f"is outside the allowed paths ({', '.join(allowed) or 'none'})",
        ),
    )
    return next((f"{path!r} {message}" for failed, message in checks if failed), None)
