"""The Kubernetes status sink: engine events become patches of the Phase objects' status.

The operator aggregates the Phases into the run's status; this sink keeps each Phase's state,
attempts, model, usage, test delta, audit verdict, diff size, commit and failure current.
Only small summaries go into status (etcd limits objects to 1 MB); details go to the store.
"""

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from autopack.api import constants
from autopack import events

logger = logging.getLogger(__name__)

Patcher = Callable[[str, str, dict[str, Any]], None]


def _time(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class KubernetesStatusSink:
    """Patches ``Phase`` status for every phase-level event of one run."""

    def __init__(self, *, namespace: str, run_name: str, patch: Patcher) -> None:
        """Patch Phases of ``run_name`` in ``namespace`` with ``patch(namespace, name, status)``."""
        self.namespace = namespace
        self.run_name = run_name
        self.patch = patch
        self.usage: dict[int, dict[str, float]] = {}

    def _send(self, index: int, status: dict[str, Any]) -> None:
        name = constants.phase_object_name(self.run_name, index)
        self.patch(self.namespace, name, status)

    def _usage(self, event: events.ModelCalled) -> dict[str, Any] | None:
        if event.index is None:
            return None
        totals = self.usage.setdefault(
            event.index, {"inputTokens": 0, "outputTokens": 0, "costUSD": 0.0, "llmCalls": 0}
        )
        totals["inputTokens"] += event.input_tokens or 0
        totals["outputTokens"] += event.output_tokens or 0
        totals["costUSD"] = round(totals["costUSD"] + event.cost_usd, 6)
        totals["llmCalls"] += 1
        return {"usage": {k: (int(v) if k != "costUSD" else v) for k, v in totals.items()}}

    def emit(self, event: events.Event) -> None:
        """Translate one event into a status patch (events of no phase are ignored)."""
        index: int | None = getattr(event, "index", None)
        handler = getattr(self, f"_on_{type(event).__name__}", None)
        status = handler(event) if handler is not None and index is not None else None
        if status is not None and index is not None:
            self._send(index, status)

    def _on_PhaseStarted(self, event: events.PhaseStarted) -> dict[str, Any]:
        return {"state": "Building", "startedAt": _time(event.at), "failure": None}

    def _on_AttemptStarted(self, event: events.AttemptStarted) -> dict[str, Any]:
        return {"state": "Building", "attempts": event.attempt, "model": event.model}

    def _on_ModelCalled(self, event: events.ModelCalled) -> dict[str, Any] | None:
        return self._usage(event)

    def _on_EditsApplied(self, event: events.EditsApplied) -> dict[str, Any]:
        diff = {
            "files": len(event.files),
            "additions": event.additions,
            "deletions": event.deletions,
        }
        return {"state": "Validating", "diff": diff}

    def _on_TestsRan(self, event: events.TestsRan) -> dict[str, Any]:
        ci = {
            "passed": event.passed,
            "failed": event.failed,
            "newFailures": list(event.new_failures[:50]),
            "baselineFailures": 0,
        }
        return {"state": "Validating" if event.blocked else "Auditing", "ci": ci}

    def _on_DriftChecked(self, event: events.DriftChecked) -> dict[str, Any]:
        return {
            "drift": {
                "score": event.score,
                "threshold": event.threshold,
                "verdict": event.verdict,
                "provider": event.provider,
                "lexical": event.lexical,
            }
        }

    def _on_AuditDone(self, event: events.AuditDone) -> dict[str, Any]:
        return {"audit": {"verdict": event.verdict, "summary": event.summary[:4000]}}

    def _on_AttemptFinished(self, event: events.AttemptFinished) -> dict[str, Any] | None:
        if event.outcome != "failed":
            return None
        return {
            "failure": {
                "signature": (event.signature or "")[:1024],
                "mitigation": event.mitigation or "",
            }
        }

    def _on_PhaseFinished(self, event: events.PhaseFinished) -> dict[str, Any]:
        status: dict[str, Any] = {"state": event.state, "commit": event.commit}
        if event.state != "AwaitingApproval":
            status["finishedAt"] = _time(event.at)
        if event.failure:
            status["failure"] = {"signature": event.failure[:1024], "mitigation": ""}
        return status
