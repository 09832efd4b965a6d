"""Typed events a run emits, the outcome objects they carry, and the sinks that receive them.

The engine emits; the console (``cli``), the store (``store.sink``) and the Kubernetes status
(``runner``) are sinks. Sinks dispatch with ``match`` over :data:`RunEvent` and
``assert_never``, so mypy reports an event a sink forgot.
"""

from autopack.events.catalog import (
    ApprovalNeeded,
    AttemptFinished,
    AttemptStarted,
    AuditDone,
    ChangesDiscarded,
    DiffReviewed,
    DriftChecked,
    EditsApplied,
    Event,
    EventSink,
    FanOut,
    ModelCalled,
    PhaseAlreadyComplete,
    PhaseFinished,
    PhaseReplanned,
    PhaseStarted,
    PlanReady,
    ProviderNotice,
    RunEvent,
    RunFinished,
    RunStarted,
    TestsRan,
)
from autopack.events.outcomes import (
    AttemptOutcome,
    AttemptResult,
    Failure,
    PhaseResult,
    RunOutcome,
    Stop,
)
from autopack.events.spend import Spend

__all__ = [
    "ApprovalNeeded",
    "AttemptFinished",
    "AttemptOutcome",
    "AttemptResult",
    "AttemptStarted",
    "AuditDone",
    "ChangesDiscarded",
    "DiffReviewed",
    "DriftChecked",
    "EditsApplied",
    "Event",
    "EventSink",
    "Failure",
    "FanOut",
    "ModelCalled",
    "PhaseAlreadyComplete",
    "PhaseFinished",
    "PhaseReplanned",
    "PhaseResult",
    "PhaseStarted",
    "PlanReady",
    "ProviderNotice",
    "RunEvent",
    "RunFinished",
    "RunOutcome",
    "RunStarted",
    "Spend",
    "Stop",
    "TestsRan",
]
