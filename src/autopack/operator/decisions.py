"""Decide what a run needs next: the operator's whole state machine as one pure function.

Given what the handler observed (the run, its runner Jobs and pods, its Phases, whether a
runner slot is free, and ``now``), :func:`decide` returns the status to write, at most one
action on Jobs, phases to reset for a retry, and the events to post. Handlers only fetch,
call this, act and record, so every transition is unit-tested without a cluster.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from autopack.api import (
    TERMINAL_RUN_PHASES,
    AutopackRun,
    AutopackRunStatus,
    Phase,
    PhaseState,
    RunPhase,
    RunResult,
    conditions,
    constants,
)
from autopack.api.common import truncate
from autopack.api.conditions import Reason
from autopack.operator import describing
from autopack.operator.status import JobOutcome, job_outcome, set_run_conditions, summarize_phases

EventType = Literal["Normal", "Warning"]


@dataclass(frozen=True)
class Observed:
    """Everything the decision needs, fetched by the handler."""

    run: AutopackRun
    jobs: Sequence[dict[str, Any]]
    pods: Sequence[dict[str, Any]]
    phases: Sequence[Phase]
    now: datetime
    may_start: bool = True
    queue_position: int = 0


@dataclass
class Decision:
    """What to write and do for one run."""

    status: AutopackRunStatus
    launch: int | None = None
    suspend_job: str | None = None
    resume_job: str | None = None
    reset_phases: tuple[str, ...] = ()
    retry_token: str | None = None
    failure_reason: str | None = None
    """The reason a run failed now (kept apart from ``status.message``)."""
    events: list[tuple[EventType, str, str]] = field(default_factory=list)
    launched: bool = False
    """Set when carrying out: the Job was created now (not found from an earlier pass)."""


def launch_number(job: dict[str, Any]) -> int:
    """Return the launch number of a runner Job (from its annotation or name suffix)."""
    metadata = job.get("metadata", {})
    annotated = (metadata.get("annotations") or {}).get(constants.ANNOTATION_RUNNER_LAUNCHES)
    if annotated and annotated.isdigit():
        return int(annotated)
    suffix = str(metadata.get("name", "")).rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0


MAX_MESSAGE = 4096


def _set(status: AutopackRunStatus, phase: RunPhase, message: str) -> None:
    status.phase = phase
    status.message = truncate(message, MAX_MESSAGE)


def _launch(decision: Decision, observed: Observed, number: int, message: str) -> None:
    status = decision.status
    if not observed.may_start:
        ahead = observed.queue_position
        _set(status, RunPhase.QUEUED, f"waiting for a runner slot ({ahead} run(s) ahead)")
        return
    decision.launch = number
    status.job_name = constants.runner_job_name(observed.run.name, number)
    status.started_at = status.started_at or observed.now
    # No event: the status says it (jobName, Planning), and every write counts at scale.
    _set(status, RunPhase.PLANNING if not observed.phases else RunPhase.RUNNING, message)


def _finished(decision: Decision, observed: Observed, outcome: JobOutcome) -> None:
    status = decision.status
    report = outcome.report
    status.finished_at = observed.now
    branch = (report.branch if report else None) or observed.run.push_branch
    status.result = RunResult(
        branch=branch,
        commit=report.commit if report else None,
        pull_request=report.pull_request if report else None,
    )
    if outcome.state == "succeeded":
        _set(status, RunPhase.SUCCEEDED, report.message if report else "all phases complete")
        offered = f", pull request {report.pull_request}" if report and report.pull_request else ""
        decision.events.append(("Normal", "RunSucceeded", f"result on branch {branch}{offered}"))
    else:
        reason = outcome.reason or Reason.FAILED
        decision.failure_reason = reason
        _set(status, RunPhase.FAILED, outcome.message or reason)
        shown = f"{reason}: {outcome.message}" if outcome.message else reason
        decision.events.append(("Warning", Reason.FAILED, shown))
        if reason == Reason.BUDGET_EXCEEDED:
            decision.events.append(("Warning", "BudgetExceeded", outcome.message))


def _awaiting_approval(
    decision: Decision, observed: Observed, outcome: JobOutcome, launches: int
) -> bool:
    """Handle a runner that ended waiting for approval (its Job succeeded, or exited 2).

    The run waits until every waiting phase is approved, then the next runner starts.
    """
    report = outcome.report
    if report is None or report.state != "AwaitingApproval":
        return False
    summary = summarize_phases(observed.phases)
    waiting = summary.awaiting_approval
    if waiting and len(summary.approved_waiting) == len(waiting):
        _launch(decision, observed, launches + 1, f"approved: {', '.join(waiting)}")
    else:
        message = report.message or "a phase needs approval"
        _set(decision.status, RunPhase.AWAITING_APPROVAL, message)
    return True


def _after_failure(
    decision: Decision, observed: Observed, outcome: JobOutcome, launches: int, max_launches: int
) -> None:
    status = decision.status
    if outcome.infrastructure and launches < max_launches:
        status.runner_restarts = launches
        _launch(
            decision,
            observed,
            launches + 1,
            f"relaunching the runner after {outcome.reason} ({launches + 1}/{max_launches})",
        )
        decision.events.append(
            ("Warning", outcome.reason or "RunnerFailed", f"{outcome.message}; relaunching")
        )
        return
    _finished(decision, observed, outcome)


def decide(observed: Observed, *, max_launches: int) -> Decision:
    """Return the next status and action for ``observed.run``."""
    run = observed.run
    previous = run.status or AutopackRunStatus()
    status = previous.model_copy(deep=True)
    decision = Decision(status=status)
    summary = summarize_phases(observed.phases)
    status.observed_generation = run.metadata.generation
    status.phase_counts = summary.counts
    status.progress = summary.progress
    status.current_phase = summary.current
    status.usage = summary.usage
    jobs = sorted(observed.jobs, key=launch_number)
    latest = jobs[-1] if jobs else None
    launches = launch_number(latest) if latest else 0
    annotations = run.metadata.annotations
    retry = annotations.get(constants.ANNOTATION_RETRY)
    # A retry is handled once the run says so or a runner Job carries its token (the run's
    # annotation may lag behind the Job in a concurrent pass).
    retry_requested = (
        bool(retry)
        and retry != annotations.get(constants.ANNOTATION_RETRY_HANDLED)
        and not any(
            (job.get("metadata", {}).get("annotations") or {}).get(
                constants.ANNOTATION_RETRY_HANDLED
            )
            == retry
            for job in jobs
        )
    )

    settled = previous.phase in TERMINAL_RUN_PHASES and not retry_requested
    if settled:
        pass
    elif retry_requested and previous.phase in TERMINAL_RUN_PHASES | {RunPhase.AWAITING_APPROVAL}:
        decision.retry_token = retry
        decision.reset_phases = tuple(
            p.metadata.name or ""
            for p in observed.phases
            if p.status is not None and p.status.state == PhaseState.FAILED
        )
        status.finished_at = None
        _launch(decision, observed, launches + 1, f"retrying failed phases (retry {retry})")
    elif run.spec.suspend:
        outcome = job_outcome(latest, observed.pods) if latest else None
        if outcome is not None and outcome.state in ("running", "pending", "stuck"):
            decision.suspend_job = latest["metadata"]["name"] if latest else None
        _set(status, RunPhase.SUSPENDED, "suspended by spec.suspend; set it to false to resume")
    elif latest is None:
        _launch(decision, observed, 1, "runner starting")
    else:
        _observe_job(decision, observed, latest, launches, max_launches)
    reason = _reason(status, decision)
    set_run_conditions(
        status,
        reason=reason,
        message=status.message or "",
        now=observed.now,
        generation=run.metadata.generation,
    )
    if not settled or previous.budget is not None:  # runs finished before it existed: as they are
        waiting = [p for p in summary.awaiting_approval if p not in summary.approved_waiting]
        describing.describe(status, run=run, phases=observed.phases, reason=reason, waiting=waiting)
    if status.phase == RunPhase.AWAITING_APPROVAL and previous.phase != RunPhase.AWAITING_APPROVAL:
        decision.events.append(("Normal", "ApprovalRequired", status.message or ""))
    return decision


def refuse_launch(
    decision: Decision,
    *,
    run: AutopackRun,
    missing: Sequence[str],
    now: datetime,
) -> None:
    """End the run instead of launching a runner whose pod could not start.

    ``missing`` says which Secrets or keys the run's namespace lacks. A pod referring to them
    would wait in ``CreateContainerConfigError`` with no end and no word on the run; the run
    fails at once with reason ``RunnerSecretMissing``, the Secrets and the namespace in its
    message and what to do in its hint. A retry checks again. Phases a retry would have reset
    stay as they are.
    """
    previous = run.status or AutopackRunStatus()
    status = decision.status
    namespace = run.metadata.namespace or "default"
    decision.launch = None
    decision.reset_phases = ()
    # An infrastructure failure's event announced a relaunch that does not happen.
    decision.events = [(t, r, m.removesuffix("; relaunching")) for t, r, m in decision.events]
    status.job_name = previous.job_name
    status.started_at = previous.started_at
    status.finished_at = now
    message = f"runner not started: namespace {namespace} lacks {'; '.join(missing)}"
    decision.failure_reason = Reason.RUNNER_SECRET_MISSING
    _set(status, RunPhase.FAILED, message)
    decision.events.append(("Warning", Reason.FAILED, f"{Reason.RUNNER_SECRET_MISSING}: {message}"))
    set_run_conditions(
        status,
        reason=Reason.RUNNER_SECRET_MISSING,
        message=status.message or "",
        now=now,
        generation=run.metadata.generation,
    )
    # Models and spend: as the decision described them.
    status.hint = describing.hint(run, status, reason=Reason.RUNNER_SECRET_MISSING, waiting=())


def _observe_job(
    decision: Decision,
    observed: Observed,
    latest: dict[str, Any],
    launches: int,
    max_launches: int,
) -> None:
    status = decision.status
    summary = summarize_phases(observed.phases)
    status.job_name = latest["metadata"]["name"]
    status.started_at = status.started_at or observed.now  # the launch's write may be pending
    outcome = job_outcome(latest, observed.pods)
    if outcome.state == "suspended":
        labels = latest.get("metadata", {}).get("labels") or {}
        if labels.get(constants.LABEL_KUEUE_QUEUE):
            _set(status, RunPhase.QUEUED, "waiting for Kueue to admit the runner Job")
        else:
            decision.resume_job = status.job_name
            _set(status, RunPhase.RUNNING, "resuming")
    elif outcome.state in ("pending", "running"):
        unapproved = set(summary.awaiting_approval) - set(summary.approved_waiting)
        if unapproved:
            _set(status, RunPhase.AWAITING_APPROVAL, "a phase needs approval")
        elif summary.awaiting_approval:
            # Approved phases wait for this runner to pick them up: the run is not waiting.
            _set(status, RunPhase.RUNNING, f"approved: {', '.join(summary.awaiting_approval)}")
        elif summary.counts.total:
            current = summary.current or "next phase"
            _set(status, RunPhase.RUNNING, f"phase {summary.progress} done, working on {current}")
        else:
            _set(status, RunPhase.PLANNING, "cloning the repository and normalizing the plan")
    elif outcome.state == "stuck":
        # The kubelet cannot start the runner (a missing Secret, an image it cannot pull) and
        # would retry until the deadline; a relaunch would wait the same way. The run fails now;
        # its Job is suspended (its pod stops retrying) and kept for inspection.
        decision.suspend_job = status.job_name
        _finished(decision, observed, outcome)
    elif _awaiting_approval(decision, observed, outcome, launches):
        return
    elif outcome.state == "succeeded":
        _finished(decision, observed, outcome)
    else:
        _after_failure(decision, observed, outcome, launches, max_launches)


def _reason(status: AutopackRunStatus, decision: Decision) -> str:
    if status.phase == RunPhase.FAILED:
        if decision.failure_reason:
            return decision.failure_reason
        # Later passes keep the reason the run failed with (the Succeeded condition holds it).
        current = conditions.find_condition(status.conditions, conditions.SUCCEEDED)
        failed = current is not None and current.status == "False"
        return current.reason if current is not None and failed else Reason.FAILED
    if status.phase == RunPhase.SUCCEEDED:
        return "RunSucceeded"
    return str(status.phase.value)
