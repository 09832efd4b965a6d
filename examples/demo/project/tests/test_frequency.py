import pytest
from textstats.frequency import top_words, word_frequencies


def test_counts_case_insensitively_without_stopwords() -> None:
    counted = word_frequencies("The Cat and the cat")
    assert counted == {"cat": 2}


def test_stopwords_can_be_kept() -> None:
    assert word_frequencies("the the cat", ignore_stopwords=False)["the"] == 2


def test_top_words_orders_by_count_then_alphabet() -> None:
    assert top_words("pear apple pear fig apple pear", 2) == [("pear", 3), ("apple", 2)]


def test_negative_n_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        top_words("a", -1)
