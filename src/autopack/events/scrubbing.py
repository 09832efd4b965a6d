"""Events scrubbed of secrets before any sink sees them (store, console, Kubernetes status).

Events carry text from untrusted places — test output, git's messages, model answers, provider
errors — so the fan-out passes each through the one redactor (:mod:`autopack.redaction`) once:
every string field, also inside the outcome objects an event carries, is redacted.
"""

import dataclasses
from typing import Any, TypeVar

from autopack import redaction

T = TypeVar("T")


def scrubbed(value: T) -> T:
    """``value`` with every string in it redacted (dataclasses, tuples, lists and dicts walked)."""
    return _scrub(value)  # type: ignore[no-any-return]


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redaction.redact(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for field in dataclasses.fields(value):
            if not field.init:
                continue
            current = getattr(value, field.name)
            cleaned = _scrub(current)
            if cleaned is not current:
                changes[field.name] = cleaned
        return dataclasses.replace(value, **changes) if changes else value
    if isinstance(value, tuple):
        items = tuple(_scrub(item) for item in value)
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    return value
