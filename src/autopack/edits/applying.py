"""The governed apply: every edit checked against scope and protections, then all written or none.

Applying normalizes each path first (see :mod:`autopack.edits.paths`), then refuses hidden
characters, escapes (absolute paths, ``..``, symlinks, ``.git/``), protected paths, paths
outside the phase scope, special files, binary files for EDIT and writes over the size caps,
and says which approval a change needs (net deletions over the threshold, or the ``always``
policy). Files are handled as bytes: an EDIT changes only the text it replaces, and keeps the
file's line endings (CRLF included) everywhere else.
"""

import difflib
from dataclasses import dataclass
from pathlib import Path

from autopack.edits import paths
from autopack.edits.format import Edit, ParsedEdits

DEFAULT_PROTECTED = paths.DEFAULT_PROTECTED

# A model writes source, not data: bigger writes are refused (per file, and per attempt).
MAX_FILE_BYTES = 1_000_000
MAX_ATTEMPT_BYTES = 4_000_000


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


def _on_disk_problem(root: Path, path: str) -> str | None:
    """Why the normalized ``path`` may not be written given what is on disk, or None."""
    current = root
    for part in path.split("/"):
        current = current / part
        if current.is_symlink():
            return f"{path!r} goes through a symlink ({current.relative_to(root)}); refused"
    target = root / path
    if not target.resolve().is_relative_to(root.resolve()):
        return f"{path!r} resolves outside the repository"
    if target.is_dir():
        return f"{path!r} is a directory; name a file"
    if target.exists() and not target.is_file():
        return f"{path!r} is a special file (device, FIFO or socket); refused"
    return None


def check_path(
    root: Path, path: str, *, allowed: list[str], protected: tuple[str, ...]
) -> str | None:
    """Return why ``path`` may not be written, or None when it may (``path`` as given)."""
    hidden = paths.hidden_character(path)
    if hidden:
        return f"{path!r} contains {hidden}; refused (paths must be plain text)"
    normal = paths.normalize(path)
    return paths.problem(normal, allowed=allowed, protected=protected) or _on_disk_problem(
        root, normal
    )


def _line_ending(text: str) -> str:
    """CRLF when every line of ``text`` ends with it, else LF."""
    newlines = text.count("\n")
    return "\r\n" if newlines and text.count("\r\n") == newlines else "\n"


def _with_ending(text: str, ending: str) -> str:
    text = text.replace("\r\n", "\n")
    return text.replace("\n", ending) if ending != "\n" else text


def _replace_once(text: str, search: str, replace: str, path: str) -> tuple[str, str | None]:
    """Replace the one occurrence of ``search``; everything else stays byte for byte."""
    ending = _line_ending(text)
    search, replace = _with_ending(search, ending), _with_ending(replace, ending)
    count = text.count(search) if search else 0
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
        start, end = hits[0], hits[0] + len(wanted)
        if ending == "\r\n" and lines[end - 1].endswith("\r") and not replace.endswith("\r"):
            replace += "\r"
        return "\n".join([*lines[:start], replace, *lines[end:]]), None
    close = difflib.get_close_matches(search.strip().split("\n")[0], lines, n=1, cutoff=0.5)
    hint = f"; the closest line is {close[0].strip()!r}" if close else ""
    return text, f"no match in {path} for the SEARCH text{hint}"


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() and not path.is_symlink() else None


def _as_text(data: bytes) -> str | None:
    """``data`` as UTF-8 text, or None when it is binary (NUL bytes) or not UTF-8."""
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _encode(text: str | None) -> bytes | None:
    return None if text is None else text.encode("utf-8", errors="surrogateescape")


def _new_content(edit: Edit, before: bytes | None, path: str) -> tuple[bytes | None, str | None]:
    """The bytes ``edit`` leaves at ``path`` (None: deleted), or why it cannot apply."""
    if edit.kind == "file":
        content = edit.content
        old_text = _as_text(before) if before is not None else None
        if old_text is not None and _line_ending(old_text) == "\r\n":
            content = _with_ending(content, "\r\n")  # a rewritten CRLF file stays CRLF
        return _encode(content), None
    if edit.kind == "delete":
        return None, None if before is not None else f"cannot delete {path}: it does not exist"
    if before is None:
        return None, f"cannot edit {path}: it does not exist; use a FILE block"
    text = _as_text(before)
    if text is None:
        return None, (
            f"cannot edit {path}: it is a binary (or non-UTF-8) file; EDIT changes text files "
            "only (replace it whole with a FILE block if it must change)"
        )
    for search, replace in edit.replacements:
        text, error = _replace_once(text, search, replace, path)
        if error:
            return None, error
    return _encode(text), None


def _plan(
    root: Path,
    edits: tuple[Edit, ...],
    *,
    allowed: list[str],
    protected: tuple[str, ...],
    max_file_bytes: int,
) -> tuple[dict[str, bytes | None], dict[str, bytes | None], list[str]]:
    """Return (new contents, original contents, refusals) without writing anything."""
    refusals: list[str] = []
    planned: dict[str, bytes | None] = {}
    originals: dict[str, bytes | None] = {}
    for edit in edits:
        problem = check_path(root, edit.path, allowed=allowed, protected=protected)
        if problem:
            refusals.append(problem)
            continue
        path = paths.normalize(edit.path)
        if path not in originals:
            originals[path] = _read(root / path)
        before = planned[path] if path in planned else originals[path]
        new, error = _new_content(edit, before, path)
        if error:
            refusals.append(error)
            continue
        planned[path] = new
        if new is not None and len(new) > max_file_bytes:
            refusals.append(
                f"{path} would be {len(new):,} bytes, over the {max_file_bytes:,}-byte limit "
                "for a file written by the model"
            )
    return planned, originals, refusals


def _lines(data: bytes | None) -> list[str]:
    return (data or b"").decode("utf-8", errors="replace").splitlines()


def _line_changes(
    planned: dict[str, bytes | None], originals: dict[str, bytes | None]
) -> tuple[int, int]:
    additions = deletions = 0
    for path, new in planned.items():
        diff = difflib.unified_diff(_lines(originals.get(path)), _lines(new), lineterm="", n=0)
        for line in diff:
            if line.startswith("+") and not line.startswith("+++"):
                additions += 1
            elif line.startswith("-") and not line.startswith("---"):
                deletions += 1
    return additions, deletions


def _write_all(
    root: Path, planned: dict[str, bytes | None], originals: dict[str, bytes | None]
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
                target.write_bytes(content)
            written.append(path)
    except OSError as exc:
        for path in written:
            original = originals[path]
            if original is None:
                (root / path).unlink(missing_ok=True)
            else:
                (root / path).write_bytes(original)
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
    max_file_bytes: int = MAX_FILE_BYTES,
    max_attempt_bytes: int = MAX_ATTEMPT_BYTES,
) -> ApplyOutcome:
    """Validate every edit, then write all of them (restoring everything if one write fails).

    A change needs approval when its net deletions exceed ``deletion_threshold`` or, with
    ``approve_every_change`` (approval policy ``always``), whatever it is. ``files`` are the
    normalized paths written: the accepted files the phase may commit.
    """
    planned, originals, refusals = _plan(
        root, parsed.edits, allowed=allowed, protected=protected, max_file_bytes=max_file_bytes
    )
    total = sum(len(data) for data in planned.values() if data is not None)
    if total > max_attempt_bytes:
        refusals.append(
            f"the edits write {total:,} bytes, over the {max_attempt_bytes:,}-byte limit for "
            "one attempt; make a smaller change"
        )
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
