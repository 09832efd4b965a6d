"""N-grams of words and characters."""

from collections.abc import Sequence


def word_ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    """Return the consecutive ``n``-tuples of ``tokens``."""
    if n <= 0:
        raise ValueError("n must be positive")
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def char_ngrams(text: str, n: int, *, pad: bool = False) -> list[str]:
    """Return the consecutive ``n``-character slices of ``text`` (optionally space-padded)."""
    if n <= 0:
        raise ValueError("n must be positive")
    if pad:
        text = f"{' ' * (n - 1)}{text}{' ' * (n - 1)}"
    return [text[i : i + n] for i in range(len(text) - n + 1)]
