"""The Models port over real providers: routing, budgets before the call, exact ledger after.

For each call the profile's route gives the model to use (escalated after failures); the
worst case (input estimate plus ``max_tokens``, priced at the model's highest input rate) is
checked against the run's and phase's remaining tokens and dollars, and a call that could
exceed them is not made. Transient errors are retried; when a provider stays overloaded or
unreachable the route's next model (another provider) is tried. Usage and cost are recorded
exactly as reported.
"""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from autopack.api import ModelChains, PhaseDefinition
from autopack.llm.budgets import input_upper_bound
from autopack.llm import errors
from autopack.llm.anthropic_provider import AnthropicModel
from autopack.llm.openai_provider import OpenAIModel
from autopack.llm.pricing import PriceTable
from autopack.llm.retrying import call_with_retries
from autopack.llm.routing import ModelEntry, ModelsConfig, route
from autopack.llm.types import CallRecord, Completion, Model

_KEYS = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}


def api_key(provider: str) -> str:
    """Read a provider key from the environment or ``AUTOPACK_MODEL_CREDENTIALS_DIR``."""
    variable = _KEYS[provider]
    value = os.environ.get(variable, "")
    directory = os.environ.get("AUTOPACK_MODEL_CREDENTIALS_DIR")
    if not value and directory and (Path(directory) / variable).is_file():
        value = (Path(directory) / variable).read_text(encoding="utf-8").strip()
    if not value:
        raise errors.MissingCredentialsError(
            f"{variable} is not set: export it, mount it under AUTOPACK_MODEL_CREDENTIALS_DIR, "
            "or use the scripted provider (--cassette)"
        )
    return value


def default_factory(entry: ModelEntry, role: str) -> Model:
    """Build the SDK-backed model for an alias (base URLs from ANTHROPIC_/OPENAI_BASE_URL)."""
    del role
    if entry.provider == "scripted":
        raise errors.MissingCredentialsError(
            "the scripted profile replays a cassette: pass --cassette FILE (AUTOPACK_CASSETTE)"
        )
    if entry.provider == "anthropic":
        return AnthropicModel(
            entry.name,
            api_key=api_key("anthropic"),
            base_url=os.environ.get("ANTHROPIC_BASE_URL") or None,
        )
    return OpenAIModel(
        entry.name, api_key=api_key("openai"), base_url=os.environ.get("OPENAI_BASE_URL") or None
    )


@dataclass
class RoutedModels:
    """Budgeted, routed, recorded calls to real providers."""

    config: ModelsConfig
    prices: PriceTable
    profile: str
    run: str
    run_tokens: int
    run_cost: Decimal
    record: Callable[[CallRecord], None]
    overrides: ModelChains | None = None
    factory: Callable[[ModelEntry, str], Model] = default_factory
    sleep: Callable[[float], None] = time.sleep
    used_tokens: int = 0
    used_cost: Decimal = Decimal(0)
    phase_tokens: dict[int, int] = field(default_factory=dict)
    phase_cost: dict[int, Decimal] = field(default_factory=dict)

    def _route(self, role: str, phase: PhaseDefinition | None, failures: int) -> list[str]:
        return route(
            self.config,
            profile=self.profile,
            role=role,
            complexity=phase.complexity if phase else "medium",
            failures=failures,
            overrides=self.overrides,
        )

    def model_for(self, *, role: str, phase: PhaseDefinition, failures: int) -> str:
        """Name the model the next call would use."""
        return self.config.models[self._route(role, phase, failures)[0]].name

    def _check(
        self,
        *,
        entry: ModelEntry,
        phase: PhaseDefinition | None,
        index: int | None,
        input_tokens: int,
        max_tokens: int,
    ) -> None:
        tokens = input_tokens + max_tokens
        cost = self.prices.worst_case(
            entry.name, input_tokens=input_tokens, output_tokens=max_tokens
        )
        limits = [("run", self.run_tokens - self.used_tokens, self.run_cost - self.used_cost)]
        if phase is not None and index is not None:
            spent_tokens = self.phase_tokens.get(index, 0)
            spent_cost = self.phase_cost.get(index, Decimal(0))
            token_cap = phase.budgets.tokens
            cost_cap = phase.budgets.cost_usd
            limits.append(
                (
                    f"phase {index}",
                    (token_cap - spent_tokens) if token_cap is not None else tokens,
                    (Decimal(str(cost_cap)) - spent_cost) if cost_cap is not None else cost,
                )
            )
        for scope, tokens_left, cost_left in limits:
            if tokens > tokens_left or cost > cost_left:
                raise errors.BudgetExceededError(
                    f"a {entry.name} call could use {tokens:,} tokens / "
                    f"${cost:.4f} but the {scope} has {max(tokens_left, 0):,} tokens / "
                    f"${max(cost_left, Decimal(0)):.4f} left"
                )

    def _record(
        self,
        *,
        role: str,
        entry: ModelEntry,
        completion: Completion | None,
        index: int | None,
        attempt: int,
        error: errors.LlmError | None,
    ) -> Decimal:
        cost = self.prices.cost(entry.name, completion.usage) if completion else Decimal(0)
        usage = completion.usage if completion else None
        if completion is not None:
            used = (usage.input_tokens or 0) + (usage.output_tokens or 0) if usage else 0
            used += (usage.cache_read_tokens or 0) + (usage.cache_write_tokens or 0) if usage else 0
            self.used_tokens += used
            self.used_cost += cost
            if index is not None:
                self.phase_tokens[index] = self.phase_tokens.get(index, 0) + used
                self.phase_cost[index] = self.phase_cost.get(index, Decimal(0)) + cost
        outcome = (
            ("truncated" if completion and completion.truncated else "ok")
            if completion
            else "error"
        )
        self.record(
            CallRecord(
                role=role,
                provider=entry.provider,
                model=entry.name,
                outcome=outcome,
                usage=usage,
                cost_usd=float(cost),
                phase_index=index,
                attempt=attempt,
                latency_ms=completion.latency_ms if completion else 0,
                stop_reason=completion.stop_reason if completion else None,
                pricing_version=self.prices.version,
                error_type=type(error).__name__ if error else None,
                error_message=str(error)[:2000] if error else None,
            )
        )
        return cost

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
    ) -> Completion:
        """Call the routed model (falling back across providers); stop the run when it may not."""
        estimate = input_upper_bound(system, messages)
        last: errors.LlmError | None = None
        for alias in self._route(role, phase, failures):
            entry = self.config.models[alias]
            limit = min(max_tokens, entry.max_output_tokens)
            self._check(
                entry=entry, phase=phase, index=phase_index, input_tokens=estimate, max_tokens=limit
            )
            model = self.factory(entry, role)
            try:
                completion = call_with_retries(
                    lambda m=model, n=limit: m.complete(
                        system=system,
                        messages=messages,  # type: ignore[misc]
                        max_tokens=n,
                    ),
                    policy=self.config.retries,
                    sleep=self.sleep,
                )
            except errors.LlmError as exc:
                self._record(
                    role=role,
                    entry=entry,
                    completion=None,
                    index=phase_index,
                    attempt=attempt,
                    error=exc,
                )
                if not exc.retryable:
                    raise
                last = exc
                continue
            self._record(
                role=role,
                entry=entry,
                completion=completion,
                index=phase_index,
                attempt=attempt,
                error=None,
            )
            return completion
        raise errors.ProviderUnavailableError(f"every model of the route failed; last: {last}")
