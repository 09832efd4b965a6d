"""OpenAI Chat Completions through the official SDK; ``base_url`` reaches any compatible server.

vLLM, Ollama and llama.cpp's server speak the same API. Usage is taken as reported; servers
that report no cached tokens leave them null rather than zero.
"""

import time
from typing import Any

import openai

from autopack.llm import errors
from autopack.llm.types import Completion, RawUsage


class OpenAIModel:
    """One OpenAI(-compatible) model."""

    provider = "openai"

    def __init__(
        self, name: str, *, api_key: str, base_url: str | None = None, timeout: float = 120.0
    ) -> None:
        """Create a client that never retries on its own (our layer owns retries)."""
        self.name = name
        self._client = openai.OpenAI(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout
        )

    def complete(
        self, *, system: str, messages: list[tuple[str, str]], max_tokens: int
    ) -> Completion:
        """Call Chat Completions once."""
        started = time.perf_counter()
        wire: list[Any] = [{"role": "system", "content": system}]
        wire += [{"role": role, "content": text} for role, text in messages]
        try:
            response = self._client.chat.completions.create(
                model=self.name,
                messages=wire,
                max_tokens=max_tokens,
            )
        except openai.OpenAIError as exc:
            raise errors.classify(exc, provider=self.provider) from None
        choice = response.choices[0]
        usage = response.usage
        details = getattr(usage, "prompt_tokens_details", None) if usage else None
        cached = getattr(details, "cached_tokens", None) if details else None
        stop = str(choice.finish_reason)
        return Completion(
            text=choice.message.content or "",
            stop_reason=stop,
            truncated=stop == "length",
            usage=RawUsage(
                input_tokens=usage.prompt_tokens if usage else None,
                output_tokens=usage.completion_tokens if usage else None,
                cache_read_tokens=cached,
                cache_write_tokens=None,
            ),
            model=response.model,
            provider=self.provider,
            latency_ms=int((time.perf_counter() - started) * 1000),
        )
