"""The scripted provider: replay, injected failures, and record-then-replay round trip."""

from decimal import Decimal
from pathlib import Path

import pytest

from autopack.llm import errors
from autopack.llm.pricing import load_prices
from autopack.llm.retrying import RetryPolicy
from autopack.llm.routed import ModelFactory, RoutedModels, sdk_factory
from autopack.llm.routing import ModelEntry, load_models_config
from autopack.llm.scripted import Cassette, CassetteRecorder, RecordingModel, ScriptedModel
from autopack.llm.types import CallRecord, Model
from tests.fakes.clock import VirtualClock
from tests.fakes.llm_servers import Answer, llm_server


def scripted(tape: Cassette) -> ModelFactory:
    def build(entry: ModelEntry, role: str) -> Model:
        del entry
        return ScriptedModel(tape, role=role)

    return build


def routed(
    factory: ModelFactory, *, profile: str = "scripted"
) -> tuple[RoutedModels, VirtualClock, list[CallRecord]]:
    clock = VirtualClock()
    records: list[CallRecord] = []
    config = load_models_config().model_copy(
        update={"retries": RetryPolicy(max_attempts=3, base_delay_seconds=0.1)}
    )
    models = RoutedModels(
        config=config,
        prices=load_prices(),
        profile=profile,
        run="r",
        run_tokens=1_000_000,
        run_cost=Decimal(5),
        record=records.append,
        factory=factory,
        sleep=clock.sleep,
        clock=clock,
    )
    return models, clock, records


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
    models, clock, records = routed(scripted(tape))
    assert ask(models) == "done"
    assert clock.slept == [3]
    assert [r.outcome for r in records] == ["error", "ok"]


@pytest.mark.parametrize(
    ("error", "calls", "raised"),
    [
        ("overloaded", 2, errors.ProviderUnavailableError),
        ("timeout", 3, errors.ProviderUnavailableError),
        ("stream_cut", 3, errors.ProviderUnavailableError),
        ("context_overflow", 1, errors.ContextTooLongError),
    ],
)
def test_injected_failures_end_as_outages_or_fatal_errors(
    error: str, calls: int, raised: type[errors.LlmError]
) -> None:
    tape = Cassette.from_data({"responses": {"builder": [{"error": error}] * 3}})
    models, _, _ = routed(scripted(tape))
    with pytest.raises(raised, match=f"injected {error}"):
        ask(models)
    assert tape.positions["builder"] == calls  # overload fails over sooner; context never retried


def test_truncated_answer_is_reported() -> None:
    tape = Cassette.from_data(
        {"responses": {"builder": [{"text": "=== FILE: a.py\nx", "stop_reason": "max_tokens"}]}}
    )
    models, _, records = routed(scripted(tape))
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
    assert records[0].outcome == "truncated"


def test_running_out_names_the_role_and_position() -> None:
    tape = Cassette.from_data({"responses": {"auditor": [{"text": "VERDICT: approved"}]}})
    models, _, _ = routed(scripted(tape))
    ask(models, "auditor")
    with pytest.raises(errors.LlmError, match=r"has no auditor response left: call 2 asked, 1"):
        ask(models, "auditor")


def test_record_then_replay_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cassette = tmp_path / "recorded.yaml"
    recorder = CassetteRecorder(cassette)
    real = sdk_factory()

    def recording(entry: ModelEntry, role: str) -> Model:
        return RecordingModel(real(entry, role), recorder=recorder, role=role)

    with llm_server("anthropic") as server:
        server.script += [Answer("first answer"), Answer("VERDICT: approved")]
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-local-0123456789")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        recorded, _, originals = routed(recording, profile="default")
        assert ask(recorded, "builder") == "first answer"
        assert ask(recorded, "auditor") == "VERDICT: approved"
        recorded.close()
    replay, _, records = routed(scripted(Cassette.load(cassette)))
    assert ask(replay, "builder") == "first answer"
    assert ask(replay, "auditor") == "VERDICT: approved"
    assert records[0].usage is not None
    assert records[0].usage.output_tokens == 2
    # the cassette keeps each answer's usage exactly as the provider reported it
    assert [r.usage for r in records] == [r.usage for r in originals]
    assert (records[0].usage.input_tokens or 0) > 0
    assert "sk-local" not in cassette.read_text()
