"""The Memory port over intention memory: anchor once, recall per phase, drift per change.

Memory helps but must never stop a run: if the vector store or the embedder fails, prompts
fall back to the rendered anchor and the drift check is skipped with a warning.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from autopack import memory
from autopack.api import AutopackRunSpec, PhaseDefinition

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DriftOutcome:
    """The goal-drift verdict on a phase's change."""

    score: float
    threshold: float
    verdict: str
    provider: str
    lexical: bool
    blocks: bool
    message: str


class RunMemory:
    """One run's intention memory."""

    def __init__(
        self,
        *,
        run_id: str,
        spec: AutopackRunSpec,
        phases: Sequence[PhaseDefinition],
        local_path: Path | None,
    ) -> None:
        """Build the anchor and store it; ``local_path`` holds Qdrant's files (None: settings)."""
        self.run_id = run_id
        self.config = memory.load_memory_config()
        self.anchor = memory.build_anchor(spec, phases=list(phases))
        self.warnings: list[str] = []
        self._memory: memory.IntentionMemory | None = None
        self._store: memory.QdrantStore | None = None
        try:
            self.embedder = memory.build_embedder(self.config)
            self._store = memory.open_store(path=local_path)
            self._memory = memory.IntentionMemory(
                embedder=self.embedder, vector_store=self._store, retrieval=self.config.retrieval
            )
            self._memory.remember_anchor(run_id=run_id, anchor=self.anchor)
        except (memory.MemoryStoreError, memory.EmbeddingError, OSError) as exc:
            self.warnings.append(f"intention memory unavailable, using the anchor only: {exc}")
            log.warning(self.warnings[-1])
            self._memory = None

    def recall(self, phase: PhaseDefinition) -> str:
        """Return top-k memory for ``phase`` (anchor first), capped; the anchor alone on error."""
        if self._memory is None:
            return self.anchor.render()
        try:
            return self._memory.recall(
                run_id=self.run_id, query=f"{phase.title}\n{phase.goal}"
            ).text
        except (memory.MemoryStoreError, memory.EmbeddingError) as exc:
            log.warning("memory recall failed, using the anchor: %s", exc)
            return self.anchor.render()

    def check(self, *, index: int, phase: PhaseDefinition, summary: str) -> DriftOutcome | None:
        """Remember the change summary and judge it against the anchor."""
        if self._memory is None or not summary.strip():
            return None
        try:
            self._memory.remember_phase(
                run_id=self.run_id, phase_key=str(index), title=phase.title, summary=summary
            )
            result = memory.check_drift(
                change_summary=summary,
                anchor=self.anchor,
                embedder=self.embedder,
                settings=self.config.drift,
            )
        except (memory.MemoryStoreError, memory.EmbeddingError, memory.DriftCheckError) as exc:
            log.warning("drift check skipped: %s", exc)
            return None
        return DriftOutcome(
            score=round(result.score, 4),
            threshold=result.threshold,
            verdict=result.verdict,
            provider=result.provider,
            lexical=result.lexical,
            blocks=result.blocks,
            message=result.message,
        )

    def close(self) -> None:
        """Release the vector store (local Qdrant files are single-process)."""
        if self._store is not None:
            self._store.close()
