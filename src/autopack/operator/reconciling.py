"""One reconcile pass for one run: read indexes, decide, act, and compute the status patch.

Called by the create / resume / spec-update handlers and by the periodic timer. Everything it
reads comes from kopf's in-memory indexes (no API reads), which keeps the API traffic per run
to the writes that change something.
"""

import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from autopack.api import TERMINAL_RUN_PHASES, AutopackRun, AutopackRunStatus, Phase, constants
from autopack.api import conditions as cond
from autopack.operator import acting
from autopack.operator.admission import RunSlot, admit
from autopack.operator.config import OperatorConfig
from autopack.operator.decisions import Decision, Observed, decide, launch_number
from autopack.operator.history import RunHistory, lifecycle_row

# Runs admitted by this process whose status has not reached the index yet: counted as
# holding a slot so that two runs reconciled at once cannot both take the last one.
_admitted: set[tuple[str, str]] = set()
_admission_lock = threading.Lock()


def _values(index: Mapping[Any, Iterable[Any]] | None, key: Any) -> list[Any]:
    if index is None:
        return []
    try:
        return list(index[key])
    except KeyError:
        return []


def _phases(raw: list[dict[str, Any]]) -> list[Phase]:
    phases = []
    for body in raw:
        try:
            phases.append(Phase.model_validate(body, by_alias=True))
        except ValidationError:
            continue  # a malformed Phase is ignored rather than blocking the run
    return phases


def status_patch(old: Mapping[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Return the merge patch turning status ``old`` into ``new`` (None removes a field)."""
    before = dict(old or {})
    patch = {key: value for key, value in new.items() if before.get(key) != value}
    patch.update({key: None for key in before if key not in new})
    return patch


def ttl_expired(run: AutopackRun, *, now: datetime) -> bool:
    """Return whether a finished run has outlived ``spec.ttlSecondsAfterFinished``."""
    ttl = run.spec.ttl_seconds_after_finished
    status = run.status
    if ttl is None or status is None or status.finished_at is None:
        return False
    if status.phase not in TERMINAL_RUN_PHASES:
        return False
    return now >= status.finished_at + timedelta(seconds=ttl)


def reconcile(
    *,
    body: Mapping[str, Any],
    namespace: str,
    config: OperatorConfig,
    run_slots: Mapping[Any, Iterable[RunSlot]] | None,
    runner_jobs: Mapping[Any, Iterable[dict[str, Any]]] | None,
    runner_pods: Mapping[Any, Iterable[dict[str, Any]]] | None,
    run_phases: Mapping[Any, Iterable[dict[str, Any]]] | None,
    now: datetime | None = None,
    history: RunHistory | None = None,
) -> tuple[Decision | None, dict[str, Any]]:
    """Reconcile one run; return the decision (None if deleted by TTL) and its status patch."""
    moment = now or datetime.now(UTC)
    data = acting.plain(body)
    run = AutopackRun.model_validate(data, by_alias=True)
    if ttl_expired(run, now=moment):
        acting.delete_run(run.name, namespace=namespace)
        return None, {}
    key = (namespace, run.name)
    jobs = _values(runner_jobs, key)
    latest = max(jobs, key=launch_number)["metadata"]["name"] if jobs else None
    pods = [
        pod
        for pod in _values(runner_pods, key)
        if (pod.get("metadata", {}).get("labels") or {}).get("job-name") == latest
    ]
    candidate = RunSlot(
        namespace=namespace,
        name=run.name,
        created=str(data.get("metadata", {}).get("creationTimestamp") or ""),
        phase=run.status.phase.value if run.status else "",
        suspended=run.spec.suspend,
    )
    with _admission_lock:
        slots = [
            slot
            if (slot.namespace, slot.name) not in _admitted
            else RunSlot(slot.namespace, slot.name, slot.created, "Running", slot.suspended)
            for slot in _values(run_slots, None)
            if (slot.namespace, slot.name) != key
        ]
        may_start, position = admit(
            candidate,
            [*slots, candidate],
            cluster_limit=config.max_concurrent_runs,
            namespace_limit=config.max_concurrent_runs_per_namespace,
        )
        decision = decide(
            Observed(
                run=run,
                jobs=jobs,
                pods=pods,
                phases=_phases(_values(run_phases, key)),
                now=moment,
                may_start=may_start,
                queue_position=position,
            ),
            max_launches=config.max_runner_launches,
        )
        if decision.launch is not None:
            _admitted.add(key)
        elif decision.status.phase in TERMINAL_RUN_PHASES:
            _admitted.discard(key)
    acting.carry_out(decision, run=run, body=body, namespace=namespace, config=config)
    patch = status_patch(data.get("status"), decision.status.to_api())
    if history is not None and history.enabled and (patch or history.pending):
        uid = str(data.get("metadata", {}).get("uid") or "")
        written = history.record(lifecycle_row(run, decision.status, uid=uid, now=moment))
        record_database_condition(decision.status, history, written=written, now=moment)
        patch = status_patch(data.get("status"), decision.status.to_api())
    return decision, patch


def record_database_condition(
    status: AutopackRunStatus, history: RunHistory, *, written: bool, now: datetime
) -> None:
    """Say on the run whether its history reached the database."""
    if written:
        cond.set_condition(
            status.conditions,
            type=cond.DATABASE_AVAILABLE,
            status="True",
            reason=cond.Reason.DATABASE_AVAILABLE,
            message="run history is recorded",
            now=now,
        )
    else:
        cond.set_condition(
            status.conditions,
            type=cond.DATABASE_AVAILABLE,
            status="False",
            reason=cond.Reason.DATABASE_UNAVAILABLE,
            message=f"the run proceeds; its history is queued until the database answers: "
            f"{history.last_error}",
            now=now,
        )


def forget(namespace: str, name: str) -> None:
    """Drop a deleted run from the in-process admission set."""
    with _admission_lock:
        _admitted.discard((namespace, name))


__all__ = ["constants", "forget", "reconcile", "status_patch", "ttl_expired"]
