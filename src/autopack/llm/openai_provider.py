"""OpenAI Chat Completions, streamed through the official SDK; ``base_url`` reaches compatibles.

vLLM, Ollama and llama.cpp's server speak the same API. Every call streams with
``stream_options={"include_usage": True}`` so usage arrives in the final chunk; the read timeout
is the idle timeout between chunks and a watchdog caps the whole call. Usage is normalized:
``prompt_tokens`` include ``cached_tokens``, so input is prompt minus cached, and cached tokens
are cache reads (never counted twice). Servers that report no cached tokens leave them null.
Prompt blocks are sent in order as plain text: OpenAI caches prefixes automatically.
"""

import time
from typing import Any

import httpx2
import openai

from autopack import redaction
from autopack.llm import deadlines, errors
from autopack.llm.types import Completion, Prompt, RawUsage, StreamTimeouts


def wire_messages(prompt: Prompt) -> list[dict[str, Any]]:
    """Chat messages for ``prompt``: one system message, then the turns."""
    wire: list[dict[str, Any]] = []
    if prompt.system:
        wire.append({"role": "system", "content": prompt.system_text})
    wire += [{"role": message.role, "content": message.text} for message in prompt.messages]
    return wire


def normalized_usage(usage: Any) -> RawUsage:
    """OpenAI's usage in the normalized form (input excludes cached tokens)."""
    if usage is None:
        return RawUsage(None, None)
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(prompt_details, "cached_tokens", None) if prompt_details else None
    output_details = getattr(usage, "completion_tokens_details", None)
    reasoning = getattr(output_details, "reasoning_tokens", None) if output_details else None
    prompt = getattr(usage, "prompt_tokens", None)
    return RawUsage(
        input_tokens=None if prompt is None else max(prompt - (cached or 0), 0),
        output_tokens=getattr(usage, "completion_tokens", None),
        cache_read_tokens=cached,
        cache_write_tokens=None,
        reasoning_tokens=reasoning,
    )


class OpenAIModel:
    """One OpenAI(-compatible) model."""

    provider = "openai"

    def __init__(
        self,
        name: str,
        *,
        api_key: str,
        base_url: str | None = None,
        timeouts: StreamTimeouts | None = None,
        timeout: float | None = None,
        streaming: bool = True,
        max_tokens_param: str = "max_tokens",
    ) -> None:
        """Create a client that never retries on its own (our layer owns retries)."""
        self.name = name
        redaction.register(api_key)  # an error body that echoes the key is masked
        self.timeouts = timeouts = deadlines.stream_timeouts(timeouts, timeout)
        self.streaming = streaming
        self.max_tokens_param = max_tokens_param
        self._client = openai.OpenAI(
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
        request: dict[str, Any] = {
            "model": self.name,
            "messages": wire_messages(prompt),
            self.max_tokens_param: max_tokens,
        }
        answer = self._stream(request) if self.streaming else self._create(request)
        text, stop, usage, model = answer
        return Completion(
            text=text,
            stop_reason=stop,
            truncated=stop == "length",
            usage=normalized_usage(usage),
            model=model or self.name,
            provider=self.provider,
            latency_ms=int((time.perf_counter() - started) * 1000),
        )

    def _create(self, request: dict[str, Any]) -> tuple[str, str, Any, str]:
        try:
            response = self._client.chat.completions.create(**request)
        except openai.OpenAIError as exc:
            raise errors.classify(exc, provider=self.provider) from None
        choice = response.choices[0]
        return (
            choice.message.content or "",
            str(choice.finish_reason),
            response.usage,
            response.model,
        )

    def _stream(self, request: dict[str, Any]) -> tuple[str, str, Any, str]:
        parts: list[str] = []
        finish: str | None = None
        usage: Any = None
        model = ""
        watchdog = deadlines.Watchdog()
        cap = self.timeouts.total_seconds
        try:
            stream = self._client.chat.completions.create(
                **request, stream=True, stream_options={"include_usage": True}
            )
            with stream, deadlines.capped(cap, stream.close) as watchdog:
                for chunk in stream:
                    model = chunk.model or model
                    if chunk.usage is not None:
                        usage = chunk.usage
                    for choice in chunk.choices:
                        if choice.delta is not None and choice.delta.content:
                            parts.append(choice.delta.content)
                        if choice.finish_reason is not None:
                            finish = str(choice.finish_reason)
        except (openai.OpenAIError, httpx2.HTTPError) as exc:
            partial = normalized_usage(usage) if usage is not None else None
            if watchdog.fired:
                raise _capped(self.provider, cap, partial) from None
            if model and type(exc) is openai.APIConnectionError:
                # the SDK reports a stream broken off after its first chunk as a connection error
                raise errors.StreamCutError(
                    f"{self.provider}: the stream broke off ({exc.__cause__ or exc})",
                    partial_usage=partial,
                ) from None
            raise errors.classify(exc, provider=self.provider, partial_usage=partial) from None
        partial = normalized_usage(usage) if usage is not None else None
        if finish is None and watchdog.fired:  # a cap that fired as the answer ended is no timeout
            raise _capped(self.provider, cap, partial)
        if finish is None:
            raise errors.StreamCutError(
                f"{self.provider}: the stream ended before its finish reason",
                partial_usage=partial,
            )
        return "".join(parts), finish, usage, model


def _capped(provider: str, cap: float, partial: RawUsage | None) -> errors.CallTimeoutError:
    return errors.CallTimeoutError(
        f"{provider}: the answer took longer than the {cap:g} s cap", partial_usage=partial
    )
