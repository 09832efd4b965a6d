"""The goal-drift check: does a phase's change still serve the run's intention?

A phase can pass its tests while building something nobody asked for. After each phase the
engine compares the change summary with the intention anchor and records the typed result on the
phase; in ``blocking`` mode a drifting phase does not complete. The verdict is a pure function of
the scores (``judge_drift``) so it is testable without any embedder.
"""

import logging
from typing import Literal

from pydantic import BaseModel, ConfigDict

from autopack.memory import anchor as anchor_module
from autopack.memory import config as memory_config
from autopack.memory import embedding

log = logging.getLogger(__name__)

DriftVerdict = Literal["on_goal", "drift"]


class DriftCheckError(ValueError):
    """The drift check was given nothing to compare."""


class DriftResult(BaseModel):
    """The outcome recorded on a phase."""

    model_config = ConfigDict(frozen=True)

    score: float
    """Cosine similarity of the change summary to the goal and key deliverables."""
    threshold: float
    provider: str
    model: str
    lexical: bool
    """True when the score measures shared words (hashing-lexical), not meaning."""
    verdict: DriftVerdict
    mode: memory_config.DriftMode
    non_goal_score: float | None = None
    """Similarity to the closest stated non-goal, when the anchor has any."""
    closest_non_goal: str | None = None
    message: str

    @property
    def blocks(self) -> bool:
        """Return whether this result should stop the phase from completing."""
        return self.verdict == "drift" and self.mode == "blocking"


def judge_drift(*, score: float, threshold: float, non_goal_score: float | None) -> DriftVerdict:
    """Drift when the change is far from the goal, or nearer a non-goal than the goal."""
    if score < threshold:
        return "drift"
    if non_goal_score is not None and non_goal_score >= threshold and non_goal_score > score:
        return "drift"
    return "on_goal"


def check_drift(
    *,
    change_summary: str,
    anchor: anchor_module.IntentionAnchor,
    embedder: embedding.Embedder,
    settings: memory_config.DriftSettings,
) -> DriftResult:
    """Compare ``change_summary`` with the anchor and return the verdict to record."""
    if not change_summary.strip():
        raise DriftCheckError("the drift check needs the phase's change summary, and it is empty")
    threshold = settings.threshold_for(embedder.provider)
    summary_vector, goal_vector, *non_goal_vectors = embedder.embed(
        [change_summary, anchor.goal_text(), *anchor.non_goals]
    )
    score = embedding.cosine(summary_vector, goal_vector)
    non_goal_score: float | None = None
    closest: str | None = None
    if non_goal_vectors:
        scored = [
            (embedding.cosine(summary_vector, vector), text)
            for vector, text in zip(non_goal_vectors, anchor.non_goals, strict=True)
        ]
        non_goal_score, closest = max(scored)
    verdict = judge_drift(score=score, threshold=threshold, non_goal_score=non_goal_score)
    kind = "LEXICAL word-overlap" if embedder.is_lexical else "semantic"
    message = _message(
        verdict=verdict,
        score=score,
        threshold=threshold,
        kind=f"{kind} ({embedder.provider})",
        non_goal=(closest, non_goal_score),
    )
    log.log(
        logging.WARNING if verdict == "drift" else logging.INFO,
        "goal drift check (%s, mode %s): %s",
        embedder.provider + (", lexical" if embedder.is_lexical else ""),
        settings.mode,
        message,
    )
    return DriftResult(
        score=score,
        threshold=threshold,
        provider=embedder.provider,
        model=embedder.model,
        lexical=embedder.is_lexical,
        verdict=verdict,
        mode=settings.mode,
        non_goal_score=non_goal_score,
        closest_non_goal=closest,
        message=message,
    )


def _message(
    *,
    verdict: DriftVerdict,
    score: float,
    threshold: float,
    kind: str,
    non_goal: tuple[str | None, float | None],
) -> str:
    closest, non_goal_score = non_goal
    base = f"{kind} similarity to the intention {score:.2f} (threshold {threshold:.2f})"
    if verdict == "on_goal":
        return f"on goal: {base}"
    if score >= threshold and closest is not None and non_goal_score is not None:
        return f"drift: {base}, but closer to the non-goal {closest!r} ({non_goal_score:.2f})"
    return f"drift: {base}; the change does not look like it serves the stated goal"
