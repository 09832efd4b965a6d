"""The governed apply: every edit checked against scope and protections, then all written or none.

Applying refuses escapes (absolute paths, ``..``, symlinks, ``.git/``), protected paths and
paths outside the phase scope, and says which approval a change needs (net deletions over the
threshold, or the ``always`` policy).
"""

import difflib
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from autopack.edits.format import Edit, ParsedEdits

DEFAULT_PROTECTED = (
    ".git/",
    ".github/workflows/",
    ".gitlab-ci.yml",
    ".ci/",
    "package-lock.json",
    "poetry.lock",
    "uv.lock",
    "Cargo.lock",
    "go.sum",
    "yarn.lock",
    "pnpm-lock.yaml",
)


@dataclass(frozen=True)
class ApplyOutcome:
    """What applying one attempt's edits did; ``files`` and line counts only when applied."""

    files: tuple[str, ...]
    additions: int
    deletions: int
    refusals: tuple[str, ...] = ()
    approval_reason: str | None = None

    @property
    def applied(self) -> bool:
        """Whether the edits were written (nothing is written when any edit is refused)."""
        return not self.refusals


def _inside(path: str, prefixes: tuple[str, ...] | list[str]) -> bool:
    return any(
        path == p.rstrip("/") or (p.endswith("/") and path.startswith(p)) or path == p
        for p in prefixes
    )


def _lexical_problem(path: str, *, allowed: list[str], protected: tuple[str, ...]) -> str | None:
    parts = PurePosixPath(path).parts
    checks = (
        (
            not path or path.startswith(("/", "~")) or bool(re.match(r"^[A-Za-z]:", path)),
            "is absolute; use a path relative to the repository root",
        ),
        (".." in parts, "contains '..'; paths must stay inside the repository"),
        (".git" in parts, "is inside .git/, which is never editable"),
        (_inside(path, list(protected)), "is a protected path"),
        (
            not _inside(path, allowed),
            f"is outside the allowed paths ({', '.join(allowed) or 'none'})",
        ),
    )
    return next((f"{path!r} {message}" for failed, message in checks if failed), None)


def check_path(
    root: Path, path: str, *, allowed: list[str], protected: tuple[str, ...]
) -> str | None:
    """Return why ``path`` may not be written, or None when it may."""
    problem = _lexical_problem(path, allowed=allowed, protected=protected)
    if problem:
        return problem
    current = root
    for part in PurePosixPath(path).parts:
        current = current / part
        if current.is_symlink():
            return f"{path!r} goes through a symlink ({current.relative_to(root)}); refused"
    if not (root / path).resolve().is_relative_to(root.resolve()):
        return f"{path!r} resolves outside the repository"
    return None


def _replace_once(text: str, search: str, replace: str, path: str) -> tuple[str, str | None]:
    count = text.count(search)
    if count == 1:
        return text.replace(search, replace, 1), None
    if count > 1:
        return text, f"the SEARCH text matches {count} places in {path}; include more lines"
    # Whitespace-tolerant: compare lines with trailing spaces stripped and indentation kept.
    lines = text.split("\n")
    wanted = [line.rstrip() for line in search.split("\n")]
    hits = [
        i
        for i in range(len(lines) - len(wanted) + 1)
        if [line.rstrip() for line in lines[i : i + len(wanted)]] == wanted
    ]
    if len(hits) == 1:
        start = hits[0]
        return "\n".join([*lines[:start], replace, *lines[start + len(wanted) :]]), None
    close = difflib.get_close_matches(search.strip().split("\n")[0], lines, n=1, cutoff=0.5)
    hint = f"; the closest line is {close[0].strip()!r}" if close else ""
    return text, f"no match in {path} for the SEARCH text{hint}"


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None


def _plan(
    root: Path, edits: tuple[Edit, ...], *, allowed: list[str], protected: tuple[str, ...]
) -> tuple[dict[str, str | None], dict[str, str | None], list[str]]:
    """Return (new contents, original contents, refusals) without writing anything."""
    refusals: list[str] = []
    planned: dict[str, str | None] = {}
    originals: dict[str, str | None] = {}
    for edit in edits:
        problem = check_path(root, edit.path, allowed=allowed, protected=protected)
        if problem:
            refusals.append(problem)
            continue
        originals.setdefault(edit.path, _read(root / edit.path))
        before = planned[edit.path] if edit.path in planned else originals[edit.path]
        if edit.kind == "file":
            planned[edit.path] = edit.content
        elif edit.kind == "delete":
            if before is None:
                refusals.append(f"cannot delete {edit.path}: it does not exist")
            planned[edit.path] = None
        elif before is None:
            refusals.append(f"cannot edit {edit.path}: it does not exist; use a FILE block")
        else:
            text: str = before
            for search, replace in edit.replacements:
                text, error = _replace_once(text, search, replace, edit.path)
                if error:
                    refusals.append(error)
                    break
            planned[edit.path] = text
    return planned, originals, refusals


def _line_changes(
    planned: dict[str, str | None], originals: dict[str, str | None]
) -> tuple[int, int]:
    additions = deletions = 0
    for path, new in planned.items():
        old = originals.get(path)
        diff = difflib.unified_diff(
            (old or "").splitlines(), (new or "").splitlines(), lineterm="", n=0
        )
        for line in diff:
            if line.startswith("+") and not line.startswith("+++"):
                additions += 1
            elif line.startswith("-") and not line.startswith("---"):
                deletions += 1
    return additions, deletions


def _write_all(
    root: Path, planned: dict[str, str | None], originals: dict[str, str | None]
) -> str | None:
    """Write every planned file; on any failure restore what was written and say why."""
    written: list[str] = []
    try:
        for path, content in planned.items():
            target = root / path
            if content is None:
                target.unlink(missing_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content, encoding="utf-8")
            written.append(path)
    except OSError as exc:
        for path in written:
            original = originals[path]
            if original is None:
                (root / path).unlink(missing_ok=True)
            else:
                (root / path).write_text(original, encoding="utf-8")
        return f"writing failed, nothing applied: {exc}"
    return None


def apply_edits(
    root: Path,
    parsed: ParsedEdits,
    *,
    allowed: list[str],
    protected: tuple[str, ...],
    deletion_threshold: int | None,
    approve_every_change: bool = False,
) -> ApplyOutcome:
    """Validate every edit, then write all of them (restoring everything if one write fails).

    A change needs approval when its net deletions exceed ``deletion_threshold`` or, with
    ``approve_every_change`` (approval policy ``always``), whatever it is.
    """
    planned, originals, refusals = _plan(root, parsed.edits, allowed=allowed, protected=protected)
    additions, deletions = _line_changes(planned, originals)
    files = tuple(sorted(planned))
    if refusals:
        return ApplyOutcome((), 0, 0, refusals=tuple(refusals))
    net = deletions - additions
    approval = None
    if approve_every_change:
        approval = "approval policy 'always': every change waits for a person"
    elif deletion_threshold is not None and net > deletion_threshold:
        approval = (
            f"the change deletes {net} more lines than it adds (threshold {deletion_threshold})"
        )
    failure = _write_all(root, planned, originals)
    if failure:
        return ApplyOutcome((), 0, 0, refusals=(failure,))
    return ApplyOutcome(files, additions, deletions, approval_reason=approval)
