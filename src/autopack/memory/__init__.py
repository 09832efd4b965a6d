"""Intention memory: the run's anchor, embeddings, a Qdrant vector store and goal drift.

``build_anchor`` condenses a run's intention (≤ 2 KB); ``build_embedder`` picks the embedder
``config/memory.yaml`` names; ``open_store`` opens Qdrant (local files, or AUTOPACK_QDRANT_URL);
``IntentionMemory`` remembers anchors and phase summaries and recalls prompt-ready text;
``check_drift`` judges a phase's change summary against the anchor.
"""

from autopack.memory.anchor import MAX_ANCHOR_BYTES, IntentionAnchor, build_anchor
from autopack.memory.config import (
    DriftSettings,
    MemoryConfig,
    MemoryConfigError,
    RetrievalSettings,
    load_memory_config,
)
from autopack.memory.drift import DriftCheckError, DriftResult, check_drift, judge_drift
from autopack.memory.embedding import (
    Embedder,
    EmbeddingError,
    build_embedder,
    cosine,
    is_minilm_installed,
)
from autopack.memory.hashing import LexicalHashingEmbedder
from autopack.memory.recall import IntentionMemory, Recollection, render_recollection
from autopack.memory.store import (
    MemoryHit,
    MemoryRecord,
    MemoryStoreError,
    QdrantStore,
    VectorStore,
    collection_name,
    open_store,
)

__all__ = [
    "MAX_ANCHOR_BYTES",
    "DriftCheckError",
    "DriftResult",
    "DriftSettings",
    "Embedder",
    "EmbeddingError",
    "IntentionAnchor",
    "IntentionMemory",
    "LexicalHashingEmbedder",
    "MemoryConfig",
    "MemoryConfigError",
    "MemoryHit",
    "MemoryRecord",
    "MemoryStoreError",
    "QdrantStore",
    "Recollection",
    "RetrievalSettings",
    "VectorStore",
    "build_anchor",
    "build_embedder",
    "check_drift",
    "collection_name",
    "cosine",
    "is_minilm_installed",
    "judge_drift",
    "load_memory_config",
    "open_store",
    "render_recollection",
]
