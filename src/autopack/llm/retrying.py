"""Retry transient model-call failures with exponential backoff and jitter.

Honours the server's retry-after; bounded in attempts and in wall time; never retries
authentication, invalid-request or context-length errors. Sleep and randomness are injected
so tests run instantly and deterministically.
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from autopack.llm.errors import LlmError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try."""

    max_attempts: int = 5
    max_seconds: float = 120.0
    base_delay_seconds: float = 1.0
    max_delay_seconds: float = 30.0


def delay_for(attempt: int, policy: RetryPolicy, error: LlmError, rng: random.Random) -> float:
    """Seconds to wait before attempt ``attempt + 1``: retry-after, else jittered backoff."""
    if error.retry_after is not None:
        return min(error.retry_after, policy.max_delay_seconds)
    ceiling = min(policy.base_delay_seconds * 2 ** (attempt - 1), policy.max_delay_seconds)
    return rng.uniform(ceiling / 2, ceiling)


def call_with_retries(
    call: Callable[[], T],
    *,
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rng: random.Random | None = None,
    on_retry: Callable[[int, LlmError, float], None] | None = None,
) -> T:
    """Run ``call``; retry retryable errors within the policy; re-raise the last error."""
    generator = rng or random.Random()  # noqa: S311 - jitter, not security
    started = clock()
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except LlmError as error:
            if not error.retryable or attempt >= policy.max_attempts:
                raise
            wait = delay_for(attempt, policy, error, generator)
            if clock() - started + wait > policy.max_seconds:
                raise
            if on_retry is not None:
                on_retry(attempt, error, wait)
            sleep(wait)
