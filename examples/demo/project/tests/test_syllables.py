import pytest
from textstats.syllables import count_syllables, total_syllables


@pytest.mark.parametrize(
    ("word", "expected"),
    [("cat", 1), ("water", 2), ("banana", 3), ("make", 1), ("table", 2), ("people", 2)],
)
def test_common_words(word: str, expected: int) -> None:
    assert count_syllables(word) == expected


def test_punctuation_is_ignored_and_empty_words_have_none() -> None:
    assert count_syllables("Water!") == 2
    assert count_syllables("--") == 0


def test_total_adds_up() -> None:
    assert total_syllables(["cat", "water"]) == 3
