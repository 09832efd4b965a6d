"""One readable line per stored event, for the run page's timeline.

Events keep their payload as JSON; this turns each known type into the sentence a person
wants to read, and falls back to the event's message for types it does not know.
"""

from collections.abc import Callable, Mapping
from typing import Any

from autopack.dashboard import schemas
from autopack.store import models

NESTED = ("outcome", "result")


def flat(data: Mapping[str, Any]) -> dict[str, Any]:
    """An event's payload with its nested ``outcome``/``result`` object merged in.

    Events carry their result objects nested (``{"result": {"verdict": ...}}``); a failure
    object becomes its summary, category and feedback, and a list of reasons a summary.
    """
    merged: dict[str, Any] = dict(data)
    for key in NESTED:
        inner = data.get(key)
        if isinstance(inner, Mapping):
            merged.update(inner)
    failure = merged.get("failure")
    if isinstance(failure, Mapping):
        merged["failure"] = failure.get("summary")
        merged.setdefault("category", failure.get("category"))
        merged.setdefault("signature", failure.get("summary"))
        merged["feedback"] = list(failure.get("feedback") or [])
    if "summary" not in merged and isinstance(merged.get("reasons"), list):
        merged["summary"] = "; ".join(str(reason) for reason in merged["reasons"])
    return merged


def _tests(data: Mapping[str, Any]) -> str:
    where = "baseline tests" if data.get("attempt") is None else f"attempt {data['attempt']} tests"
    text = f"{where}: {data.get('passed', 0)} passed, {data.get('failed', 0)} failed"
    new = data.get("new_failures") or []
    return text + (f"; new failures: {', '.join(map(str, new[:5]))}" if new else "")


def _attempt_finished(data: Mapping[str, Any]) -> str:
    text = f"attempt {data.get('attempt')} {data.get('outcome')}"
    if data.get("signature"):
        text += f": {data['signature']}"
    if data.get("doctor_decision"):
        text += f" · Doctor: {data['doctor_decision']}"
    return text


SUMMARIES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "RunStarted": lambda d: f"run started on {d.get('branch')} from {d.get('base_ref')}",
    "PlanReady": lambda d: f"plan ready: {len(d.get('titles') or [])} phases ({d.get('source')})",
    "PhaseStarted": lambda d: f"phase {d.get('index')} started: {d.get('title')}",
    "AttemptStarted": lambda d: (
        f"attempt {d.get('attempt')} with {d.get('model')}"
        + (f" (escalation: {d['escalation']})" if d.get("escalation") else "")
    ),
    "ModelCalled": lambda d: (
        f"{d.get('role')} call to {d.get('model')}: {d.get('outcome')}, "
        f"{d.get('input_tokens') or 0} in / {d.get('output_tokens') or 0} out"
    ),
    "EditsApplied": lambda d: (
        f"attempt {d.get('attempt')} edited {len(d.get('files') or [])} "
        f"files (+{d.get('additions', 0)} -{d.get('deletions', 0)})"
        + (f", {len(d['refusals'])} refused" if d.get("refusals") else "")
    ),
    "TestsRan": _tests,
    "AuditDone": lambda d: f"auditor {d.get('verdict')}: {d.get('summary')}",
    "DriftChecked": lambda d: str(d.get("message") or d.get("verdict")),
    "ApprovalNeeded": lambda d: f"phase {d.get('index')} awaits approval: {d.get('reason')}",
    "AttemptFinished": _attempt_finished,
    "PhaseReplanned": lambda d: f"phase {d.get('index')} replanned: {d.get('reason')}",
    "PhaseFinished": lambda d: (
        f"phase {d.get('index')} {d.get('state')}"
        + (f": {d['failure']}" if d.get("failure") else "")
    ),
    "RunFinished": lambda d: f"run {d.get('state')}: {d.get('message')}",
}


def summary(event: models.Event) -> str:
    """The sentence shown for ``event``."""
    describe = SUMMARIES.get(event.type)
    if describe is None:
        return event.message or event.type
    try:
        return describe(flat(event.data or {}))
    except (KeyError, TypeError, ValueError):
        return event.message or event.type


def event_view(event: models.Event, index_of: Mapping[int, int]) -> schemas.EventView:
    """The API view of ``event``; ``index_of`` maps phase ids to phase indexes."""
    data = flat(event.data or {})
    index = index_of.get(event.phase_id) if event.phase_id is not None else data.get("index")
    return schemas.EventView(
        id=event.id,
        type=event.type,
        phase_index=index if isinstance(index, int) else None,
        summary=summary(event),
        created_at=event.created_at,
    )
