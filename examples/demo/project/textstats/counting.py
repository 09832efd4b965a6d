"""Counting words."""

import re

_WORD = re.compile(r"[\w'-]+")


def word_count(text: str) -> int:
    """Return the number of words in ``text``."""
    return len(_WORD.findall(text))
