"""Budgeted, recorded model calls: the engine's Models port over a provider.

Before each call the worst case (an input estimate plus ``max_tokens``) is checked against the
run's and the phase's remaining token budget; a call that could exceed it is not made and the
run stops with ``BudgetExceeded``. After each call the provider's own usage (null when not
reported) is announced to the sinks; the store sink writes the ``llm_calls`` row and catches
up after a database outage.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from autopack.api import PhaseDefinition
from autopack.engine import events
from autopack.engine.ports import EngineStop, ModelReply
from autopack.engine.scripted import Cassette, CassetteError

CHARS_PER_TOKEN = 4  # rough size of prompt context in tokens (display and context budgets only)


def input_upper_bound(system: str, messages: list[tuple[str, str]]) -> int:
    """An upper bound of a prompt's input tokens: its UTF-8 bytes (a token covers >= 1 byte).

    Pessimistic on purpose: the pre-call check must never let a call exceed the budget.
    """
    return len(system.encode()) + sum(len(text.encode()) for _, text in messages)


@dataclass
class ScriptedModels:
    """The Models port backed by the scripted provider (offline demo and tests)."""

    cassette: Cassette
    run: str
    run_id: str
    run_tokens: int
    emit: Callable[[events.Event], None]
    now: Callable[[], datetime]
    used_tokens: int = 0
    phase_tokens: dict[int, int] = field(default_factory=dict)

    def model_for(self, *, role: str, phase: PhaseDefinition, failures: int) -> str:
        """The scripted provider has one model."""
        del role, phase, failures
        return f"scripted/{self.cassette.model}"

    def _check_budget(
        self, *, phase: PhaseDefinition | None, index: int | None, worst_case: int
    ) -> None:
        if self.used_tokens + worst_case > self.run_tokens:
            raise EngineStop(
                "BudgetExceeded",
                f"BudgetExceeded: the next call could use {worst_case:,} tokens but only "
                f"{self.run_tokens - self.used_tokens:,} of the run's {self.run_tokens:,} remain",
            )
        if phase is None or index is None:
            return
        limit = phase.budgets.tokens
        spent = self.phase_tokens.get(index, 0)
        if limit is not None and spent + worst_case > limit:
            raise EngineStop(
                "BudgetExceeded",
                f"BudgetExceeded: phase {index} has {limit - spent:,} of {limit:,} tokens left, "
                f"the next call could use {worst_case:,}",
            )

    def complete(
        self,
        *,
        role: str,
        phase: PhaseDefinition | None,
        phase_index: int | None,
        attempt: int,
        failures: int,
        system: str,
        messages: list[tuple[str, str]],
        max_tokens: int,
    ) -> ModelReply:
        """Replay the next recorded response for ``role`` within the budgets."""
        del failures
        estimate = input_upper_bound(system, messages)
        self._check_budget(phase=phase, index=phase_index, worst_case=estimate + max_tokens)
        started = time.perf_counter()
        self.cassette.requests.append((role, messages[-1][1] if messages else ""))
        try:
            response = self.cassette.next(role)
        except CassetteError as exc:
            raise EngineStop("ProviderError", str(exc)) from None
        latency = int((time.perf_counter() - started) * 1000)
        used = (response.input_tokens or 0) + (response.output_tokens or 0)
        self.used_tokens += used
        if phase_index is not None:
            self.phase_tokens[phase_index] = self.phase_tokens.get(phase_index, 0) + used
        truncated = response.stop_reason in ("max_tokens", "length")
        outcome = "truncated" if truncated else "ok"
        self.emit(
            events.ModelCalled(
                run=self.run,
                at=self.now(),
                role=role,
                model=f"scripted/{self.cassette.model}",
                outcome=outcome,
                input_tokens=response.input_tokens,
                output_tokens=response.output_tokens,
                cost_usd=0.0,
                index=phase_index,
                attempt=attempt,
                provider="scripted",
                latency_ms=latency,
                stop_reason=response.stop_reason,
                pricing_version="scripted",
            )
        )
        return ModelReply(text=response.text, model=self.cassette.model, truncated=truncated)
