"""The store sink's cached row ids: kept only for committed rows, so an outage never leaves
the sink pointing at a row that was rolled back."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from autopack import events
from autopack.api import PhaseState
from autopack.store import Store, StoreUnavailableError, models, records
from autopack.store.sink import StoreSink

AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_ids_from_a_rolled_back_event_are_not_reused(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.open(sqlite_url)
    with store.session() as session:
        records.upsert_run(
            session,
            run_id="r",
            name="demo",
            repo_url="https://example.com/a.git",
            base_ref="main",
            push_branch="autopack/demo",
            spec={},
        )
    sink = StoreSink(store, run_id="r")
    sink.emit(
        events.RunStarted(run="demo", at=AT, run_id="r", repo_url="u", base_ref="m", branch="b")
    )
    working = store.session

    @contextmanager
    def rolled_back() -> Iterator[Session]:
        with store._sessions() as session:
            yield session
            session.rollback()
        raise StoreUnavailableError("database down")

    monkeypatch.setattr(store, "session", rolled_back)
    sink.emit(events.PhaseStarted(run="demo", at=AT, index=0, title="first"))
    sink.emit(events.AttemptStarted(run="demo", at=AT, index=0, attempt=1, model="m1"))
    assert not sink.available
    assert not sink._phase_ids
    assert not sink._attempt_ids
    monkeypatch.setattr(store, "session", working)
    assert sink.flush()
    sink.emit(events.AttemptStarted(run="demo", at=AT, index=0, attempt=2, model="m2"))

    with store.session() as session:
        phase = session.scalars(select(models.PhaseRecord)).one()
        assert (phase.state, phase.attempts_made, phase.model) == (PhaseState.BUILDING, 2, "m2")
        assert phase.started_at is not None
        attempts = session.scalars(select(models.Attempt).order_by(models.Attempt.number)).all()
        assert [(a.phase_id, a.number, a.model) for a in attempts] == [
            (phase.id, 1, "m1"),
            (phase.id, 2, "m2"),
        ]
        kinds = [e.type for e in records.run_events(session, run_id="r")]
        assert kinds == ["RunStarted", "PhaseStarted", "AttemptStarted", "AttemptStarted"]
    assert sink._phase_ids == {0: phase.id}
