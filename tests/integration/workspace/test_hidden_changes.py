"""Commands that write ``.git`` cannot hide their changes from the phase commit.

Outside bubblewrap (``--sandbox none``) a repository's test command can write ``.git``. Each case
lets a "command" hide what it changed from ``git status`` through the index (flags, staged
content, forged stat data or cache-tree), an exclude file, replace refs or a commit of its own,
in a real checkout with a bare remote, and checks that the change is still taken back and named, and that the
commit holds exactly the governed edit.
"""

import hashlib
import subprocess
import time
from pathlib import Path

import pytest

from autopack.workspace import GitWorkspace, hygiene
from tests.builders.scenario import git

FILES = {"app.py": "x = 1\n", "README.md": "readme\n", "lib/util.py": "u = 1\n"}


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    for name, text in FILES.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text, encoding="utf-8")
    git("init", "-q", "-b", "main", cwd=source)
    git("add", "-A", cwd=source)
    git("commit", "-qm", "initial", cwd=source)
    git("clone", "-q", "--bare", str(source), str(tmp_path / "remote.git"), cwd=tmp_path)
    return tmp_path / "remote.git"


def clone(remote: Path) -> GitWorkspace:
    return GitWorkspace.clone(
        str(remote), ref="main", dest=remote.parent / "work", branch="autopack/demo"
    )


def governed_edit(workspace: GitWorkspace) -> dict[str, bytes | None]:
    """The governed apply's edit (same size as before, as a same-second rewrite would be)."""
    (workspace.root / "app.py").write_text("x = 2\n", encoding="utf-8")
    return workspace.snapshot(["app.py"])


def commit_and_push(workspace: GitWorkspace, remote: Path) -> list[str]:
    """Commit and push the phase; return the paths the pushed commit changed."""
    workspace.commit("phase 1")
    workspace.push()
    return git("show", "--name-only", "--format=", "autopack/demo", cwd=remote).split()


def write_blob(root: Path, text: str) -> str:
    return subprocess.run(
        ["git", "hash-object", "-w", "--stdin"],
        cwd=root,
        input=text,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def swap_in_index(root: Path, old: str, new: str) -> None:
    """Rewrite one object id in ``.git/index`` and its checksum, as any program could."""
    index = root / ".git" / "index"
    body = bytearray(index.read_bytes()[:-20])
    at = body.find(bytes.fromhex(old))
    assert at > 0, f"{old} is not in the index"
    body[at : at + 20] = bytes.fromhex(new)
    index.write_bytes(bytes(body) + hashlib.sha1(body, usedforsecurity=False).digest())


@pytest.mark.parametrize("flag", ["--assume-unchanged", "--skip-worktree"])
def test_a_change_hidden_by_an_index_flag_is_restored_and_named(remote: Path, flag: str) -> None:
    workspace = clone(remote)
    snapshot = governed_edit(workspace)
    (workspace.root / "README.md").write_text("pwned\n", encoding="utf-8")
    git("update-index", flag, "README.md", cwd=workspace.root)

    discarded = workspace.discard_side_effects(snapshot)

    assert {"README.md", ".git/index"} <= set(discarded)
    assert (workspace.root / "README.md").read_text(encoding="utf-8") == "readme\n"
    assert commit_and_push(workspace, remote) == ["app.py"]
    assert git("ls-files", "-v", "README.md", cwd=workspace.root) == "H README.md\n"


def test_new_files_hidden_by_info_exclude_are_removed_and_named(remote: Path) -> None:
    workspace = clone(remote)
    snapshot = governed_edit(workspace)
    (workspace.root / "hidden.py").write_text("evil = 1\n", encoding="utf-8")
    (workspace.root / ".git" / "info" / "exclude").write_text("hidden.py\n", encoding="utf-8")

    discarded = workspace.discard_side_effects(snapshot)

    assert {"hidden.py", ".git/info/exclude"} <= set(discarded)
    assert not (workspace.root / "hidden.py").exists()
    assert not (workspace.root / ".git" / "info" / "exclude").exists()
    assert commit_and_push(workspace, remote) == ["app.py"]


@pytest.mark.parametrize("where", ["repository config", "global ignore file"])
def test_new_files_hidden_by_an_excludes_file_are_removed(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    workspace = clone(remote)
    snapshot = governed_edit(workspace)
    (workspace.root / "hidden.py").write_text("evil = 1\n", encoding="utf-8")
    patterns = tmp_path / "patterns"
    patterns.write_text("hidden.py\n", encoding="utf-8")
    if where == "repository config":
        git("config", "core.excludesFile", str(patterns), cwd=workspace.root)
    else:  # read by default, and the command's HOME is writable outside bubblewrap
        (home / ".config" / "git").mkdir(parents=True)
        (home / ".config" / "git" / "ignore").write_text("hidden.py\n", encoding="utf-8")

    discarded = workspace.discard_side_effects(snapshot)

    assert "hidden.py" in discarded
    assert not (workspace.root / "hidden.py").exists()
    assert commit_and_push(workspace, remote) == ["app.py"]


def test_content_a_command_staged_in_the_index_is_never_committed(remote: Path) -> None:
    workspace = clone(remote)
    root = workspace.root
    snapshot = governed_edit(workspace)
    evil = write_blob(root, "evil = 1\n")
    git("update-index", "--add", "--cacheinfo", f"100644,{evil},evil.py", cwd=root)
    git("update-index", "--skip-worktree", "evil.py", cwd=root)

    discarded = workspace.discard_side_effects(snapshot)

    assert ".git/index" in discarded
    assert commit_and_push(workspace, remote) == ["app.py"]


def test_a_forged_cache_tree_cannot_put_content_into_the_commit(remote: Path) -> None:
    workspace = clone(remote)
    root = workspace.root
    snapshot = governed_edit(workspace)
    # The command builds a lib/ tree holding its content, then makes the index's cached tree
    # for lib/ name it while every entry (what git status compares) is HEAD's again.
    head_lib = git("rev-parse", "HEAD:lib", cwd=root).strip()
    (root / "lib" / "util.py").write_text("evil = 1\n", encoding="utf-8")
    git("add", "lib/util.py", cwd=root)
    evil_lib = git("rev-parse", git("write-tree", cwd=root).strip() + ":lib", cwd=root).strip()
    git("reset", "-q", cwd=root)
    git("checkout", "--", "lib/util.py", cwd=root)
    git("write-tree", cwd=root)
    swap_in_index(root, head_lib, evil_lib)
    assert git("status", "--porcelain", cwd=root) == " M app.py\n"  # hidden from git status

    discarded = workspace.discard_side_effects(snapshot)

    assert ".git/index" in discarded
    assert commit_and_push(workspace, remote) == ["app.py"]
    assert git("show", "autopack/demo:lib/util.py", cwd=remote) == "u = 1\n"


def test_an_index_with_forged_stat_data_cannot_hide_a_change(remote: Path) -> None:
    workspace = clone(remote)
    root = workspace.root
    snapshot = governed_edit(workspace)
    head_readme = git("rev-parse", "HEAD:README.md", cwd=root).strip()
    (root / "README.md").write_text("pwned!\n", encoding="utf-8")
    time.sleep(1.1)  # older than the index git writes next: git trusts the entry's stat data
    git("add", "README.md", cwd=root)
    # The entry keeps the rewritten file's stat data but names HEAD's content again.
    swap_in_index(root, git("rev-parse", ":README.md", cwd=root).strip(), head_readme)
    assert git("status", "--porcelain", cwd=root) == " M app.py\n"  # hidden from git status

    discarded = workspace.discard_side_effects(snapshot)

    assert {"README.md", ".git/index"} <= set(discarded)
    assert (root / "README.md").read_text(encoding="utf-8") == "readme\n"
    assert commit_and_push(workspace, remote) == ["app.py"]


def test_a_replace_ref_cannot_change_what_is_restored_or_committed(remote: Path) -> None:
    workspace = clone(remote)
    root = workspace.root
    snapshot = governed_edit(workspace)
    head_readme = git("rev-parse", "HEAD:README.md", cwd=root).strip()
    git("replace", head_readme, write_blob(root, "pwned\n"), cwd=root)
    (root / "README.md").write_text("pwned\n", encoding="utf-8")

    discarded = workspace.discard_side_effects(snapshot)

    assert "README.md" in discarded
    assert (root / "README.md").read_text(encoding="utf-8") == "readme\n"
    assert commit_and_push(workspace, remote) == ["app.py"]
    assert git("show", "autopack/demo:README.md", cwd=remote) == "readme\n"


@pytest.mark.parametrize(
    "then",
    [(), ("checkout", "-qb", "elsewhere"), ("pack-refs", "--all")],
    ids=["on the branch", "on another branch", "then packs refs"],
)
def test_a_commit_a_command_made_is_undone_and_never_pushed(
    remote: Path, then: tuple[str, ...]
) -> None:
    workspace = clone(remote)
    root = workspace.root
    savepoint = workspace.head()
    snapshot = governed_edit(workspace)
    (root / "README.md").write_text("pwned\n", encoding="utf-8")
    if then[:1] == ("checkout",):
        git(*then, cwd=root)
    git("commit", "-qm", "evil", "--", "README.md", cwd=root)
    if then[:1] == ("pack-refs",):
        git(*then, cwd=root)

    assert workspace.head() == savepoint
    discarded = workspace.discard_side_effects(snapshot)

    assert "README.md" in discarded
    assert (root / "README.md").read_text(encoding="utf-8") == "readme\n"
    assert commit_and_push(workspace, remote) == ["app.py"]
    assert git("log", "--format=%s", "autopack/demo", cwd=remote).split("\n")[:2] == [
        "phase 1",
        "initial",
    ]


def test_a_reused_checkout_does_not_trust_the_index_it_was_left_with(remote: Path) -> None:
    workspace = clone(remote)
    # A command of the run that was interrupted hid its change after Autopack's last git call.
    (workspace.root / "README.md").write_text("pwned\n", encoding="utf-8")
    git("update-index", "--assume-unchanged", "README.md", cwd=workspace.root)

    resumed = clone(remote)

    assert (resumed.root / "README.md").read_text(encoding="utf-8") == "readme\n"
    assert git("ls-files", "-v", "README.md", cwd=resumed.root) == "H README.md\n"


def test_a_restored_index_keeps_the_time_git_judges_recent_edits_by(remote: Path) -> None:
    workspace = clone(remote)
    git_dir = workspace.root / ".git"
    state = hygiene.capture(git_dir)
    time.sleep(0.01)
    git("update-index", "--assume-unchanged", "README.md", cwd=workspace.root)

    assert hygiene.restore_git(git_dir, state) == [".git/index"]
    assert (git_dir / "index").read_bytes() == state.index
    assert (git_dir / "index").stat().st_mtime_ns == state.index_mtime_ns


def test_an_edit_in_the_second_of_the_last_git_call_survives_an_index_restore(
    remote: Path,
) -> None:
    # git compares stat data in whole seconds: an entry as recent as the index file is
    # re-read, one older is trusted. Restored later, the index must not look newer than the
    # governed edit made in the second of the checkout (same size: only the time tells).
    time.sleep(1 - time.time() % 1)
    workspace = clone(remote)
    snapshot = governed_edit(workspace)
    time.sleep(1.1)  # the tests run
    git("update-index", "--assume-unchanged", "README.md", cwd=workspace.root)

    assert ".git/index" in workspace.discard_side_effects(snapshot)
    assert commit_and_push(workspace, remote) == ["app.py"]
