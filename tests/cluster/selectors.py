"""Label and field selectors as the API server understands them in list and watch calls.

Label selectors: ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k``, ``!k``,
comma-separated (AND). Field selectors: ``path=v``, ``path==v``, ``path!=v`` on dotted paths
such as ``involvedObject.name`` or ``metadata.namespace`` (what ``kubectl describe`` sends).
"""

import re
from collections.abc import Callable, Mapping
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]

_SET = re.compile(r"^\s*(!?)([\w./-]+)\s*(?:(in|notin)\s*\(([^)]*)\))?\s*$")
_EQUALITY = re.compile(r"^\s*([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)\s*$")


class SelectorError(ValueError):
    """A selector that cannot be parsed (answered with 400 Bad Request)."""


def _split(selector: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part for part in parts if part.strip()]


def _label_requirement(text: str) -> Callable[[Mapping[str, str]], bool]:
    equality = _EQUALITY.match(text)
    if equality:
        key, operator, value = equality.groups()
        if operator == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    match = _SET.match(text)
    if not match:
        raise SelectorError(f"unable to parse requirement: {text!r}")
    negated, key, operator, values = match.groups()
    if operator:
        allowed = {v.strip() for v in values.split(",") if v.strip()}
        if operator == "in":
            return lambda labels: labels.get(key) in allowed
        return lambda labels: labels.get(key) not in allowed
    if negated:
        return lambda labels: key not in labels
    return lambda labels: key in labels


def label_selector(selector: str | None) -> Predicate:
    """Return a predicate on objects for a ``labelSelector`` query parameter."""
    requirements = [_label_requirement(part) for part in _split(selector or "")]

    def matches(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(requirement(labels) for requirement in requirements)

    return matches


def _field(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def field_selector(selector: str | None) -> Predicate:
    """Return a predicate on objects for a ``fieldSelector`` query parameter."""
    requirements: list[Predicate] = []
    for part in _split(selector or ""):
        match = _EQUALITY.match(part)
        if not match:
            raise SelectorError(f"invalid field selector: {part!r}")
        path, operator, value = match.groups()
        requirements.append(_field_requirement(path, value, negated=operator == "!="))
    return lambda obj: all(requirement(obj) for requirement in requirements)


def _field_requirement(path: str, value: str, *, negated: bool) -> Predicate:
    def matches(obj: dict[str, Any]) -> bool:
        return (_field(obj, path) == value) != negated

    return matches
