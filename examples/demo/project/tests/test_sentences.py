from textstats.sentences import sentence_count, split_sentences


def test_splits_on_final_punctuation() -> None:
    assert split_sentences("One. Two! Three?") == ["One.", "Two!", "Three?"]


def test_abbreviations_do_not_end_sentences() -> None:
    assert split_sentences("Dr. Smith arrived. He sat.") == ["Dr. Smith arrived.", "He sat."]


def test_trailing_text_without_punctuation_is_a_sentence() -> None:
    assert split_sentences("First. and then") == ["First.", "and then"]


def test_empty_text_has_no_sentences() -> None:
    assert sentence_count("   ") == 0
