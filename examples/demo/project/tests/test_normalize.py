from textstats.normalize import collapse_whitespace, fold_case, normalize_unicode, strip_accents


def test_smart_quotes_become_plain() -> None:
    assert normalize_unicode("\u201cit\u2019s\u201d") == '"it\'s"'


def test_whitespace_collapses() -> None:
    assert collapse_whitespace("  a \n\t b  ") == "a b"


def test_case_folding() -> None:
    assert fold_case("Straße") == "strasse"


def test_accents_are_stripped() -> None:
    assert strip_accents("café naïve") == "cafe naive"
