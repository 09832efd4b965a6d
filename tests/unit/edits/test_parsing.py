from autopack.edits import Edit, parse_edits

EDIT_BLOCK = (
    "=== EDIT: pkg/mod.py\n<<<<<<< SEARCH\nold = 1\n=======\nold = 2\n>>>>>>> REPLACE\n=== END\n"
)


def test_file_edit_and_delete_blocks_are_read_in_order() -> None:
    text = (
        "Here you go:\n=== FILE: pkg/new.py\nx = 1\n=== END\n"
        + EDIT_BLOCK
        + "=== DELETE: pkg/old.py\n"
    )
    parsed = parse_edits(text)
    assert parsed.error is None
    assert parsed.truncated_path is None
    assert parsed.edits == (
        Edit("file", "pkg/new.py", content="x = 1\n"),
        Edit("edit", "pkg/mod.py", replacements=(("old = 1", "old = 2"),)),
        Edit("delete", "pkg/old.py"),
    )


def test_a_block_cut_off_before_its_end_names_the_file_to_continue_from() -> None:
    parsed = parse_edits("=== FILE: a.py\nx = 1\n=== END\n=== FILE: b.py\ny = ")
    assert [edit.path for edit in parsed.edits] == ["a.py"]
    assert parsed.truncated_path == "b.py"


def test_a_block_without_end_before_the_next_block_is_an_error_with_its_line() -> None:
    parsed = parse_edits("=== FILE: a.py\nx = 1\n=== FILE: b.py\ny = 2\n=== END\n")
    assert parsed.error is not None
    assert "a.py" in parsed.error
    assert "line 3" in parsed.error


def test_an_edit_block_without_a_complete_search_replace_pair_is_an_error() -> None:
    parsed = parse_edits("=== EDIT: a.py\n<<<<<<< SEARCH\nx\n=== END\n")
    assert parsed.error is not None
    assert parsed.error.startswith("a.py:")


def test_prose_without_blocks_is_an_error_and_an_empty_answer_is_no_edits() -> None:
    assert parse_edits("I think we should refactor.").error is not None
    empty = parse_edits("")
    assert empty.edits == ()
    assert empty.error is None


def test_windows_line_endings_in_the_answer_are_read_like_unix_ones() -> None:
    parsed = parse_edits("=== FILE: a.py\r\nx = 1\r\n=== END\r\n")
    assert parsed.edits == (Edit("file", "a.py", content="x = 1\n"),)
