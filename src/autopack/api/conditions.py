"""Pure helpers for ``metav1.Condition`` lists, plus the condition types and reasons we use.

The helpers take ``now`` from the caller and report whether anything changed, so a handler can
decide whether a status patch is needed and tests never depend on the clock.
"""

from datetime import datetime
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

# Reasons (CamelCase, as metav1.Condition requires).
REASON_PENDING: Final = "Pending"
REASON_QUEUED: Final = "Queued"
REASON_PLANNING: Final = "Planning"
REASON_RUNNING: Final = "Running"
REASON_SUSPENDED: Final = "Suspended"
REASON_AWAITING_APPROVAL: Final = "AwaitingApproval"
REASON_SUCCEEDED: Final = "RunSucceeded"
REASON_FAILED: Final = "RunFailed"
REASON_CANCELLED: Final = "Cancelled"
REASON_PLAN_INVALID: Final = "PlanInvalid"
REASON_BUDGET_EXCEEDED: Final = "BudgetExceeded"
REASON_HEALTH_BUDGET_EXHAUSTED: Final = "HealthBudgetExhausted"
REASON_PHASE_FAILED: Final = "PhaseFailed"
REASON_DEADLINE_EXCEEDED: Final = "DeadlineExceeded"
REASON_BACKOFF_LIMIT_EXCEEDED: Final = "BackoffLimitExceeded"
REASON_OOM_KILLED: Final = "OOMKilled"
REASON_EVICTED: Final = "Evicted"
REASON_INFRASTRUCTURE_FAILED: Final = "InfrastructureFailed"
REASON_DATABASE_UNAVAILABLE: Final = "DatabaseUnavailable"
REASON_DATABASE_CONNECTED: Final = "DatabaseConnected"


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
