"""A dependency-free embedder that hashes words into buckets: lexical, never semantic.

It keeps memory and the drift check working with no model and no network, and gives tests a
deterministic embedder. Its vectors only say which words two texts share ("add login" and
"implement authentication" score zero), so its name, provider label and every result built on it
say *lexical*.
"""

import hashlib
import math
import re
from collections import Counter
from collections.abc import Sequence

PROVIDER = "hashing-lexical"

_WORD = re.compile(r"[a-z0-9]+")
# Words that appear in almost any change description and would make every text look alike.
_STOPWORDS = frozenset(
    _WORD.findall(
        """a an and are as at be by for from has have in into is it its of on or so that the this
        to was were will with we our you your add adds added use uses using make makes new also"""
    )
)


class LexicalHashingEmbedder:
    """Bag of (lightly stemmed) words hashed into ``dimensions`` signed buckets, L2-normalized."""

    provider = PROVIDER
    is_lexical = True

    def __init__(self, *, dimensions: int = 512) -> None:
        """Create an embedder with ``dimensions`` buckets."""
        if dimensions < 16:
            raise ValueError(f"the lexical embedder needs at least 16 dimensions, got {dimensions}")
        self.dimensions = dimensions
        self.model = f"blake2b-word-hashing-{dimensions}"

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Return one unit vector per text (all zeros for a text with no content words)."""
        return [self._embed_one(text) for text in texts]

    def _embed_one(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        words = _WORD.findall(text.lower())
        counts = Counter(_stem(word) for word in words if len(word) > 1 and word not in _STOPWORDS)
        for word, count in counts.items():
            digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dimensions
            sign = 1.0 if digest[4] & 1 else -1.0
            vector[bucket] += sign * (1.0 + math.log(count))
        norm = math.sqrt(math.fsum(value * value for value in vector))
        return [value / norm for value in vector] if norm else vector


def _stem(word: str) -> str:
    """Strip a few English suffixes so "tests", "tested" and "testing" share a bucket."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word
