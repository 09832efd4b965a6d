"""Anthropic's Messages API through the official SDK, with a prompt-cache breakpoint.

The system prompt (role, edit format, phase — the stable part) carries a cache breakpoint so
attempts of a phase read it from the provider's cache; usage reports cache reads and writes.
"""

import time

import anthropic

from autopack.llm import errors
from autopack.llm.types import Completion, RawUsage


class AnthropicModel:
    """One Anthropic model."""

    provider = "anthropic"

    def __init__(
        self, name: str, *, api_key: str, base_url: str | None = None, timeout: float = 120.0
    ) -> None:
        """Create a client that never retries on its own (our layer owns retries)."""
        self.name = name
        self._client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout
        )

    def complete(
        self, *, system: str, messages: list[tuple[str, str]], max_tokens: int
    ) -> Completion:
        """Call the Messages API once."""
        started = time.perf_counter()
        try:
            response = self._client.messages.create(
                model=self.name,
                max_tokens=max_tokens,
                system=[{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
                messages=[{"role": role, "content": text} for role, text in messages],  # type: ignore[misc]
            )
        except anthropic.AnthropicError as exc:
            raise errors.classify(exc, provider=self.provider) from None
        usage = response.usage
        text = "".join(getattr(block, "text", "") for block in response.content)
        stop = str(response.stop_reason or "")
        return Completion(
            text=text,
            stop_reason=stop,
            truncated=stop == "max_tokens",
            usage=RawUsage(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_read_tokens=getattr(usage, "cache_read_input_tokens", None),
                cache_write_tokens=getattr(usage, "cache_creation_input_tokens", None),
            ),
            model=response.model,
            provider=self.provider,
            latency_ms=int((time.perf_counter() - started) * 1000),
        )
