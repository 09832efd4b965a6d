"""The same store behaviour on SQLite and on a real PostgreSQL 15 server."""

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select

from autopack.store import Store, StoreUnavailableError, models, records
from autopack.store.engine import MIGRATIONS_DIR

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def add_run(store: Store, run_id: str = "uid-1", name: str = "demo") -> None:
    with store.session() as session:
        records.upsert_run(
            session,
            run_id=run_id,
            name=name,
            repo_url="https://example.com/a.git",
            base_ref="main",
            push_branch=f"autopack/{name}",
            spec={"repo": {"url": "https://example.com/a.git"}},
        )


def head_revision() -> str:
    return str(ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head())


def test_upgrade_reaches_head_and_matches_the_models(store: Store) -> None:
    assert head_revision() == max(p.name[:4] for p in MIGRATIONS_DIR.glob("versions/0*.py"))
    assert store.current_revision() == head_revision()
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, models.Base.metadata) == []


def test_upgrade_twice_is_harmless(store: Store) -> None:
    store.upgrade()
    assert store.current_revision() == head_revision()


def test_upserts_are_idempotent(store: Store) -> None:
    add_run(store)
    add_run(store)
    with store.session() as session:
        phase = records.upsert_phase(
            session, run_id="uid-1", index=0, title="First", definition={"title": "First"}
        )
        again = records.upsert_phase(
            session, run_id="uid-1", index=0, title="First!", definition={"title": "First!"}
        )
        assert again.id == phase.id
        attempt = records.upsert_attempt(session, phase_id=phase.id, number=1)
        assert records.upsert_attempt(session, phase_id=phase.id, number=1).id == attempt.id
    with store.session() as session:
        assert len(session.scalars(select(models.Run)).all()) == 1
        assert session.scalars(select(models.PhaseRecord)).one().title == "First!"


def test_run_lifecycle_and_events_are_read_back_in_order(store: Store) -> None:
    add_run(store)
    with store.session() as session:
        records.set_run_state(session, run_id="uid-1", state="Running", now=NOW)
        records.record_event(session, run_id="uid-1", type="RunStarted", message="go")
        records.record_event(session, run_id="uid-1", type="PhaseCompleted", data={"index": 0})
        records.set_run_state(
            session, run_id="uid-1", state="Succeeded", now=NOW, result_commit="abc", finished=True
        )
    with store.session() as session:
        run = records.find_run(session, name="demo")
        assert run is not None
        assert (run.state, run.result_commit) == ("Succeeded", "abc")
        assert run.started_at is not None
        assert run.finished_at is not None
        events = records.run_events(session, run_id="uid-1")
        assert [e.type for e in events] == ["RunStarted", "PhaseCompleted"]
        assert events[1].data == {"index": 0}


def test_usage_totals_sum_exact_provider_figures_and_ignore_nulls(store: Store) -> None:
    add_run(store)
    with store.session() as session:
        phase = records.upsert_phase(session, run_id="uid-1", index=0, title="P", definition={})
        session.add_all(
            [
                models.LlmCall(
                    run_id="uid-1",
                    phase_id=phase.id,
                    role="builder",
                    provider="anthropic",
                    model="m",
                    input_tokens=1200,
                    output_tokens=300,
                    cache_read_tokens=1000,
                    cache_write_tokens=None,
                    cost_usd=Decimal("0.012345"),
                    outcome="ok",
                ),
                models.LlmCall(
                    run_id="uid-1",
                    phase_id=None,
                    role="planner",
                    provider="openai",
                    model="m2",
                    input_tokens=100,
                    output_tokens=None,
                    cost_usd=Decimal("0.000100"),
                    outcome="truncated",
                ),
            ]
        )
    with store.session() as session:
        run = records.refresh_usage_totals(session, run_id="uid-1")
        assert (run.input_tokens, run.output_tokens, run.cache_read_tokens) == (1300, 300, 1000)
        assert run.cost_usd == Decimal("0.012445")
        assert run.llm_calls == 2
        assert run.phases[0].llm_calls == 1
        assert run.phases[0].cost_usd == Decimal("0.012345")
    with store.session() as session:
        call = session.scalars(select(models.LlmCall).where(models.LlmCall.role == "planner")).one()
        assert call.output_tokens is None
        assert call.cache_write_tokens is None


def test_deleting_a_run_removes_its_rows(store: Store) -> None:
    add_run(store)
    with store.session() as session:
        phase = records.upsert_phase(session, run_id="uid-1", index=0, title="P", definition={})
        records.upsert_attempt(session, phase_id=phase.id, number=1)
        records.record_event(session, run_id="uid-1", type="RunStarted")
    with store.session() as session:
        session.delete(session.get_one(models.Run, "uid-1"))
    with store.session() as session:
        for model in (models.PhaseRecord, models.Attempt, models.Event):
            assert session.scalars(select(model)).all() == []


def test_runs_are_listed_newest_first(store: Store) -> None:
    add_run(store, "uid-1", "first")
    add_run(store, "uid-2", "second")
    with store.session() as session:
        session.get_one(models.Run, "uid-2").created_at = datetime(2030, 1, 1, tzinfo=UTC)
    with store.session() as session:
        assert [run.name for run in records.list_runs(session)] == ["second", "first"]


def test_unreachable_server_gives_one_clear_line_with_password_hidden() -> None:
    with pytest.raises(StoreUnavailableError) as caught:
        Store.connect("postgresql://bob:s3cret@127.0.0.1:9/none", connect_timeout=2)
    message = str(caught.value)
    assert "\n" not in message
    assert "s3cret" not in message
    assert message.startswith("database postgresql://bob:***@127.0.0.1:9/none is unavailable:")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "is not a valid SQLAlchemy URL"),
        ("mysql://a@b/c", "mysql is not supported; use a sqlite:/// or postgresql+psycopg:// URL"),
        ("postgresql+nodriver://a@b/c", "cannot use database postgresql+nodriver://a@b/c"),
    ],
)
def test_malformed_urls_are_explained(url: str, expected: str) -> None:
    with pytest.raises(StoreUnavailableError, match=re.escape(expected)):
        Store.connect(url)
