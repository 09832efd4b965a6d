"""The local all-MiniLM-L6-v2 embedder: semantic similarity, drift and Qdrant recall, offline."""

from pathlib import Path

import pytest

from autopack import memory
from autopack.memory import embedding
from tests.builders.api import a_run

pytestmark = pytest.mark.slow

INTENTION = (
    "Goal: add JWT authentication to the REST API so users log in with a token.\n"
    "Non-goals:\n- a mobile app\n- rewriting the frontend in React\n"
    "Deliverables:\n- src/app/auth.py\n- tests/test_auth.py\n"
)
ANCHOR = memory.build_anchor(a_run().set("spec.intention", INTENTION).obj().spec)
# Shares almost no words with the intention, yet means the same thing.
PARAPHRASE = (
    "Users now sign in and receive a bearer credential; endpoints refuse requests without it"
)
OFF_GOAL = "Reformatted the CSS stylesheet colours and replaced the company logo in the page footer"


def test_the_bundled_model_gives_384_unit_vectors(minilm: memory.Embedder) -> None:
    [vector] = minilm.embed(["hello"])

    assert minilm.provider == "minilm"
    assert minilm.dimensions == len(vector) == 384
    assert not minilm.is_lexical
    assert sum(v * v for v in vector) == pytest.approx(1.0, abs=1e-5)


def test_meaning_counts_more_than_shared_words(minilm: memory.Embedder) -> None:
    login, sign_in, token_bucket = minilm.embed(
        [
            "users log in with a token",
            "people sign in with credentials",
            "the token bucket rate limiter drops packets",
        ]
    )

    # "token" is shared with the rate limiter, nothing but meaning with "sign in".
    assert embedding.cosine(login, sign_in) > embedding.cosine(login, token_bucket) + 0.2


def test_drift_passes_a_paraphrased_on_goal_change_the_lexical_embedder_misses(
    minilm: memory.Embedder,
) -> None:
    settings = memory.load_memory_config().drift
    lexical = memory.LexicalHashingEmbedder()

    semantic = memory.check_drift(
        change_summary=PARAPHRASE, anchor=ANCHOR, embedder=minilm, settings=settings
    )
    word_overlap = memory.check_drift(
        change_summary=PARAPHRASE, anchor=ANCHOR, embedder=lexical, settings=settings
    )

    assert semantic.verdict == "on_goal"
    assert not semantic.lexical
    assert word_overlap.verdict == "drift"  # the documented limit of the lexical fallback
    assert word_overlap.lexical


def test_drift_flags_an_off_goal_change_with_the_shipped_threshold(
    minilm: memory.Embedder,
) -> None:
    settings = memory.load_memory_config().drift

    result = memory.check_drift(
        change_summary=OFF_GOAL, anchor=ANCHOR, embedder=minilm, settings=settings
    )

    assert result.verdict == "drift"
    assert result.score < result.threshold == settings.threshold_for("minilm")
    assert result.mode == "advisory"
    assert "semantic (minilm)" in result.message


def test_a_change_towards_a_non_goal_is_drift(minilm: memory.Embedder) -> None:
    result = memory.check_drift(
        change_summary="Started an iPhone and Android mobile app with React Native screens",
        anchor=ANCHOR,
        embedder=minilm,
        settings=memory.load_memory_config().drift,
    )

    assert result.verdict == "drift"
    assert result.closest_non_goal == "a mobile app"


def test_recall_through_qdrant_finds_phases_by_meaning(
    minilm: memory.Embedder, tmp_path: Path
) -> None:
    store = memory.open_store(path=tmp_path / "qdrant")
    try:
        mem = memory.IntentionMemory(
            embedder=minilm,
            vector_store=store,
            retrieval=memory.RetrievalSettings(top_k=2, max_chars=2000),
        )
        mem.remember_anchor(run_id="r", anchor=ANCHOR)
        mem.remember_phase(
            run_id="r", phase_key="db", title="DB", summary="Created the users table migration"
        )
        mem.remember_phase(
            run_id="r", phase_key="docs", title="Docs", summary="Wrote the README quick start"
        )
        recollection = mem.recall(
            run_id="r", query="where are accounts persisted?", pin_anchor=False, top_k=1
        )
    finally:
        store.close()

    assert [hit.record.key for hit in recollection.hits] == ["db"]
    assert recollection.provider == "minilm"
    assert (
        memory.collection_name(provider="minilm", model=minilm.model, dimensions=384)
        == "autopack-memory-minilm-sentence-transformers-all-minilm-l6-v2-384"
    )
