"""Small text statistics."""

from textstats.counting import word_count

__all__ = ["word_count"]
