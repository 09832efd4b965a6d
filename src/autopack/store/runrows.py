"""The run row's start and finish as the store sink writes them, in Core statements.

The same changes as :func:`records.set_run_state`, :func:`records.close_unfinished_attempts`
and :func:`records.refresh_usage_totals` (which other writers keep using), without loading ORM
objects: the sink writes these once per run each, and the ORM's loading, change tracking and
flushes cost more there than the SQL. As with the ORM, a column is written only when its value
changes, and ``updated_at`` moves only when the run row does.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Table, false, func, select, update
from sqlalchemy.orm import Session

from autopack.store import models

_TABLES = models.Base.metadata.tables
_RUNS = _TABLES[models.Run.__tablename__]
_PHASES = _TABLES[models.PhaseRecord.__tablename__]
_ATTEMPTS = _TABLES[models.Attempt.__tablename__]
_CALLS = _TABLES[models.LlmCall.__tablename__]

_TOTALS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_usd",
    "llm_calls",
)
_SUMS = (
    func.coalesce(func.sum(_CALLS.c.input_tokens), 0),
    func.coalesce(func.sum(_CALLS.c.output_tokens), 0),
    func.coalesce(func.sum(_CALLS.c.cache_read_tokens), 0),
    func.coalesce(func.sum(_CALLS.c.cache_write_tokens), 0),
    func.coalesce(func.sum(_CALLS.c.cost_usd), 0),
    func.count(_CALLS.c.id),
)
_STATE = ("state", "reason", "message", "started_at", "result_commit", "finished_at")


def _totals(row: Sequence[Any]) -> dict[str, Any]:
    """Usage sums as :func:`records.refresh_usage_totals` stores them."""
    values = (int(row[0]), int(row[1]), int(row[2]), int(row[3]), row[4], int(row[5]))
    return dict(zip(_TOTALS, values, strict=True))


def _changed(current: Mapping[Any, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in wanted.items() if current[name] != value}


def _state(
    current: Row[Any],
    *,
    state: str,
    now: datetime,
    reason: str | None,
    message: str | None,
    result_commit: str | None,
    finished: bool,
) -> dict[str, Any]:
    """The state columns :func:`records.set_run_state` would set."""
    wanted: dict[str, Any] = {"state": state, "reason": reason, "message": message}
    if current.started_at is None:
        wanted["started_at"] = now
    if result_commit is not None:
        wanted["result_commit"] = result_commit
    if finished:
        wanted["finished_at"] = now
    return wanted


def _run(session: Session, run_id: str, *columns: str) -> Row[Any] | None:
    chosen = [_RUNS.c[name] for name in columns]
    return session.execute(select(*chosen).where(_RUNS.c.id == run_id)).first()


def start(session: Session, *, run_id: str, now: datetime) -> None:
    """The run is Running; attempts an earlier process left running are interrupted."""
    current = _run(session, run_id, *_STATE)
    if current is None:
        raise LookupError(f"run {run_id} must be created before it starts")
    phases = select(_PHASES.c.id).where(_PHASES.c.run_id == run_id)
    session.execute(
        update(_ATTEMPTS)
        .where(_ATTEMPTS.c.phase_id.in_(phases), _ATTEMPTS.c.outcome == "running")
        .values(outcome="interrupted", finished_at=now)
    )
    wanted = _state(
        current,
        state="Running",
        now=now,
        reason=None,
        message=None,
        result_commit=None,
        finished=False,
    )
    _update_changed(session, _RUNS, run_id, current._mapping, wanted)


def finish(
    session: Session,
    *,
    run_id: str,
    state: str,
    now: datetime,
    reason: str | None,
    message: str | None,
    result_commit: str | None,
    finished: bool,
) -> None:
    """The run's final state, and its and its phases' usage totals from ``llm_calls``."""
    current = session.execute(
        select(*(_RUNS.c[name] for name in (*_STATE, *_TOTALS))).where(_RUNS.c.id == run_id)
    ).one()
    run_totals = session.execute(select(*_SUMS).where(_CALLS.c.run_id == run_id)).one()
    phase_columns = [_PHASES.c.id, *(_PHASES.c[name] for name in _TOTALS)]
    phases = session.execute(
        select(*phase_columns).where(_PHASES.c.run_id == run_id).order_by(_PHASES.c.index)
    ).all()
    ids = [phase.id for phase in phases]
    grouped = {
        row[0]: row[1:]
        for row in session.execute(
            select(_CALLS.c.phase_id, *_SUMS)
            .where(_CALLS.c.phase_id.in_(ids))
            .group_by(_CALLS.c.phase_id)
        )
    }
    nothing: Any = None  # the sums of no calls, exactly as the database gives them (read once)
    for phase in phases:
        sums = grouped.get(phase.id)
        if sums is None:
            if nothing is None:
                nothing = session.execute(select(*_SUMS).where(false())).one()
            sums = nothing
        _update_changed(session, _PHASES, phase.id, phase._mapping, _totals(sums))
    wanted = _totals(run_totals) | _state(
        current,
        state=state,
        now=now,
        reason=reason,
        message=message,
        result_commit=result_commit,
        finished=finished,
    )
    _update_changed(session, _RUNS, run_id, current._mapping, wanted)


def _update_changed(
    session: Session, table: Table, row_id: Any, current: Mapping[Any, Any], wanted: dict[str, Any]
) -> None:
    """Update the row's columns whose wanted value differs from ``current`` (none: no write)."""
    changed = _changed(current, wanted)
    if changed:
        session.execute(update(table).where(table.c.id == row_id).values(**changed))
