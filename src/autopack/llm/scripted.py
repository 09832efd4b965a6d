"""The scripted model provider: replays a cassette of recorded responses, in order per role.

This is what the offline demo and the end-to-end tests use — it is named "scripted" wherever it
appears so nobody mistakes it for a real model. A cassette is YAML::

    model: scripted-demo
    responses:
      builder:
        - text: "=== FILE: ..."
          usage: {input_tokens: 1800, output_tokens: 240}
        - error: rate_limit          # or overloaded, timeout, stream_cut, conflict,
                                     #    context_overflow, server_error, authentication
          retry_after: 2
        - text: "=== FILE: a.py"
          stop_reason: max_tokens    # truncated output
      auditor:
        - text: "VERDICT: approved"

A response without ``usage`` reports the tokens of the real prompt and answer as counted by
the offline tokenizer (:mod:`autopack.llm.tokens`), so budgets and reports work on scripted
runs too. Running out of responses for a role is an error naming the role and position. Record mode
(:class:`RecordingModel`) wraps a real provider and writes every answer to a cassette.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from autopack.llm import errors
from autopack.llm.tokens import count_prompt, count_tokens
from autopack.llm.types import Completion, Model, Prompt, RawUsage

# A safe loader: libyaml's when PyYAML has it (~40x faster than the pure-Python one).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CassetteError(errors.LlmError):
    """The cassette is unreadable or has no response left for a role (never retried)."""


@dataclass(frozen=True)
class ScriptedResponse:
    """One recorded response, or an injected failure."""

    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    stop_reason: str = "end_turn"
    error: str | None = None
    retry_after: float | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None


_FAILURES: dict[str, type[errors.LlmError]] = {
    "rate_limit": errors.RateLimitedError,
    "overloaded": errors.OverloadedError,
    "timeout": errors.CallTimeoutError,
    "stream_cut": errors.StreamCutError,
    "conflict": errors.ConflictError,
    "server_error": errors.ServerError,
    "context_overflow": errors.ContextTooLongError,
    "authentication": errors.AuthenticationFailedError,
}


def _response(entry: Any, *, where: str) -> ScriptedResponse:
    if not isinstance(entry, dict):
        raise CassetteError(f"cassette {where}: expected a mapping with text or error")
    error = entry.get("error")
    if error is not None and error not in _FAILURES:
        raise CassetteError(
            f"cassette {where}: unknown error {error!r}; use {', '.join(_FAILURES)}"
        )
    if error is None and not isinstance(entry.get("text"), str):
        raise CassetteError(f"cassette {where}: has no text")
    usage = entry.get("usage") or {}
    return ScriptedResponse(
        text=str(entry.get("text", "")),
        input_tokens=usage.get("input_tokens"),
        output_tokens=usage.get("output_tokens"),
        cache_read_tokens=usage.get("cache_read_tokens"),
        cache_write_tokens=usage.get("cache_write_tokens"),
        stop_reason=str(entry.get("stop_reason", "end_turn")),
        error=error,
        retry_after=entry.get("retry_after"),
    )


@dataclass
class Cassette:
    """Recorded responses per role, consumed in order."""

    model: str
    responses: dict[str, list[ScriptedResponse]]
    source: str = "<cassette>"
    positions: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    """(role, last message) of every call made, for the record and for tests."""

    @classmethod
    def load(cls, path: Path) -> "Cassette":
        """Read a cassette file."""
        try:
            data: Any = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506 - safe
        except (OSError, yaml.YAMLError) as exc:
            raise CassetteError(f"cannot read cassette {path}: {exc}") from None
        return cls._parse(data, source=str(path))

    @classmethod
    def _parse(cls, data: Any, *, source: str) -> "Cassette":
        path = source
        if not isinstance(data, dict) or not isinstance(data.get("responses"), dict):
            raise CassetteError(f"cassette {path} needs a 'responses' mapping of role -> list")
        responses: dict[str, list[ScriptedResponse]] = {}
        for role, entries in data["responses"].items():
            responses[str(role)] = []
            for position, entry in enumerate(entries or [], start=1):
                responses[str(role)].append(_response(entry, where=f"{path}: {role} {position}"))
        return cls(model=str(data.get("model", "scripted")), responses=responses, source=path)

    @classmethod
    def from_data(cls, data: dict[str, Any], *, source: str = "<cassette>") -> "Cassette":
        """Build a cassette from already-parsed YAML data (tests write cassettes inline)."""
        return cls._parse(data, source=source)

    def next(self, role: str) -> ScriptedResponse:
        """Return the next response for ``role``."""
        position = self.positions.get(role, 0)
        available = self.responses.get(role, [])
        if position >= len(available):
            raise CassetteError(
                f"scripted cassette {self.source} has no {role} response left: "
                f"call {position + 1} asked, {len(available)} recorded"
            )
        self.positions[role] = position + 1
        return available[position]


class ScriptedModel:
    """The scripted provider's model for one role: the next cassette entry per call."""

    provider = "scripted"

    def __init__(self, cassette: Cassette, *, role: str) -> None:
        """Replay ``cassette``'s responses for ``role``."""
        self.cassette = cassette
        self.role = role
        self.name = f"scripted-{role}"

    def complete(self, *, prompt: Prompt, max_tokens: int) -> Completion:
        """Return the next recorded answer, or raise its injected failure."""
        del max_tokens
        started = time.perf_counter()
        system, messages = prompt.system_text, prompt.as_pairs()
        self.cassette.requests.append((self.role, messages[-1][1] if messages else ""))
        response = self.cassette.next(self.role)
        if response.error is not None:
            raise _FAILURES[response.error](
                f"scripted: injected {response.error} ({self.role} call "
                f"{self.cassette.positions[self.role]})",
                retry_after=response.retry_after,
            )
        return Completion(
            text=response.text,
            stop_reason=response.stop_reason,
            truncated=response.stop_reason in ("max_tokens", "length"),
            usage=RawUsage(
                response.input_tokens
                if response.input_tokens is not None
                else count_prompt(system, messages),
                response.output_tokens
                if response.output_tokens is not None
                else count_tokens(response.text),
                response.cache_read_tokens,
                response.cache_write_tokens,
            ),
            model=f"scripted/{self.cassette.model}",
            provider=self.provider,
            latency_ms=int((time.perf_counter() - started) * 1000),
        )


@dataclass
class CassetteRecorder:
    """Collects answers of real providers and writes them as a cassette."""

    path: Path
    model: str = "recorded"
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, role: str, entry: dict[str, Any]) -> None:
        """Append one answer (or failure) for ``role`` and save the file."""
        self.responses.setdefault(role, []).append(entry)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {"model": self.model, "responses": self.responses}
        self.path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


_KINDS = {error: kind for kind, error in _FAILURES.items()}


class RecordingModel:
    """Record mode: a real model whose answers are also written to a cassette."""

    def __init__(self, inner: Model, *, recorder: CassetteRecorder, role: str) -> None:
        """Wrap ``inner`` for ``role``."""
        self.inner = inner
        self.recorder = recorder
        self.role = role
        self.provider = inner.provider
        self.name = inner.name

    def close(self) -> None:
        """Close the real model's connections."""
        closer = getattr(self.inner, "close", None)
        if callable(closer):
            closer()

    def complete(self, *, prompt: Prompt, max_tokens: int) -> Completion:
        """Call the real model and record what it answered."""
        try:
            done = self.inner.complete(prompt=prompt, max_tokens=max_tokens)
        except errors.LlmError as exc:
            kind = _KINDS.get(type(exc), "server_error")
            self.recorder.add(self.role, {"error": kind, "retry_after": exc.retry_after})
            raise
        usage = {
            key: value
            for key, value in (
                ("input_tokens", done.usage.input_tokens),
                ("output_tokens", done.usage.output_tokens),
                ("cache_read_tokens", done.usage.cache_read_tokens),
                ("cache_write_tokens", done.usage.cache_write_tokens),
            )
            if value is not None
        }
        self.recorder.add(
            self.role, {"text": done.text, "usage": usage, "stop_reason": done.stop_reason}
        )
        return done
