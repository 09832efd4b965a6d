"""Spend added up from ledger rows: input, cache read, cache write and output tokens, and cost.

The console, the run summary and the Kubernetes status show these four token counts and the
cost the same way for every provider (input excludes cached input).
"""

from dataclasses import dataclass

from autopack.llm.types import CallRecord


@dataclass
class Spend:
    """A running total of model usage."""

    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0

    def add(self, call: CallRecord) -> None:
        """Add one call's usage and cost."""
        usage = call.usage
        if usage is not None:
            self.input_tokens += usage.input_tokens or 0
            self.cache_read_tokens += usage.cache_read_tokens or 0
            self.cache_write_tokens += usage.cache_write_tokens or 0
            self.output_tokens += usage.output_tokens or 0
        self.cost_usd += call.cost_usd
        self.calls += 1

    @property
    def tokens(self) -> int:
        """Every token billed: input, cache read, cache write and output."""
        return (
            self.input_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
            + self.output_tokens
        )

    def describe(self) -> str:
        """One line: the four token counts and the cost."""
        return (
            f"{self.input_tokens:,} in · {self.cache_read_tokens:,} cache read · "
            f"{self.cache_write_tokens:,} cache write · {self.output_tokens:,} out · "
            f"${self.cost_usd:.4f}"
        )
