"""Normalizing text before counting: Unicode forms, case and whitespace."""

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_SMART_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def normalize_unicode(text: str) -> str:
    """Return ``text`` in NFC form with typographic quotes made plain."""
    return unicodedata.normalize("NFC", text).translate(_SMART_QUOTES)


def collapse_whitespace(text: str) -> str:
    """Return ``text`` with every run of whitespace replaced by one space, trimmed."""
    return _SPACES.sub(" ", text).strip()


def fold_case(word: str) -> str:
    """Return ``word`` folded for case-insensitive comparison."""
    return normalize_unicode(word).casefold()


def strip_accents(text: str) -> str:
    """Return ``text`` without combining accents ("café" -> "cafe")."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))
