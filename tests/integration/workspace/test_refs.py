"""Refs and HEAD read from ``.git`` without a git process agree with git, or are left to git."""

import os
import subprocess
from pathlib import Path

import pytest

from autopack.workspace import GitWorkspace, refs
from tests.builders.scenario import git


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    (source / "a.txt").write_text("a\n")
    git("init", "-q", "-b", "main", cwd=source)
    git("add", "-A", cwd=source)
    git("commit", "-qm", "first", cwd=source)
    git("branch", "autopack/demo", cwd=source)
    (source / "a.txt").write_text("b\n")
    git("commit", "-qam", "second", cwd=source)
    return source


def clone(remote: Path, tmp_path: Path) -> Path:
    git("clone", "-q", "--no-checkout", str(remote), str(tmp_path / "work"), cwd=tmp_path)
    return tmp_path / "work" / ".git"


def rev_parse(git_dir: Path, name: str) -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", "--end-of-options", name],
        cwd=git_dir.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip()


def test_a_fresh_clones_remote_branches_are_read_as_git_reads_them(
    remote: Path, tmp_path: Path
) -> None:
    git_dir = clone(remote, tmp_path)
    for name in ("refs/remotes/origin/main", "refs/remotes/origin/autopack/demo"):
        assert refs.ref(git_dir, name) == rev_parse(git_dir, name) != ""
    assert (
        refs.ref(git_dir, "refs/remotes/origin/missing")
        == ""
        == rev_parse(git_dir, "refs/remotes/origin/missing")
    )


def test_a_loose_ref_wins_over_packed_refs(remote: Path, tmp_path: Path) -> None:
    git_dir = clone(remote, tmp_path)
    name = "refs/remotes/origin/autopack/demo"
    git("update-ref", name, rev_parse(git_dir, "refs/remotes/origin/main"), cwd=git_dir.parent)
    assert (git_dir / name).is_file()
    assert refs.ref(git_dir, name) == rev_parse(git_dir, name)


def test_symbolic_refs_symlinks_odd_names_and_other_repositories_are_left_to_git(
    remote: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git_dir = clone(remote, tmp_path)
    assert (git_dir / "refs/remotes/origin/HEAD").read_text().startswith("ref: ")
    assert refs.ref(git_dir, "refs/remotes/origin/HEAD") is None
    (git_dir / "refs/remotes/origin/linked").symlink_to(git_dir / "refs/remotes/origin/HEAD")
    assert refs.ref(git_dir, "refs/remotes/origin/linked") is None
    assert refs.ref(git_dir, "refs/remotes/origin/../../HEAD") is None
    assert refs.ref(git_dir, "HEAD") is None
    monkeypatch.setenv("GIT_DIR", str(git_dir))
    assert refs.ref(git_dir, "refs/remotes/origin/main") is None


def test_a_clone_continues_the_remote_branch_it_finds(remote: Path, tmp_path: Path) -> None:
    workspace = GitWorkspace.clone(
        str(remote), ref="main", dest=tmp_path / "work", branch="autopack/demo"
    )
    assert workspace.head() == git("rev-parse", "autopack/demo", cwd=remote).strip()
    other = GitWorkspace.clone(
        str(remote), ref="main", dest=tmp_path / "other", branch="autopack/new"
    )
    assert other.head() == git("rev-parse", "main", cwd=remote).strip()


@pytest.fixture
def workspace(remote: Path, tmp_path: Path) -> GitWorkspace:
    return GitWorkspace.clone(
        str(remote), ref="main", dest=tmp_path / "work", branch="autopack/head", run_id="r"
    )


def head_of(workspace: GitWorkspace) -> str:
    return git("rev-parse", "HEAD", cwd=workspace.root).strip()


def test_the_head_read_from_git_files_is_the_commit_git_names(workspace: GitWorkspace) -> None:
    assert workspace._loose_head() == head_of(workspace) == workspace.head()
    (workspace.root / "b.txt").write_text("b\n")
    commit = workspace.commit("second")
    assert commit == head_of(workspace) == workspace._loose_head()


def test_a_detached_head_is_read_too(workspace: GitWorkspace) -> None:
    first = workspace.head()
    git("checkout", "-q", "--detach", first, cwd=workspace.root)
    assert workspace._loose_head() == first == workspace.head()


def test_packed_refs_symlinks_and_other_repositories_are_left_to_git(
    workspace: GitWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = head_of(workspace)
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
    assert workspace._loose_head() == expected == head_of(workspace)
    monkeypatch.setenv("GIT_DIR", str(workspace.root / ".git"))
    assert workspace._loose_head() is None
