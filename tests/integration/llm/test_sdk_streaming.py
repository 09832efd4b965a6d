"""The official SDKs stream from local servers speaking the Anthropic and OpenAI wire formats."""

import time
from collections.abc import Iterator
from typing import Any

import pytest

from autopack.llm import errors
from autopack.llm.anthropic_provider import AnthropicModel
from autopack.llm.openai_provider import OpenAIModel
from autopack.llm.types import Message, Prompt, PromptBlock, StreamTimeouts
from tests.fakes.llm_servers import Answer, CacheModel, Fault, llm_server

KEY = "sk-test-not-a-real-key-1234567890"
REPOSITORY = "def double(x):\n    return x * 2\n\n" * 300  # ~3,600 tokens, stable between attempts


@pytest.fixture(autouse=True)
def close_models() -> Iterator[None]:
    """Close every client a test opened (an unclosed socket is a warning, hence an error)."""
    yield
    while OPENED:
        OPENED.pop().close()


OPENED: list[AnthropicModel | OpenAIModel] = []


def anthropic_model(name: str, **options: Any) -> AnthropicModel:
    model = AnthropicModel(name, **options)
    OPENED.append(model)
    return model


def openai_model(name: str, **options: Any) -> OpenAIModel:
    model = OpenAIModel(name, **options)
    OPENED.append(model)
    return model


def layout(feedback: str) -> Prompt:
    return Prompt(
        system=(PromptBlock("You are the Builder. Reply with edit blocks.", cache=True),),
        messages=(
            Message(
                "user",
                (
                    PromptBlock(REPOSITORY, cache=True),
                    PromptBlock("# Phase: add triple()", cache=True),
                    PromptBlock(feedback),
                ),
            ),
        ),
    )


def test_anthropic_streams_and_the_second_attempt_reads_the_stable_prefix_from_cache() -> None:
    with llm_server("anthropic") as server:
        server.script += [Answer("first"), Answer("second")]
        model = anthropic_model("claude-sonnet-4-6", api_key=KEY, base_url=server.base_url)
        first = model.complete(prompt=layout("attempt 1"), max_tokens=256)
        second = model.complete(prompt=layout("attempt 2 failed: test_triple"), max_tokens=256)
    body = server.requests[0]["body"]
    assert body["stream"] is True
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert [b.get("cache_control") is not None for b in body["messages"][0]["content"]] == [
        True,
        True,
        False,
    ]
    assert first.text == "first"
    assert (first.usage.cache_write_tokens or 0) > 3000
    assert first.usage.cache_read_tokens == 0
    assert second.usage.cache_read_tokens == first.usage.cache_write_tokens
    assert (second.usage.cache_read_tokens or 0) / second.usage.prompt_total > 0.9


def test_anthropic_prefix_below_the_minimum_is_not_cached() -> None:
    with llm_server("anthropic", cache=CacheModel(default_min_tokens=4096)) as server:
        model = anthropic_model("claude-haiku-4-5", api_key=KEY, base_url=server.base_url)
        model.complete(prompt=layout("a"), max_tokens=64)
        again = model.complete(prompt=layout("b"), max_tokens=64)
    assert (again.usage.cache_read_tokens, again.usage.cache_write_tokens) == (0, 0)


def test_more_than_four_breakpoints_are_never_sent() -> None:
    blocks = tuple(PromptBlock(f"block {i} " * 400, cache=True) for i in range(6))
    prompt = Prompt(system=blocks[:3], messages=(Message("user", blocks[3:]),))
    with llm_server("anthropic") as server:
        anthropic_model("claude-sonnet-4-6", api_key=KEY, base_url=server.base_url).complete(
            prompt=prompt, max_tokens=64
        )
    body = server.requests[0]["body"]
    flags = [b for b in (*body["system"], *body["messages"][0]["content"]) if "cache_control" in b]
    assert len(flags) == 4
    assert "cache_control" not in body["system"][0]  # the last four (longest prefixes) are kept


def test_openai_streams_with_usage_in_the_final_chunk_and_cached_tokens_counted_once() -> None:
    with llm_server("openai") as server:
        model = openai_model("gpt-4.1", api_key=KEY, base_url=server.base_url)
        model.complete(prompt=layout("attempt 1"), max_tokens=256)
        second = model.complete(prompt=layout("attempt 2"), max_tokens=256)
    body = server.requests[0]["body"]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"][0]["role"] == "system"
    assert (second.usage.cache_read_tokens or 0) >= 3000
    assert second.usage.cache_write_tokens is None
    prompt_tokens = second.usage.prompt_total
    assert second.usage.input_tokens == prompt_tokens - (second.usage.cache_read_tokens or 0)


def test_reasoning_models_take_max_completion_tokens_from_their_quirks() -> None:
    with llm_server("openai", reasoning_models={"o4-mini"}) as server:
        server.script.append(Answer("thought", reasoning_tokens=300))
        model = openai_model(
            "o4-mini",
            api_key=KEY,
            base_url=server.base_url,
            max_tokens_param="max_completion_tokens",
        )
        done = model.complete(prompt=Prompt.plain("s", [("user", "u")]), max_tokens=500)
    assert server.requests[0]["body"]["max_completion_tokens"] == 500
    assert "max_tokens" not in server.requests[0]["body"]
    assert done.usage.reasoning_tokens == 300


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_silence_between_chunks_hits_the_idle_timeout(provider: str) -> None:
    timeouts = StreamTimeouts(idle_seconds=0.5, total_seconds=30)
    with llm_server(provider) as server:  # type: ignore[arg-type]
        server.script.append(Fault(stall_after_events=3, stall_seconds=20))
        model = _model(provider, server.base_url, timeouts)
        with pytest.raises(errors.CallTimeoutError):
            model.complete(prompt=layout("x"), max_tokens=64)


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_slow_but_live_answer_is_capped_by_the_overall_limit(provider: str) -> None:
    timeouts = StreamTimeouts(idle_seconds=5, total_seconds=0.6)
    with llm_server(provider) as server:  # type: ignore[arg-type]
        server.script.append(Answer("x" * 400, chunk_delay=0.05))
        model = _model(provider, server.base_url, timeouts)
        with pytest.raises(errors.CallTimeoutError, match="cap"):
            model.complete(prompt=layout("x"), max_tokens=64)


def test_anthropic_stream_cut_midway_carries_the_usage_reported_so_far() -> None:
    with llm_server("anthropic") as server:
        server.script.append(Fault(cut_after_events=5))
        model = anthropic_model("claude-sonnet-4-6", api_key=KEY, base_url=server.base_url)
        with pytest.raises(errors.StreamCutError) as cut:
            model.complete(prompt=layout("x"), max_tokens=64)
    usage = cut.value.partial_usage
    assert usage is not None
    assert (usage.cache_write_tokens or 0) > 3000


def test_openai_stream_cut_midway_is_a_cut_not_a_connection_failure() -> None:
    with llm_server("openai") as server:
        server.script.append(Fault(cut_after_events=3))
        model = openai_model("gpt-4.1", api_key=KEY, base_url=server.base_url)
        with pytest.raises(errors.StreamCutError):
            model.complete(prompt=layout("x"), max_tokens=64)


def test_an_overloaded_error_event_inside_the_stream_is_an_overload() -> None:
    with llm_server("anthropic") as server:
        server.script.append(Fault(error_event="overloaded_error", message="Overloaded"))
        model = anthropic_model("claude-sonnet-4-6", api_key=KEY, base_url=server.base_url)
        with pytest.raises(errors.OverloadedError, match="error event in the stream"):
            model.complete(prompt=layout("x"), max_tokens=64)


@pytest.mark.parametrize(
    ("status", "headers", "error", "retry_after"),
    [
        (408, {}, errors.CallTimeoutError, None),
        (409, {}, errors.ConflictError, None),
        (429, {"retry-after": "45"}, errors.RateLimitedError, 45.0),
        (429, {"retry-after-ms": "1500"}, errors.RateLimitedError, 1.5),
        (503, {}, errors.ServerError, None),
        (529, {}, errors.OverloadedError, None),
    ],
)
def test_http_errors_are_typed_with_status_and_retry_after(
    status: int, headers: dict[str, str], error: type[errors.LlmError], retry_after: float | None
) -> None:
    with llm_server("anthropic") as server:
        server.script.append(Fault(status=status, headers=headers))
        model = anthropic_model("claude-sonnet-4-6", api_key=KEY, base_url=server.base_url)
        with pytest.raises(error) as raised:
            model.complete(prompt=layout("x"), max_tokens=64)
    assert raised.value.status_code == status
    assert raised.value.retry_after == retry_after
    assert raised.value.retryable


def test_an_error_body_echoing_the_key_is_redacted() -> None:
    with llm_server("openai") as server:
        server.script.append(Fault(status=401, message=f"Incorrect API key provided: {KEY}"))
        model = openai_model("gpt-4.1", api_key=KEY, base_url=server.base_url)
        with pytest.raises(errors.AuthenticationFailedError) as raised:
            model.complete(prompt=layout("x"), max_tokens=64)
    assert KEY not in str(raised.value)
    assert KEY[8:] not in str(raised.value)


def _model(provider: str, url: str, timeouts: StreamTimeouts) -> AnthropicModel | OpenAIModel:
    if provider == "anthropic":
        return anthropic_model("claude-sonnet-4-6", api_key=KEY, base_url=url, timeouts=timeouts)
    return openai_model("gpt-4.1", api_key=KEY, base_url=url, timeouts=timeouts)


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_stream_kept_alive_forever_is_still_capped(provider: str) -> None:
    timeouts = StreamTimeouts(idle_seconds=5, total_seconds=0.8)
    with llm_server(provider) as server:  # type: ignore[arg-type]
        server.script.append(Fault(keepalive_after_events=4))
        model = _model(provider, server.base_url, timeouts)
        started = time.monotonic()
        with pytest.raises(errors.CallTimeoutError, match="cap"):
            model.complete(prompt=layout("x"), max_tokens=64)
    assert time.monotonic() - started < 4


def test_an_error_object_inside_an_openai_stream_is_transient() -> None:
    with llm_server("openai") as server:
        server.script.append(Fault(error_event="server_error", message="The server had an error"))
        model = openai_model("gpt-4.1", api_key=KEY, base_url=server.base_url)
        with pytest.raises(errors.ServerError, match="an error in the stream"):
            model.complete(prompt=layout("x"), max_tokens=64)


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_models_that_do_not_stream_get_one_json_answer(provider: str) -> None:
    with llm_server(provider) as server:  # type: ignore[arg-type]
        server.script.append(Answer("whole"))
        model: AnthropicModel | OpenAIModel
        if provider == "anthropic":
            model = anthropic_model("m", api_key=KEY, base_url=server.base_url, streaming=False)
        else:
            model = openai_model("m", api_key=KEY, base_url=server.base_url, streaming=False)
        done = model.complete(prompt=layout("x"), max_tokens=64)
    assert done.text == "whole"
    assert not server.requests[0]["body"].get("stream")
    assert (done.usage.output_tokens or 0) > 0


def test_the_servers_x_should_retry_header_overrides_the_status_rule() -> None:
    with llm_server("anthropic") as server:
        server.script += [
            Fault(status=500, headers={"x-should-retry": "false"}),
            Fault(status=400, headers={"x-should-retry": "true"}),
        ]
        model = anthropic_model("claude-sonnet-4-6", api_key=KEY, base_url=server.base_url)
        with pytest.raises(errors.ServerError) as final:
            model.complete(prompt=layout("x"), max_tokens=64)
        with pytest.raises(errors.InvalidRequestError) as transient:
            model.complete(prompt=layout("x"), max_tokens=64)
    assert not final.value.retryable
    assert transient.value.retryable


def test_an_exhausted_quota_is_its_own_error() -> None:
    with llm_server("openai") as server:
        server.script.append(
            Fault(status=429, message="You exceeded your current quota (insufficient_quota)")
        )
        model = openai_model("gpt-4.1", api_key=KEY, base_url=server.base_url)
        with pytest.raises(errors.QuotaExhaustedError):
            model.complete(prompt=layout("x"), max_tokens=64)
