"""Normalize a failure into a signature: the same mistake gives the same text every time.

Paths, line and column numbers, hex addresses and hashes, timestamps, durations, temporary
names and quoted values are replaced with placeholders, so that "the same failure again" can
be recognised across attempts (approach-flaw detection), matched against known patterns
(mitigations), counted by the health budget and shown to people without noise.
"""

import difflib
import re
from dataclasses import dataclass

MAX_SIGNATURE = 300

# Order matters: specific shapes first, generic numbers last.
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"),
        "<time>",
    ),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<addr>"),
    (re.compile(r"\b[0-9a-f]{7,64}\b"), "<hash>"),
    (re.compile(r"(?:/tmp|/var/folders|/private/var)/[^\s:'\"),]+"), "<tmp>"),
    (re.compile(r"(?:[A-Za-z]:)?(?:/[\w.@+-]+){2,}/?"), "<path>"),
    (re.compile(r"\b[\w.-]+\.(?:py|js|ts|tsx|go|rs|java|kt|rb|c|cc|cpp|h)\b"), "<file>"),
    (re.compile(r"\bline \d+\b", re.IGNORECASE), "line <n>"),
    (re.compile(r":\d+(?::\d+)?\b"), ":<n>"),
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|s|sec|seconds|minutes)\b"), "<duration>"),
    (re.compile(r"\b(?:tmp|temp)[\w-]*\b", re.IGNORECASE), "<tmp>"),
    (re.compile(r"\b\d+\b"), "<n>"),
    (re.compile(r"\s+"), " "),
)


@dataclass(frozen=True)
class FailureSignature:
    """A failure's category and normalized text."""

    category: str  # a FailureCategory value
    text: str

    def __str__(self) -> str:
        """Format as ``category: text``."""
        return f"{self.category}: {self.text}"


def normalize(message: str) -> str:
    """Return ``message`` with volatile details replaced by placeholders."""
    text = message.strip()
    for pattern, placeholder in _RULES:
        text = pattern.sub(placeholder, text)
    return text.strip()[:MAX_SIGNATURE]


def signature(category: str, message: str) -> FailureSignature:
    """Return the signature of a failure of ``category`` described by ``message``."""
    first = next((line for line in message.splitlines() if line.strip()), message)
    return FailureSignature(category=category, text=normalize(first))


def similarity(a: FailureSignature, b: FailureSignature) -> float:
    """Return 0..1: how alike two failures are (0 when their categories differ)."""
    if a.category != b.category:
        return 0.0
    return difflib.SequenceMatcher(a=a.text, b=b.text, autojunk=False).ratio()
