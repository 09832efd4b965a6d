"""Hostile repository files against every reader: symlinks out, special files, huge files."""

import os
from pathlib import Path

import pytest

from autopack.agents import contexting, repomap
from autopack.api import PhaseDefinition
from autopack.planning import scan_repository, scanning

SECRET = "reader-canary-7f3a9c"


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with symlinks into /proc and /dev, a FIFO and a symlink out of it."""
    monkeypatch.setenv("AUTOPACK_READER_CANARY", SECRET)
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "core.py").write_text("def core():\n    return 1\n", encoding="utf-8")
    (root / "pkg" / "environ.py").symlink_to("/proc/self/environ")
    (root / "pkg" / "zero.py").symlink_to("/dev/zero")
    (root / "pkg" / "random.py").symlink_to("/dev/urandom")
    os.mkfifo(root / "pkg" / "pipe.py")
    outside = tmp_path / "outside.py"
    outside.write_text(f"TOKEN = '{SECRET}'\n", encoding="utf-8")
    (root / "pkg" / "escape.py").symlink_to(outside)
    (root / "pkg" / "inside.py").symlink_to(root / "pkg" / "core.py")
    (root / "pkg" / "loop.py").symlink_to(root / "pkg" / "loop.py")
    return root


def test_scan_lists_only_regular_files_inside_the_repository(hostile: Path) -> None:
    files = scan_repository(hostile).files
    assert files == ("pkg/core.py", "pkg/inside.py")


@pytest.mark.parametrize(
    "name", ["environ.py", "zero.py", "random.py", "pipe.py", "escape.py", "loop.py", "no.py"]
)
def test_reading_refuses_special_files_and_symlinks_out(hostile: Path, name: str) -> None:
    assert scanning.read_text(hostile, f"pkg/{name}") is None


def test_reading_is_cut_at_the_byte_cap(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_bytes(b"a" * 5_000)
    text = scanning.read_text(tmp_path, "big.txt", max_bytes=1_000)
    assert text is not None
    assert text.startswith("a" * 1_000)
    assert "cut: the file is longer than 1,000 bytes" in text


def test_repository_map_and_symbols_never_read_through_hostile_links(hostile: Path) -> None:
    listing = [p.relative_to(hostile).as_posix() for p in (hostile / "pkg").iterdir()]
    text = repomap.repository_map(hostile, listing, budget=100_000)
    assert SECRET not in text
    assert "pkg/core.py: def core()" in text
    assert repomap.file_symbols(hostile / "pkg" / "zero.py", root=hostile) == []


def test_builder_context_never_contains_the_environment_or_outside_files(hostile: Path) -> None:
    phase = PhaseDefinition(
        title="Change environ, zero, escape and core",
        goal="touch every file",
        deliverables=["pkg/environ.py", "pkg/escape.py", "pkg/zero.py", "pkg/core.py"],
        scope={"allowedPaths": ["pkg/"]},
    )
    selector = contexting.ContextSelector(hostile, measure=len)
    text = selector.render(phase=phase, feedback=["pkg/environ.py failed"], budget_tokens=100_000)
    assert SECRET not in text
    assert "AUTOPACK_READER_CANARY" not in text
    assert "--- pkg/core.py" in text


def test_python_source_with_nul_bytes_or_deep_nesting_does_not_crash_the_map(
    tmp_path: Path,
) -> None:
    (tmp_path / "nul.py").write_bytes(b"x = 1\0\n")
    (tmp_path / "deep.py").write_text("x = " + "[" * 5_000 + "]" * 5_000 + "\n")
    assert repomap.file_symbols(tmp_path / "nul.py") == ["<syntax error>"]
    assert repomap.file_symbols(tmp_path / "deep.py") == ["<syntax error>"]
