"""An upper bound of a prompt's input tokens, for the check made before every model call.

The pre-call budget check (``autopack.llm.routed``) must never let a call exceed the
budget, so it uses an upper bound, not a tokenizer's count (tokenizers differ between
providers); context budgets count real tokens (:mod:`autopack.llm.tokens`).
"""

FRAMING_TOKENS = 64
"""Tokens a provider adds around a request (its own system framing), beyond the texts."""
TOKENS_PER_MESSAGE = 8
"""Tokens a provider adds around each message (role markers)."""


def input_upper_bound(system: str, messages: list[tuple[str, str]]) -> int:
    """An upper bound of a prompt's input tokens: its UTF-8 bytes plus the providers' framing.

    A token covers at least one byte. Pessimistic on purpose: the pre-call check must never
    let a call exceed the budget.
    """
    texts = len(system.encode()) + sum(len(text.encode()) for _, text in messages)
    return texts + FRAMING_TOKENS + TOKENS_PER_MESSAGE * (len(messages) + 1)
