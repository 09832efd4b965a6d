"""Read what happened: phase aggregates, the runner Job's outcome, and the run's conditions.

Pure functions over plain objects (Phases, Job and Pod dicts): the handlers fetch, these
decide. Job failures map to reasons users can act on (DeadlineExceeded, BackoffLimitExceeded,
OOMKilled, Evicted, Disrupted), and infrastructure failures are told apart from the run failing.

The Job controller of Kubernetes >= 1.31 announces the end of a Job before it is final: it sets
``FailureTarget`` (with ``status.failed`` already counted) or ``SuccessCriteriaMet`` while it
terminates the remaining pods, and ``Failed`` / ``Complete`` a moment later. The outcome is
read from whichever comes first, with the reason the controller gave, so a deadline is never
taken for a crash.

A runner pod the kubelet cannot start (a Secret or key the run names is missing, an image it
cannot pull) stays Pending, retried by the kubelet until the Job's deadline, hours later; its
container's waiting reason tells it apart (:data:`CANNOT_START`), and the outcome says so at once.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from autopack.api import (
    AutopackRunStatus,
    ConditionStatus,
    Phase,
    PhaseCounts,
    PhaseState,
    RunPhase,
    Usage,
    conditions,
)
from autopack.api.report import RunnerReport

JobState = Literal["pending", "running", "stuck", "suspended", "succeeded", "failed"]
"""``stuck``: the Job is active but the kubelet cannot start its pod's containers."""

CANNOT_START = frozenset(
    {"CreateContainerConfigError", "InvalidImageName", "ErrImageNeverPull", "ImagePullBackOff"}
)
"""Waiting reasons of a container that the kubelet keeps retrying in vain until someone acts.

``CreateContainerConfigError``: a Secret, ConfigMap or key the environment refers to is missing.
A first ``ErrImagePull`` is left alone (a registry may answer the next pull); the kubelet says
``ImagePullBackOff`` once that pull failed too.
"""

_RUNNING = {PhaseState.BUILDING, PhaseState.VALIDATING, PhaseState.AUDITING}


@dataclass(frozen=True)
class PhaseSummary:
    """Aggregates of a run's Phase objects."""

    counts: PhaseCounts
    progress: str
    current: str | None
    usage: Usage
    awaiting_approval: tuple[str, ...]
    approved_waiting: tuple[str, ...]


def summarize_phases(phases: Sequence[Phase]) -> PhaseSummary:
    """Count phases per state, sum usage, and find the current and waiting phases."""
    ordered = sorted(phases, key=lambda p: p.spec.index)
    states = [p.status.state if p.status else PhaseState.QUEUED for p in ordered]
    counts = PhaseCounts(
        total=len(ordered),
        queued=sum(s == PhaseState.QUEUED for s in states),
        running=sum(s in _RUNNING for s in states),
        awaiting_approval=sum(s == PhaseState.AWAITING_APPROVAL for s in states),
        complete=sum(s == PhaseState.COMPLETE for s in states),
        failed=sum(s == PhaseState.FAILED for s in states),
        skipped=sum(s == PhaseState.SKIPPED for s in states),
    )
    current = next(
        (
            p.metadata.name
            for p, s in zip(ordered, states, strict=True)
            if s in _RUNNING or s == PhaseState.AWAITING_APPROVAL
        ),
        None,
    )
    usage = Usage()
    for phase in ordered:
        if phase.status is None:
            continue
        for u in (phase.status.usage, phase.status.plan_usage):  # the planner's: on the first
            if u is not None:
                usage = Usage(
                    input_tokens=usage.input_tokens + u.input_tokens,
                    output_tokens=usage.output_tokens + u.output_tokens,
                    cache_read_tokens=usage.cache_read_tokens + u.cache_read_tokens,
                    cache_write_tokens=usage.cache_write_tokens + u.cache_write_tokens,
                    cost_usd=round(usage.cost_usd + u.cost_usd, 6),
                    llm_calls=usage.llm_calls + u.llm_calls,
                )
    awaiting = tuple(
        p.metadata.name or ""
        for p, s in zip(ordered, states, strict=True)
        if s == PhaseState.AWAITING_APPROVAL
    )
    approved = tuple(
        p.metadata.name or ""
        for p, s in zip(ordered, states, strict=True)
        if s == PhaseState.AWAITING_APPROVAL and p.spec.approved
    )
    done = counts.complete + counts.skipped
    return PhaseSummary(
        counts=counts,
        progress=f"{done}/{counts.total}",
        current=current,
        usage=usage,
        awaiting_approval=awaiting,
        approved_waiting=approved,
    )


@dataclass(frozen=True)
class JobOutcome:
    """What the runner Job did, in the operator's terms."""

    state: JobState
    reason: str | None = None
    message: str = ""
    infrastructure: bool = False
    report: RunnerReport | None = None


def _condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    found = [c for c in obj.get("status", {}).get("conditions") or [] if c.get("type") == type_]
    return found[0] if found and found[0].get("status") == "True" else None


def _terminated(
    pods: Sequence[dict[str, Any]],
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Return (pod, terminated state of its runner container) of the newest finished pod."""
    for pod in sorted(
        pods, key=lambda p: p.get("metadata", {}).get("creationTimestamp") or "", reverse=True
    ):
        for status in pod.get("status", {}).get("containerStatuses") or []:
            terminated = (status.get("state") or {}).get("terminated")
            if terminated:
                return pod, terminated
        if pod.get("status", {}).get("reason") == "Evicted" or _condition(pod, "DisruptionTarget"):
            return pod, None
    return None, None


def cannot_start(pods: Sequence[dict[str, Any]]) -> str | None:
    """Why the kubelet cannot start the newest pod (None: it can, or nothing says otherwise).

    Told as ``pod P cannot start: container C is waiting in REASON: the kubelet's message``
    for the first container (init containers first, as they start first) waiting for a reason
    of :data:`CANNOT_START`.
    """
    if not pods:
        return None
    newest = max(pods, key=lambda p: p.get("metadata", {}).get("creationTimestamp") or "")
    status = newest.get("status") or {}
    for container in [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]:
        waiting = (container.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason in CANNOT_START:
            pod = newest.get("metadata", {}).get("name") or "the runner pod"
            said = f": {waiting['message']}" if waiting.get("message") else ""
            name = container.get("name")
            return f"pod {pod} cannot start: container {name} is waiting in {reason}{said}"
    return None


def job_outcome(job: dict[str, Any], pods: Sequence[dict[str, Any]]) -> JobOutcome:
    """Classify a runner Job and its pods."""
    status = job.get("status") or {}
    pod, terminated = _terminated(pods)
    report = RunnerReport.decode((terminated or {}).get("message"))
    if _condition(job, "Complete") or _condition(job, "SuccessCriteriaMet"):
        return JobOutcome("succeeded", report=report)
    failed = _condition(job, "Failed") or _condition(job, "FailureTarget")
    if failed is None:
        # ``status.succeeded`` / ``status.failed`` count pods; the Job's end is its condition.
        if job.get("spec", {}).get("suspend") or _condition(job, "Suspended"):
            return JobOutcome("suspended", reason="Suspended")
        stuck = cannot_start(pods)
        if stuck is not None:
            # Not an infrastructure failure: another launch would wait the same way.
            return JobOutcome("stuck", conditions.Reason.RUNNER_CANNOT_START, stuck)
        return JobOutcome("running" if status.get("active") else "pending")
    return _failure(job, failed, pod, terminated, report)


_ENDINGS = ("Complete", "SuccessCriteriaMet", "Failed", "FailureTarget")


def awaits_pod_end(
    job: dict[str, Any], pods: Sequence[dict[str, Any]], *, now: datetime, grace: float
) -> bool:
    """Whether the Job ended but how its pod ended (the runner's report) is not seen yet.

    Jobs and pods come through separate watches, so the Job's end can arrive first; the
    run's result (branch, commit, reason) is in the pod's termination message. Wait for it,
    at most ``grace`` seconds after the Job ended (a pod may be gone for good).
    """
    ended = [
        c
        for c in (job.get("status") or {}).get("conditions") or []
        if c.get("type") in _ENDINGS and c.get("status") == "True"
    ]
    if not ended or _terminated(pods) != (None, None):
        return False
    since = ended[0].get("lastTransitionTime")
    if not since:
        return False
    try:
        moment = datetime.fromisoformat(str(since).replace("Z", "+00:00"))
    except ValueError:
        return False
    return (now - moment).total_seconds() < grace


def _failure(
    job: dict[str, Any],
    failed: dict[str, Any] | None,
    pod: dict[str, Any] | None,
    terminated: dict[str, Any] | None,
    report: RunnerReport | None,
) -> JobOutcome:
    if pod is not None and pod.get("status", {}).get("reason") == "Evicted":
        return JobOutcome("failed", "Evicted", pod["status"].get("message", "pod evicted"), True)
    disrupted = _condition(pod, "DisruptionTarget") if pod is not None else None
    if disrupted is not None and (terminated is None or report is None):
        reason = disrupted.get("reason") or "DisruptionTarget"
        message = disrupted.get("message") or f"the runner pod was disrupted ({reason})"
        return JobOutcome("failed", "Evicted", f"{reason}: {message}", infrastructure=True)
    if terminated is not None and terminated.get("reason") == "OOMKilled":
        message = "the runner ran out of memory; raise spec.runner.resources.limits.memory"
        return JobOutcome("failed", "OOMKilled", message, infrastructure=True)
    job_reason = (failed or {}).get("reason")
    if job_reason == "DeadlineExceeded":
        deadline = job.get("spec", {}).get("activeDeadlineSeconds")
        message = f"the runner exceeded spec.budgets.activeDeadlineSeconds ({deadline} s)"
        return JobOutcome("failed", "DeadlineExceeded", message, report=report)
    if report is not None:
        return JobOutcome("failed", report.reason, report.message, report=report)
    exit_code = (terminated or {}).get("exitCode")
    return JobOutcome(
        "failed",
        job_reason or "BackoffLimitExceeded",
        f"the runner stopped without a report (exit code {exit_code})",
        infrastructure=True,
    )


def set_run_conditions(
    status: AutopackRunStatus, *, reason: str, message: str, now: datetime, generation: int | None
) -> bool:
    """Set Succeeded, Ready, Reconciling and Stalled from ``status.phase``; return changed.

    kstatus (Flux) reads Reconciling=True as in progress, Stalled=True as failed and Ready=True
    as current; Argo CD's health check reads the same conditions.
    """
    phase = status.phase
    succeeded: ConditionStatus = (
        "True"
        if phase == RunPhase.SUCCEEDED
        else "False"
        if phase in (RunPhase.FAILED, RunPhase.CANCELLED)
        else "Unknown"
    )
    reconciling = phase in (RunPhase.PENDING, RunPhase.QUEUED, RunPhase.PLANNING, RunPhase.RUNNING)
    stalled = phase == RunPhase.FAILED
    changed = False
    values: tuple[tuple[str, ConditionStatus], ...] = (
        (conditions.SUCCEEDED, succeeded),
        (conditions.READY, "True" if phase == RunPhase.SUCCEEDED else "False"),
        (conditions.RECONCILING, "True" if reconciling else "False"),
        (conditions.STALLED, "True" if stalled else "False"),
    )
    for type_, value in values:
        changed |= conditions.set_condition(
            status.conditions,
            type=type_,
            status=value,
            reason=reason,
            message=message,
            now=now,
            observed_generation=generation,
        )
    return changed
