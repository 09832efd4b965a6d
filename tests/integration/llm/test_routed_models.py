"""Routing, escalation, provider fallback, budgets and the ledger with the real SDKs."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from autopack.api import PhaseDefinition
from autopack import events
from autopack.engine.ports import EngineStop
from autopack.llm.routed import RoutedModels
from autopack.store.sink import StoreSink
from autopack.llm.anthropic_provider import AnthropicModel
from autopack.llm.openai_provider import OpenAIModel
from autopack.llm.pricing import load_prices
from autopack.llm.retrying import RetryPolicy
from autopack.llm.routing import ModelEntry, load_models_config, route
from autopack.llm.types import Completion, Model, RawUsage
from autopack.store import Store, models, records
from tests.builders.wire import (
    Reply,
    anthropic_error,
    openai_completion,
    wire_server,
)

CONFIG = load_models_config()
PRICES = load_prices()
PHASE = PhaseDefinition(
    title="Build", complexity="medium", budgets={"tokens": 50_000, "costUSD": 1.0}
)


def now() -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC)


def routed(factory, *, tokens: int = 1_000_000, cost: str = "10", sink=None) -> RoutedModels:  # type: ignore[no-untyped-def]
    config = CONFIG.model_copy(
        update={"retries": RetryPolicy(max_attempts=2, base_delay_seconds=0.01)}
    )
    emitted: list[events.Event] = []
    return RoutedModels(
        config=config,
        prices=PRICES,
        profile="default",
        run="r",
        run_tokens=tokens,
        run_cost=Decimal(cost),
        emit=(sink.emit if sink else emitted.append),
        now=now,
        factory=factory,
        sleep=lambda _: None,
    )


def test_builder_escalates_along_the_chain_and_bumps_complexity() -> None:
    chain = [
        route(CONFIG, profile="default", role="builder", complexity="low", failures=f)[0]
        for f in range(5)
    ]
    assert chain == ["claude-haiku", "claude-haiku", "claude-sonnet", "claude-opus", "claude-opus"]
    auditor = route(CONFIG, profile="default", role="auditor", complexity="low", failures=2)
    assert auditor[0] == "claude-sonnet"
    assert auditor[-1] == "gpt-4.1"  # the profile's fallback provider comes last


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="known: default, openai, scripted"):
        route(CONFIG, profile="fast", role="builder", complexity="low", failures=0)


def test_overloaded_provider_falls_back_to_the_other_and_the_ledger_is_exact(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = Store.open(f"sqlite:///{tmp_path / 'a.db'}")
    with store.session() as session:
        records.upsert_run(
            session, run_id="r", name="r", repo_url="x", base_ref="main", push_branch="b", spec={}
        )
    sink = StoreSink(store, run_id="r")
    with wire_server() as anthropic_server, wire_server() as openai_server:
        anthropic_server.replies += [
            Reply(529, anthropic_error("overloaded_error", "Overloaded"))
        ] * 6
        openai_server.replies.append(Reply(200, openai_completion("from openai")))

        def factory(entry: ModelEntry, role: str) -> Model:
            if entry.provider == "anthropic":
                return AnthropicModel(entry.name, api_key="k", base_url=anthropic_server.url)
            return OpenAIModel(entry.name, api_key="k", base_url=f"{openai_server.url}/v1")

        models_port = routed(factory, sink=sink)
        reply = models_port.complete(
            role="auditor",
            phase=PHASE,
            phase_index=None,
            attempt=0,
            failures=0,
            system="s",
            messages=[("user", "u")],
            max_tokens=256,
        )
    assert reply.text == "from openai"
    assert reply.model == "gpt-4.1"
    with store.session() as session:
        calls = session.scalars(select(models.LlmCall).order_by(models.LlmCall.id)).all()
        assert [(c.provider, c.outcome) for c in calls] == [
            ("anthropic", "error"),
            ("openai", "ok"),
        ]
        ok = calls[1]
        assert (ok.input_tokens, ok.output_tokens, ok.cache_read_tokens, ok.cache_write_tokens) == (
            1000,
            50,
            800,
            None,
        )
        assert ok.cost_usd == Decimal("0.001200")
        assert ok.pricing_version == PRICES.version
    assert models_port.used_cost == Decimal("0.001200")


def test_a_call_that_could_exceed_the_budget_is_not_made() -> None:
    made: list[str] = []

    class Recorder:
        provider = "anthropic"
        name = "claude-sonnet-4-6"

        def complete(
            self, *, system: str, messages: list[tuple[str, str]], max_tokens: int
        ) -> Completion:
            made.append(system)
            raise AssertionError("must not be called")

    models_port = routed(lambda entry, role: Recorder(), tokens=5_000)
    with pytest.raises(EngineStop) as stopped:
        models_port.complete(
            role="builder",
            phase=PHASE,
            phase_index=0,
            attempt=1,
            failures=0,
            system="s" * 4000,
            messages=[("user", "u")],
            max_tokens=8192,
        )
    assert stopped.value.reason == "BudgetExceeded"
    assert made == []


class FixedModel:
    """A deterministic in-process model with given usage, to drive the budget logic."""

    def __init__(self, usage: list[tuple[int, int]]) -> None:
        self.usage = usage
        self.provider = "anthropic"
        self.name = "claude-haiku-4-5"

    def complete(
        self, *, system: str, messages: list[tuple[str, str]], max_tokens: int
    ) -> Completion:
        used_in, used_out = self.usage.pop(0)
        return Completion(
            text="ok",
            stop_reason="end_turn",
            truncated=False,
            usage=RawUsage(used_in, min(used_out, max_tokens)),
            model=self.name,
            provider=self.provider,
            latency_ms=1,
        )


@settings(max_examples=40, deadline=None)
@given(
    calls=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 3000)), min_size=1, max_size=30),
    budget=st.integers(2_000, 40_000),
    max_tokens=st.integers(1, 4000),
)
def test_no_sequence_of_calls_exceeds_the_token_or_cost_budget(
    calls: list[tuple[int, int]], budget: int, max_tokens: int
) -> None:
    model = FixedModel(list(calls))
    models_port = routed(lambda entry, role: model, tokens=budget, cost="0.05")
    reasons: list[str] = []
    for _ in calls:
        try:
            models_port.complete(
                role="builder",
                phase=None,
                phase_index=None,
                attempt=1,
                failures=0,
                system="s" * 400,
                messages=[("user", "u")],
                max_tokens=max_tokens,
            )
        except EngineStop as stop:
            reasons.append(stop.reason)
            break
    assert reasons in ([], ["BudgetExceeded"])
    assert models_port.used_tokens <= budget
    assert models_port.used_cost <= Decimal("0.05")
