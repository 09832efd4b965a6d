"""The model layer: calls you can trust with money.

- ``types``: :class:`~autopack.llm.types.Prompt` (blocks flagged for caching), the normalized
  :class:`~autopack.llm.types.RawUsage`, :class:`~autopack.llm.types.CallRecord` (one per HTTP
  try), :class:`~autopack.llm.types.RetryWait` and :class:`~autopack.llm.types.RouteNote`.
- ``anthropic_provider`` / ``openai_provider``: one streamed call through the official SDKs,
  with an idle timeout between chunks and an overall cap; usage from the final message.
- ``errors``: typed errors from both SDKs; ``retrying``: the providers' retry rules;
  ``health``: circuit breakers per provider and model; ``deadlines``: the overall cap.
- ``routing``: models.yaml (profiles, chains, quirks, same-tier fallbacks, retries, timeouts);
  ``pricing``: pricing.yaml; ``budgets``: the pre-call upper bound; ``tokens``: offline counts.
- ``routed``: :class:`~autopack.llm.routed.RoutedModels`, the one entry point: budgets from the
  run's ledger, retries, failover, breakers, the ledger. It raises ``BudgetExceededError`` (stop
  the run), ``ProviderUnavailableError`` (an outage: a failed attempt) or another ``LlmError``
  (fatal).
- ``scripted``: the cassette replay used by the offline demo and tests.
"""
