"""Idempotent writes and the reads the CLI needs: runs, phases, attempts, events and notes.

Writers (local engine, runner, operator) may repeat a write after a crash; every function
here upserts by natural key so repeating it changes nothing.
"""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from autopack.store.models import Attempt, Event, LlmCall, Note, PhaseRecord, Run


def upsert_run(
    session: Session,
    *,
    run_id: str,
    name: str,
    namespace: str = "",
    source: str = "local",
    repo_url: str,
    base_ref: str,
    push_branch: str,
    spec: dict[str, Any],
) -> Run:
    """Create the run row, or refresh its spec if it exists (same id)."""
    run = session.get(Run, run_id)
    if run is None:
        run = Run(
            id=run_id,
            name=name,
            namespace=namespace,
            source=source,
            repo_url=repo_url,
            base_ref=base_ref,
            push_branch=push_branch,
            spec=spec,
        )
        session.add(run)
    else:
        run.spec = spec
        run.repo_url = repo_url
        run.base_ref = base_ref
        run.push_branch = push_branch
    session.flush()
    return run


def set_run_state(
    session: Session,
    *,
    run_id: str,
    state: str,
    now: datetime,
    reason: str | None = None,
    message: str | None = None,
    result_commit: str | None = None,
    finished: bool = False,
) -> Run:
    """Record a run state transition; ``started_at`` is set once, ``finished_at`` on finish."""
    run = session.get_one(Run, run_id)
    run.state = state
    run.reason = reason
    run.message = message
    if run.started_at is None:
        run.started_at = now
    if result_commit is not None:
        run.result_commit = result_commit
    if finished:
        run.finished_at = now
    return run


def upsert_phase(
    session: Session, *, run_id: str, index: int, title: str, definition: dict[str, Any]
) -> PhaseRecord:
    """Create the phase row for (run, index), or refresh its title and definition."""
    phase = session.scalar(
        select(PhaseRecord).where(PhaseRecord.run_id == run_id, PhaseRecord.index == index)
    )
    if phase is None:
        phase = PhaseRecord(run_id=run_id, index=index, title=title, definition=definition)
        session.add(phase)
    else:
        phase.title = title
        phase.definition = definition
    session.flush()
    return phase


def find_phase(session: Session, *, run_id: str, index: int) -> PhaseRecord | None:
    """Return the phase row for (run, index), or None."""
    return session.scalar(
        select(PhaseRecord).where(PhaseRecord.run_id == run_id, PhaseRecord.index == index)
    )


def upsert_attempt(session: Session, *, phase_id: int, number: int) -> Attempt:
    """Return the attempt row for (phase, number), creating it if needed."""
    attempt = session.scalar(
        select(Attempt).where(Attempt.phase_id == phase_id, Attempt.number == number)
    )
    if attempt is None:
        attempt = Attempt(phase_id=phase_id, number=number)
        session.add(attempt)
        session.flush()
    return attempt


def record_event(
    session: Session,
    *,
    run_id: str,
    type: str,
    message: str = "",
    reason: str | None = None,
    phase_id: int | None = None,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Event:
    """Append an event to the run's history."""
    event = Event(
        run_id=run_id, phase_id=phase_id, type=type, reason=reason, message=message, data=data or {}
    )
    if now is not None:
        event.created_at = now
    session.add(event)
    session.flush()
    return event


def find_run(session: Session, *, name: str, namespace: str | None = None) -> Run | None:
    """Return the newest run called ``name`` (optionally in ``namespace``), or None."""
    query = select(Run).where(Run.name == name)
    if namespace is not None:
        query = query.where(Run.namespace == namespace)
    return session.scalars(query.order_by(Run.created_at.desc()).limit(1)).first()


def list_runs(session: Session, *, limit: int = 50) -> Sequence[Run]:
    """Return the most recent runs, newest first."""
    return session.scalars(select(Run).order_by(Run.created_at.desc()).limit(limit)).all()


def run_events(session: Session, *, run_id: str) -> Sequence[Event]:
    """Return a run's events in the order they happened."""
    return session.scalars(select(Event).where(Event.run_id == run_id).order_by(Event.id)).all()


def refresh_usage_totals(session: Session, *, run_id: str) -> Run:
    """Recompute the run's and its phases' token and cost totals from ``llm_calls``."""
    columns = (
        func.coalesce(func.sum(LlmCall.input_tokens), 0),
        func.coalesce(func.sum(LlmCall.output_tokens), 0),
        func.coalesce(func.sum(LlmCall.cache_read_tokens), 0),
        func.coalesce(func.sum(LlmCall.cache_write_tokens), 0),
        func.coalesce(func.sum(LlmCall.cost_usd), 0),
        func.count(LlmCall.id),
    )
    run = session.get_one(Run, run_id)
    _apply_totals(run, session.execute(select(*columns).where(LlmCall.run_id == run_id)).one())
    for phase in run.phases:
        totals = session.execute(select(*columns).where(LlmCall.phase_id == phase.id)).one()
        _apply_totals(phase, totals)
    return run


def _spend_columns() -> tuple[Any, Any]:
    """Every billed token (input, cache read, cache write, output) and the cost, summed."""
    tokens = (
        func.coalesce(func.sum(LlmCall.input_tokens), 0)
        + func.coalesce(func.sum(LlmCall.output_tokens), 0)
        + func.coalesce(func.sum(LlmCall.cache_read_tokens), 0)
        + func.coalesce(func.sum(LlmCall.cache_write_tokens), 0)
    )
    return tokens, func.coalesce(func.sum(LlmCall.cost_usd), 0)


def run_spend(session: Session, *, run_id: str) -> tuple[int, Decimal]:
    """What a run has spent so far, from its ledger: (tokens, dollars).

    Tokens are every billed token (input, cache read, cache write, output) of every recorded
    call, failed tries included; a session's budget starts from here.
    """
    spent_tokens, spent_cost = session.execute(
        select(*_spend_columns()).where(LlmCall.run_id == run_id)
    ).one()
    return int(spent_tokens or 0), Decimal(str(spent_cost))


def phase_spend(session: Session, *, run_id: str) -> dict[int, tuple[int, Decimal]]:
    """What each phase of a run has spent so far, from its ledger: index -> (tokens, dollars).

    A phase's own budgets start from here, as the run's start from :func:`run_spend`.
    """
    rows = session.execute(
        select(PhaseRecord.index, *_spend_columns())
        .join(PhaseRecord, LlmCall.phase_id == PhaseRecord.id)
        .where(LlmCall.run_id == run_id)
        .group_by(PhaseRecord.index)
    )
    return {int(index): (int(tokens or 0), Decimal(str(cost))) for index, tokens, cost in rows}


def _apply_totals(target: Run | PhaseRecord, totals: Sequence[Any]) -> None:
    (
        target.input_tokens,
        target.output_tokens,
        target.cache_read_tokens,
        target.cache_write_tokens,
        target.cost_usd,
        target.llm_calls,
    ) = (int(totals[0]), int(totals[1]), int(totals[2]), int(totals[3]), totals[4], int(totals[5]))


NOTE_MAX_CHARS = 4000


def add_note(
    session: Session,
    *,
    run_id: str,
    text: str,
    author: str = "",
    source: str = "cli",
    key: str | None = None,
    now: datetime | None = None,
) -> Note:
    """Record a person's note on a run; with ``key``, writing the same key again changes nothing.

    Raises ValueError for an empty note or one longer than ``NOTE_MAX_CHARS`` characters.
    """
    cleaned = text.strip()
    if not cleaned:
        raise ValueError("a note needs some text")
    if len(cleaned) > NOTE_MAX_CHARS:
        raise ValueError(f"a note is at most {NOTE_MAX_CHARS} characters (got {len(cleaned)})")
    if key is not None:
        existing = session.scalar(select(Note).where(Note.run_id == run_id, Note.key == key))
        if existing is not None:
            return existing
    note = Note(run_id=run_id, text=cleaned, author=author, source=source, key=key)
    if now is not None:
        note.created_at = now
    session.add(note)
    session.flush()
    return note


def notes_for_run(session: Session, *, run_id: str, after_id: int = 0) -> Sequence[Note]:
    """Return a run's notes, oldest first; ``after_id`` skips the ones already handed on."""
    return session.scalars(
        select(Note).where(Note.run_id == run_id, Note.id > after_id).order_by(Note.id)
    ).all()


def close_unfinished_attempts(session: Session, *, run_id: str, now: datetime) -> int:
    """Close the run's attempts a previous process left ``running`` as ``interrupted``."""
    unfinished = session.scalars(
        select(Attempt)
        .join(PhaseRecord, Attempt.phase_id == PhaseRecord.id)
        .where(PhaseRecord.run_id == run_id, Attempt.outcome == "running")
    ).all()
    for attempt in unfinished:
        attempt.outcome = "interrupted"
        attempt.finished_at = now
    return len(unfinished)


def attempts_by_phase(session: Session, *, run_id: str) -> dict[int, int]:
    """Phase index -> the highest attempt number recorded (re-runs continue the numbering)."""
    rows = session.execute(
        select(PhaseRecord.index, func.max(Attempt.number))
        .join(Attempt, Attempt.phase_id == PhaseRecord.id)
        .where(PhaseRecord.run_id == run_id)
        .group_by(PhaseRecord.index)
    ).all()
    return {int(index): int(number or 0) for index, number in rows}
