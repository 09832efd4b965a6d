"""Hostile model edits through the real governed apply: respellings, hidden characters, bytes."""

import os
from pathlib import Path

import pytest

from autopack.edits import DEFAULT_PROTECTED, ApplyOutcome, apply_edits, parse_edits
from autopack.edits.applying import MAX_ATTEMPT_BYTES, MAX_FILE_BYTES

PROTECTED = tuple(DEFAULT_PROTECTED)


def apply(
    root: Path,
    answer: str,
    *,
    allowed: tuple[str, ...] = ("./",),
    protected: tuple[str, ...] = PROTECTED,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_attempt_bytes: int = MAX_ATTEMPT_BYTES,
) -> ApplyOutcome:
    return apply_edits(
        root,
        parse_edits(answer),
        allowed=list(allowed),
        protected=protected,
        deletion_threshold=None,
        max_file_bytes=max_file_bytes,
        max_attempt_bytes=max_attempt_bytes,
    )


def file_block(path: str, content: str = "x\n") -> str:
    return f"=== FILE: {path}\n{content}=== END\n"


def edit_block(path: str, search: str, replace: str) -> str:
    return (
        f"=== EDIT: {path}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n"
        ">>>>>>> REPLACE\n=== END\n"
    )


@pytest.mark.parametrize(
    "path",
    [
        ".github//workflows/ci.yml",
        "./.github/workflows/ci.yml",
        ".github/./workflows/ci.yml",
        "services/api/.github/workflows/ci.yml",
        "poetry.lock",
        "backend/poetry.lock",
        "web/app/package-lock.json",
        "deep/er/Cargo.lock",
        "sub/.gitlab-ci.yml",
        ".gitmodules",
        ".git/hooks/pre-commit",
        "pkg/.git/config",
        "pkg/.GIT/config",
    ],
)
def test_protections_hold_whatever_the_spelling_or_depth(tmp_path: Path, path: str) -> None:
    outcome = apply(tmp_path, file_block(path), allowed=("./",))
    assert not outcome.applied
    assert "protected" in outcome.refusals[0] or ".git" in outcome.refusals[0]
    assert list(tmp_path.rglob("*")) == []


@pytest.mark.parametrize("path", ["pkg/./secret.py", "pkg//secret.py", "./pkg/secret.py"])
def test_user_protected_paths_cannot_be_respelled(tmp_path: Path, path: str) -> None:
    outcome = apply(tmp_path, file_block(path), allowed=("pkg/",), protected=("pkg/secret.py",))
    assert outcome.refusals == ("'pkg/secret.py' is a protected path",)


@pytest.mark.parametrize(
    ("path", "what"),
    [
        ("src/evil\u202etxt.py", "bidirectional control character (U+202E)"),
        ("src/a\u2066b.py", "bidirectional control character (U+2066)"),
        ("src/a\x1bb.py", "control character (U+001B)"),
        ("src/a\x7fb.py", "control character (U+007F)"),
        ("src/a\u200bb.py", "invisible format character (U+200B)"),
    ],
)
def test_hidden_characters_in_paths_are_refused_clearly(
    tmp_path: Path, path: str, what: str
) -> None:
    outcome = apply(tmp_path, file_block(path), allowed=("src/",))
    assert not outcome.applied
    assert what in outcome.refusals[0]
    assert "refused" in outcome.refusals[0]


def test_a_nul_in_a_path_is_refused(tmp_path: Path) -> None:
    outcome = apply(tmp_path, file_block("src/a\0.py"), allowed=("src/",))
    assert "a NUL byte" in outcome.refusals[0]


def test_scope_is_checked_on_the_normalized_path(tmp_path: Path) -> None:
    outcome = apply(tmp_path, file_block("src/../secrets.py"), allowed=("src/",))
    assert "contains '..'" in outcome.refusals[0]
    outcome = apply(tmp_path, file_block("src//./ok.py"), allowed=("src/",))
    assert outcome.files == ("src/ok.py",)


def test_edit_keeps_crlf_line_endings_and_every_other_byte(tmp_path: Path) -> None:
    original = b"line one\r\nline two\r\nline three \r\n\xc3\xa9 end\r\n"
    (tmp_path / "a.txt").write_bytes(original)
    outcome = apply(tmp_path, edit_block("a.txt", "line two", "line 2\nline 2b"))
    assert outcome.applied, outcome.refusals
    assert (tmp_path / "a.txt").read_bytes() == (
        b"line one\r\nline 2\r\nline 2b\r\nline three \r\n\xc3\xa9 end\r\n"
    )


def test_whitespace_tolerant_edit_of_a_crlf_file_keeps_crlf(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"a\r\nb   \r\nc\r\nd\r\n")
    outcome = apply(tmp_path, edit_block("a.txt", "b\nc", "B\nC"))
    assert outcome.applied, outcome.refusals
    assert (tmp_path / "a.txt").read_bytes() == b"a\r\nB\r\nC\r\nd\r\n"


def test_edit_of_mixed_line_endings_changes_only_the_match(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"a\r\nb\nc\r\n")
    outcome = apply(tmp_path, edit_block("a.txt", "b", "B"))
    assert outcome.applied, outcome.refusals
    assert (tmp_path / "a.txt").read_bytes() == b"a\r\nB\nc\r\n"


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\0\0\0IHDR", b"caf\xe9 latin-1\n"])
def test_binary_and_non_utf8_files_are_refused_for_edit_and_untouched(
    tmp_path: Path, data: bytes
) -> None:
    (tmp_path / "blob").write_bytes(data)
    outcome = apply(tmp_path, edit_block("blob", "IHDR", "XXXX"))
    assert not outcome.applied
    assert "binary (or non-UTF-8)" in outcome.refusals[0]
    assert (tmp_path / "blob").read_bytes() == data


def test_a_file_over_the_per_file_cap_is_refused(tmp_path: Path) -> None:
    outcome = apply(tmp_path, file_block("big.txt", "x" * 2_000 + "\n"), max_file_bytes=1_000)
    assert not outcome.applied
    assert "over the 1,000-byte limit" in outcome.refusals[0]
    assert not (tmp_path / "big.txt").exists()


def test_default_cap_refuses_a_50_mb_file(tmp_path: Path) -> None:
    outcome = apply(tmp_path, file_block("huge.txt", "y" * 50_000_000 + "\n"))
    assert not outcome.applied
    assert not (tmp_path / "huge.txt").exists()


def test_an_attempt_over_the_total_cap_writes_nothing(tmp_path: Path) -> None:
    answer = "".join(file_block(f"f{i}.txt", "z" * 600 + "\n") for i in range(5))
    outcome = apply(tmp_path, answer, max_file_bytes=1_000, max_attempt_bytes=2_000)
    assert not outcome.applied
    assert "over the 2,000-byte limit for one attempt" in outcome.refusals[0]
    assert list(tmp_path.iterdir()) == []


def test_symlinks_and_special_files_are_never_written_through(tmp_path: Path) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (tmp_path / "link").symlink_to(outside, target_is_directory=True)
    (tmp_path / "env").symlink_to("/proc/self/environ")
    os.mkfifo(tmp_path / "pipe")
    for path in ("link/x.py", "env", "pipe"):
        outcome = apply(tmp_path, file_block(path))
        assert not outcome.applied, path
    assert list(outside.iterdir()) == []
