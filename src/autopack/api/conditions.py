"""Pure helpers for ``metav1.Condition`` lists, plus the condition types and reasons we use.

The helpers take ``now`` from the caller and report whether anything changed, so a handler can
decide whether a status patch is needed and tests never depend on the clock.
"""

from datetime import datetime
from enum import StrEnum
from typing import Final

from autopack.api.common import Condition, ConditionStatus

# Condition types. ``Succeeded`` summarises the run; the other three follow kstatus conventions
# so Flux and Argo CD read health correctly.
SUCCEEDED: Final = "Succeeded"
READY: Final = "Ready"
RECONCILING: Final = "Reconciling"
STALLED: Final = "Stalled"
DATABASE_AVAILABLE: Final = "DatabaseAvailable"
APPROVED: Final = "Approved"

CONDITION_TYPES: Final = (SUCCEEDED, READY, RECONCILING, STALLED, DATABASE_AVAILABLE, APPROVED)


class Reason(StrEnum):
    """Why a run or phase is where it is (CamelCase, as ``metav1.Condition`` requires).

    Reasons travel apart from messages from the engine to the runner's report, the store, the
    run's conditions and its events; whoever shows them formats them, once.
    """

    PENDING = "Pending"
    QUEUED = "Queued"
    PLANNING = "Planning"
    RUNNING = "Running"
    SUSPENDED = "Suspended"
    AWAITING_APPROVAL = "AwaitingApproval"
    SUCCEEDED = "RunSucceeded"
    FAILED = "RunFailed"
    PHASE_FAILED = "PhaseFailed"
    PLAN_INVALID = "PlanInvalid"
    BUDGET_EXCEEDED = "BudgetExceeded"
    HEALTH_BUDGET_EXHAUSTED = "HealthBudgetExhausted"
    PROVIDER_ERROR = "ProviderError"
    DOCTOR_MARKED_FATAL = "DoctorMarkedFatal"
    ROLLBACK_REQUESTED = "RollbackRequested"
    CLONE_FAILED = "CloneFailed"
    INTERNAL_ERROR = "InternalError"
    DATABASE_UNAVAILABLE = "DatabaseUnavailable"
    DATABASE_AVAILABLE = "DatabaseAvailable"
    # How the runner Job ended when the runner could not say (read by the operator).
    DEADLINE_EXCEEDED = "DeadlineExceeded"
    OOM_KILLED = "OOMKilled"
    EVICTED = "Evicted"
    BACKOFF_LIMIT_EXCEEDED = "BackoffLimitExceeded"
    # The operator did not start a runner: a Secret runner pods read is not in the namespace.
    RUNNER_SECRET_MISSING = "RunnerSecretMissing"  # noqa: S105 - a reason, not a secret
    # The kubelet cannot start the runner's container: a Secret or key the run names is missing
    # (CreateContainerConfigError) or the image cannot be pulled (ImagePullBackOff, ...).
    RUNNER_CANNOT_START = "RunnerCannotStart"


def find_condition(conditions: list[Condition], type: str) -> Condition | None:
    """Return the condition of the given type, or None."""
    return next((condition for condition in conditions if condition.type == type), None)


def is_condition_true(conditions: list[Condition], type: str) -> bool:
    """Return whether the condition of the given type exists and is True."""
    condition = find_condition(conditions, type)
    return condition is not None and condition.status == "True"


def set_condition(
    conditions: list[Condition],
    *,
    type: str,
    status: ConditionStatus,
    reason: str,
    message: str = "",
    now: datetime,
    observed_generation: int | None = None,
) -> bool:
    """Add or update the condition of ``type`` in place; return whether anything changed.

    ``lastTransitionTime`` moves to ``now`` only when the status changes, as Kubernetes
    conventions require; a new reason or message alone updates the condition in place.
    """
    existing = find_condition(conditions, type)
    if existing is None:
        conditions.append(
            Condition(
                type=type,
                status=status,
                reason=reason,
                message=message,
                last_transition_time=now,
                observed_generation=observed_generation,
            )
        )
        return True
    changed = False
    if existing.status != status:
        existing.status = status
        existing.last_transition_time = now
        changed = True
    for field, value in (
        ("reason", reason),
        ("message", message),
        ("observed_generation", observed_generation),
    ):
        if getattr(existing, field) != value:
            setattr(existing, field, value)
            changed = True
    return changed


def remove_condition(conditions: list[Condition], type: str) -> bool:
    """Remove the condition of ``type``; return whether it was present."""
    before = len(conditions)
    conditions[:] = [condition for condition in conditions if condition.type != type]
    return len(conditions) != before
