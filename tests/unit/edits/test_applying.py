from pathlib import Path

import pytest

from autopack.edits import DEFAULT_PROTECTED, ApplyOutcome, apply_edits, parse_edits


def apply(
    root: Path,
    text: str,
    *,
    allowed: tuple[str, ...] = ("pkg/",),
    threshold: int | None = None,
    always: bool = False,
) -> ApplyOutcome:
    return apply_edits(
        root,
        parse_edits(text),
        allowed=list(allowed),
        protected=DEFAULT_PROTECTED,
        deletion_threshold=threshold,
        approve_every_change=always,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("a = 1\nb = 2\nc = 3\n")
    return tmp_path


def test_edits_inside_scope_are_written_with_their_line_counts(repo: Path) -> None:
    text = (
        "=== EDIT: pkg/mod.py\n<<<<<<< SEARCH\nb = 2\n=======\nb = 20\n>>>>>>> REPLACE\n=== END\n"
        "=== FILE: pkg/new.py\nx = 1\n=== END\n"
    )
    outcome = apply(repo, text)
    assert outcome.applied
    assert outcome.approval_reason is None
    assert outcome.files == ("pkg/mod.py", "pkg/new.py")
    assert (outcome.additions, outcome.deletions) == (2, 1)
    assert (repo / "pkg" / "mod.py").read_text() == "a = 1\nb = 20\nc = 3\n"
    assert (repo / "pkg" / "new.py").read_text() == "x = 1\n"


def test_one_refused_edit_means_nothing_is_written_and_nothing_is_counted(repo: Path) -> None:
    text = "=== FILE: pkg/new.py\nx = 1\n=== END\n=== FILE: docs/out.md\nno\n=== END\n"
    outcome = apply(repo, text)
    assert not outcome.applied
    assert outcome.files == ()
    assert (outcome.additions, outcome.deletions) == (0, 0)
    assert "outside the allowed paths" in outcome.refusals[0]
    assert not (repo / "pkg" / "new.py").exists()


def test_a_search_text_matching_twice_is_refused_with_advice(repo: Path) -> None:
    (repo / "pkg" / "mod.py").write_text("x = 1\nx = 1\n")
    text = "=== EDIT: pkg/mod.py\n<<<<<<< SEARCH\nx = 1\n=======\ny\n>>>>>>> REPLACE\n=== END\n"
    outcome = apply(repo, text)
    assert "matches 2 places" in outcome.refusals[0]


def test_trailing_whitespace_differences_still_match_once(repo: Path) -> None:
    (repo / "pkg" / "mod.py").write_text("def f():   \n    return 1\n")
    text = (
        "=== EDIT: pkg/mod.py\n<<<<<<< SEARCH\ndef f():\n    return 1\n=======\n"
        "def f():\n    return 2\n>>>>>>> REPLACE\n=== END\n"
    )
    assert apply(repo, text).applied
    assert "return 2" in (repo / "pkg" / "mod.py").read_text()


def test_net_deletions_over_the_threshold_need_approval(repo: Path) -> None:
    outcome = apply(repo, "=== DELETE: pkg/mod.py\n", threshold=2)
    assert outcome.applied
    assert outcome.approval_reason is not None
    assert "threshold 2" in outcome.approval_reason


def test_policy_always_asks_for_approval_of_any_change(repo: Path) -> None:
    outcome = apply(repo, "=== FILE: pkg/new.py\nx = 1\n=== END\n", always=True)
    assert outcome.approval_reason is not None
    assert "always" in outcome.approval_reason


def test_editing_a_missing_file_is_refused_and_points_to_file_blocks(repo: Path) -> None:
    text = "=== EDIT: pkg/none.py\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n=== END\n"
    assert "use a FILE block" in apply(repo, text).refusals[0]
