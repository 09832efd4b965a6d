"""The circuit breaker per provider and model."""

from autopack.llm import errors
from autopack.llm.health import CircuitBreakers
from tests.fakes.clock import VirtualClock

DOWN = errors.OverloadedError("anthropic: HTTP 529: Overloaded")


def test_opens_after_consecutive_failures_and_lets_one_trial_through_after_the_cooldown() -> None:
    clock = VirtualClock()
    breakers = CircuitBreakers(failures=3, cooldown_seconds=30, clock=clock)
    for _ in range(2):
        breakers.failed("anthropic", "claude-sonnet-4-6", DOWN)
    assert breakers.allows("anthropic", "claude-sonnet-4-6")
    breakers.failed("anthropic", "claude-sonnet-4-6", DOWN)
    assert not breakers.allows("anthropic", "claude-sonnet-4-6")
    assert breakers.allows("openai", "gpt-4.1")  # per provider and model
    clock.sleep(30)
    assert breakers.allows("anthropic", "claude-sonnet-4-6")  # the trial
    assert not breakers.allows("anthropic", "claude-sonnet-4-6")  # only one
    breakers.succeeded("anthropic", "claude-sonnet-4-6")
    assert breakers.allows("anthropic", "claude-sonnet-4-6")


def test_a_failed_trial_opens_it_again_and_the_first_error_is_kept() -> None:
    clock = VirtualClock()
    breakers = CircuitBreakers(failures=3, cooldown_seconds=10, clock=clock)
    breakers.gave_up("anthropic", "m", DOWN)
    clock.sleep(10)
    assert breakers.allows("anthropic", "m")
    breakers.failed("anthropic", "m", errors.ServerError("later"))
    assert not breakers.allows("anthropic", "m")
    assert breakers.reopens_in("anthropic", "m") == 10
    assert breakers.opened_by("anthropic", "m") is DOWN


def test_a_long_retry_after_keeps_it_open_longer_than_the_cooldown() -> None:
    clock = VirtualClock()
    breakers = CircuitBreakers(cooldown_seconds=30, clock=clock)
    breakers.gave_up("openai", "gpt-4.1", errors.RateLimitedError("429", retry_after=300))
    clock.sleep(31)
    assert not breakers.allows("openai", "gpt-4.1")
    assert breakers.reopens_in("openai", "gpt-4.1") == 269


def test_a_trial_never_reported_on_does_not_keep_the_breaker_shut_forever() -> None:
    clock = VirtualClock()
    breakers = CircuitBreakers(cooldown_seconds=30, clock=clock)
    breakers.gave_up("anthropic", "m", DOWN)
    clock.sleep(30)
    assert breakers.allows("anthropic", "m")  # a trial whose caller stopped (budget, crash)
    clock.sleep(29)
    assert not breakers.allows("anthropic", "m")
    clock.sleep(1)
    assert breakers.allows("anthropic", "m")
