"""Estimating syllables in English words (a heuristic, good enough for readability scores)."""

import re

_VOWEL_GROUPS = re.compile(r"[aeiouy]+")
_SILENT_ENDINGS = ("es", "ed", "e")
_EXCEPTIONS = {"the": 1, "every": 3, "area": 3, "idea": 3, "people": 2, "business": 3}


def count_syllables(word: str) -> int:
    """Return the estimated number of syllables in ``word`` (at least 1 for a real word)."""
    cleaned = re.sub(r"[^a-z]", "", word.lower())
    if not cleaned:
        return 0
    if cleaned in _EXCEPTIONS:
        return _EXCEPTIONS[cleaned]
    groups = len(_VOWEL_GROUPS.findall(cleaned))
    for ending in _SILENT_ENDINGS:
        if cleaned.endswith(ending) and not cleaned.endswith("le") and groups > 1:
            groups -= 1
            break
    return max(1, groups)


def total_syllables(words: list[str]) -> int:
    """Return the syllables of all ``words``."""
    return sum(count_syllables(word) for word in words)
