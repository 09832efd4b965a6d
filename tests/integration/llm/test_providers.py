"""The real anthropic and openai SDKs against local servers speaking their wire formats."""

from decimal import Decimal

import pytest

from autopack.llm import errors
from autopack.llm.anthropic_provider import AnthropicModel
from autopack.llm.openai_provider import OpenAIModel
from autopack.llm.pricing import load_prices
from autopack.llm.retrying import RetryPolicy, call_with_retries
from tests.builders.wire import (
    Reply,
    anthropic_error,
    anthropic_message,
    openai_completion,
    openai_error,
    wire_server,
)

KEY = "sk-test-not-a-real-key-1234567890"
FAST = RetryPolicy(max_attempts=4, max_seconds=60, base_delay_seconds=0.5)


def test_anthropic_success_reports_cache_usage_and_sets_a_cache_breakpoint() -> None:
    with wire_server() as server:
        server.replies.append(Reply(200, anthropic_message("hello")))
        model = AnthropicModel("claude-sonnet-4-6", api_key=KEY, base_url=server.url)
        done = model.complete(system="stable part", messages=[("user", "hi")], max_tokens=64)
    assert (done.text, done.truncated, done.provider) == ("hello", False, "anthropic")
    assert (done.usage.input_tokens, done.usage.output_tokens) == (100, 20)
    assert (done.usage.cache_read_tokens, done.usage.cache_write_tokens) == (900, 50)
    sent = server.requests[0]
    assert sent["path"] == "/v1/messages"
    assert sent["body"]["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert KEY in " ".join(sent["headers"].values())  # the SDK sends the key it was given
    # hand-computed: 100*3 + 20*15 + 900*0.30 + 50*3.75 = 300+300+270+187.5 = 1057.5 per 1M
    assert load_prices().cost("claude-sonnet-4-6", done.usage) == Decimal("0.001058")


def test_rate_limit_is_retried_after_the_servers_retry_after() -> None:
    waits: list[float] = []
    with wire_server() as server:
        server.replies += [
            Reply(429, anthropic_error("rate_limit_error", "slow down"), {"retry-after": "2"}),
            Reply(200, anthropic_message("ok")),
        ]
        model = AnthropicModel("claude-sonnet-4-6", api_key=KEY, base_url=server.url)
        done = call_with_retries(
            lambda: model.complete(system="s", messages=[("user", "u")], max_tokens=8),
            policy=FAST,
            sleep=waits.append,
        )
    assert done.text == "ok"
    assert waits == [2.0]
    assert len(server.requests) == 2


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (Reply(529, anthropic_error("overloaded_error", "Overloaded")), errors.OverloadedError),
        (Reply(500, anthropic_error("api_error", "boom")), errors.ServerError),
    ],
)
def test_overloaded_and_server_errors_are_retried_then_raised(
    reply: Reply, error: type[errors.LlmError]
) -> None:
    waits: list[float] = []
    with wire_server() as server:
        server.replies += [reply] * 4
        model = AnthropicModel("claude-sonnet-4-6", api_key=KEY, base_url=server.url)
        with pytest.raises(error):
            call_with_retries(
                lambda: model.complete(system="s", messages=[("user", "u")], max_tokens=8),
                policy=FAST,
                sleep=waits.append,
            )
    assert len(server.requests) == 4
    assert len(waits) == 3
    assert all(0.25 <= wait <= 4.0 for wait in waits)


def test_slow_response_times_out_and_is_retried() -> None:
    with wire_server() as server:
        server.replies += [
            Reply(200, anthropic_message("late"), delay=2.0),
            Reply(200, anthropic_message("fast")),
        ]
        model = AnthropicModel("claude-sonnet-4-6", api_key=KEY, base_url=server.url, timeout=0.5)
        done = call_with_retries(
            lambda: model.complete(system="s", messages=[("user", "u")], max_tokens=8),
            policy=FAST,
            sleep=lambda _: None,
        )
    assert done.text == "fast"


def test_max_tokens_is_reported_as_truncation() -> None:
    with wire_server() as server:
        server.replies.append(
            Reply(200, anthropic_message("=== FILE: a.py\nx =", stop="max_tokens"))
        )
        model = AnthropicModel("claude-sonnet-4-6", api_key=KEY, base_url=server.url)
        done = model.complete(system="s", messages=[("user", "u")], max_tokens=8)
    assert done.truncated
    assert done.stop_reason == "max_tokens"


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (
            Reply(401, anthropic_error("authentication_error", "invalid x-api-key")),
            errors.AuthenticationFailedError,
        ),
        (
            Reply(
                400,
                anthropic_error(
                    "invalid_request_error", "prompt is too long: 250000 tokens > 200000 maximum"
                ),
            ),
            errors.ContextTooLongError,
        ),
    ],
)
def test_auth_and_context_errors_are_never_retried(
    reply: Reply, error: type[errors.LlmError]
) -> None:
    with wire_server() as server:
        server.replies += [reply, Reply(200, anthropic_message("unused"))]
        model = AnthropicModel("claude-sonnet-4-6", api_key=KEY, base_url=server.url)
        with pytest.raises(error) as caught:
            call_with_retries(
                lambda: model.complete(system="s", messages=[("user", "u")], max_tokens=8),
                policy=FAST,
                sleep=lambda _: None,
            )
    assert len(server.requests) == 1
    assert KEY not in str(caught.value)


def test_openai_compatible_server_usage_truncation_and_context_error() -> None:
    with wire_server() as server:
        server.replies += [
            Reply(200, openai_completion("hi")),
            Reply(200, openai_completion("cut", finish="length", cached=None)),
            Reply(
                400,
                openai_error(
                    "This model's maximum context length is 128000 tokens",
                    code="context_length_exceeded",
                ),
            ),
        ]
        model = OpenAIModel("gpt-4.1", api_key=KEY, base_url=f"{server.url}/v1")
        done = model.complete(system="s", messages=[("user", "u")], max_tokens=16)
        cut = model.complete(system="s", messages=[("user", "u")], max_tokens=16)
        with pytest.raises(errors.ContextTooLongError):
            model.complete(system="s", messages=[("user", "u")], max_tokens=16)
    assert (done.usage.input_tokens, done.usage.cache_read_tokens) == (1000, 800)
    assert cut.truncated
    assert cut.usage.cache_read_tokens is None  # not reported: null, never estimated
    assert server.requests[0]["body"]["messages"][0] == {"role": "system", "content": "s"}
    # hand-computed: (1000-800)*2 + 50*8 + 800*0.5 = 400+400+400 = 1200 per 1M
    assert load_prices().cost("gpt-4.1", done.usage) == Decimal("0.001200")
