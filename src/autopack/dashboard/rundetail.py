"""One run in full: phases, each attempt's failure, mitigation, Doctor, tests, diff, audit, calls.

Attempt rows hold the outcome; the events hold what the rows do not (edited files, refusals,
the Auditor's notes), and ``ci_results`` hold the tests. Everything is read in a handful of
queries per run, never one per attempt.
"""

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from autopack.dashboard import runlist, schemas, timeline
from autopack.store import models, records

DOCTOR_HINT_PREFIX = "Doctor's hint:"
ATTEMPT_EVENTS = ("EditsApplied", "AuditDone", "AttemptFinished")


def find_run(session: Session, run_ref: str) -> models.Run | None:
    """The run with id ``run_ref``, else the newest run named ``run_ref`` (``ns/name`` works)."""
    run = session.get(models.Run, run_ref)
    if run is not None:
        return run
    namespace, _, name = run_ref.rpartition("/")
    return records.find_run(session, name=name, namespace=namespace if namespace else None)


def doctor_hint(detail: str | None, *, finished: Mapping[str, Any] | None = None) -> str | None:
    """The Doctor's hint for the next attempt, if the store has it.

    A ``doctor_hint`` the AttemptFinished event carries, else a ``Doctor's hint:`` line in its
    feedback or in the attempt's failure detail.
    """
    if finished and finished.get("doctor_hint"):
        return str(finished["doctor_hint"])
    lines = [*(finished or {}).get("feedback", []), *(detail or "").splitlines()]
    for line in lines:
        for part in str(line).splitlines():
            if part.startswith(DOCTOR_HINT_PREFIX):
                return part.removeprefix(DOCTOR_HINT_PREFIX).strip()
    return None


def test_result(row: models.CiResult | None) -> schemas.TestResult | None:
    """The API view of one test run."""
    if row is None:
        return None
    return schemas.TestResult(
        kind=row.kind,
        command=row.command,
        passed=row.passed,
        failed=row.failed,
        skipped=row.skipped,
        collection_errors=row.collection_errors,
        new_failures=list(row.new_failures or []),
        duration_seconds=row.duration_seconds,
        log_excerpt=row.log_excerpt,
    )


def model_call(row: models.LlmCall) -> schemas.ModelCall:
    """The API view of one model call."""
    return schemas.ModelCall(
        id=row.id,
        role=row.role,
        provider=row.provider,
        model=row.model,
        input_tokens=row.input_tokens,
        cache_read_tokens=row.cache_read_tokens,
        cache_write_tokens=row.cache_write_tokens,
        output_tokens=row.output_tokens,
        cost_usd=row.cost_usd,
        latency_ms=row.latency_ms,
        outcome=row.outcome,
        stop_reason=row.stop_reason,
        created_at=row.created_at,
    )


def _attempt_events(events: list[models.Event]) -> dict[tuple[int, int], dict[str, Any]]:
    """Edits and audits per (phase index, attempt number), from the run's events."""
    found: dict[tuple[int, int], dict[str, Any]] = defaultdict(dict)
    for event in events:
        data = event.data or {}
        if event.type not in ATTEMPT_EVENTS:
            continue
        index, attempt = data.get("index"), data.get("attempt")
        if not isinstance(index, int) or not isinstance(attempt, int):
            continue
        found[(index, attempt)][event.type] = timeline.flat(data)
    return found


def _attempt_view(
    attempt: models.Attempt,
    *,
    seen: dict[str, Any],
    before: models.CiResult | None,
    after: models.CiResult | None,
    calls: list[models.LlmCall],
) -> schemas.AttemptView:
    edits = seen.get("EditsApplied", {})
    audit = seen.get("AuditDone", {})
    details = attempt.details or {}
    return schemas.AttemptView(
        number=attempt.number,
        outcome=attempt.outcome,
        model=attempt.model,
        escalation=attempt.escalation,
        failure_category=attempt.failure_category,
        failure_signature=attempt.failure_signature,
        failure_detail=attempt.failure_detail,
        mitigation=attempt.mitigation,
        mitigation_fixed=attempt.mitigation_fixed,
        doctor_decision=attempt.doctor_decision,
        doctor_hint=doctor_hint(attempt.failure_detail, finished=seen.get("AttemptFinished")),
        diff_files=[str(path) for path in edits.get("files", [])],
        diff_additions=attempt.diff_additions,
        diff_deletions=attempt.diff_deletions,
        diff=str(details["diff"]) if details.get("diff") else None,
        refusals=[str(refusal) for refusal in edits.get("refusals", [])],
        audit_verdict=audit.get("verdict"),
        audit_summary=audit.get("summary"),
        tests_before=test_result(before),
        tests_after=test_result(after),
        calls=[model_call(call) for call in calls],
        started_at=attempt.started_at,
        finished_at=attempt.finished_at,
    )


def run_detail(
    session: Session, run: models.Run, *, notes_enabled: bool, timeline_limit: int
) -> schemas.RunDetail:
    """Everything the run page shows about ``run``."""
    phases = session.scalars(
        select(models.PhaseRecord)
        .where(models.PhaseRecord.run_id == run.id)
        .options(selectinload(models.PhaseRecord.attempts))
        .order_by(models.PhaseRecord.index)
    ).all()
    ci_rows = session.scalars(
        select(models.CiResult).where(models.CiResult.run_id == run.id).order_by(models.CiResult.id)
    ).all()
    calls = session.scalars(
        select(models.LlmCall).where(models.LlmCall.run_id == run.id).order_by(models.LlmCall.id)
    ).all()
    attempt_events = session.scalars(
        select(models.Event)
        .where(models.Event.run_id == run.id, models.Event.type.in_(ATTEMPT_EVENTS))
        .order_by(models.Event.id)
    ).all()
    events_total = (
        session.scalar(select(func.count(models.Event.id)).where(models.Event.run_id == run.id))
        or 0
    )
    newest = session.scalars(
        select(models.Event)
        .where(models.Event.run_id == run.id)
        .order_by(models.Event.id.desc())
        .limit(timeline_limit)
    ).all()

    baseline = next((row for row in reversed(ci_rows) if row.kind == "baseline"), None)
    tests_by_attempt: dict[int, models.CiResult] = {}
    for row in ci_rows:
        if row.attempt_id is not None and row.kind == "attempt":
            tests_by_attempt[row.attempt_id] = row
    calls_by_attempt: dict[int | None, list[models.LlmCall]] = defaultdict(list)
    for call in calls:
        calls_by_attempt[call.attempt_id].append(call)
    seen = _attempt_events(list(attempt_events))
    index_of = {phase.id: phase.index for phase in phases}

    phase_views = []
    for phase in phases:
        attempts = []
        before = baseline
        for attempt in phase.attempts:
            after = tests_by_attempt.get(attempt.id)
            attempts.append(
                _attempt_view(
                    attempt,
                    seen=seen.get((phase.index, attempt.number), {}),
                    before=before,
                    after=after,
                    calls=calls_by_attempt.get(attempt.id, []),
                )
            )
        phase_views.append(
            schemas.PhaseView(
                index=phase.index,
                title=phase.title,
                state=phase.state,
                attempts_made=phase.attempts_made,
                model=phase.model,
                commit=phase.commit,
                failure_signature=phase.failure_signature,
                usage=runlist.usage_of(phase),
                attempts=attempts,
            )
        )
        # The next phase starts from this phase's last accepted tests.
        passing = [tests_by_attempt.get(a.id) for a in phase.attempts if a.outcome == "passed"]
        if passing and passing[-1] is not None:
            baseline = passing[-1]

    return schemas.RunDetail(
        run=runlist.run_summary(session, run),
        base_ref=run.base_ref,
        push_branch=run.push_branch,
        result_commit=run.result_commit,
        reason=run.reason,
        baseline=test_result(
            next((row for row in reversed(ci_rows) if row.kind == "baseline"), None)
        ),
        phases=phase_views,
        run_calls=[model_call(call) for call in calls_by_attempt.get(None, [])],
        events=[timeline.event_view(event, index_of) for event in reversed(newest)],
        events_total=events_total,
        notes=[note_view(note) for note in records.notes_for_run(session, run_id=run.id)],
        notes_enabled=notes_enabled,
    )


def note_view(note: models.Note) -> schemas.NoteView:
    """The API view of a note."""
    return schemas.NoteView(
        id=note.id,
        text=note.text,
        author=note.author,
        source=note.source,
        created_at=note.created_at,
    )
