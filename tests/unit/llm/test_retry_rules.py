"""Retry rules as the providers document them: what is retried, how long to wait, when to fail over."""

import random

import pytest

from autopack.llm import errors
from autopack.llm.retrying import RetryPolicy, backoff, next_wait

POLICY = RetryPolicy(max_attempts=6, max_seconds=600, max_retry_after_seconds=120)
RNG = random.Random(7)  # noqa: S311 - jitter, not security


def wait(error: errors.LlmError, tries: int = 1, elapsed: float = 0.0) -> float | None:
    return next_wait(error, tries=tries, elapsed=elapsed, policy=POLICY, rng=RNG)


def test_retry_after_is_honoured_exactly_not_capped_at_the_backoff_ceiling() -> None:
    assert wait(errors.RateLimitedError("429", retry_after=45)) == 45


def test_retry_after_beyond_the_maximum_fails_over_instead_of_retrying_early() -> None:
    assert wait(errors.RateLimitedError("429", retry_after=121)) is None


@pytest.mark.parametrize(
    "error",
    [
        errors.CallTimeoutError("408"),
        errors.ConflictError("409"),
        errors.RateLimitedError("429"),
        errors.ServerError("500"),
        errors.OverloadedError("529"),
        errors.ConnectionFailedError("refused"),
        errors.StreamCutError("cut"),
    ],
)
def test_documented_transient_errors_are_retried(error: errors.LlmError) -> None:
    assert wait(error) is not None


@pytest.mark.parametrize(
    "error",
    [
        errors.AuthenticationFailedError("401"),
        errors.InvalidRequestError("400"),
        errors.ContextTooLongError("too long"),
    ],
)
def test_request_and_key_errors_are_never_retried(error: errors.LlmError) -> None:
    assert wait(error) is None


def test_backoff_is_jittered_and_grows() -> None:
    rng = random.Random(1)  # noqa: S311 - jitter, not security
    policy = RetryPolicy(base_delay_seconds=1, max_delay_seconds=30)
    draws = {tries: [backoff(tries, policy, rng) for _ in range(200)] for tries in (1, 3, 9)}
    assert all(0.5 <= d <= 1 for d in draws[1])
    assert all(2 <= d <= 4 for d in draws[3])
    assert all(15 <= d <= 30 for d in draws[9])
    assert len({round(d, 6) for d in draws[3]}) > 100  # jittered, not a fixed schedule


def test_overload_fails_over_sooner_than_timeouts_are_given_up() -> None:
    policy = RetryPolicy(overload_attempts=2, timeout_attempts=3, max_attempts=5)
    overloaded = errors.OverloadedError("529")
    timed_out = errors.CallTimeoutError("idle")
    assert next_wait(overloaded, tries=1, elapsed=0, policy=policy, rng=RNG) is not None
    assert next_wait(overloaded, tries=2, elapsed=0, policy=policy, rng=RNG) is None
    assert next_wait(timed_out, tries=2, elapsed=0, policy=policy, rng=RNG) is not None
    assert next_wait(timed_out, tries=3, elapsed=0, policy=policy, rng=RNG) is None


def test_a_wait_that_would_pass_the_time_budget_gives_up() -> None:
    policy = RetryPolicy(max_seconds=60)
    error = errors.RateLimitedError("429", retry_after=30)
    assert next_wait(error, tries=1, elapsed=20, policy=policy, rng=RNG) == 30
    assert next_wait(error, tries=1, elapsed=31, policy=policy, rng=RNG) is None


def test_an_exhausted_quota_fails_over_at_once() -> None:
    assert wait(errors.QuotaExhaustedError("insufficient_quota")) is None
