"""The scripted provider: replay, injected failures, and record-then-replay round trip."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from autopack import events
from autopack.engine.wiring import model_factory
from autopack.engine.ports import EngineStop
from autopack.llm.routed import RoutedModels
from autopack.llm.pricing import load_prices
from autopack.llm.retrying import RetryPolicy
from autopack.llm.routing import load_models_config
from autopack.llm.scripted import Cassette
from tests.builders.wire import Reply, anthropic_message, wire_server


def routed(
    *, cassette: Cassette | None = None, record: Path | None = None, profile: str = "scripted"
) -> tuple[RoutedModels, list[float], list[events.Event]]:
    waits: list[float] = []
    seen: list[events.Event] = []
    config = load_models_config().model_copy(
        update={"retries": RetryPolicy(max_attempts=3, base_delay_seconds=0.1)}
    )
    return (
        RoutedModels(
            config=config,
            prices=load_prices(),
            profile=profile,
            run="r",
            run_tokens=1_000_000,
            run_cost=Decimal(5),
            emit=seen.append,
            now=lambda: datetime.now(UTC),
            factory=model_factory(cassette=cassette, record=record),
            sleep=waits.append,
        ),
        waits,
        seen,
    )


def ask(models: RoutedModels, role: str = "builder") -> str:
    return models.complete(
        role=role,
        phase=None,
        phase_index=None,
        attempt=1,
        failures=0,
        system="s",
        messages=[("user", "u")],
        max_tokens=100,
    ).text


def test_injected_rate_limit_is_retried_after_its_retry_after() -> None:
    tape = Cassette.from_data(
        {"responses": {"builder": [{"error": "rate_limit", "retry_after": 3}, {"text": "done"}]}}
    )
    models, waits, seen = routed(cassette=tape)
    assert ask(models) == "done"
    assert waits == [3]
    assert [e.outcome for e in seen if isinstance(e, events.ModelCalled)] == ["ok"]


@pytest.mark.parametrize(
    ("error", "calls"), [("overloaded", 3), ("timeout", 3), ("context_overflow", 1)]
)
def test_injected_failures_end_as_provider_errors(error: str, calls: int) -> None:
    tape = Cassette.from_data({"responses": {"builder": [{"error": error}] * 3}})
    models, _, _ = routed(cassette=tape)
    with pytest.raises(EngineStop) as stopped:
        ask(models)
    assert stopped.value.reason == "ProviderError"
    assert f"injected {error}" in stopped.value.message
    assert tape.positions["builder"] == calls  # context overflow is never retried


def test_truncated_answer_is_reported() -> None:
    tape = Cassette.from_data(
        {"responses": {"builder": [{"text": "=== FILE: a.py\nx", "stop_reason": "max_tokens"}]}}
    )
    models, _, _ = routed(cassette=tape)
    reply = models.complete(
        role="builder",
        phase=None,
        phase_index=None,
        attempt=1,
        failures=0,
        system="s",
        messages=[("user", "u")],
        max_tokens=100,
    )
    assert reply.truncated


def test_running_out_names_the_role_and_position() -> None:
    tape = Cassette.from_data({"responses": {"auditor": [{"text": "VERDICT: approved"}]}})
    models, _, _ = routed(cassette=tape)
    ask(models, "auditor")
    with pytest.raises(EngineStop, match=r"has no auditor response left: call 2 asked, 1 recorded"):
        ask(models, "auditor")


def test_record_then_replay_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cassette = tmp_path / "recorded.yaml"
    with wire_server() as server:
        server.replies += [
            Reply(200, anthropic_message("first answer")),
            Reply(200, anthropic_message("VERDICT: approved", cache_read=None, cache_write=None)),
        ]
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-local")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        recording, _, _ = routed(record=cassette, profile="default")
        assert ask(recording, "builder") == "first answer"
        assert ask(recording, "auditor") == "VERDICT: approved"
    replay, _, seen = routed(cassette=Cassette.load(cassette))
    assert ask(replay, "builder") == "first answer"
    assert ask(replay, "auditor") == "VERDICT: approved"
    calls = [e for e in seen if isinstance(e, events.ModelCalled)]
    assert (calls[0].input_tokens, calls[0].cache_read_tokens) == (100, 900)
    assert "sk-local" not in cassette.read_text()
