"""What the build and test commands left behind, and how it is taken back before a commit.

A phase commits exactly the edits the governed apply accepted. Everything else the repository's
commands changed in the working tree (generated files, paths outside the scope, protected paths)
and in ``.git`` (hooks, configuration, attributes, exclude file, index) is restored or removed
here, and named, so the engine can report it. Nothing here runs repository code: git is called
by the workspace with hooks, filters and fsmonitor disabled, and removals never follow symlinks.

What ``git status`` reports is only as honest as ``.git``: a command that can write it could
hide its changes there. So the index is put back byte for byte as Autopack's last git command
left it (a command's ``assume-unchanged`` or ``skip-worktree`` flag, staged content, forged stat
data or cache-tree would otherwise hide a change or slip content into the commit), so are HEAD
and the branch it names (a command's own commit would make its changes part of HEAD, and be
pushed), and ``.git/info/exclude`` is kept absent (its patterns would hide new files).
"""

import hashlib
import os
import re
import shutil
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from autopack.workspace import refs

# Written into .git/info/attributes: no repository-defined filter (clean/smudge/process
# commands from config) ever runs on Autopack's checkouts, commits or diffs.
ATTRIBUTES = "* -filter\n"

_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


@dataclass
class GitState:
    """``.git`` files Autopack restores when a command changed them."""

    config: bytes = b""
    hooks: frozenset[str] = frozenset()
    index: bytes | None = None  # None: there was no index
    index_mtime_ns: int = 0
    refs: dict[str, bytes | None] = field(default_factory=dict)  # HEAD, its branch's loose ref
    head_commit: str | None = None  # what they name (None: not a loose ref or detached HEAD)
    extra: dict[str, bytes] = field(default_factory=dict)


def capture(git_dir: Path) -> GitState:
    """Remember ``.git/config``, the hooks present now, the index, HEAD and its branch."""
    config = git_dir / "config"
    hooks = git_dir / "hooks"
    names = frozenset(os.listdir(hooks)) if hooks.is_dir() else frozenset()
    index = read_file(git_dir, "index")
    head_files, head_commit = _head_refs(git_dir)
    return GitState(
        config=config.read_bytes() if config.is_file() else b"",
        hooks=names,
        index=index,
        index_mtime_ns=0 if index is None else (git_dir / "index").stat().st_mtime_ns,
        refs=head_files,
        head_commit=head_commit,
    )


def _head_refs(git_dir: Path) -> tuple[dict[str, bytes | None], str | None]:
    """``HEAD`` and the loose ref of the branch it names (if any), and the commit they name.

    Autopack's checkouts and commits leave that ref loose, and a loose ref wins over
    ``packed-refs``: putting these back is enough to undo a command's commit or checkout.
    """
    head = read_file(git_dir, "HEAD")
    files, named = {"HEAD": head}, head
    name = (head or b"").decode("utf-8", "replace").strip().removeprefix("ref: ")
    if name.startswith("refs/heads/") and ".." not in name.split("/"):
        files[name] = named = read_file(git_dir, name)
    commit = (named or b"").decode("ascii", "replace").strip()
    return files, commit if _OBJECT_ID.fullmatch(commit) else None


def protect(git_dir: Path) -> None:
    """Disable repository-defined filters for every path and drop ``.git/info/exclude``."""
    info = git_dir / "info"
    if info.is_symlink() or (info / "attributes").is_symlink():
        remove(info if info.is_symlink() else info / "attributes")
    info.mkdir(exist_ok=True)
    attributes = info / "attributes"
    if not attributes.is_file() or attributes.read_text(encoding="utf-8") != ATTRIBUTES:
        attributes.write_text(ATTRIBUTES, encoding="utf-8")
    # Only comments in a fresh clone; any pattern in it would hide new files from git status.
    if os.path.lexists(info / "exclude"):
        remove(info / "exclude")


def restore_git(git_dir: Path, state: GitState) -> list[str]:
    """Undo changes to ``.git`` config, hooks, info, index, HEAD and branch; return them."""
    changed = [*_restore_index(git_dir, state), *_restore_refs(git_dir, state)]
    config = git_dir / "config"
    if config.is_symlink() or not config.is_file() or config.read_bytes() != state.config:
        if config.is_symlink():
            config.unlink()
        config.write_bytes(state.config)
        changed.append(".git/config")
    hooks = git_dir / "hooks"
    if hooks.is_symlink():
        hooks.unlink()
        hooks.mkdir()
        changed.append(".git/hooks")
    elif hooks.is_dir():
        for name in sorted(set(os.listdir(hooks)) - state.hooks):
            remove(hooks / name)
            changed.append(f".git/hooks/{name}")
    info = git_dir / "info"
    attributes, exclude = info / "attributes", info / "exclude"
    unprotected: list[str] = []
    if (
        not attributes.is_file()
        or attributes.is_symlink()
        or (attributes.read_text(encoding="utf-8", errors="replace") != ATTRIBUTES)
    ):
        unprotected.append(".git/info/attributes")
    if exclude.exists() or exclude.is_symlink():
        unprotected.append(".git/info/exclude")
    if unprotected:
        protect(git_dir)
    return changed + unprotected


def _restore_index(git_dir: Path, state: GitState) -> list[str]:
    if _is_as_remembered(git_dir, "index", state.index):
        return []
    index = git_dir / "index"
    remove(index)
    if state.index is not None:
        index.write_bytes(state.index)
        # git trusts the stat data of entries older than the index file: a new mtime would
        # make a change a command made in the second of Autopack's last write look clean.
        os.utime(index, ns=(state.index_mtime_ns, state.index_mtime_ns))
    return [".git/index"]


def _resolved_head(git_dir: Path) -> str | None:
    """The commit HEAD names, read from files (loose or packed); None: unsure without git."""
    head = (read_file(git_dir, "HEAD") or b"").decode("utf-8", "replace").strip()
    if head.startswith("ref: "):
        return refs.ref(git_dir, head.removeprefix("ref: ")) or None
    return head or None


def _restore_refs(git_dir: Path, state: GitState) -> list[str]:
    """Put HEAD and its branch back when they no longer name the commit Autopack left.

    Refs packed or other branches changed while HEAD still names it are no hiding place.
    """
    if all(_is_as_remembered(git_dir, name, data) for name, data in state.refs.items()):
        return []
    if (
        state.head_commit is not None
        and _is_as_remembered(git_dir, "HEAD", state.refs.get("HEAD"))
        and _resolved_head(git_dir) == state.head_commit
    ):
        return []
    changed: list[str] = []
    for name, data in state.refs.items():
        if not _is_as_remembered(git_dir, name, data):
            target = git_dir / name
            remove(target)
            if data is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            changed.append(f".git/{name}")
    return changed


def _is_as_remembered(git_dir: Path, name: str, data: bytes | None) -> bool:
    """Whether ``git_dir/name`` is a regular file holding ``data`` (None: nothing is there)."""
    if data is None:
        return not os.path.lexists(git_dir / name)
    return read_file(git_dir, name) == data


def remove(path: Path) -> None:
    """Delete a file, symlink or directory tree without following symlinks."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def remove_new(root: Path, path: str) -> None:
    """Delete the untracked ``root/path`` and the directories it leaves empty."""
    target = root / path
    remove(target)
    parent = target.parent
    while parent != root and parent.is_relative_to(root) and not parent.is_symlink():
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent


@dataclass(frozen=True)
class Change:
    """One path ``git status`` reports as different from HEAD."""

    path: str
    tracked: bool  # False: untracked (new) file or directory
    deleted: bool = False


def parse_status(output: str) -> list[Change]:
    """Read ``git status --porcelain=v1 -z --no-renames --untracked-files=all``."""
    changes: list[Change] = []
    for entry in output.split("\0"):
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if code == "!!":
            continue
        changes.append(Change(path=path.rstrip("/"), tracked=code != "??", deleted="D" in code))
    return changes


def has_staged_changes(output: str) -> bool:
    """Whether ``git status`` output (as :func:`parse_status` reads) shows an index unlike HEAD.

    Only unstaged changes (`` M``, `` D``, `` T``) and untracked files leave the index as HEAD
    has it; anything else (a staged change, an intent-to-add entry `` A``, a conflict) does.
    """
    for entry in output.split("\0"):
        if len(entry) < 4 or entry[:2] in ("??", "!!"):
            continue
        if entry[0] != " " or entry[1] not in "MDT":
            return True
    return False


def digest(data: bytes | None) -> str | None:
    """Content fingerprint used to tell whether an accepted file changed after the apply."""
    return None if data is None else hashlib.sha256(data).hexdigest()


def read_file(root: Path, path: str) -> bytes | None:
    """The bytes of ``root/path`` (None when absent, a symlink or not a regular file)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        descriptor = os.open(os.path.join(root, path), flags)
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return None
        return handle.read()


def normalize_accepted(accepted: Iterable[str] | Mapping[str, bytes | None]) -> dict[str, object]:
    """Accepted paths (as git prints them) mapped to their snapshot, or to ``...`` (no snapshot)."""
    if isinstance(accepted, Mapping):
        return {_clean(path): data for path, data in accepted.items()}
    return {_clean(path): ... for path in accepted}


def _clean(path: str) -> str:
    return "/".join(part for part in path.replace("\\", "/").split("/") if part not in ("", "."))
