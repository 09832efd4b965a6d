"""The run row as the store sink leaves it: its state, and usage totals that match the ledger."""

from datetime import UTC, datetime, timedelta

from autopack import events
from autopack.api import RunPhase
from autopack.api.conditions import Reason
from autopack.llm.types import CallRecord, RawUsage
from autopack.store import Store, models, records
from autopack.store.sink import StoreSink
from tests.builders.api import RunBuilder

AT = datetime(2026, 1, 1, tzinfo=UTC)


def call(phase: int, *, tokens: int, cost: float) -> events.ModelCalled:
    record = CallRecord(
        role="builder",
        provider="p",
        model="m",
        outcome="ok",
        usage=RawUsage(input_tokens=tokens, output_tokens=10, cache_read_tokens=5),
        cost_usd=cost,
        phase_index=phase,
        attempt=1,
    )
    return events.ModelCalled(run="demo", at=AT, call=record)


def test_a_finished_run_has_its_state_and_the_ledgers_totals(sqlite_url: str) -> None:
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
    phases = RunBuilder().phase("first").phase("second").phase("never").obj().spec.phases
    sink = StoreSink(store, run_id="r")
    started = events.RunStarted(
        run="demo", at=AT, run_id="r", repo_url="u", base_ref="m", branch="b"
    )
    sink.emit(started)
    sink.emit(
        events.PlanReady(run="demo", at=AT, source="spec", model_calls=0, phases=tuple(phases))
    )
    sink.emit(call(0, tokens=100, cost=0.0012))
    sink.emit(call(0, tokens=50, cost=0.0001))
    sink.emit(call(1, tokens=7, cost=0.00005))
    end = AT + timedelta(minutes=3)
    outcome = events.RunOutcome(RunPhase.SUCCEEDED, Reason.SUCCEEDED, "done", commit="c0ffee")
    sink.emit(events.RunFinished(run="demo", at=end, outcome=outcome))
    assert sink.flush()

    with store.session() as session:
        run = session.get_one(models.Run, "r")
        assert (run.state, run.reason, run.message, run.result_commit) == (
            "Succeeded",
            "RunSucceeded",
            "done",
            "c0ffee",
        )
        assert run.started_at is not None
        assert run.finished_at is not None
        assert run.finished_at - run.started_at == timedelta(minutes=3)
        assert (run.input_tokens, run.output_tokens, run.cache_read_tokens, run.llm_calls) == (
            157,
            30,
            15,
            3,
        )
        assert [(p.input_tokens, p.llm_calls) for p in run.phases] == [(150, 2), (7, 1), (0, 0)]
        # The ledger's own sums (what other writers use) would change nothing.
        records.refresh_usage_totals(session, run_id="r")
        assert not any(session.is_modified(row) for row in (run, *run.phases))
    store.dispose()
