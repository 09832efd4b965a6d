"""Run lifecycle rows: written as upserts by uid, queued while the database is down."""

from datetime import UTC, datetime
from pathlib import Path

from autopack.api import AutopackRunStatus, RunPhase
from autopack.operator.history import RunHistory, lifecycle_row
from autopack.operator.reconciling import record_database_condition
from autopack.store import Store, records
from tests.builders.api import a_run

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_rows_queue_while_the_database_is_down_and_catch_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    blocker = tmp_path / "history.db"
    blocker.mkdir()  # a directory where the database file should be: SQLite cannot open it
    history = RunHistory(url, retry_seconds=0)
    run = a_run("hist").obj()
    running = AutopackRunStatus(phase=RunPhase.RUNNING, message="working")
    assert history.record(lifecycle_row(run, running, uid="uid-1", now=NOW)) is False
    assert history.available is False
    assert "unavailable" in (history.last_error or "")
    status = AutopackRunStatus(phase=RunPhase.RUNNING)
    record_database_condition(status, history, written=False, now=NOW)
    condition = next(c for c in status.conditions if c.type == "DatabaseAvailable")
    assert (condition.status, condition.reason) == ("False", "DatabaseUnavailable")

    blocker.rmdir()
    Store.open(url).engine.dispose()
    done = AutopackRunStatus(phase=RunPhase.SUCCEEDED, message="2 phases complete")
    assert history.record(lifecycle_row(run, done, uid="uid-1", now=NOW)) is True
    assert history.pending == {}
    store = Store.connect(url)
    with store.session() as session:
        row = records.find_run(session, name="hist")
        assert row is not None
        assert (row.id, row.state, row.source) == ("uid-1", "Succeeded", "kubernetes")
        assert row.finished_at is not None
    store.engine.dispose()


def test_without_a_database_nothing_is_recorded() -> None:
    history = RunHistory(None)
    assert history.enabled is False
    status = AutopackRunStatus(phase=RunPhase.RUNNING)
    assert history.record(lifecycle_row(a_run().obj(), status, uid="u", now=NOW)) is True
    assert history.pending == {}
