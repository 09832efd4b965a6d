from textstats import word_count


def test_counts_words() -> None:
    assert word_count("one two  three") == 3


def test_empty_text_has_no_words() -> None:
    assert word_count("") == 0


def test_apostrophes_stay_inside_words() -> None:
    assert word_count("don't stop") == 2
