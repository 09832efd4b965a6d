from textstats.readability import readability


def test_simple_text_is_easy() -> None:
    score = readability("The cat sat. The dog ran.")
    assert (score.words, score.sentences, score.syllables) == (6, 2, 6)
    assert score.reading_ease > 90
    assert score.grade_level < 2


def test_long_words_are_harder() -> None:
    easy = readability("The cat sat on the mat.")
    hard = readability("Institutional considerations necessitate comprehensive evaluation.")
    assert hard.reading_ease < easy.reading_ease
    assert hard.grade_level > easy.grade_level


def test_empty_text_scores_zero() -> None:
    assert readability("").reading_ease == 0.0
    assert readability("").grade_level == 0.0
