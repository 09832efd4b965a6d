"""Remembering a run's anchor and phase summaries, and recalling them as prompt-ready text.

Builder, auditor and Doctor prompts get the run's intention plus the most relevant earlier phase
summaries, within a fixed character budget so memory can never crowd out the task itself.
``IntentionMemory`` ties one embedder to one store; ``render_recollection`` is the pure part.
"""

import logging
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from autopack.memory import anchor as anchor_module
from autopack.memory import config as memory_config
from autopack.memory import embedding, store

log = logging.getLogger(__name__)

ANCHOR_KEY = "anchor"
_HEADER = "Project memory (retrieved by similarity, most relevant first):"
_ELLIPSIS = "…"
_MIN_PARTIAL_CHARS = 80  # below this, a cut entry says too little to be worth including


class Recollection(BaseModel):
    """What memory returned for one prompt: the hits and the text to inject."""

    model_config = ConfigDict(frozen=True)

    hits: tuple[store.MemoryHit, ...]
    text: str
    """Ready to paste into a prompt; empty when nothing was remembered."""
    truncated: bool
    provider: str
    lexical: bool


def render_recollection(hits: Sequence[store.MemoryHit], *, max_chars: int) -> tuple[str, bool]:
    """Return hits as prompt text of at most ``max_chars`` characters, and whether it was cut."""
    if not hits:
        return "", False
    parts = [_HEADER]
    used = len(_HEADER)
    for hit in hits:
        entry = f"\n\n[{_label(hit.record)}]\n{hit.record.text}"
        room = max_chars - used
        if len(entry) <= room:
            parts.append(entry)
            used += len(entry)
            continue
        if room >= _MIN_PARTIAL_CHARS:
            parts.append(entry[: room - len(_ELLIPSIS)].rstrip() + _ELLIPSIS)
        return "".join(parts), True
    return "".join(parts), False


def _label(record: store.MemoryRecord) -> str:
    if record.kind == "anchor":
        return "intention anchor"
    title = f": {record.title}" if record.title else ""
    return f"phase {record.key} summary{title}"


class IntentionMemory:
    """One run's memory: one embedder, one store, the retrieval limits from config."""

    def __init__(
        self,
        *,
        embedder: embedding.Embedder,
        vector_store: store.VectorStore,
        retrieval: memory_config.RetrievalSettings,
    ) -> None:
        """Use ``embedder`` for every text and ``vector_store`` for every record."""
        self._embedder = embedder
        self._store = vector_store
        self._retrieval = retrieval
        self.collection = store.collection_name(
            provider=embedder.provider, model=embedder.model, dimensions=embedder.dimensions
        )

    def remember_anchor(self, *, run_id: str, anchor: anchor_module.IntentionAnchor) -> None:
        """Store (or replace) the run's intention anchor."""
        self._remember(
            store.MemoryRecord(run_id=run_id, kind="anchor", key=ANCHOR_KEY, text=anchor.render())
        )

    def remember_phase(self, *, run_id: str, phase_key: str, title: str, summary: str) -> None:
        """Store (or replace, on a retry) a completed phase's change summary."""
        if not summary.strip():
            raise ValueError(f"phase {phase_key} of run {run_id}: the change summary is empty")
        self._remember(
            store.MemoryRecord(
                run_id=run_id, kind="phase_summary", key=phase_key, title=title, text=summary
            )
        )

    def recall(
        self,
        *,
        run_id: str,
        query: str,
        top_k: int | None = None,
        max_chars: int | None = None,
        pin_anchor: bool = True,
    ) -> Recollection:
        """Return the run's memories most similar to ``query``, as capped prompt text.

        With ``pin_anchor`` the intention anchor comes first whatever its rank, because every
        prompt should carry the goal; it still counts towards ``top_k``.
        """
        limit = top_k or self._retrieval.top_k
        [vector] = self._embedder.embed([query])
        hits = self._store.query(
            collection=self.collection, vector=vector, run_id=run_id, limit=limit
        )
        if pin_anchor and not any(hit.record.kind == "anchor" for hit in hits):
            anchors = self._store.query(
                collection=self.collection, vector=vector, run_id=run_id, limit=1, kind="anchor"
            )
            hits = [*anchors, *hits][:limit]
        elif pin_anchor:
            hits = sorted(hits, key=lambda hit: hit.record.kind != "anchor")
        text, truncated = render_recollection(
            hits, max_chars=max_chars or self._retrieval.max_chars
        )
        if self._embedder.is_lexical:
            log.info("memory recall for run %s used the LEXICAL embedder (word overlap)", run_id)
        return Recollection(
            hits=tuple(hits),
            text=text,
            truncated=truncated,
            provider=self._embedder.provider,
            lexical=self._embedder.is_lexical,
        )

    def _remember(self, record: store.MemoryRecord) -> None:
        [vector] = self._embedder.embed([record.text])
        self._store.upsert(
            collection=self.collection,
            dimensions=self._embedder.dimensions,
            records=[record],
            vectors=[vector],
        )
