"""Drift with the lexical embedder: examples chosen so that shared words really differ."""

import math

import pytest

from autopack import memory
from tests.builders.api import a_run

INTENTION = (
    "Goal: add JWT authentication to the REST API so users log in with a token.\n"
    "Non-goals:\n- a mobile app for iOS and Android\n"
    "Deliverables:\n- src/app/auth.py\n- tests/test_auth.py\n"
)
SETTINGS = memory.DriftSettings(thresholds={"hashing-lexical": 0.10})


@pytest.fixture
def anchor() -> memory.IntentionAnchor:
    return memory.build_anchor(a_run().set("spec.intention", INTENTION).obj().spec)


@pytest.fixture
def lexical() -> memory.LexicalHashingEmbedder:
    return memory.LexicalHashingEmbedder(dimensions=512)


def test_vectors_are_deterministic_unit_length_and_labelled_lexical(
    lexical: memory.LexicalHashingEmbedder,
) -> None:
    first, again, empty = lexical.embed(["JWT login tokens", "JWT login tokens", "the and of"])

    assert first == again
    assert math.isclose(math.fsum(v * v for v in first), 1.0)
    assert not any(empty)  # only stopwords: nothing to compare
    assert lexical.is_lexical
    assert lexical.provider == "hashing-lexical"
    assert "Lexical" in type(lexical).__name__
    assert isinstance(lexical, memory.Embedder)


def test_inflections_share_words_but_synonyms_do_not(
    lexical: memory.LexicalHashingEmbedder,
) -> None:
    tests, testing, checks = lexical.embed(["tests", "testing", "checks"])

    assert memory.cosine(tests, testing) == pytest.approx(1.0)
    assert memory.cosine(tests, checks) == pytest.approx(0.0, abs=0.2)


def test_an_on_goal_change_passes_and_says_it_is_lexical(
    anchor: memory.IntentionAnchor,
    lexical: memory.LexicalHashingEmbedder,
) -> None:
    result = memory.check_drift(
        change_summary="JWT authentication for the REST API: users log in and get a token; "
        "added tests/test_auth.py",
        anchor=anchor,
        embedder=lexical,
        settings=SETTINGS,
    )

    assert result.verdict == "on_goal"
    assert result.score >= result.threshold == 0.10
    assert result.lexical
    assert result.provider == "hashing-lexical"
    assert "LEXICAL" in result.message
    assert not result.blocks


def test_an_off_goal_change_is_flagged_as_drift(
    anchor: memory.IntentionAnchor,
    lexical: memory.LexicalHashingEmbedder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = memory.check_drift(
        change_summary="Reformatted the CSS stylesheet colours and replaced the footer logo",
        anchor=anchor,
        embedder=lexical,
        settings=SETTINGS,
    )

    assert result.verdict == "drift"
    assert result.score < result.threshold
    assert result.mode == "advisory"
    assert not result.blocks
    assert "hashing-lexical, lexical" in caplog.text


def test_a_change_that_matches_a_non_goal_is_drift_and_names_it(
    anchor: memory.IntentionAnchor,
    lexical: memory.LexicalHashingEmbedder,
) -> None:
    result = memory.check_drift(
        change_summary="Started a mobile app for iOS and Android that logs in with the API token",
        anchor=anchor,
        embedder=lexical,
        settings=SETTINGS,
    )

    assert result.verdict == "drift"
    assert result.closest_non_goal == "a mobile app for iOS and Android"
    assert result.non_goal_score is not None
    assert result.non_goal_score > result.score
    assert "non-goal" in result.message


def test_blocking_mode_makes_drift_block_the_phase(
    anchor: memory.IntentionAnchor,
    lexical: memory.LexicalHashingEmbedder,
) -> None:
    blocking = memory.DriftSettings(mode="blocking", thresholds={"hashing-lexical": 0.10})

    result = memory.check_drift(
        change_summary="Replaced the footer logo",
        anchor=anchor,
        embedder=lexical,
        settings=blocking,
    )

    assert result.blocks
    assert result.model_dump()["mode"] == "blocking"


def test_an_empty_change_summary_is_an_error_not_a_verdict(
    anchor: memory.IntentionAnchor,
    lexical: memory.LexicalHashingEmbedder,
) -> None:
    with pytest.raises(memory.DriftCheckError, match="change summary"):
        memory.check_drift(
            change_summary="  \n", anchor=anchor, embedder=lexical, settings=SETTINGS
        )


@pytest.mark.parametrize(
    ("score", "non_goal_score", "verdict"),
    [
        (0.50, None, "on_goal"),
        (0.29, None, "drift"),
        (0.30, None, "on_goal"),
        (0.50, 0.60, "drift"),
        (0.50, 0.40, "on_goal"),
        (0.50, 0.20, "on_goal"),
    ],
)
def test_the_verdict_depends_on_threshold_and_nearest_non_goal(
    score: float, non_goal_score: float | None, verdict: str
) -> None:
    assert memory.judge_drift(score=score, threshold=0.30, non_goal_score=non_goal_score) == verdict
