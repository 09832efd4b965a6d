"""The run's ledger in the store: what a run spent is where its next session's budget starts."""

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from typer.testing import CliRunner

from autopack.api import PhaseDefinition
from autopack.cli.app import app
from autopack.llm import errors
from autopack.llm.pricing import load_prices
from autopack.llm.routed import RoutedModels
from autopack.llm.routing import load_models_config
from autopack.llm.scripted import Cassette, ScriptedModel
from autopack.llm.types import CallRecord
from autopack.store import Store, models, records


def a_store(tmp_path: Path) -> Store:
    store = Store.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    with store.session() as session:
        records.upsert_run(
            session,
            run_id="r1",
            name="demo",
            repo_url="https://example.com/a.git",
            base_ref="main",
            push_branch="autopack/demo",
            spec={},
        )
    return store


def scripted(
    tape: Cassette,
    record: Callable[[CallRecord], None],
    *,
    tokens: int,
    cost: Decimal,
    **spent: Any,
) -> RoutedModels:
    """The routed model layer over ``tape``, with the run's budgets and what it had spent."""
    return RoutedModels(
        config=load_models_config(),
        prices=load_prices(),
        profile="scripted",
        run="demo",
        run_tokens=tokens,
        run_cost=cost,
        record=record,
        factory=lambda entry, role: ScriptedModel(tape, role=role),
        **spent,
    )


def call(**fields: object) -> models.LlmCall:
    return models.LlmCall(
        run_id="r1", role="builder", provider="anthropic", model="claude-sonnet-4-6", **fields
    )


def test_llm_calls_keep_the_http_status_and_the_migration_matches_the_models(
    tmp_path: Path,
) -> None:
    store = a_store(tmp_path)
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, models.Base.metadata) == []
    with store.session() as session:
        session.add(call(outcome="error", status_code=529, error_type="OverloadedError"))
    with store.session() as session:
        row = session.query(models.LlmCall).one()
        assert (row.status_code, row.error_type) == (529, "OverloadedError")


def test_run_spend_counts_every_billed_token_once_and_failed_tries_too(tmp_path: Path) -> None:
    store = a_store(tmp_path)
    with store.session() as session:
        session.add(
            call(
                outcome="ok",
                input_tokens=100,
                cache_read_tokens=900,
                cache_write_tokens=50,
                output_tokens=20,
                cost_usd=Decimal("0.001058"),
            )
        )
        session.add(
            call(
                outcome="error", input_tokens=10, cache_read_tokens=900, cost_usd=Decimal("0.0003")
            )
        )
        session.add(call(outcome="error", status_code=529, cost_usd=Decimal(0)))
    with store.session() as session:
        assert records.run_spend(session, run_id="r1") == (1980, Decimal("0.001358"))
        assert records.run_spend(session, run_id="other") == (0, Decimal(0))


def test_runs_show_prints_cache_tokens_and_spend_against_the_budget(tmp_path: Path) -> None:
    store = a_store(tmp_path)
    with store.session() as session:
        run = session.get_one(models.Run, "r1")
        run.spec = {"budgets": {"tokens": 20_000, "costUSD": 2.0}}
        session.add(
            call(
                outcome="ok",
                input_tokens=100,
                cache_read_tokens=900,
                cache_write_tokens=50,
                output_tokens=20,
                cost_usd=Decimal("0.001058"),
            )
        )
        session.flush()
        records.refresh_usage_totals(session, run_id="r1")
    store.dispose()
    result = CliRunner().invoke(
        app, ["runs", "show", "demo", "--url", f"sqlite:///{tmp_path / 'ledger.db'}"]
    )
    assert result.exit_code == 0, result.output
    assert "100 in · 900 cache read · 50 cache write · 20 out · $0.0011" in result.output
    assert "1,070 of 20,000 tokens, $0.0011 of $2.00" in result.output


def test_re_runs_continue_from_the_runs_ledger_and_never_pass_its_budget(tmp_path: Path) -> None:
    store = a_store(tmp_path)
    answers = [{"text": "ok", "usage": {"input_tokens": 2_500, "output_tokens": 500}}] * 30
    tape = Cassette.from_data({"responses": {"builder": answers}})

    def record(call: CallRecord) -> None:
        usage = call.usage
        with store.session() as session:
            session.add(
                models.LlmCall(
                    run_id="r1",
                    role=call.role,
                    provider=call.provider,
                    model=call.model,
                    outcome=call.outcome,
                    input_tokens=usage.input_tokens if usage else None,
                    output_tokens=usage.output_tokens if usage else None,
                    cost_usd=Decimal(str(call.cost_usd)),
                    status_code=call.status_code,
                )
            )

    stops = 0
    for _ in range(3):  # the first run, a re-run after BudgetExceeded, a runner restart
        with store.session() as session:
            spent_tokens, spent_cost = records.run_spend(session, run_id="r1")
        routed = scripted(
            tape,
            record,
            tokens=20_000,
            cost=Decimal(1),
            spent_tokens=spent_tokens,
            spent_cost=spent_cost,
        )
        try:
            for _ in range(10):
                routed.complete(
                    role="builder",
                    phase=None,
                    phase_index=None,
                    attempt=1,
                    failures=0,
                    system="s" * 3_000,
                    messages=[("user", "u" * 200)],
                    max_tokens=1_000,
                )
        except errors.BudgetExceededError:
            stops += 1
    with store.session() as session:
        spent, _ = records.run_spend(session, run_id="r1")
    assert stops == 3
    assert spent <= 20_000
    assert spent == 18_000  # six calls in the first run; the re-runs could make none


def test_a_phase_budget_counts_what_the_phase_spent_in_earlier_sessions(tmp_path: Path) -> None:
    store = a_store(tmp_path)
    with store.session() as session:
        first = models.PhaseRecord(run_id="r1", index=0, title="first", definition={})
        second = models.PhaseRecord(run_id="r1", index=1, title="second", definition={})
        session.add_all([first, second])
        session.flush()
        phase_ids = {0: first.id, 1: second.id}
    answers = [{"text": "ok", "usage": {"input_tokens": 2_500, "output_tokens": 500}}] * 30
    tape = Cassette.from_data({"responses": {"builder": answers}})
    phase = PhaseDefinition.model_validate({"title": "first", "budgets": {"tokens": 10_000}})

    def record(call: CallRecord) -> None:
        usage = call.usage
        assert usage is not None
        assert call.phase_index is not None
        with store.session() as session:
            session.add(call_row(call, phase_id=phase_ids[call.phase_index], tokens=usage.total))

    refusals: list[str] = []
    for _ in range(3):  # the first session, a re-run, a runner restart
        with store.session() as session:
            by_phase = records.phase_spend(session, run_id="r1")
            spent = records.run_spend(session, run_id="r1")
        routed = scripted(
            tape,
            record,
            tokens=1_000_000,
            cost=Decimal(100),
            spent_tokens=spent[0],
            spent_cost=spent[1],
            spent_by_phase=by_phase,
        )
        try:
            for _ in range(10):
                routed.complete(
                    role="builder",
                    phase=phase,
                    phase_index=0,
                    attempt=1,
                    failures=0,
                    system="s" * 3_000,
                    messages=[("user", "u" * 200)],
                    max_tokens=1_000,
                )
        except errors.BudgetExceededError as exc:
            refusals.append(str(exc))
    with store.session() as session:
        by_phase = records.phase_spend(session, run_id="r1")
    assert len(refusals) == 3
    assert all("the phase 0 has" in refusal for refusal in refusals), refusals
    assert by_phase[0][0] <= 10_000
    assert by_phase == {0: (6_000, by_phase[0][1])}  # two calls; the later sessions made none
    assert 1 not in by_phase


def call_row(call: CallRecord, *, phase_id: int, tokens: int) -> models.LlmCall:
    usage = call.usage
    assert usage is not None
    row = models.LlmCall(
        run_id="r1",
        phase_id=phase_id,
        role=call.role,
        provider=call.provider,
        model=call.model,
        outcome=call.outcome,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cost_usd=Decimal(str(call.cost_usd)),
    )
    assert (usage.input_tokens or 0) + (usage.output_tokens or 0) == tokens
    return row
