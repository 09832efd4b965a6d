"""Splitting text into sentences."""

import re

_ABBREVIATIONS = frozenset({"dr", "mr", "mrs", "ms", "prof", "st", "vs", "etc", "e.g", "i.e"})
_BOUNDARY = re.compile(r"([.!?]+)(\s+|$)")


def split_sentences(text: str) -> list[str]:
    """Return the sentences of ``text``, keeping their final punctuation.

    A full stop after a known abbreviation ("Dr.", "e.g.") does not end a sentence.
    """
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        before = text[start : match.start()].split()
        if match.group(1) == "." and before and before[-1].lower() in _ABBREVIATIONS:
            continue
        sentence = text[start : match.end(1)].strip()
        if sentence:
            sentences.append(sentence)
        start = match.end()
    rest = text[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences


def sentence_count(text: str) -> int:
    """Return the number of sentences in ``text``."""
    return len(split_sentences(text))
