"""Readability scores: Flesch reading ease and the Flesch-Kincaid grade level."""

from dataclasses import dataclass

from textstats.counting import words
from textstats.sentences import sentence_count
from textstats.syllables import total_syllables


@dataclass(frozen=True)
class Readability:
    """The measures behind the scores, and the scores."""

    words: int
    sentences: int
    syllables: int

    @property
    def reading_ease(self) -> float:
        """Flesch reading ease: higher is easier (90+ very easy, below 30 very hard)."""
        if not self.words or not self.sentences:
            return 0.0
        return round(
            206.835 - 1.015 * (self.words / self.sentences) - 84.6 * (self.syllables / self.words),
            1,
        )

    @property
    def grade_level(self) -> float:
        """Flesch-Kincaid grade: the US school grade needed to follow the text."""
        if not self.words or not self.sentences:
            return 0.0
        return round(
            0.39 * (self.words / self.sentences) + 11.8 * (self.syllables / self.words) - 15.59,
            1,
        )


def readability(text: str) -> Readability:
    """Measure ``text``."""
    found = words(text)
    return Readability(
        words=len(found), sentences=sentence_count(text), syllables=total_syllables(found)
    )
