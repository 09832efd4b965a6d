"""Admission of custom resources as the API server does it: prune, default, validate, CEL.

The emulated cluster loads our generated CRDs and applies their ``openAPIV3Schema`` to every
write, so that an invalid AutopackRun is refused at ``kubectl apply`` here as it would be in a
real cluster. Structural pruning and defaulting follow the apiextensions rules; validation uses
``jsonschema`` (OpenAPI's ``nullable`` and ``x-kubernetes-int-or-string`` translated), and
``x-kubernetes-validations`` rules are evaluated with ``cel-python`` (transition rules see
``oldSelf`` on updates and are skipped on create, as in Kubernetes).
"""

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import celpy
import jsonschema
from celpy.adapter import json_to_cel

_ALWAYS_KEPT = ("apiVersion", "kind", "metadata")


@dataclass(frozen=True)
class Cause:
    """One reason a write is refused: the field path and what is wrong with it."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def _json_schema(node: Any) -> Any:
    """Translate an OpenAPI v3 structural schema into plain JSON Schema."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        key: _json_schema(value)
        for key, value in node.items()
        if not key.startswith("x-kubernetes-") and key not in ("nullable", "description")
    }
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def prune(value: Any, node: dict[str, Any], *, root: bool = False) -> Any:
    """Drop fields the schema does not declare (unless it preserves unknown fields)."""
    if node.get("x-kubernetes-preserve-unknown-fields"):
        return value
    if isinstance(value, dict):
        properties: dict[str, Any] = node.get("properties") or {}
        extra = node.get("additionalProperties")
        result = {}
        for key, item in value.items():
            if root and key in _ALWAYS_KEPT:
                result[key] = item
            elif key in properties:
                result[key] = prune(item, properties[key])
            elif isinstance(extra, dict):
                result[key] = prune(item, extra)
        return result
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        return [prune(item, node["items"]) for item in value]
    return value


def default(value: Any, node: dict[str, Any]) -> Any:
    """Fill ``default`` values of absent fields, recursively, like the API server."""
    if isinstance(value, dict):
        for key, child in (node.get("properties") or {}).items():
            if key not in value and "default" in child:
                value[key] = copy.deepcopy(child["default"])
            if key in value:
                value[key] = default(value[key], child)
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            for key in value:
                value[key] = default(value[key], extra)
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        return [default(item, node["items"]) for item in value]
    return value


def _rules(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any], list[str]]]:
    """Yield (path, rule, object path parts) for every x-kubernetes-validations rule."""
    if not isinstance(node, dict):
        return
    for rule in node.get("x-kubernetes-validations") or []:
        yield path, rule, [p for p in path.split(".") if p]
    for key, child in (node.get("properties") or {}).items():
        yield from _rules(child, f"{path}.{key}")


def _lookup(value: Any, parts: list[str]) -> Any:
    for part in parts:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _cel(rule: str, variables: dict[str, Any]) -> bool:
    environment = celpy.Environment()
    program = environment.program(environment.compile(rule))
    activation = {name: json_to_cel(item) for name, item in variables.items()}
    return bool(program.evaluate(activation))


@dataclass(frozen=True)
class CustomResourceSchema:
    """The admission behaviour of one served version of a CRD."""

    openapi: dict[str, Any]

    @classmethod
    def from_crd(cls, crd: dict[str, Any]) -> "CustomResourceSchema":
        """Take the storage version's schema from a CustomResourceDefinition object."""
        versions = crd["spec"]["versions"]
        served = next(v for v in versions if v.get("storage")) if len(versions) > 1 else versions[0]
        return cls(openapi=served["schema"]["openAPIV3Schema"])

    def admit(self, obj: dict[str, Any], *, old: dict[str, Any] | None) -> list[Cause]:
        """Prune and default ``obj`` in place; return why it is invalid (empty if it is not)."""
        pruned = prune(obj, self.openapi, root=True)
        obj.clear()
        obj.update(default(pruned, self.openapi))
        causes = self.validate(obj)
        if not causes:
            causes = self.check_rules(obj, old=old)
        return causes

    def validate(self, obj: dict[str, Any]) -> list[Cause]:
        """Return the schema violations of ``obj``, each with its field path."""
        body = {key: value for key, value in obj.items() if key not in _ALWAYS_KEPT}
        validator = jsonschema.Draft4Validator(_json_schema(self.openapi))
        causes = []
        for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
            field = ".".join(str(p) for p in error.absolute_path) or "<root>"
            causes.append(Cause(field, error.message))
        return causes

    def check_rules(self, obj: dict[str, Any], *, old: dict[str, Any] | None) -> list[Cause]:
        """Evaluate the CEL rules; transition rules only when there is an old object."""
        causes = []
        for path, rule, parts in _rules(self.openapi):
            self_value = obj if not parts else _lookup(obj, parts)
            if self_value is None:
                continue
            variables: dict[str, Any] = {"self": self_value}
            if "oldSelf" in rule["rule"]:
                old_value = None if old is None else (old if not parts else _lookup(old, parts))
                if old_value is None:
                    continue
                variables["oldSelf"] = old_value
            if not _cel(rule["rule"], variables):
                field = f"{path}{rule.get('fieldPath', '')}".lstrip(".") or "<root>"
                causes.append(Cause(field, rule.get("message", rule["rule"])))
        return causes
