"""The workspace's HEAD, read from ``.git`` without a git process, always agrees with git."""

import os
from pathlib import Path

import pytest

from autopack.workspace import GitWorkspace
from tests.builders.scenario import git


@pytest.fixture
def workspace(tmp_path: Path) -> GitWorkspace:
    source = tmp_path / "source"
    source.mkdir()
    (source / "a.txt").write_text("a\n")
    git("init", "-q", "-b", "main", cwd=source)
    git("add", "-A", cwd=source)
    git("commit", "-qm", "first", cwd=source)
    return GitWorkspace.clone(
        str(source), ref="main", dest=tmp_path / "work", branch="autopack/head", run_id="r"
    )


def rev_parse(workspace: GitWorkspace) -> str:
    return git("rev-parse", "HEAD", cwd=workspace.root).strip()


def test_the_head_read_from_git_files_is_the_commit_git_names(workspace: GitWorkspace) -> None:
    assert workspace._loose_head() == rev_parse(workspace) == workspace.head()
    (workspace.root / "b.txt").write_text("b\n")
    commit = workspace.commit("second")
    assert commit == rev_parse(workspace) == workspace._loose_head()


def test_a_detached_head_is_read_too(workspace: GitWorkspace) -> None:
    first = workspace.head()
    git("checkout", "-q", "--detach", first, cwd=workspace.root)
    assert workspace._loose_head() == first == workspace.head()


def test_packed_refs_symlinks_and_other_repositories_are_left_to_git(
    workspace: GitWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = rev_parse(workspace)
    git("pack-refs", "--all", cwd=workspace.root)
    assert workspace._loose_head() is None
    assert workspace.head() == expected

    ref = workspace.root / ".git" / "refs" / "heads" / "autopack" / "head"
    elsewhere = workspace.root.parent / "elsewhere"
    elsewhere.write_text(f"{'0' * 40}\n")
    ref.parent.mkdir(parents=True, exist_ok=True)
    ref.symlink_to(elsewhere)  # git would refuse it as a ref; never read through it
    assert workspace._loose_head() is None
    ref.unlink()

    os.mkfifo(ref)  # a FIFO must not block the read
    assert workspace._loose_head() is None
    ref.unlink()

    (workspace.root / "c.txt").write_text("c\n")
    expected = workspace.commit("a commit writes the ref loose again")
    assert workspace._loose_head() == expected == rev_parse(workspace)
    monkeypatch.setenv("GIT_DIR", str(workspace.root / ".git"))
    assert workspace._loose_head() is None
