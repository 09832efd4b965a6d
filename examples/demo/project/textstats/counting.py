"""Counting words."""

import re

_WORD = re.compile(r"[\w'-]+")


def words(text: str) -> list[str]:
    """Return the words of ``text`` in order (apostrophes and hyphens stay inside words)."""
    return _WORD.findall(text)


def word_count(text: str) -> int:
    """Return the number of words in ``text``."""
    return len(words(text))
