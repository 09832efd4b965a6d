"""Real test runs in real temp projects: Python, Node (node:test); bad inputs.

Go, Rust and Java projects with dependencies: ``test_compiled_toolchains.py``.
"""

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from autopack.gates.commands import CommandGates, run_command
from autopack.planning import scan_repository
from autopack.toolchains import choose_suite_command, detect
from autopack.workspace.git import GitWorkspace, WorkspaceError

PYTEST = "python -m pytest -q -p no:asyncio -p no:kmock"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)
    return root


def gates_for(root: Path, command: str | None = None) -> CommandGates:
    detections = detect(root, list(scan_repository(root).files))
    suite = choose_suite_command(detections)
    assert suite is not None
    if command:
        suite = type(suite)(command, working_dir=suite.working_dir, report=suite.report)
    return CommandGates(root, suite=suite, timeout=120)


PY_PROJECT = {
    "pyproject.toml": "[tool.pytest.ini_options]\npythonpath = ['.']\n",
    "calc.py": "def add(a, b):\n    return a + b\n\ndef sub(a, b):\n    return a - b\n",
    "tests/test_calc.py": (
        "from calc import add, sub\n\ndef test_add():\n    assert add(1, 2) == 3\n\n"
        "def test_sub():\n    assert sub(3, 1) == 2\n\ndef test_known_bug():\n    assert add(0.1, 0.2) == 0.3\n"
    ),
}


def test_python_new_failure_blocks_but_the_preexisting_one_never_does(tmp_path: Path) -> None:
    root = write(tmp_path, PY_PROJECT)
    gates = gates_for(root, PYTEST)
    base = gates.baseline()
    assert (base.passed, base.failed) == (2, 1)
    assert base.failing == ("tests.test_calc::test_known_bug",)
    (root / "calc.py").write_text(
        "def add(a, b):\n    return round(a + b, 9)\n\ndef sub(a, b):\n    return a - b\n"
    )
    fixed = gates.tests()
    assert not fixed.blocked  # touching only the known failure (now passing) is fine
    (root / "calc.py").write_text(
        "def add(a, b):\n    return a + b\n\ndef sub(a, b):\n    return b - a\n"
    )
    broken = gates.tests()
    assert broken.blocked
    assert broken.new_failures == ("tests.test_calc::test_sub",)


def test_python_syntax_error_is_a_collection_error_and_blocks(tmp_path: Path) -> None:
    root = write(tmp_path, PY_PROJECT)
    gates = gates_for(root, PYTEST)
    gates.baseline()
    (root / "calc.py").write_text("def add(a, b)\n    return a + b\n")
    outcome = gates.tests()
    assert outcome.blocked
    assert outcome.collection_errors >= 1


def test_flaky_test_is_rerun_and_reported_not_hidden(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "pyproject.toml": "",
            "tests/test_flaky.py": (
                "from pathlib import Path\n\ndef test_flaky():\n"
                "    marker = Path(__file__).with_suffix('.ran')\n"
                "    first = not marker.exists()\n    marker.write_text('x')\n    assert not first\n"
            ),
        },
    )
    gates = gates_for(root, PYTEST)
    (root / "tests" / "test_flaky.ran").write_text("x")
    gates.baseline()
    (root / "tests" / "test_flaky.ran").unlink()
    outcome = gates.tests()
    assert not outcome.blocked
    assert outcome.flaky == ("tests.test_flaky::test_flaky",)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_test_runner_results_are_read_per_test(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "package.json": '{"name": "x", "scripts": {"test": "node --test"}}',
            "test/math.test.mjs": (
                "import test from 'node:test';\nimport assert from 'node:assert';\n"
                "test('adds', () => assert.equal(1 + 1, 2));\n"
            ),
        },
    )
    gates = gates_for(root)
    base = gates.baseline()
    assert (base.passed, base.failed) == (1, 0)
    (root / "test" / "math.test.mjs").write_text(
        "import test from 'node:test';\nimport assert from 'node:assert';\n"
        "test('adds', () => assert.equal(1 + 1, 3));\n"
    )
    outcome = gates.tests()
    assert outcome.blocked
    assert outcome.new_failures == ("test::adds",)


def running_commands(needle: str) -> list[str]:
    """Command lines of live (non-zombie) processes that contain ``needle``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "status").read_text()
        except (OSError, UnicodeDecodeError):
            continue
        if needle in command and "State:\tZ" not in state:
            found.append(command)
    return found


def test_hanging_tests_are_killed_with_their_children(tmp_path: Path) -> None:
    # A unique duration identifies the child (inside a PID namespace its PID means nothing here).
    child = f"sleep 60.{time.monotonic_ns() % 100_000}"
    started = time.monotonic()
    code, _, timed_out, _ = run_command(f"{child} & {child}1", cwd=tmp_path, timeout=1.0)
    assert timed_out
    assert code is None
    assert time.monotonic() - started < 10
    deadline = time.monotonic() + 10
    while running_commands(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running_commands(child) == []


def test_huge_output_is_bounded_and_non_utf8_is_tolerated(tmp_path: Path) -> None:
    code, tail, timed_out, _ = run_command(
        "head -c 200000000 /dev/zero | tr '\\0' 'x'; printf '\\xff\\xfe done'",
        cwd=tmp_path,
        timeout=120,
    )
    assert (code, timed_out) == (0, False)
    assert len(tail) <= 20_000
    assert tail.endswith("\ufffd\ufffd done")


def test_missing_repository_and_missing_ref_are_clear(tmp_path: Path) -> None:
    with pytest.raises(
        WorkspaceError, match=r"cannot clone repository .*: fatal: .*does not exist"
    ):
        GitWorkspace.clone(
            str(tmp_path / "nope.git"), ref="main", dest=tmp_path / "w1", branch="autopack/x"
        )
    source = write(tmp_path / "src", {"a.txt": "a"})
    subprocess.run(["git", "init", "-q", "-b", "main", str(source)], check=True)
    subprocess.run(["git", "-C", str(source), "add", "-A"], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(source),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "i",
        ],
        check=True,
    )
    with pytest.raises(WorkspaceError, match="ref 'release-9' does not exist"):
        GitWorkspace.clone(str(source), ref="release-9", dest=tmp_path / "w2", branch="autopack/x")


def test_credentials_never_reach_git_config_or_errors(tmp_path: Path) -> None:
    token = "ghp_supersecret123"
    with pytest.raises(WorkspaceError) as caught:
        GitWorkspace.clone(
            f"https://user:{token}@127.0.0.1:9/repo.git",
            ref="main",
            dest=tmp_path / "w",
            branch="autopack/x",
            credentials=("x-access-token", token),
        )
    assert token not in str(caught.value)
    config = tmp_path / "w" / ".git" / "config"
    assert not config.exists() or token not in config.read_text()


def test_commands_get_a_private_temporary_directory_removed_afterwards(tmp_path: Path) -> None:
    code, tail, timed_out, _ = run_command(
        'echo "$TMPDIR"; touch "$TMPDIR/left-behind"', cwd=tmp_path, timeout=30
    )
    private = Path(tail.strip())
    assert (code, timed_out) == (0, False)
    assert private.name.startswith("autopack-tests-")
    assert not private.exists()
