"""The scripted model provider: replays a cassette of recorded responses, in order per role.

This is what the offline demo and the end-to-end tests use — it is named "scripted" wherever it
appears so nobody mistakes it for a real model. A cassette is YAML::

    model: scripted-demo
    responses:
      builder:
        - text: "=== FILE: ..."
          usage: {input_tokens: 1800, output_tokens: 240}
      auditor:
        - text: "VERDICT: approved"

Running out of responses for a role is an error naming the role and position.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class CassetteError(RuntimeError):
    """The cassette is unreadable or has no response left for a role."""


@dataclass(frozen=True)
class ScriptedResponse:
    """One recorded response."""

    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    stop_reason: str = "end_turn"


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
            data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
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
                if not isinstance(entry, dict) or not isinstance(entry.get("text"), str):
                    raise CassetteError(f"cassette {path}: {role} response {position} has no text")
                usage = entry.get("usage") or {}
                responses[str(role)].append(
                    ScriptedResponse(
                        text=entry["text"],
                        input_tokens=usage.get("input_tokens"),
                        output_tokens=usage.get("output_tokens"),
                        stop_reason=str(entry.get("stop_reason", "end_turn")),
                    )
                )
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
