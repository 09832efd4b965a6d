"""One attempt through the real domain parts, in the order the engine wires them.

clone → governed apply of the Builder's edits → snapshot → the repository's (hostile) tests in
the sandbox → discard side effects → commit → push. The tests try everything the issue lists:
print the environment, rewrite CI config, a lockfile, the README and a protected file, write a
git hook, leave a background process. What lands on the remote is exactly the governed edits.
"""

import subprocess
import time
from pathlib import Path

import pytest

from autopack import redaction, sandbox
from autopack.edits import DEFAULT_PROTECTED, apply_edits, parse_edits
from autopack.gates import CommandGates
from autopack.sandbox import SandboxMode
from autopack.toolchains import SuiteCommand
from autopack.workspace import GitWorkspace

MODES = [
    pytest.param(
        "bwrap",
        marks=pytest.mark.skipif(not sandbox.probe_bubblewrap()[0], reason="no bubblewrap"),
    ),
    "none",
]
KEY = "sk-ant-pipeline-canary-0123456789abcdef"
TOKEN = "ghp_pipelinecanary0123456789abcdefghij"

HOSTILE_TEST = """\
import os, pathlib, subprocess

def test_hostile():
    print("ENV", dict(os.environ))
    root = pathlib.Path(__file__).resolve().parents[1]
    (root / ".github" / "workflows" / "ci.yml").write_text("on: pwned\\n")
    (root / "poetry.lock").write_text("pwned\\n")
    (root / "README.md").write_text("pwned\\n")
    (root / "secret.cfg").write_text("pwned\\n")
    (root / "generated.txt").write_text("generated\\n")
    (root / "app" / "core.py").write_text("VALUE = 'changed by a test'\\n")
    try:
        hook = root / ".git" / "hooks" / "pre-commit"
        hook.write_text("#!/bin/sh\\ntouch " + str(root.parent / "HOOK-RAN") + "\\n")
        hook.chmod(0o755)
    except OSError:
        pass
    subprocess.Popen(["setsid", "sleep", "8642"], start_new_session=True)
    assert True
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    files = {
        "app/core.py": "VALUE = 1\n",
        "tests/test_hostile.py": HOSTILE_TEST,
        ".github/workflows/ci.yml": "on: push\n",
        "poetry.lock": "lock\n",
        "README.md": "readme\n",
        "secret.cfg": "keep\n",
    }
    for name, text in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    git(source, "init", "-q", "-b", "main")
    git(source, "add", "-A")
    git(source, "commit", "-qm", "initial")
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(source), str(bare))
    return bare


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES)
def test_a_hostile_test_suite_changes_nothing_but_the_governed_edits(
    tmp_path: Path, remote: Path, mode: SandboxMode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("AUTOPACK_GIT_TOKEN", TOKEN)
    redaction.reset_default()
    workspace = GitWorkspace.clone(
        str(remote), ref="main", dest=tmp_path / "work", branch="autopack/run"
    )
    answer = "=== FILE: app/extra.py\nEXTRA = 2\n=== END\n"
    outcome = apply_edits(
        workspace.root,
        parse_edits(answer),
        allowed=["app/"],
        protected=(*DEFAULT_PROTECTED, "secret.cfg"),
        deletion_threshold=None,
    )
    assert outcome.applied, outcome.refusals
    snapshot = workspace.snapshot(outcome.files)

    with sandbox.choose(mode, workspace=workspace.root) as box:
        gates = CommandGates(
            workspace.root,
            suite=SuiteCommand("python -m pytest -q -s -p no:cacheprovider", report="junit"),
            timeout=120,
            sandbox=box,
        )
        result = gates.baseline()
    assert result.passed == 1, result.log_excerpt
    assert KEY not in result.log_excerpt
    assert TOKEN not in result.log_excerpt

    discarded = workspace.discard_side_effects(snapshot)
    workspace.commit("autopack: phase 0")
    workspace.push()

    committed = git(remote, "show", "--name-only", "--format=", "autopack/run").split()
    assert committed == ["app/extra.py"]
    assert git(remote, "show", "autopack/run:app/core.py") == "VALUE = 1\n"
    assert {"README.md", "poetry.lock", ".github/workflows/ci.yml", "secret.cfg"} <= set(discarded)
    assert "generated.txt" in discarded
    assert not (tmp_path / "HOOK-RAN").exists()
    assert not (workspace.root / ".git" / "hooks" / "pre-commit").exists()

    def sleeper_alive() -> bool:
        found = subprocess.run(["pgrep", "-f", "sleep 8642"], capture_output=True, check=False)
        return found.returncode == 0

    deadline = time.monotonic() + 10
    while sleeper_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not sleeper_alive()
    redaction.reset_default()
