"""The Models port over real providers: routing, budgets before each try, the ledger after it.

For each call the profile's route gives the model (escalated along its chain after failed
attempts — a quality signal) and that model's same-tier fallbacks (for outages only). Before
every HTTP try the worst case (input upper bound plus ``max_tokens`` at the model's highest
input rate) is checked against what the run and the phase have left, starting from what the
run and the phase had already spent (``spent_tokens`` / ``spent_cost`` / ``spent_by_phase``:
its ledger), so re-runs and restarts continue from there. Retryable errors are retried on the
same model as the providers document (:mod:`autopack.llm.retrying`), each wait reported through
``on_wait``; a model that stays down trips its circuit breaker (:mod:`autopack.llm.health`,
shared by all calls of the run) and the call fails over. Every HTTP try — success or error —
is reported through ``record``.

Contracts the engine relies on: :class:`errors.BudgetExceededError` (the run stops),
:class:`errors.ProviderUnavailableError` (an outage: a failed attempt against the health budget;
its message names the original error), any other :class:`errors.LlmError` (fatal).
"""

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from autopack.api import ModelChains, PhaseDefinition
from autopack.llm import errors
from autopack.llm.budgets import input_upper_bound
from autopack.llm.health import CircuitBreakers
from autopack.llm.pricing import PriceTable
from autopack.llm.providers import ModelFactory, api_key, default_factory, sdk_factory
from autopack.llm.retrying import next_wait
from autopack.llm.routing import ModelEntry, ModelsConfig, route
from autopack.llm.types import (
    CallRecord,
    Completion,
    Model,
    Prompt,
    RawUsage,
    RetryWait,
    RouteNote,
)
from autopack.redaction import redact

# The factories moved to autopack.llm.providers; callers still import them from here.
__all__ = ["ModelFactory", "RoutedModels", "api_key", "default_factory", "sdk_factory"]


@dataclass(frozen=True)
class _Call:
    """Who is asking: for the ledger and the budget."""

    role: str
    phase: PhaseDefinition | None
    index: int | None
    attempt: int


@dataclass
class RoutedModels:
    """Budgeted, routed, retried, recorded calls to real providers."""

    config: ModelsConfig
    prices: PriceTable
    profile: str
    run: str
    run_tokens: int
    run_cost: Decimal
    record: Callable[[CallRecord], None]
    overrides: ModelChains | None = None
    factory: ModelFactory | None = None
    """None (or ``default_factory``): SDK-backed models with models.yaml's timeouts."""
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    on_wait: Callable[[RetryWait], None] | None = None
    on_note: Callable[[RouteNote], None] | None = None
    spent_tokens: int = 0
    """Tokens the run spent before this session (its ledger)."""
    spent_cost: Decimal = Decimal(0)
    """Dollars the run spent before this session (its ledger)."""
    spent_by_phase: Mapping[int, tuple[int, Decimal]] = field(default_factory=dict)
    """Tokens and dollars each phase spent before this session: phase budgets start there."""
    before_call: Callable[[], None] | None = None
    """Called before every request to a provider; raises :class:`errors.LedgerUnavailableError`
    when the ledger of earlier calls is not durable and cannot be made so (a runner whose
    Phases are the ledger could not write them): no money is spent that could go unrecorded."""
    breakers: CircuitBreakers | None = None
    """Shared by all calls of the run; built from ``config.breaker`` when not given."""
    _health: CircuitBreakers = field(init=False, repr=False)
    used_tokens: int = field(init=False)
    used_cost: Decimal = field(init=False)
    phase_tokens: dict[int, int] = field(default_factory=dict)
    phase_cost: dict[int, Decimal] = field(default_factory=dict)
    _models: dict[tuple[str, str], Model] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        """Start the ledger from what the run already spent; build the breakers."""
        self.used_tokens = self.spent_tokens
        self.used_cost = Decimal(self.spent_cost)
        for index, (tokens, cost) in self.spent_by_phase.items():
            self.phase_tokens[index] = self.phase_tokens.get(index, 0) + tokens
            self.phase_cost[index] = self.phase_cost.get(index, Decimal(0)) + Decimal(cost)
        self._health = self.breakers or CircuitBreakers(
            failures=self.config.breaker.failures,
            cooldown_seconds=self.config.breaker.cooldown_seconds,
            clock=self.clock,
        )

    def close(self) -> None:
        """Close the models' HTTP connections (call when the session ends)."""
        for model in self._models.values():
            closer = getattr(model, "close", None)
            if callable(closer):
                closer()
        self._models.clear()

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

    def remaining(self) -> tuple[int, Decimal]:
        """Tokens and dollars the run has left."""
        return self.run_tokens - self.used_tokens, self.run_cost - self.used_cost

    # -- budget -----------------------------------------------------------------------------

    def _check(self, *, entry: ModelEntry, call: _Call, input_tokens: int, max_tokens: int) -> None:
        tokens = input_tokens + max_tokens
        cost = self.prices.worst_case(
            entry.name, input_tokens=input_tokens, output_tokens=max_tokens
        )
        limits = [("run", self.run_tokens - self.used_tokens, self.run_cost - self.used_cost)]
        if call.phase is not None and call.index is not None:
            spent_tokens = self.phase_tokens.get(call.index, 0)
            spent_cost = self.phase_cost.get(call.index, Decimal(0))
            token_cap = call.phase.budgets.tokens
            cost_cap = call.phase.budgets.cost_usd
            limits.append(
                (
                    f"phase {call.index}",
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

    # -- ledger -----------------------------------------------------------------------------

    def _charge(self, *, entry: ModelEntry, usage: RawUsage | None, index: int | None) -> Decimal:
        if usage is None:
            return Decimal(0)
        cost = self.prices.cost(entry.name, usage)
        self.used_tokens += usage.total
        self.used_cost += cost
        if index is not None:
            self.phase_tokens[index] = self.phase_tokens.get(index, 0) + usage.total
            self.phase_cost[index] = self.phase_cost.get(index, Decimal(0)) + cost
        return cost

    def _record(
        self,
        *,
        call: _Call,
        entry: ModelEntry,
        tries: int,
        fallback_from: str | None,
        completion: Completion | None = None,
        error: errors.LlmError | None = None,
        latency_ms: int = 0,
    ) -> None:
        usage = completion.usage if completion else (error.partial_usage if error else None)
        status = error.status_code if error is not None else None
        cost = self._charge(entry=entry, usage=usage, index=call.index)
        if completion is not None:
            outcome = "truncated" if completion.truncated else "ok"
        else:
            outcome = "error"
        self.record(
            CallRecord(
                role=call.role,
                provider=entry.provider,
                model=entry.name,
                outcome=outcome,
                usage=usage,
                cost_usd=float(cost),
                phase_index=call.index,
                attempt=call.attempt,
                latency_ms=completion.latency_ms if completion else latency_ms,
                stop_reason=completion.stop_reason if completion else None,
                pricing_version=self.prices.version,
                error_type=type(error).__name__ if error else None,
                error_message=redact(str(error))[:2000] if error else None,
                status_code=completion.status_code if completion else status,
                try_number=tries,
                fallback_from=fallback_from,
            )
        )

    def _note(self, entry: ModelEntry, message: str) -> None:
        if self.on_note is not None:
            self.on_note(RouteNote(provider=entry.provider, model=entry.name, message=message))

    def _wait(self, wait: RetryWait) -> None:
        if self.on_wait is not None:
            self.on_wait(wait)
        self.sleep(wait.seconds)

    # -- calls ------------------------------------------------------------------------------

    def _model(self, entry: ModelEntry, role: str) -> Model:
        key = (entry.name, role)
        if key not in self._models:
            factory = self.factory
            if factory is None or factory is default_factory:
                factory = sdk_factory(self.config.timeouts)  # honour models.yaml's timeouts
            self._models[key] = factory(entry, role)
        return self._models[key]

    def _try(
        self,
        *,
        entry: ModelEntry,
        model: Model,
        call: _Call,
        prompt: Prompt,
        estimate: int,
        limit: int,
        fallback_from: str | None,
    ) -> Completion | errors.LlmError:
        """Call one model, retrying on it as documented; return the answer or the give-up error.

        Non-retryable errors are raised.
        """
        waited = 0.0
        tries = 0
        while True:
            tries += 1
            self._check(entry=entry, call=call, input_tokens=estimate, max_tokens=limit)
            if self.before_call is not None:
                self.before_call()
            began = time.perf_counter()
            try:
                completion = model.complete(prompt=prompt, max_tokens=limit)
            except errors.LlmError as exc:
                latency = int((time.perf_counter() - began) * 1000)
                self._record(
                    call=call,
                    entry=entry,
                    tries=tries,
                    fallback_from=fallback_from,
                    error=exc,
                    latency_ms=latency,
                )
                if not exc.retryable:
                    self._health.succeeded(entry.provider, entry.name)  # up, but refusing
                    raise
                self._health.failed(entry.provider, entry.name, exc)
                wait = next_wait(
                    exc,
                    tries=tries,
                    elapsed=waited,
                    policy=self.config.retries,
                    rng=self.rng,
                )
                if wait is None or self._health.is_open(entry.provider, entry.name):
                    self._health.gave_up(entry.provider, entry.name, exc)
                    return exc
                waited += wait
                self._wait(
                    RetryWait(
                        provider=entry.provider,
                        model=entry.name,
                        reason=exc.reason,
                        seconds=wait,
                        retry=tries,
                        max_retries=self.config.retries.attempts_for(exc) - 1,
                        error_type=type(exc).__name__,
                        retry_after=exc.retry_after,
                    )
                )
                continue
            self._health.succeeded(entry.provider, entry.name)
            self._record(
                call=call,
                entry=entry,
                tries=tries,
                fallback_from=fallback_from,
                completion=completion,
            )
            return completion

    def complete(
        self,
        *,
        role: str,
        phase: PhaseDefinition | None,
        phase_index: int | None,
        attempt: int,
        failures: int,
        max_tokens: int,
        system: str | None = None,
        messages: Sequence[tuple[str, str]] | None = None,
        prompt: Prompt | None = None,
    ) -> Completion:
        """Call the routed model, failing over to same-tier fallbacks during an outage.

        Pass either ``prompt`` (structured, cache-friendly) or ``system`` and ``messages``.
        """
        if prompt is None:
            prompt = Prompt.plain(system or "", list(messages or []))
        call = _Call(role=role, phase=phase, index=phase_index, attempt=attempt)
        estimate = input_upper_bound(prompt.system_text, prompt.as_pairs())
        aliases = self._route(role, phase, failures)
        for _ in range(2):  # a second pass only after waiting for an open breaker's trial
            outcome = self._through_route(
                aliases=aliases, call=call, prompt=prompt, estimate=estimate, max_tokens=max_tokens
            )
            if isinstance(outcome, Completion):
                return outcome
            original, tried, soonest = outcome
            if tried or soonest is None or soonest > self.config.retries.max_retry_after_seconds:
                break
            entry = self.config.models[aliases[0]]
            self._wait(
                RetryWait(
                    provider=entry.provider,
                    model=entry.name,
                    reason="down (circuit open)",
                    seconds=soonest,
                    retry=1,
                    max_retries=1,
                    error_type=type(original).__name__ if original else "CircuitOpen",
                )
            )
        raise errors.ProviderUnavailableError(
            f"every route failed; the first error: {original}"
            if original is not None
            else "every route failed: no model of the route could be called",
            original=original,
        )

    def _through_route(
        self,
        *,
        aliases: list[str],
        call: _Call,
        prompt: Prompt,
        estimate: int,
        max_tokens: int,
    ) -> Completion | tuple[errors.LlmError | None, bool, float | None]:
        """Try the route once; on failure return (original error, any call made, soonest trial)."""
        original: errors.LlmError | None = None
        missing: errors.MissingCredentialsError | None = None
        tried = False
        soonest: float | None = None
        previous: str | None = None
        for position, alias in enumerate(aliases):
            entry = self.config.models[alias]
            try:
                model = self._model(entry, call.role)
            except errors.MissingCredentialsError as exc:
                missing = missing or exc
                self._note(entry, f"{'fallback ' if position else ''}{entry.name} skipped: {exc}")
                continue
            if not self._health.allows(entry.provider, entry.name):
                original = original or self._health.opened_by(entry.provider, entry.name)
                wait = self._health.reopens_in(entry.provider, entry.name)
                soonest = wait if soonest is None else min(soonest, wait)
                self._note(entry, f"{entry.name} skipped: its circuit is open after: {original}")
                previous = previous or entry.name
                continue
            tried = True
            limit = min(max_tokens, entry.max_output_tokens)
            try:
                outcome = self._try(
                    entry=entry,
                    model=model,
                    call=call,
                    prompt=prompt,
                    estimate=estimate,
                    limit=limit,
                    fallback_from=previous if position else None,
                )
            except errors.BudgetExceededError:
                raise
            except errors.LlmError as exc:
                if position == 0 or original is None:
                    raise  # the primary's own fatal error (auth, invalid request) stops the run
                self._note(entry, f"fallback {entry.name} failed: {exc}")
                continue
            if isinstance(outcome, Completion):
                return outcome
            original = original or outcome
            previous = previous or entry.name
            self._note(entry, f"{entry.name} {outcome.reason}; failing over: {outcome}")
        if original is None and missing is not None and not tried:
            raise missing
        return original, tried, soonest
