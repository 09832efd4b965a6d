import pytest
from textstats.ngrams import char_ngrams, word_ngrams


def test_word_bigrams() -> None:
    assert word_ngrams(["a", "b", "c"], 2) == [("a", "b"), ("b", "c")]


def test_too_few_tokens_give_nothing() -> None:
    assert word_ngrams(["a"], 2) == []


def test_padded_character_trigrams() -> None:
    assert char_ngrams("ab", 3, pad=True) == ["  a", " ab", "ab ", "b  "]


def test_n_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        char_ngrams("ab", 0)
