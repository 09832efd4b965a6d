"""Sizes for budgets: an upper bound of a prompt's input tokens, and a rough context measure.

The pre-call budget check (``autopack.engine.providers``) must never let a call exceed the
budget, so it uses an upper bound, not an estimate; context budgets only need a rough size.
"""

CHARS_PER_TOKEN = 4  # rough size of prompt context in tokens (display and context budgets only)


def input_upper_bound(system: str, messages: list[tuple[str, str]]) -> int:
    """An upper bound of a prompt's input tokens: its UTF-8 bytes (a token covers >= 1 byte).

    Pessimistic on purpose: the pre-call check must never let a call exceed the budget.
    """
    return len(system.encode()) + sum(len(text.encode()) for _, text in messages)
