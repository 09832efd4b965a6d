"""Word frequencies: the most common words of a text."""

from collections import Counter

from textstats.counting import words
from textstats.normalize import fold_case
from textstats.stopwords import is_stopword


def word_frequencies(text: str, *, ignore_stopwords: bool = True) -> Counter[str]:
    """Count each word of ``text`` case-insensitively, optionally without stopwords."""
    counted: Counter[str] = Counter()
    for word in words(text):
        folded = fold_case(word)
        if ignore_stopwords and is_stopword(folded):
            continue
        counted[folded] += 1
    return counted


def top_words(text: str, n: int = 10, *, ignore_stopwords: bool = True) -> list[tuple[str, int]]:
    """Return the ``n`` most frequent words, most frequent first, ties in alphabetical order."""
    if n < 0:
        raise ValueError("n must not be negative")
    counted = word_frequencies(text, ignore_stopwords=ignore_stopwords)
    return sorted(counted.items(), key=lambda item: (-item[1], item[0]))[:n]
