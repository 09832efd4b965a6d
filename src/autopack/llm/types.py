"""The model protocol: one call, messages in; text, stop reason, raw usage, model, latency out."""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class RawUsage:
    """Token counts exactly as the provider reported them (None when not reported)."""

    input_tokens: int | None
    output_tokens: int | None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None


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


class Model(Protocol):
    """A provider's model: makes one call (no retries; the caller owns those)."""

    provider: str
    name: str

    def complete(
        self, *, system: str, messages: list[tuple[str, str]], max_tokens: int
    ) -> Completion:
        """Send the conversation; raise an :class:`autopack.llm.errors.LlmError` on failure."""


@dataclass(frozen=True)
class CallRecord:
    """One model call as the ledger records it: who asked, which model, usage and cost."""

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
