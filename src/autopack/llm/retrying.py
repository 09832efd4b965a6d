"""When to retry a failed model call on the same model, how long to wait, and when to fail over.

The rules follow what the providers and both official SDKs document: 408, 409, 429, 5xx, 529,
connection errors, timeouts and cut streams are retried with jittered exponential backoff; a
server's ``retry-after`` / ``retry-after-ms`` is honoured exactly, up to
``max_retry_after_seconds`` — a longer hint means the model is gone for a while, so the call
fails over instead of retrying early. Overload and unreachability get few tries on the same
model (another provider is likely up); timeouts and cut streams are retried on the same model
first (the provider is up, the call was unlucky). Sleep and randomness are injected.
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from autopack.llm import errors

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one model before failing over."""

    max_attempts: int = 5
    """Tries of one model for rate limits, server errors and conflicts."""
    max_seconds: float = 120.0
    """Longest total wait between the tries of one model (a long answer that broke off late
    still gets its retry: the time spent streaming does not count)."""
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 30.0
    max_retry_after_seconds: float = 120.0
    """Longest server-requested wait honoured; a longer one fails over."""
    overload_attempts: int = 2
    """Tries of an overloaded or unreachable model before its fallback."""
    timeout_attempts: int = 3
    """Tries of one model after timeouts or cut streams."""

    def attempts_for(self, error: errors.LlmError) -> int:
        """How many tries of one model ``error``'s kind gets."""
        if isinstance(error, errors.QuotaExhaustedError):
            return 1
        if isinstance(error, errors.OverloadedError | errors.ConnectionFailedError):
            return min(self.overload_attempts, self.max_attempts)
        if isinstance(error, errors.CallTimeoutError | errors.StreamCutError):
            return self.timeout_attempts
        return self.max_attempts


def backoff(tries: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Jittered exponential backoff after ``tries`` failed tries: uniform in [c/2, c]."""
    ceiling = min(policy.base_delay_seconds * 2 ** (tries - 1), policy.max_delay_seconds)
    return rng.uniform(ceiling / 2, ceiling)


def next_wait(
    error: errors.LlmError,
    *,
    tries: int,
    elapsed: float,
    policy: RetryPolicy,
    rng: random.Random,
) -> float | None:
    """Seconds to wait before retrying the same model, or None to give up on it (fail over).

    ``elapsed`` is the time already waited between tries of this model.

    Non-retryable errors are the caller's to raise; this only decides for retryable ones.
    """
    if not error.retryable or tries >= policy.attempts_for(error):
        return None
    if error.retry_after is not None:
        if error.retry_after > policy.max_retry_after_seconds:
            return None
        wait = max(error.retry_after, 0.0)
    else:
        wait = backoff(tries, policy, rng)
    if elapsed + wait > policy.max_seconds:
        return None
    return wait


def call_with_retries(
    call: Callable[[], T],
    *,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    on_retry: Callable[[int, errors.LlmError, float], None] | None = None,
) -> T:
    """Run ``call``; retry retryable errors within the policy; re-raise the last error."""
    generator = rng or random.Random()  # noqa: S311 - jitter, not security
    waited = 0.0
    tries = 0
    while True:
        tries += 1
        try:
            return call()
        except errors.LlmError as error:
            wait = next_wait(error, tries=tries, elapsed=waited, policy=policy, rng=generator)
            if wait is None:
                raise
            if on_retry is not None:
                on_retry(tries, error, wait)
            waited += wait
            sleep(wait)
