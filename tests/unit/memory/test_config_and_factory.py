from pathlib import Path

import pytest

from autopack import memory
from autopack.memory import embedding


def test_the_shipped_config_is_valid_and_advisory_by_default() -> None:
    config = memory.load_memory_config()

    assert config.drift.mode == "advisory"
    assert config.retrieval.top_k >= 1
    for provider in ("minilm", "openai", "hashing-lexical"):
        assert -1 <= config.drift.threshold_for(provider) <= 1


def test_a_bad_config_names_the_file_and_the_field(tmp_path: Path) -> None:
    path = tmp_path / "memory.yaml"
    path.write_text("provider: word2vec\ndrift: {mode: sometimes}\n", encoding="utf-8")

    with pytest.raises(memory.MemoryConfigError) as raised:
        memory.load_memory_config(path)

    message = str(raised.value)
    assert str(path) in message
    assert "provider" in message
    assert "drift.mode" in message


def test_a_missing_threshold_says_where_to_add_it() -> None:
    settings = memory.DriftSettings(thresholds={"minilm": 0.3})

    with pytest.raises(KeyError, match=r"drift\.thresholds has no entry for embedder 'openai'"):
        settings.threshold_for("openai")


def test_the_hashing_provider_is_built_and_labelled_lexical(
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = memory.MemoryConfig(provider="hashing-lexical")

    embedder = memory.build_embedder(config)

    assert isinstance(embedder, memory.LexicalHashingEmbedder)
    assert embedder.provider == "hashing-lexical"
    assert embedder.is_lexical
    assert "LEXICAL" in caplog.text


def test_auto_falls_back_to_the_lexical_embedder_without_the_local_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(embedding, "is_minilm_installed", lambda: False)

    embedder = memory.build_embedder(memory.MemoryConfig(provider="auto"))

    assert embedder.provider == "hashing-lexical"


def test_openai_without_a_key_says_which_variable_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOPACK_TEST_EMBEDDINGS_KEY", raising=False)
    config = memory.MemoryConfig.model_validate(
        {"provider": "openai", "openai": {"api_key_env": "AUTOPACK_TEST_EMBEDDINGS_KEY"}}
    )

    with pytest.raises(memory.EmbeddingError, match=r"\$AUTOPACK_TEST_EMBEDDINGS_KEY"):
        memory.build_embedder(config)
