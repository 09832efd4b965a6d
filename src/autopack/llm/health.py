"""Provider health: a circuit breaker per provider and model, shared by all calls of a run.

Without it every call of a run rediscovers an outage (retries, backoff, then the fallback).
A breaker opens after ``failures`` consecutive failed HTTP attempts, or at once when a call gave
up on the model; while open, calls go straight to the fallback. After the cooldown (or the
server's longer retry-after) one trial call is let through: success closes the breaker, failure
opens it again. The clock is injected.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from autopack.llm import errors


@dataclass
class _State:
    consecutive: int = 0
    open_until: float | None = None
    trial_since: float | None = None
    error: errors.LlmError | None = None


@dataclass
class CircuitBreakers:
    """Breakers keyed by (provider, model)."""

    failures: int = 3
    cooldown_seconds: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _states: dict[tuple[str, str], _State] = field(default_factory=dict)

    def _state(self, provider: str, model: str) -> _State:
        return self._states.setdefault((provider, model), _State())

    def allows(self, provider: str, model: str) -> bool:
        """True when a call may go to the model (closed, or open with its cooldown over)."""
        state = self._state(provider, model)
        if state.open_until is None:
            return True
        now = self.clock()
        if now < state.open_until:
            return False
        # half-open: one trial at a time; a trial never reported on is given up after a cooldown
        if state.trial_since is None or now - state.trial_since >= self.cooldown_seconds:
            state.trial_since = now
            return True
        return False

    def is_open(self, provider: str, model: str) -> bool:
        """True while calls skip the model."""
        state = self._states.get((provider, model))
        return state is not None and state.open_until is not None

    def reopens_in(self, provider: str, model: str) -> float:
        """Seconds until an open breaker lets its trial call through (0 when it would now)."""
        state = self._states.get((provider, model))
        if state is None or state.open_until is None:
            return 0.0
        return max(state.open_until - self.clock(), 0.0)

    def opened_by(self, provider: str, model: str) -> errors.LlmError | None:
        """The error that opened the breaker."""
        state = self._states.get((provider, model))
        return state.error if state else None

    def succeeded(self, provider: str, model: str) -> None:
        """The model answered (an answer, or an error that is not an outage): close the breaker."""
        self._states[(provider, model)] = _State()

    def failed(self, provider: str, model: str, error: errors.LlmError) -> None:
        """One HTTP attempt failed with a retryable error; open after enough in a row."""
        state = self._state(provider, model)
        state.consecutive += 1
        if state.consecutive >= self.failures or state.trial_since is not None:
            self._open(state, error)

    def gave_up(self, provider: str, model: str, error: errors.LlmError) -> None:
        """A call gave up on the model (it failed over): open the breaker now."""
        self._open(self._state(provider, model), error)

    def _open(self, state: _State, error: errors.LlmError) -> None:
        cooldown = max(self.cooldown_seconds, error.retry_after or 0.0)
        state.open_until = self.clock() + cooldown
        state.trial_since = None
        if state.error is None:  # the outage is named by what started it
            state.error = error
