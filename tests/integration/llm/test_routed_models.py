"""Routed calls through the real SDKs: retries, waits, breakers, fallbacks, the ledger, budgets."""

from collections.abc import Iterator
from decimal import Decimal
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autopack.api import PhaseDefinition
from autopack.llm import errors
from autopack.llm.pricing import load_prices
from autopack.llm.routed import RoutedModels
from autopack.llm.routing import Breaker, ModelsConfig, Timeouts, load_models_config
from autopack.llm.types import CallRecord, Completion, Prompt, RawUsage, RetryWait, RouteNote
from tests.fakes.clock import VirtualClock
from tests.fakes.llm_servers import Answer, FakeLlmServer, Fault, llm_server

CONFIG = load_models_config()
Servers = tuple[FakeLlmServer, FakeLlmServer, VirtualClock]
PRICES = load_prices()
ANTHROPIC_KEY = "sk-ant-test-0123456789abcdef"
OPENAI_KEY = "sk-proj-test-0123456789abcdef"
PHASE = PhaseDefinition(title="Build", complexity="medium")


class Harness:
    """RoutedModels on a virtual clock, with what it recorded, waited and noted."""

    opened: ClassVar[list["Harness"]] = []

    def __init__(self, config: ModelsConfig, clock: VirtualClock, **options: object) -> None:
        self.records: list[CallRecord] = []
        self.waits: list[RetryWait] = []
        self.notes: list[RouteNote] = []
        self.clock = clock
        self.models = RoutedModels(
            config=config,
            prices=PRICES,
            profile="default",
            run="r",
            run_tokens=int(options.pop("tokens", 10_000_000)),  # type: ignore[call-overload]
            run_cost=Decimal(str(options.pop("cost", "100"))),
            record=self.records.append,
            sleep=clock.sleep,
            clock=clock,
            on_wait=self.waits.append,
            on_note=self.notes.append,
            **options,  # type: ignore[arg-type]
        )
        Harness.opened.append(self)

    def ask(self, text: str = "u", *, failures: int = 0) -> Completion:
        return self.models.complete(
            role="builder",
            phase=PHASE,
            phase_index=0,
            attempt=1,
            failures=failures,
            system="You are the Builder.",
            messages=[("user", text)],
            max_tokens=512,
        )


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[Servers]:
    clock = VirtualClock()
    with (
        llm_server("anthropic", clock=clock) as anthropic,
        llm_server("openai", clock=clock) as openai,
    ):
        monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
        monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic.base_url)
        monkeypatch.setenv("OPENAI_BASE_URL", openai.base_url)
        yield anthropic, openai, clock


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    yield
    for run in Harness.opened:
        run.models.close()
    Harness.opened.clear()


def harness(clock: VirtualClock, **options: object) -> Harness:
    config = CONFIG.model_copy(
        update={
            "timeouts": Timeouts(connect_seconds=2, idle_seconds=0.5, total_seconds=20),
            "breaker": Breaker(failures=3, cooldown_seconds=30),
        }
    )
    return Harness(config, clock, **options)


def test_retry_after_45_is_waited_in_full_on_the_same_model_and_printed(servers: Servers) -> None:
    anthropic, openai, clock = servers
    anthropic.script += [Fault(status=429, headers={"retry-after": "45"}), Answer("done")]
    run = harness(clock)
    assert run.ask().text == "done"
    assert clock.slept == [45.0]
    assert (
        run.waits[0].message == "anthropic rate limited, retrying claude-sonnet-4-6 in 45 s (1/4)"
    )
    assert openai.requests == []


def test_retry_after_beyond_the_maximum_fails_over_and_the_breaker_remembers(
    servers: Servers,
) -> None:
    anthropic, _, clock = servers
    anthropic.script.append(Fault(status=429, headers={"retry-after": "600"}))
    run = harness(clock)
    first = run.ask()
    second = run.ask()
    assert (first.provider, second.provider) == ("openai", "openai")
    assert clock.slept == []
    assert len(anthropic.requests) == 1  # the second call went straight to the fallback
    assert [r.fallback_from for r in run.records if r.outcome == "ok"] == ["claude-sonnet-4-6"] * 2
    assert any("circuit is open" in note.message for note in run.notes)


def test_an_outage_goes_to_the_same_tier_fallback_never_to_a_dearer_model(servers: Servers) -> None:
    anthropic, _, clock = servers
    anthropic.outage_until = clock() + 30
    run = harness(clock)
    replies = [run.ask(failures=0) for _ in range(5)]
    assert {reply.model for reply in replies} == {"gpt-4.1"}
    assert {r["body"]["model"] for r in anthropic.requests} == {"claude-sonnet-4-6"}  # no opus
    assert len(anthropic.requests) == 2  # overload_attempts, then the breaker holds
    assert sum(clock.slept) < 10
    clock.sleep(31)  # the outage is over and the cooldown passed: one trial, then back
    assert run.ask().provider == "anthropic"


def test_every_http_attempt_is_recorded_with_status_type_and_redacted_message(
    servers: Servers,
) -> None:
    anthropic, _, clock = servers
    anthropic.script += [
        Fault(status=529, message=f"Overloaded (key {ANTHROPIC_KEY})"),
        Fault(status=500),
        Fault(status=409),
        Answer("ok"),
    ]
    run = harness(clock)
    run.ask()
    assert [(r.outcome, r.status_code, r.error_type) for r in run.records] == [
        ("error", 529, "OverloadedError"),
        ("error", 500, "ServerError"),
        ("error", 409, "ConflictError"),
        ("ok", 200, None),
    ]
    assert all(ANTHROPIC_KEY not in (r.error_message or "") for r in run.records)
    # the third failure in a row opened the breaker: the call failed over instead of a 4th try
    assert [(r.provider, r.try_number) for r in run.records] == [
        ("anthropic", 1),
        ("anthropic", 2),
        ("anthropic", 3),
        ("openai", 1),
    ]
    assert run.records[-1].fallback_from == "claude-sonnet-4-6"
    assert len(run.waits) == 2


def test_a_timeout_is_retried_on_the_same_model_before_any_fallback(servers: Servers) -> None:
    anthropic, openai, clock = servers
    anthropic.script += [Fault(stall_after_events=3, stall_seconds=10), Answer("second try")]
    run = harness(clock)
    assert run.ask().text == "second try"
    assert openai.requests == []
    assert [r.error_type for r in run.records] == ["CallTimeoutError", None]


def test_a_cut_stream_records_and_charges_the_usage_it_reported(servers: Servers) -> None:
    anthropic, _, clock = servers
    anthropic.script += [Fault(cut_after_events=5), Answer("whole")]
    run = harness(clock)
    assert run.ask("x " * 2000).text == "whole"
    cut, ok = run.records
    assert cut.error_type == "StreamCutError"
    assert cut.usage is not None
    assert cut.usage.total > 0
    assert cut.cost_usd > 0
    assert run.models.used_tokens == cut.usage.total + (ok.usage.total if ok.usage else 0)


def test_a_fallback_without_a_key_is_skipped_with_a_note_and_the_outage_names_the_original_error(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    anthropic, openai, clock = servers
    monkeypatch.delenv("OPENAI_API_KEY")
    anthropic.outage_until = clock() + 30
    run = harness(clock)
    with pytest.raises(errors.ProviderUnavailableError) as outage:
        run.ask()
    assert "HTTP 529" in str(outage.value)
    assert "Overloaded" in str(outage.value)
    assert "OPENAI_API_KEY" not in str(outage.value)
    assert any("OPENAI_API_KEY is not set" in note.message for note in run.notes)
    assert isinstance(outage.value.original, errors.OverloadedError)
    assert openai.requests == []


def test_when_every_breaker_is_open_the_call_waits_for_the_trial_instead_of_failing_at_once(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    anthropic, _, clock = servers
    monkeypatch.delenv("OPENAI_API_KEY")
    anthropic.outage_until = clock() + 20
    run = harness(clock)
    with pytest.raises(errors.ProviderUnavailableError):
        run.ask()
    assert run.ask().provider == "anthropic"  # waited for the cooldown; the outage had ended
    assert run.waits[-1].reason == "down (circuit open)"


def test_a_wrong_key_stops_the_run_and_is_not_an_outage(servers: Servers) -> None:
    anthropic, openai, clock = servers
    anthropic.script.append(Fault(status=401, message=f"invalid x-api-key {ANTHROPIC_KEY}"))
    run = harness(clock)
    with pytest.raises(errors.AuthenticationFailedError) as refused:
        run.ask()
    assert ANTHROPIC_KEY not in str(refused.value)
    assert openai.requests == []


def test_the_budget_starts_from_what_the_run_already_spent(servers: Servers) -> None:
    anthropic, _, clock = servers
    run = harness(clock, tokens=20_000, spent_tokens=19_800, spent_cost=Decimal("0.5"))
    with pytest.raises(errors.BudgetExceededError, match="run has 200 tokens"):
        run.ask()
    assert anthropic.requests == []
    assert run.models.remaining() == (200, Decimal("99.5"))


def test_structured_prompts_are_sent_with_their_breakpoints(servers: Servers) -> None:
    anthropic, _, clock = servers
    run = harness(clock)
    prompt = Prompt.plain("stable", [("user", "changing")])
    run.models.complete(
        role="builder",
        phase=PHASE,
        phase_index=0,
        attempt=1,
        failures=0,
        prompt=prompt,
        max_tokens=64,
    )
    assert anthropic.requests[0]["body"]["system"][0]["cache_control"] == {"type": "ephemeral"}


class FixedModel:
    """A deterministic in-process model with given usage, to drive the budget logic."""

    provider = "anthropic"
    name = "claude-haiku-4-5"

    def __init__(self, usage: list[tuple[int, int, int]]) -> None:
        self.usage = usage

    def complete(self, *, prompt: Prompt, max_tokens: int) -> Completion:
        fresh, cached, out = self.usage.pop(0)
        return Completion(
            text="ok",
            stop_reason="end_turn",
            truncated=False,
            usage=RawUsage(fresh, min(out, max_tokens), cache_read_tokens=cached),
            model=self.name,
            provider=self.provider,
            latency_ms=1,
        )


@settings(max_examples=40, deadline=None)
@given(
    calls=st.lists(
        st.tuples(st.integers(0, 200), st.integers(0, 200), st.integers(0, 3000)),
        min_size=1,
        max_size=30,
    ),
    budget=st.integers(2_000, 40_000),
    spent=st.integers(0, 1_500),
    max_tokens=st.integers(1, 4000),
)
def test_no_sequence_of_calls_exceeds_the_runs_token_or_cost_budget(
    calls: list[tuple[int, int, int]], budget: int, spent: int, max_tokens: int
) -> None:
    model = FixedModel(list(calls))
    records: list[CallRecord] = []
    routed = RoutedModels(
        config=CONFIG,
        prices=PRICES,
        profile="default",
        run="r",
        run_tokens=budget,
        run_cost=Decimal("0.05"),
        record=records.append,
        factory=lambda entry, role: model,
        spent_tokens=spent,
    )
    for _ in calls:
        try:
            routed.complete(
                role="builder",
                phase=None,
                phase_index=None,
                attempt=1,
                failures=0,
                system="s" * 400,
                messages=[("user", "u")],
                max_tokens=max_tokens,
            )
        except errors.BudgetExceededError:
            break
    assert routed.used_tokens <= budget
    assert routed.used_cost <= Decimal("0.05")
    assert routed.used_tokens == spent + sum(r.usage.total for r in records if r.usage)


def test_a_long_answer_cut_late_still_gets_its_retry_on_the_same_model(servers: Servers) -> None:
    anthropic, openai, clock = servers
    anthropic.script += [Fault(cut_after_events=5), Answer("whole")]
    run = harness(clock)
    real_complete = run.models._model(run.models.config.models["claude-sonnet"], "builder")
    original = real_complete.complete

    def slow(*, prompt: Prompt, max_tokens: int) -> Completion:
        clock.now += 500  # the first try streamed for 500 s before it broke off
        return original(prompt=prompt, max_tokens=max_tokens)

    real_complete.complete = slow  # type: ignore[method-assign]
    assert run.ask().text == "whole"
    assert openai.requests == []


def test_the_ledger_hook_runs_before_every_request_after_earlier_calls_were_recorded(
    servers: Servers,
) -> None:
    anthropic, _, clock = servers
    anthropic.script += [Answer("first"), Fault(status=529), Answer("second")]
    seen: list[tuple[int, int]] = []  # (calls recorded, requests the server had) at each hook
    made: list[Harness] = []

    def hook() -> None:
        seen.append((len(made[0].records), len(anthropic.requests)))

    made.append(harness(clock, before_call=hook))
    run = made[0]
    run.ask()
    run.ask()
    # Before each request, including the retry, every earlier answered call was recorded.
    assert seen == [(0, 0), (1, 1), (2, 2)]


def test_a_ledger_that_cannot_be_written_refuses_the_request(servers: Servers) -> None:
    anthropic, _, clock = servers
    anthropic.script += [Answer("first")]

    def unwritable() -> None:
        raise errors.LedgerUnavailableError("the usage of phase 0 cannot be written")

    run = harness(clock, before_call=unwritable)
    with pytest.raises(errors.LedgerUnavailableError):
        run.ask()
    assert anthropic.requests == []  # nothing was spent
