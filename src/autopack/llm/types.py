"""The model protocol and the values that cross it: prompts, completions, usage, ledger records.

A :class:`Prompt` is laid out for provider caches: blocks flagged ``cache=True`` end a prefix
that is stable between calls (Anthropic puts a ``cache_control`` breakpoint there; OpenAI's
automatic prefix cache gains from the same order). :class:`RawUsage` is one normalized form for
every provider: ``input_tokens`` never include cache reads or writes.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

Role = Literal["user", "assistant"]


def _role(role: str) -> Role:
    return "assistant" if role == "assistant" else "user"


@dataclass(frozen=True)
class PromptBlock:
    """A piece of text; ``cache=True`` marks the end of a prefix worth caching."""

    text: str
    cache: bool = False


@dataclass(frozen=True)
class Message:
    """One conversation turn made of blocks."""

    role: Role
    blocks: tuple[PromptBlock, ...]

    @property
    def text(self) -> str:
        """The turn's text, blocks joined in order."""
        return "".join(block.text for block in self.blocks)


@dataclass(frozen=True)
class Prompt:
    """System blocks, then messages, in the order providers cache prefixes."""

    system: tuple[PromptBlock, ...]
    messages: tuple[Message, ...]

    @classmethod
    def plain(cls, system: str, messages: Sequence[tuple[str, str]]) -> "Prompt":
        """The string form the engine uses today: the system text is the one cached block."""
        return cls(
            system=(PromptBlock(system, cache=True),) if system else (),
            messages=tuple(
                Message(role=_role(role), blocks=(PromptBlock(text),)) for role, text in messages
            ),
        )

    def then(self, turns: Sequence[tuple[str, str]]) -> "Prompt":
        """This prompt followed by plain turns (a continuation, a re-ask): the prefix stays."""
        added = tuple(
            Message(role=_role(role), blocks=(PromptBlock(text),)) for role, text in turns
        )
        return Prompt(system=self.system, messages=self.messages + added)

    @property
    def system_text(self) -> str:
        """All system blocks joined."""
        return "".join(block.text for block in self.system)

    def texts(self) -> list[str]:
        """Every block's text, in prompt order."""
        return [b.text for b in self.system] + [b.text for m in self.messages for b in m.blocks]

    def as_pairs(self) -> list[tuple[str, str]]:
        """Messages as (role, text) pairs."""
        return [(message.role, message.text) for message in self.messages]

    def breakpoints(self) -> int:
        """How many blocks are flagged for caching."""
        return sum(1 for b in self.system if b.cache) + sum(
            1 for m in self.messages for b in m.blocks if b.cache
        )


@dataclass(frozen=True)
class RawUsage:
    """Token counts in one normalized form (None when the provider did not report them).

    ``input_tokens`` is input billed at the full rate: Anthropic's ``input_tokens``; OpenAI's
    ``prompt_tokens`` minus ``cached_tokens``. Cache reads and writes are separate, so no token
    is counted twice. ``reasoning_tokens`` are part of ``output_tokens`` (informational).
    """

    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None

    @property
    def total(self) -> int:
        """Every billed token: input, cache read, cache write and output."""
        return (
            (self.input_tokens or 0)
            + (self.cache_read_tokens or 0)
            + (self.cache_write_tokens or 0)
            + (self.output_tokens or 0)
        )

    @property
    def prompt_total(self) -> int:
        """All input tokens, whether read from cache, written to it, or neither."""
        cached = (self.cache_read_tokens or 0) + (self.cache_write_tokens or 0)
        return (self.input_tokens or 0) + cached


@dataclass(frozen=True)
class Completion:
    """One model answer."""

    text: str
    stop_reason: str
    truncated: bool
    usage: RawUsage
    model: str
    provider: str
    latency_ms: int
    status_code: int | None = 200


class Model(Protocol):
    """A provider's model: makes one HTTP call (no retries; the caller owns those)."""

    provider: str
    name: str

    def complete(self, *, prompt: Prompt, max_tokens: int) -> Completion:
        """Send the prompt; raise an :class:`autopack.llm.errors.LlmError` on failure."""


@dataclass(frozen=True)
class CallRecord:
    """One HTTP attempt as the ledger records it: who asked, which model, usage and cost.

    Every attempt is recorded, failed ones too (``outcome="error"``, with the HTTP status, the
    error type and a redacted message; ``usage`` is the partial usage a cut stream reported).
    """

    role: str
    provider: str
    model: str
    outcome: str  # ok | truncated | error
    usage: RawUsage | None
    cost_usd: float
    phase_index: int | None
    attempt: int | None
    latency_ms: int = 0
    stop_reason: str | None = None
    pricing_version: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    status_code: int | None = None
    try_number: int = 1
    """Which HTTP try of this model for this call (1 = first)."""
    fallback_from: str | None = None
    """The model this call failed over from, when it is a fallback."""


@dataclass(frozen=True)
class RetryWait:
    """A wait before retrying a model call, for people ("retrying in 12 s (3/6)") and events."""

    provider: str
    model: str
    reason: str
    seconds: float
    retry: int
    max_retries: int
    error_type: str
    retry_after: float | None = None

    @property
    def message(self) -> str:
        """The line printed for this wait."""
        return (
            f"{self.provider} {self.reason}, retrying {self.model} in {self.seconds:.0f} s "
            f"({self.retry}/{self.max_retries})"
        )


@dataclass(frozen=True)
class RouteNote:
    """Something routing decided that a person should know (a skipped fallback, an open breaker)."""

    provider: str
    model: str
    message: str


@dataclass(frozen=True)
class StreamTimeouts:
    """How long a streamed call may take: to connect, between chunks, and overall."""

    connect_seconds: float = 10.0
    idle_seconds: float = 60.0
    total_seconds: float = 600.0
