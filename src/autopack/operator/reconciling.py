"""One reconcile pass for one run: take what the watches saw, decide, act, write what changed.

A pass starts from a :class:`Snapshot` (the run and its runner Jobs, pods and Phases as the
operator's indexes hold them, taken on kopf's loop) and runs in a worker thread. The run's
status is written only when it differs from what the API server holds: a change of state
(phase, conditions, Job, result) at once, the start of a phase once it settled for a moment
(with the end of the one before, which the runner's PhaseCompleted event announced), and other
progress (Phases appearing, a phase's end with no next one started yet, usage) with the next
such write or at most every ``status_interval_seconds``. A launch's Planning becoming Running
is progress too, shown with the first phase's start. The :class:`Reconciler`
remembers what this process wrote and created, so a pass that runs before the watch has
delivered those writes neither writes them again nor creates a
second Job.
"""

import contextlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
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
from autopack.operator.status import awaits_pod_end

RunKey = tuple[str, str]
"""(namespace, run name)."""

# Fields whose change is written at once; any other change (progress) may wait a little.
_URGENT_FIELDS = (
    "phase",
    "jobName",
    "result",
    "finishedAt",
    "startedAt",
    "runnerRestarts",
    "observedGeneration",
)
# A phase ending and the next one starting arrive as two Phase writes a moment apart: one
# run status write, once the start settled, covers both.
MILESTONE_SETTLE_SECONDS = 2.0
POD_REPORT_GRACE_SECONDS = 30.0
"""How long after its Job ended a runner pod's report is waited for."""
LEGACY_FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"
"""kopf's finalizer, which operator versions with a timer put on every run."""
_WAITING = frozenset({"", "Pending", "Queued"})
# States in which a run holds a runner slot.
_HOLDING = frozenset({"Planning", "Running"})
_NO_LOCK = contextlib.nullcontext()


@dataclass(frozen=True)
class Snapshot:
    """What the operator's indexes hold about one run at the start of a pass."""

    key: RunKey
    run: dict[str, Any] | None
    jobs: Sequence[dict[str, Any]] = ()
    pods: Sequence[dict[str, Any]] = ()
    phases: Sequence[dict[str, Any]] = ()
    others: Sequence[RunSlot] = ()
    """The other runs (only when concurrency limits are set)."""


@dataclass(frozen=True)
class Result:
    """What a pass did, for the queue."""

    decision: Decision | None
    again: float | None = None
    """Seconds after which to look again without a watch event (TTL, deferred progress)."""
    slot_freed: bool = False
    """The run stopped holding a runner slot (queued runs may start)."""
    wrote: bool = False


@dataclass
class _Written:
    """What this process last wrote about one run (ahead of the watch)."""

    uid: str
    status: dict[str, Any] | None = None
    resource_version: str = ""
    at: float = float("-inf")
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    retry_handled: str | None = None
    milestone_since: float | None = None
    """When a launch or a phase's start was first held back to settle (None: none is)."""
    decided: str | None = None
    """The phase our last decision gave the run (None: not decided here yet)."""


def status_patch(old: Mapping[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Return the merge patch turning status ``old`` into ``new`` (None removes a field)."""
    before = dict(old or {})
    patch = {key: value for key, value in new.items() if before.get(key) != value}
    patch.update({key: None for key in before if key not in new})
    return patch


def _starts_running(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether a launched run goes from Planning to Running (its plan's Phases appeared)."""
    return old.get("phase") == "Planning" and new.get("phase") == "Running"


def is_urgent(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """Whether going from status ``old`` to ``new`` changes more than progress.

    Planning becoming Running is progress: the runner creates the plan's Phases one by one and
    starts the first a little later; the first phase's start is what is shown (a milestone).
    """
    before = old or {}
    if _starts_running(before, new):
        before = {**before, "phase": new.get("phase"), "conditions": new.get("conditions")}
    if any(before.get(key) != new.get(key) for key in _URGENT_FIELDS):
        return True

    def states(status: Mapping[str, Any]) -> set[tuple[Any, Any, Any]]:
        return {
            (c.get("type"), c.get("status"), c.get("reason"))
            for c in status.get("conditions") or []
        }

    return states(before) != states(new)


def legacy_leftovers(metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    """The patch removing what earlier operator versions left on a run, or None.

    Those kept kopf's finalizer on every run (deletion then waited for the operator) and a
    copy of the whole spec in an annotation (large runs hit the 256 KiB annotation limit).
    The patch carries the resourceVersion, so a concurrent change of finalizers gets a 409.
    """
    finalizers = list(metadata.get("finalizers") or [])
    annotations = [
        key
        for key in metadata.get("annotations") or {}
        if key.startswith(f"{constants.KOPF_PROGRESS_PREFIX}/")
    ]
    if LEGACY_FINALIZER not in finalizers and not annotations:
        return None
    changes: dict[str, Any] = {"resourceVersion": metadata.get("resourceVersion")}
    if LEGACY_FINALIZER in finalizers:
        changes["finalizers"] = [f for f in finalizers if f != LEGACY_FINALIZER]
    if annotations:
        changes["annotations"] = dict.fromkeys(annotations)
    return {"metadata": changes}


def is_launch(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """Whether a waiting run just got its runner (written once settled, off the Job's path).

    Creating the Job is what a new run waits for; its status follows a moment later in the
    same write as what the runner did first (often the run's end, for a short run).
    """
    first = not new.get("runnerRestarts")  # a relaunch's count exists only in the decision
    waiting = str((old or {}).get("phase") or "") in _WAITING
    return first and waiting and new.get("phase") == "Planning"


def is_milestone(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> bool:
    """Whether a phase started between status ``old`` and ``new``.

    A phase's end alone is not one: the next phase usually starts a moment later (one write
    covers both), and after the last phase the run's end follows.
    """
    current = new.get("currentPhase")
    return current is not None and (old or {}).get("currentPhase") != current


def ttl_remaining(run: AutopackRun, *, now: datetime) -> float | None:
    """Seconds until a finished run outlives ``spec.ttlSecondsAfterFinished`` (None: never)."""
    ttl = run.spec.ttl_seconds_after_finished
    status = run.status
    if ttl is None or status is None or status.finished_at is None:
        return None
    if status.phase not in TERMINAL_RUN_PHASES:
        return None
    expiry = status.finished_at + timedelta(seconds=ttl)
    return max(0.0, (expiry - now).total_seconds())


def ttl_expired(run: AutopackRun, *, now: datetime) -> bool:
    """Return whether a finished run has outlived ``spec.ttlSecondsAfterFinished``."""
    remaining = ttl_remaining(run, now=now)
    return remaining is not None and remaining <= 0


def _newer(candidate: str, than: str) -> bool:
    """Whether resourceVersion ``candidate`` is later than ``than`` (numeric on real servers)."""
    if candidate.isdigit() and than.isdigit():
        return int(candidate) > int(than)
    return candidate != than


def _phases(raw: Sequence[dict[str, Any]]) -> list[Phase]:
    phases = []
    for body in raw:
        try:
            phases.append(Phase.model_validate(body, by_alias=True))
        except ValidationError:
            continue  # a malformed Phase is ignored rather than blocking the run
    return phases


class Reconciler:
    """Reconciles runs; remembers this process's own writes until the watch shows them."""

    def __init__(
        self,
        config: OperatorConfig,
        *,
        history: RunHistory | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Reconcile with ``config``; record lifecycle rows in ``history`` when it is enabled."""
        self.config = config
        self.history = history
        self.clock = clock
        self._written: dict[RunKey, _Written] = {}
        self._lock = threading.Lock()
        self._admission = threading.Lock()

    @property
    def limited(self) -> bool:
        """Whether runs compete for runner slots (a concurrency limit is set)."""
        config = self.config
        return bool(config.max_concurrent_runs or config.max_concurrent_runs_per_namespace)

    def forget(self, key: RunKey) -> None:
        """Drop what is remembered about a deleted run."""
        with self._lock:
            self._written.pop(key, None)

    def wrote(self, key: RunKey, resource_version: str) -> bool:
        """Whether the run at ``resource_version`` is exactly what our last status write made."""
        with self._lock:
            written = self._written.get(key)
            return bool(written and resource_version == written.resource_version)

    def decided(self, key: RunKey) -> str | None:
        """The phase our last decision gave the run (None: not decided here)."""
        with self._lock:
            written = self._written.get(key)
            return None if written is None else written.decided

    # ----- one pass ------------------------------------------------------------------------
    def _current(self, key: RunKey, run: dict[str, Any]) -> tuple[dict[str, Any], _Written]:
        """The run as the API server holds it: the index's copy, or what we wrote since."""
        metadata = run.get("metadata") or {}
        uid = str(metadata.get("uid") or "")
        with self._lock:
            written = self._written.get(key)
            if written is None or written.uid != uid:
                written = self._written[key] = _Written(uid=uid)
            indexed_version = str(metadata.get("resourceVersion") or "")
            if written.status is not None and not _newer(indexed_version, written.resource_version):
                run = {**run, "status": written.status}
            if written.retry_handled:
                annotations = dict(metadata.get("annotations") or {})
                annotations[constants.ANNOTATION_RETRY_HANDLED] = written.retry_handled
                run = {**run, "metadata": {**metadata, "annotations": annotations}}
        return run, written

    def _jobs(self, snapshot: Snapshot, written: _Written) -> list[dict[str, Any]]:
        indexed = {str(job["metadata"]["name"]): job for job in snapshot.jobs}
        with self._lock:
            for name in list(written.jobs):
                if name in indexed:
                    del written.jobs[name]  # the watch has it now
            return [*indexed.values(), *written.jobs.values()]

    def reconcile(self, snapshot: Snapshot, *, now: datetime | None = None) -> Result:
        """Run one pass over ``snapshot.run``."""
        if snapshot.run is None:
            self.forget(snapshot.key)
            return Result(decision=None)
        moment = now or datetime.now(UTC)
        namespace, name = snapshot.key
        data, written = self._current(snapshot.key, snapshot.run)
        metadata = data.get("metadata") or {}
        leftovers = legacy_leftovers(metadata)
        if leftovers is not None:
            acting.patch_run(name, namespace=namespace, patch=leftovers)
        if metadata.get("deletionTimestamp"):
            return Result(decision=None)  # going away: nothing to start or report
        run = AutopackRun.model_validate(data, by_alias=True)
        remaining = ttl_remaining(run, now=moment)
        if remaining is not None and remaining <= 0:
            acting.delete_run(run.name, namespace=namespace)
            return Result(decision=None)
        jobs = self._jobs(snapshot, written)
        latest_job = max(jobs, key=launch_number) if jobs else None
        latest = latest_job["metadata"]["name"] if latest_job else None
        pods = [
            pod
            for pod in snapshot.pods
            if (pod.get("metadata", {}).get("labels") or {}).get("job-name") == latest
        ]
        if latest_job is not None and awaits_pod_end(
            latest_job, pods, now=moment, grace=POD_REPORT_GRACE_SECONDS
        ):
            return Result(decision=None, again=1.0)  # the pod's watch event is on its way
        phases = _phases(snapshot.phases)
        # Admission and the decision happen under one lock, so two runs decided at once
        # cannot both take the last runner slot.
        with self._admission if self.limited else _NO_LOCK:
            may_start, position = self._admit(snapshot, data, run)
            decision = decide(
                Observed(
                    run=run,
                    jobs=jobs,
                    pods=pods,
                    phases=phases,
                    now=moment,
                    may_start=may_start,
                    queue_position=position,
                ),
                max_launches=self.config.max_runner_launches,
            )
            with self._lock:
                written.decided = decision.status.phase.value
        acting.carry_out(decision, run=run, body=data, namespace=namespace, config=self.config)
        if decision.launch is not None:
            self._remember_job(written, decision, run=run, launch=decision.launch)
        if decision.retry_token:
            acting.annotate_run(
                name,
                namespace=namespace,
                annotations={constants.ANNOTATION_RETRY_HANDLED: decision.retry_token},
            )
            with self._lock:
                written.retry_handled = decision.retry_token
        return self._write_status(snapshot.key, data, run, decision, written, now=moment)

    def _admit(
        self, snapshot: Snapshot, data: dict[str, Any], run: AutopackRun
    ) -> tuple[bool, int]:
        if not self.limited:
            return True, 0
        namespace, _ = snapshot.key
        candidate = RunSlot(
            namespace=namespace,
            name=run.name,
            created=str(data.get("metadata", {}).get("creationTimestamp") or ""),
            phase=run.status.phase.value if run.status else "",
            suspended=run.spec.suspend,
        )
        others = []
        for slot in snapshot.others:
            if (slot.namespace, slot.name) == snapshot.key:
                continue
            decided = self.decided((slot.namespace, slot.name))
            # What this process decided since is ahead of the index.
            others.append(
                RunSlot(slot.namespace, slot.name, slot.created, decided, slot.suspended)
                if decided is not None and decided != slot.phase
                else slot
            )
        return admit(
            candidate,
            [*others, candidate],
            cluster_limit=self.config.max_concurrent_runs,
            namespace_limit=self.config.max_concurrent_runs_per_namespace,
        )

    def _remember_job(
        self, written: _Written, decision: Decision, *, run: AutopackRun, launch: int
    ) -> None:
        """Keep the Job just launched (or found to exist) until the watch delivers it."""
        job_name = constants.runner_job_name(run.name, launch)
        annotations = {constants.ANNOTATION_RUNNER_LAUNCHES: str(launch)}
        if decision.retry_token:
            annotations[constants.ANNOTATION_RETRY_HANDLED] = decision.retry_token
        queue = run.spec.runner.queue_name or self.config.default_queue_name
        with self._lock:
            written.jobs[job_name] = {
                "metadata": {
                    "name": job_name,
                    "annotations": annotations,
                    "labels": {constants.LABEL_KUEUE_QUEUE: queue} if queue else {},
                },
                "spec": {"suspend": bool(queue)},
                "status": {},
            }

    def _due(self, written: _Written, *, milestone: bool) -> float:
        """Seconds until held-back progress may be written (0 or less: now).

        A launch or a phase's start once it settled (counted from when it was first seen);
        other progress at most every interval.
        """
        now = self.clock()
        with self._lock:
            if not milestone:
                written.milestone_since = None
                return written.at + self.config.status_interval_seconds - now
            if written.milestone_since is None:
                written.milestone_since = now
            return written.milestone_since + MILESTONE_SETTLE_SECONDS - now

    def _write_status(
        self,
        key: RunKey,
        data: dict[str, Any],
        run: AutopackRun,
        decision: Decision,
        written: _Written,
        *,
        now: datetime,
    ) -> Result:
        namespace, name = key
        old = data.get("status") or {}
        new = decision.status.to_api()
        patch = status_patch(old, new)
        again: float | None = None
        launching = is_launch(old, new)
        urgent = bool(patch) and is_urgent(old, new) and not launching
        if patch and not urgent:
            due = self._due(written, milestone=launching or is_milestone(old, new))
            if due > 0:
                again, patch = due, {}
        history = self.history
        if history is not None and history.enabled and (patch or history.pending):
            uid = str(data.get("metadata", {}).get("uid") or "")
            stored = history.record(lifecycle_row(run, decision.status, uid=uid, now=now))
            record_database_condition(decision.status, history, written=stored, now=now)
            new = decision.status.to_api()
            patch = status_patch(old, new) if (patch or is_urgent(old, new)) else {}
            if history.pending:
                again = min(again or history.retry_seconds, history.retry_seconds)
        wrote = False
        if patch:
            stored_run = acting.patch_run_status(name, namespace=namespace, status=patch)
            with self._lock:
                written.status = dict(stored_run.get("status") or new)
                written.resource_version = str(
                    (stored_run.get("metadata") or {}).get("resourceVersion") or ""
                )
                written.at = self.clock()
            wrote = True
            written.milestone_since = None
        final = decision.status
        if final.phase in TERMINAL_RUN_PHASES and final.finished_at is not None:
            finished = run.model_copy(update={"status": final})
            remaining = ttl_remaining(finished, now=now)
            if remaining is not None:
                again = remaining if again is None else min(again, remaining)
        previous = str(old.get("phase") or "")
        slot_freed = previous in _HOLDING and final.phase.value not in _HOLDING
        return Result(decision=decision, again=again, slot_freed=slot_freed, wrote=wrote)


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


__all__ = [
    "Reconciler",
    "Result",
    "RunKey",
    "Snapshot",
    "is_milestone",
    "is_urgent",
    "status_patch",
    "ttl_expired",
    "ttl_remaining",
]
