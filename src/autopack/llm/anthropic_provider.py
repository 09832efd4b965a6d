"""Anthropic's Messages API through the official SDK's streaming helper, with cache breakpoints.

Every call streams (``client.messages.stream``): the read timeout is the idle timeout between
chunks and a watchdog caps the whole call, even a stream kept alive by pings, so a slow but
live answer is never cut short by a fixed timeout and a hung server is noticed quickly. Usage
comes from the final message; when a stream breaks off, the usage it reported so far travels
with the error so the ledger records what the provider bills. Prompt blocks flagged
``cache=True`` get ``cache_control`` (at most four, the last four: later breakpoints cover
longer prefixes).
"""

import time
from typing import Any

import anthropic
import httpx2

from autopack import redaction
from autopack.llm import deadlines, errors
from autopack.llm.types import Completion, Prompt, PromptBlock, RawUsage, StreamTimeouts

MAX_BREAKPOINTS = 4


def _flagged(prompt: Prompt) -> set[int]:
    """Positions (in prompt order) of the blocks that keep a breakpoint: the last four flagged."""
    blocks = [*prompt.system, *(b for m in prompt.messages for b in m.blocks)]
    flagged = [index for index, block in enumerate(blocks) if block.cache]
    return set(flagged[-MAX_BREAKPOINTS:])


def wire_request(prompt: Prompt) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``system`` and ``messages`` parameters for ``prompt``."""
    keep = _flagged(prompt)
    position = 0

    def block(item: PromptBlock) -> dict[str, Any]:
        nonlocal position
        wire: dict[str, Any] = {"type": "text", "text": item.text}
        if position in keep:
            wire["cache_control"] = {"type": "ephemeral"}
        position += 1
        return wire

    system = [block(item) for item in prompt.system]
    messages = [
        {"role": message.role, "content": [block(item) for item in message.blocks]}
        for message in prompt.messages
    ]
    return system, messages


def normalized_usage(usage: Any) -> RawUsage:
    """Anthropic's usage as reported: input excludes cache reads and writes already."""
    if usage is None:
        return RawUsage(None, None)
    details = getattr(usage, "output_tokens_details", None)
    return RawUsage(
        input_tokens=getattr(usage, "input_tokens", None),
        output_tokens=getattr(usage, "output_tokens", None),
        cache_read_tokens=getattr(usage, "cache_read_input_tokens", None),
        cache_write_tokens=getattr(usage, "cache_creation_input_tokens", None),
        reasoning_tokens=getattr(details, "thinking_tokens", None) if details else None,
    )


class AnthropicModel:
    """One Anthropic model."""

    provider = "anthropic"

    def __init__(
        self,
        name: str,
        *,
        api_key: str,
        base_url: str | None = None,
        timeouts: StreamTimeouts | None = None,
        timeout: float | None = None,
        streaming: bool = True,
    ) -> None:
        """Create a client that never retries on its own (our layer owns retries).

        ``timeout`` (seconds) is a shorthand for an idle timeout and cap of that length.
        """
        self.name = name
        redaction.register(api_key)  # an error body that echoes the key is masked
        self.timeouts = timeouts = deadlines.stream_timeouts(timeouts, timeout)
        self.streaming = streaming
        self._client = anthropic.Anthropic(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            timeout=deadlines.http_timeouts(timeouts),
        )

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()

    def complete(self, *, prompt: Prompt, max_tokens: int) -> Completion:
        """Make one call (streamed unless the model's quirks say otherwise)."""
        started = time.perf_counter()
        system, messages = wire_request(prompt)
        request: dict[str, Any] = {
            "model": self.name,
            "max_tokens": max_tokens,
            "system": system,
            "messages": messages,
        }
        message = self._stream(request) if self.streaming else self._create(request)
        text = "".join(getattr(block, "text", "") for block in message.content)
        stop = str(message.stop_reason or "")
        return Completion(
            text=text,
            stop_reason=stop,
            truncated=stop == "max_tokens",
            usage=normalized_usage(message.usage),
            model=message.model,
            provider=self.provider,
            latency_ms=int((time.perf_counter() - started) * 1000),
        )

    def _create(self, request: dict[str, Any]) -> Any:
        try:
            return self._client.messages.create(**request)
        except anthropic.AnthropicError as exc:
            raise errors.classify(exc, provider=self.provider) from None

    def _stream(self, request: dict[str, Any]) -> Any:
        snapshot: Any = None
        watchdog = deadlines.Watchdog()
        cap = self.timeouts.total_seconds
        try:
            with (
                self._client.messages.stream(**request) as stream,
                deadlines.capped(cap, stream.close) as watchdog,
            ):
                for event in stream:
                    if event.type == "message_start":
                        snapshot = stream.current_message_snapshot
                message = stream.get_final_message()
        except (anthropic.AnthropicError, httpx2.HTTPError) as exc:
            partial = normalized_usage(snapshot.usage) if snapshot is not None else None
            if watchdog.fired:
                raise _capped(self.provider, cap, partial) from None
            raise errors.classify(exc, provider=self.provider, partial_usage=partial) from None
        if message.stop_reason is None and watchdog.fired:
            raise _capped(self.provider, cap, normalized_usage(message.usage))
        if message.stop_reason is None:
            raise errors.StreamCutError(
                f"{self.provider}: the stream ended before the final message",
                partial_usage=normalized_usage(message.usage),
            )
        return message


def _capped(provider: str, cap: float, partial: RawUsage | None) -> errors.CallTimeoutError:
    return errors.CallTimeoutError(
        f"{provider}: the answer took longer than the {cap:g} s cap", partial_usage=partial
    )
