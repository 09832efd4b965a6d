"""SDK-backed models for a models.yaml entry, and the provider keys they need.

Keys come from the environment or from files under ``AUTOPACK_MODEL_CREDENTIALS_DIR`` (a
mounted Secret) and are registered with the shared redactor as they are read. Base URLs come
from ``ANTHROPIC_BASE_URL`` / ``OPENAI_BASE_URL``, so any OpenAI-compatible server works.
"""

import os
from collections.abc import Callable
from pathlib import Path

from autopack.llm import errors
from autopack.llm.routing import ModelEntry, Timeouts
from autopack.llm.types import Model, StreamTimeouts
from autopack.redaction import register

_KEYS = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}
ModelFactory = Callable[[ModelEntry, str], Model]


def api_key(provider: str) -> str:
    """Read a provider key from the environment or ``AUTOPACK_MODEL_CREDENTIALS_DIR``."""
    variable = _KEYS[provider]
    value = os.environ.get(variable, "")
    directory = os.environ.get("AUTOPACK_MODEL_CREDENTIALS_DIR")
    if not value and directory and (Path(directory) / variable).is_file():
        value = (Path(directory) / variable).read_text(encoding="utf-8").strip()
    if not value:
        raise errors.MissingCredentialsError(
            f"{variable} is not set: export it, mount it under AUTOPACK_MODEL_CREDENTIALS_DIR, "
            "or use the scripted provider (--cassette)"
        )
    register(value)
    return value


def sdk_factory(timeouts: Timeouts | None = None) -> ModelFactory:
    """A factory of SDK-backed models honouring the entry's quirks and the configured timeouts.

    Base URLs come from ``ANTHROPIC_BASE_URL`` / ``OPENAI_BASE_URL``.
    """
    limits = timeouts or Timeouts()
    stream_timeouts = StreamTimeouts(
        connect_seconds=limits.connect_seconds,
        idle_seconds=limits.idle_seconds,
        total_seconds=limits.total_seconds,
    )

    def build(entry: ModelEntry, role: str) -> Model:
        del role
        if entry.provider == "scripted":
            raise errors.MissingCredentialsError(
                "the scripted profile replays a cassette: pass --cassette FILE (AUTOPACK_CASSETTE)"
            )
        # Each SDK takes about a second to import: only the one a profile uses is loaded.
        if entry.provider == "anthropic":
            from autopack.llm.anthropic_provider import AnthropicModel  # noqa: PLC0415

            return AnthropicModel(
                entry.name,
                api_key=api_key("anthropic"),
                base_url=os.environ.get("ANTHROPIC_BASE_URL") or None,
                timeouts=stream_timeouts,
                streaming=entry.streaming,
            )
        from autopack.llm.openai_provider import OpenAIModel  # noqa: PLC0415

        return OpenAIModel(
            entry.name,
            api_key=api_key("openai"),
            base_url=os.environ.get("OPENAI_BASE_URL") or None,
            timeouts=stream_timeouts,
            streaming=entry.streaming,
            max_tokens_param=entry.max_tokens_param,
        )

    return build


default_factory: ModelFactory = sdk_factory()
