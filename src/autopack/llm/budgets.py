"""An upper bound of a prompt's input tokens, for the check made before every model call.

The pre-call budget check (``autopack.llm.routed``) must never let a call exceed the
budget, so it uses an upper bound, not a tokenizer's count (tokenizers differ between
providers); context budgets count real tokens (:mod:`autopack.llm.tokens`).
"""


def input_upper_bound(system: str, messages: list[tuple[str, str]]) -> int:
    """An upper bound of a prompt's input tokens: its UTF-8 bytes (a token covers >= 1 byte).

    Pessimistic on purpose: the pre-call check must never let a call exceed the budget.
    """
    return len(system.encode()) + sum(len(text.encode()) for _, text in messages)
