"""The kopf handlers: watch runs and their children, and ask for the run's reconcile.

All ``@kopf`` decorators live here (and only here). The operator is event-driven: indexes keep
a small summary of every run, runner Job, runner pod and Phase (:mod:`.observing`), and each
watch event only adds the owning run's key to a work queue (:mod:`.queueing`), whose workers
reconcile it (:mod:`.reconciling`). Nothing runs periodically, and only watch-event and
index handlers are registered: kopf then never writes to our objects (no finalizer, no
``last-handled-configuration`` copy of the spec, no progress annotations), so deleting a run
or its namespace never waits for the operator, and a run's size is bounded by the CRD alone.
"""

import asyncio
import contextvars
import functools
import json
import logging
import os
import socket
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kopf
from kubernetes import config as kube_config

from autopack.api import constants
from autopack.operator import metrics, observing, reconciling
from autopack.operator.admission import RunSlot
from autopack.operator.config import OperatorConfig
from autopack.operator.history import RunHistory
from autopack.operator.queueing import WorkQueue

CONFIG = OperatorConfig()
HISTORY = RunHistory(CONFIG.database_url)
RECONCILER = reconciling.Reconciler(CONFIG, history=HISTORY)
RUNS = (constants.GROUP, constants.VERSION, constants.RUN_PLURAL)
PHASES = (constants.GROUP, constants.VERSION, constants.PHASE_PLURAL)
RUNNER = {constants.LABEL_COMPONENT: "runner"}
REPORTING_COMPONENT = "autopack-operator"

logger = logging.getLogger(__name__)

# kopf's indexes, as handed to the handlers (they are live and updated on kopf's loop).
_indexes: dict[str, Mapping[Any, Any]] = {}
_WAITING = frozenset({"", "Pending", "Queued"})


# Reconciles wait on the API server most of the time: one thread per queue worker.
_EXECUTOR = ThreadPoolExecutor(max_workers=CONFIG.workers, thread_name_prefix="reconcile")


async def _process(key: reconciling.RunKey) -> float | None:
    snapshot = _snapshot(key)
    context = contextvars.copy_context()  # kopf's event poster is found through it
    loop = asyncio.get_running_loop()
    with metrics.timed_reconcile():
        result = await loop.run_in_executor(
            _EXECUTOR, functools.partial(context.run, RECONCILER.reconcile, snapshot)
        )
    if result.decision is not None:
        metrics.record(key[0], key[1], result.decision)
    if result.slot_freed and RECONCILER.limited:
        _wake_waiting_runs()
    return result.again


QUEUE: WorkQueue[reconciling.RunKey] = WorkQueue(_process, workers=CONFIG.workers)


def _values(index: str, key: Any) -> list[Any]:
    found = _indexes.get(index)
    if found is None:
        return []
    try:
        return list(found[key])
    except KeyError:
        return []


def _slot(run: Mapping[str, Any]) -> RunSlot:
    metadata = run.get("metadata") or {}
    return RunSlot(
        namespace=str(metadata.get("namespace") or ""),
        name=str(metadata.get("name") or ""),
        created=str(metadata.get("creationTimestamp") or ""),
        phase=str((run.get("status") or {}).get("phase") or ""),
        suspended=bool((run.get("spec") or {}).get("suspend")),
    )


def _all_runs() -> list[dict[str, Any]]:
    runs = _indexes.get("runs") or {}
    return [run for store in runs.values() for run in store]


def _snapshot(key: reconciling.RunKey) -> reconciling.Snapshot:
    """What the indexes hold about one run (taken on kopf's loop, where they change)."""
    found = _values("runs", key)
    return reconciling.Snapshot(
        key=key,
        run=found[0] if found else None,
        jobs=_values("runner_jobs", key),
        pods=_values("runner_pods", key),
        phases=_values("run_phases", key),
        others=[_slot(run) for run in _all_runs()] if RECONCILER.limited else (),
    )


def _wake_waiting_runs() -> None:
    """A runner slot came free: look at every run that waits for one."""
    for run in _all_runs():
        slot = _slot(run)
        if slot.phase in _WAITING and not slot.suspended:
            QUEUE.add((slot.namespace, slot.name))


def _enqueue(key: reconciling.RunKey, kwargs: Mapping[str, Any], *, first: bool = False) -> None:
    if not _indexes:
        _indexes.update({name: kwargs[name] for name in _INDEX_NAMES if name in kwargs})
    if not QUEUE.started:
        QUEUE.start()  # here, so its workers inherit kopf's context (events can be posted)
    QUEUE.add(key, first=first)


class NoDiffBase(kopf.DiffBaseStorage):
    """No last-handled state: this operator has no creation, update or resume handlers.

    kopf computes a diff base for every event of every watched resource anyway, deep-copying
    the whole body about three times (a run, a Job or a pod: ~1-4 ms on kopf's loop, per watch
    event), only for change handlers to use. Nothing here needs it; an empty essence skips it.
    """

    def build(self, *, body: Any, extra_fields: Any = None) -> Any:
        """No essence (kopf then computes no diff and clears no progress)."""
        return None

    def fetch(self, *, body: Any) -> Any:
        """Nothing was stored."""
        return None

    def store(self, *, body: Any, patch: Any, essence: Any) -> None:
        """Store nothing (kopf never writes the last-handled-configuration annotation)."""


@kopf.on.startup(id="operator_configure")
def operator_configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    """Name the operator in its events, and load API credentials for our client."""
    settings.persistence.diffbase_storage = NoDiffBase()
    if not logger.isEnabledFor(logging.DEBUG):
        # kopf logs "Indexer ... succeeded" and "Handler ... succeeded" for every watch event
        # (a thousand runs make tens of thousands, written on kopf's loop); warnings and
        # errors stay, and --verbose shows everything.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    settings.posting.reporting_component = REPORTING_COMPONENT
    settings.posting.reporting_instance = os.environ.get("POD_NAME") or socket.gethostname()
    # kopf's own log lines become Events only when they are warnings or errors.
    settings.posting.level = logging.WARNING
    metrics.serve(CONFIG.metrics_port)
    try:
        kube_config.load_incluster_config()  # type: ignore[no-untyped-call]
    except kube_config.ConfigException:
        kube_config.load_kube_config()  # type: ignore[no-untyped-call]


@kopf.on.cleanup(id="operator_cleanup")
async def operator_cleanup(**_: Any) -> None:
    """Stop the reconcile workers."""
    await QUEUE.stop()
    _EXECUTOR.shutdown(wait=False, cancel_futures=True)


@kopf.index(*RUNS, id="runs")
async def runs(*, namespace: str | None, name: str, body: Any, **_: Any) -> Any:
    """Index every run (without managed fields and kubectl's manifest copy) by key."""
    return {(namespace or "", name): observing.run_view(body)}


@kopf.index("batch", "v1", "jobs", labels=RUNNER, id="runner_jobs")
async def runner_jobs(*, namespace: str | None, labels: Any, body: Any, **_: Any) -> Any:
    """Index runner Jobs (their outcome only) by (namespace, run)."""
    return {(namespace or "", labels.get(constants.LABEL_RUN)): observing.job_view(body)}


@kopf.index("", "v1", "pods", labels=RUNNER, id="runner_pods")
async def runner_pods(*, namespace: str | None, labels: Any, body: Any, **_: Any) -> Any:
    """Index runner pods (how they ended) by (namespace, run)."""
    return {(namespace or "", labels.get(constants.LABEL_RUN)): observing.pod_view(body)}


@kopf.index(*PHASES, id="run_phases")
async def run_phases(*, namespace: str | None, spec: Any, body: Any, **_: Any) -> Any:
    """Index Phase objects by (namespace, run)."""
    return {(namespace or "", spec.get("runName")): observing.phase_view(body)}


_INDEX_NAMES = ("runs", "runner_jobs", "runner_pods", "run_phases")


@kopf.on.event(*RUNS, id="run_event")
async def run_event(
    *, type: str | None, namespace: str | None, name: str, meta: Any, **kwargs: Any
) -> None:
    """A run was created, changed (spec, annotations, status) or deleted."""
    key = (namespace or "", name)
    if type == "DELETED":
        RECONCILER.forget(key)
        QUEUE.forget(key)
        metrics.forget(*key)
        if RECONCILER.limited:
            _wake_waiting_runs()
        return
    if RECONCILER.wrote(key, str(meta.get("resourceVersion") or "")):
        return  # our own status write coming back: nothing new to decide on
    # A run that has no status yet waits for its runner Job: it goes ahead of the others.
    fresh = not (kwargs.get("status") or {}).get("phase") and RECONCILER.decided(key) is None
    _enqueue(key, kwargs, first=fresh)


# What the operator read of each runner Job and pod at its last event (a digest of its view):
# the many updates that change nothing it decides on (a pod bound, a Job's ready count, ...)
# start no reconcile pass.
_child_views: dict[tuple[str, str, str], int] = {}


def _child_changed(kind: str, namespace: str | None, name: str, view: Any, type: Any) -> bool:
    key = (kind, namespace or "", name)
    if type == "DELETED":
        _child_views.pop(key, None)
        return True
    digest = hash(json.dumps(view, sort_keys=True, default=str))
    if _child_views.get(key) == digest:
        return False
    _child_views[key] = digest
    return True


@kopf.on.event("batch", "v1", "jobs", labels=RUNNER, id="runner_job_event")
async def runner_job_event(
    *, type: str | None, namespace: str | None, name: str, labels: Any, body: Any, **kwargs: Any
) -> None:
    """A runner Job changed: its run may have moved on."""
    if _child_changed("job", namespace, name, observing.job_view(body), type):
        _enqueue((namespace or "", str(labels.get(constants.LABEL_RUN))), kwargs)


@kopf.on.event("", "v1", "pods", labels=RUNNER, id="runner_pod_event")
async def runner_pod_event(
    *, type: str | None, namespace: str | None, name: str, labels: Any, body: Any, **kwargs: Any
) -> None:
    """A runner pod changed (started, ended, evicted, disrupted)."""
    if _child_changed("pod", namespace, name, observing.pod_view(body), type):
        _enqueue((namespace or "", str(labels.get(constants.LABEL_RUN))), kwargs)


@kopf.on.event(*PHASES, id="phase_event")
async def phase_event(*, namespace: str | None, spec: Any, **kwargs: Any) -> None:
    """A Phase changed: reconcile its run (the runner posts a phase's end as an event)."""
    _enqueue((namespace or "", str(spec.get("runName"))), kwargs)
