"""Prometheus metrics of the operator: runs by phase, reconciles, launches, usage, queue depth.

Gauges are recomputed from each reconcile's decision (no API reads); counters only go up. The
registry is our own, served on ``AUTOPACK_OPERATOR_METRICS_PORT`` by the startup handler.
Reconciles of different runs run in worker threads at once, so the per-run table behind the
gauges is guarded by a lock and the per-phase counts are kept incrementally.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from autopack.api import RunPhase
from autopack.operator.decisions import Decision

REGISTRY = CollectorRegistry(auto_describe=True)

RUNS = Gauge("autopack_runs", "AutopackRuns by lifecycle phase.", ["phase"], registry=REGISTRY)
RECONCILE_SECONDS = Histogram(
    "autopack_reconcile_duration_seconds", "Time to reconcile one run.", registry=REGISTRY
)
JOB_LAUNCHES = Counter(
    "autopack_runner_job_launches_total", "Runner Jobs created.", ["kind"], registry=REGISTRY
)
TOKENS = Gauge(
    "autopack_run_tokens",
    "Model tokens used per run.",
    ["namespace", "run", "kind"],
    registry=REGISTRY,
)
COST = Gauge(
    "autopack_run_cost_usd", "Model cost per run (USD).", ["namespace", "run"], registry=REGISTRY
)
QUEUE_DEPTH = Gauge("autopack_queue_depth", "Runs waiting for a runner slot.", registry=REGISTRY)

_phases: dict[tuple[str, str], str] = {}
_counts: dict[str, int] = {phase.value: 0 for phase in RunPhase}
for _phase in RunPhase:
    RUNS.labels(phase=_phase.value).set(0)
_lock = threading.Lock()


def _move(key: tuple[str, str], phase: str | None) -> None:
    """Move one run to ``phase`` (None: gone) and refresh the affected gauges (lock held)."""
    before = _phases.pop(key, None)
    if phase is not None:
        _phases[key] = phase
    if before == phase:
        return
    for changed, delta in ((before, -1), (phase, 1)):
        if changed is not None:
            _counts[changed] = _counts.get(changed, 0) + delta
            RUNS.labels(phase=changed).set(_counts[changed])
    QUEUE_DEPTH.set(_counts.get(RunPhase.QUEUED.value, 0))


def serve(port: int) -> None:
    """Serve /metrics on ``port`` (0 disables it)."""
    if port:
        start_http_server(port, registry=REGISTRY)


@contextmanager
def timed_reconcile() -> Iterator[None]:
    """Measure one reconcile pass."""
    started = time.perf_counter()
    try:
        yield
    finally:
        RECONCILE_SECONDS.observe(time.perf_counter() - started)


def record(namespace: str, name: str, decision: Decision) -> None:
    """Update the gauges and counters from one decision."""
    status = decision.status
    if decision.launch is not None and decision.launched:
        JOB_LAUNCHES.labels(kind="first" if decision.launch == 1 else "relaunch").inc()
    with _lock:
        _move((namespace, name), status.phase.value)
    TOKENS.labels(namespace=namespace, run=name, kind="input").set(status.usage.input_tokens)
    TOKENS.labels(namespace=namespace, run=name, kind="output").set(status.usage.output_tokens)
    COST.labels(namespace=namespace, run=name).set(status.usage.cost_usd)


def forget(namespace: str, name: str) -> None:
    """Drop a deleted run from the gauges."""
    with _lock:
        _move((namespace, name), None)
    for gauge, labels in ((TOKENS, ("input", "output")), (COST, (None,))):
        for kind in labels:
            try:
                if kind is None:
                    gauge.remove(namespace, name)
                else:
                    gauge.remove(namespace, name, kind)
            except KeyError:
                continue
