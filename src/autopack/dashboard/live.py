"""Live run status from the cluster, laid over the store's rows.

The store learns a run's state when the runner or operator writes it; the AutopackRun's status
is fresher (Queued, Suspended, a relaunch). In a cluster the dashboard lists AutopackRuns with
its read-only token, at most once per ``ttl_seconds``, and shows their phase, progress and
message for runs whose id is the resource's uid. Any API failure leaves the store's view.
"""

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from autopack.api import constants
from autopack.dashboard import schemas

logger = logging.getLogger(__name__)

Lister = Callable[[], Sequence[Mapping[str, Any]]]


class LiveStatus:
    """A cached view of AutopackRun statuses, keyed by uid."""

    def __init__(
        self,
        lister: Lister,
        *,
        ttl_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Read statuses through ``lister`` (returns AutopackRun objects as dicts)."""
        self._lister = lister
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._fetched_at: float | None = None
        self._by_uid: dict[str, Mapping[str, Any]] = {}

    def statuses(self) -> dict[str, Mapping[str, Any]]:
        """Status of each AutopackRun by uid, refreshed when older than the TTL."""
        with self._lock:
            now = self._clock()
            if self._fetched_at is None or now - self._fetched_at >= self._ttl:
                self._fetched_at = now
                try:
                    self._by_uid = {
                        str(item["metadata"]["uid"]): item.get("status") or {}
                        for item in self._lister()
                        if item.get("metadata", {}).get("uid")
                    }
                except Exception as exc:  # the cluster is optional: keep showing the store
                    logger.warning("live run status unavailable: %s", exc)
                    self._by_uid = {}
            return dict(self._by_uid)

    def overlay(self, runs: Sequence[schemas.RunSummary]) -> list[schemas.RunSummary]:
        """``runs`` with the cluster's phase, progress and message where it knows the run."""
        statuses = self.statuses()
        return [apply(run, statuses.get(run.id)) for run in runs]


def apply(run: schemas.RunSummary, status: Mapping[str, Any] | None) -> schemas.RunSummary:
    """One run with the live status's fields that are set."""
    if not status or not status.get("phase"):
        return run
    changes: dict[str, Any] = {"state": str(status["phase"])}
    if status.get("progress"):
        changes["progress"] = str(status["progress"])
    if status.get("message"):
        changes["message"] = str(status["message"])
    return run.model_copy(update=changes)


def kubernetes_lister() -> Lister:
    """List AutopackRuns in all namespaces with the pod's token (or the local kubeconfig)."""
    import kubernetes  # noqa: PLC0415 - only the in-cluster dashboard needs the client

    try:
        kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config()  # type: ignore[no-untyped-call]
    api = kubernetes.client.CustomObjectsApi()

    def list_runs() -> Sequence[Mapping[str, Any]]:
        answer = api.list_cluster_custom_object(
            group=constants.GROUP,
            version=constants.VERSION,
            plural=constants.RUN_PLURAL,
            _request_timeout=5,
        )
        items: Sequence[Mapping[str, Any]] = (
            answer.get("items", []) if isinstance(answer, dict) else []
        )
        return items

    return list_runs
