"""The emulated API server's object store: the semantics kmock leaves out, in one place.

Every write goes through here, whether it arrives over HTTP (kubectl, kopf, the runner) or
from the test kubelet: uid / creationTimestamp / resourceVersion / generation stamping,
``generateName``, status-subresource isolation, generation bumps on spec changes only,
schema admission for our CRDs, 409 on a stale resourceVersion, 422 on a failed JSON-patch
test, finalizers and ``deletionTimestamp``, ownerReference cascade deletion, and a change log
from which watches resume at a resourceVersion. It is synchronous and single-threaded: the
emulator calls it from its event loop only.
"""

import copy
import secrets
import string
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jsonpatch

from tests.cluster.kinds import Key, Kind
from tests.cluster.schema import Cause
from tests.cluster.selectors import Predicate

ObjectKey = tuple[Key, str, str]
"""(resource key, namespace or "", name)."""

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
_SERVER_OWNED = ("uid", "creationTimestamp", "resourceVersion", "generation", "namespace", "name")


class ApiError(Exception):
    """An API error answered as a ``Status`` object with the HTTP status code."""

    def __init__(
        self, code: int, reason: str, message: str, causes: list[Cause] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.causes = causes or []

    def status(self) -> dict[str, Any]:
        """The ``v1.Status`` body."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.causes:
            body["details"] = {
                "causes": [
                    {"type": "FieldValueInvalid", "field": c.field, "message": c.message}
                    for c in self.causes
                ]
            }
        return body


def now_rfc3339() -> str:
    """The current time as Kubernetes writes timestamps."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (strategic merge patches are treated the same way)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _spec_part(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _isolate(
    kind: Kind, current: dict[str, Any], changed: dict[str, Any], *, subresource: str | None
) -> dict[str, Any]:
    """Keep what a write may not change: status via the main resource, the rest via /status."""
    meta = current["metadata"]
    if kind.status_subresource and subresource == "status":
        new = copy.deepcopy(current)
        if "status" in changed:
            new["status"] = changed["status"]
        else:
            new.pop("status", None)
        return new
    new = changed
    new_meta = new.setdefault("metadata", {})
    for server_owned in _SERVER_OWNED:
        if server_owned in meta:
            new_meta[server_owned] = meta[server_owned]
        else:
            new_meta.pop(server_owned, None)
    if meta.get("deletionTimestamp"):
        new_meta["deletionTimestamp"] = meta["deletionTimestamp"]
    if kind.status_subresource:
        if "status" in current:
            new["status"] = current["status"]
        else:
            new.pop("status", None)
    return new


@dataclass
class Change:
    """One entry of the change log that watches read."""

    resource_version: int
    type: str
    key: Key
    obj: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class ObjectStore:
    """All objects of the emulated cluster."""

    kinds: dict[Key, Kind]
    objects: dict[ObjectKey, dict[str, Any]] = field(default_factory=dict)
    log: deque[Change] = field(default_factory=lambda: deque(maxlen=50_000))
    resource_version: int = 1
    writes: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    on_change: list[Callable[[Change], None]] = field(default_factory=list)
    checks: list[Callable[[Kind, dict[str, Any]], None]] = field(default_factory=list)
    """Validation of every object written (raise ApiError), e.g. the annotation size limit."""
    patch_hooks: list[Callable[..., Any]] = field(default_factory=list)
    """``hook(kind, namespace, name, patch, subresource=, source=)`` returns the patch to apply
    (``tests.cluster.controllers`` turns a Job's end into the real controller's two steps)."""

    # ----- reading -------------------------------------------------------------------------
    def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any]:
        """Return a copy of one object or raise 404."""
        obj = self.objects.get((kind.key, namespace if kind.namespaced else "", name))
        if obj is None:
            raise ApiError(404, "NotFound", f'{kind.plural}.{kind.group} "{name}" not found')
        return copy.deepcopy(obj)

    def list(
        self, kind: Kind, namespace: str | None, *, where: Predicate | None = None
    ) -> list[dict[str, Any]]:
        """Return copies of the objects of a kind (one namespace or all), filtered."""
        found = []
        for (key, ns, _), obj in self.objects.items():
            if key != kind.key or (namespace and kind.namespaced and ns != namespace):
                continue
            if where is None or where(obj):
                found.append(copy.deepcopy(obj))
        return sorted(
            found, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"])
        )

    # ----- writing -------------------------------------------------------------------------
    def create(
        self, kind: Kind, namespace: str, body: dict[str, Any], *, source: str = "api"
    ) -> dict[str, Any]:
        """Create an object: stamp server fields, isolate status, admit, store, log ADDED."""
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise ApiError(422, "Invalid", "metadata.name or metadata.generateName is required")
            suffix = "".join(
                secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5)
            )
            meta["name"] = f"{meta['generateName']}{suffix}"
        namespace = namespace if kind.namespaced else ""
        if kind.namespaced:
            meta["namespace"] = namespace
        key = (kind.key, namespace, meta["name"])
        if key in self.objects:
            raise ApiError(
                409, "AlreadyExists", f'{kind.plural}.{kind.group} "{meta["name"]}" already exists'
            )
        for owner in meta.get("ownerReferences") or []:
            if not owner.get("uid"):
                raise ApiError(422, "Invalid", "metadata.ownerReferences.uid: Required value")
        if kind.status_subresource and kind.schema is not None:
            obj.pop("status", None)
        obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
        self._admit(kind, obj, old=None)
        meta.update(
            uid=str(uuid.uuid4()),
            creationTimestamp=now_rfc3339(),
            generation=1,
        )
        self._store(kind, key, obj, "ADDED", source=source, verb="create")
        return copy.deepcopy(obj)

    def patch(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        patch: Any,
        *,
        content_type: str = MERGE_PATCH,
        subresource: str | None = None,
        source: str = "api",
    ) -> dict[str, Any]:
        """Apply a JSON, merge or strategic-merge patch to an object or its status."""
        current = self.get(kind, namespace, name)
        for hook in self.patch_hooks:
            patch = hook(kind, namespace, name, patch, subresource=subresource, source=source)
        if content_type == JSON_PATCH:
            try:
                changed = jsonpatch.apply_patch(current, patch)
            except jsonpatch.JsonPatchTestFailed as exc:
                raise ApiError(422, "Invalid", f"the JSON patch test failed: {exc}") from exc
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
                raise ApiError(422, "Invalid", f"invalid JSON patch: {exc}") from exc
        elif content_type in (MERGE_PATCH, STRATEGIC_PATCH):
            if not isinstance(patch, dict):
                raise ApiError(400, "BadRequest", "a merge patch must be a JSON object")
            wanted = (patch.get("metadata") or {}).get("resourceVersion")
            if wanted and str(wanted) != current["metadata"]["resourceVersion"]:
                raise self._conflict(kind, name)
            changed = merge_patch(current, patch)
        else:
            raise ApiError(
                415, "UnsupportedMediaType", f"patch type {content_type!r} is not supported"
            )
        return self._update(
            kind, current, changed, subresource=subresource, source=source, verb="patch"
        )

    def replace(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        body: dict[str, Any],
        *,
        subresource: str | None = None,
        source: str = "api",
    ) -> dict[str, Any]:
        """Replace an object (PUT); a stale resourceVersion is refused with 409."""
        current = self.get(kind, namespace, name)
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if wanted and str(wanted) != current["metadata"]["resourceVersion"]:
            raise self._conflict(kind, name)
        return self._update(
            kind,
            current,
            copy.deepcopy(body),
            subresource=subresource,
            source=source,
            verb="update",
        )

    def delete(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        *,
        propagation: str = "Background",
        source: str = "api",
    ) -> dict[str, Any]:
        """Delete an object, or mark it when finalizers hold it; cascade to dependents."""
        current = self.get(kind, namespace, name)
        meta = current["metadata"]
        self.writes[(source, kind.plural, "delete")] += 1
        if meta.get("finalizers"):
            if not meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = now_rfc3339()
                meta["deletionGracePeriodSeconds"] = 0
                key = (kind.key, namespace if kind.namespaced else "", name)
                self._store(kind, key, current, "MODIFIED", source=source, verb=None)
            return current
        self._remove(kind, current, propagation=propagation)
        return current

    # ----- internals -----------------------------------------------------------------------
    def _conflict(self, kind: Kind, name: str) -> ApiError:
        return ApiError(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {kind.plural}.{kind.group} "{name}": the object '
            "has been modified; please apply your changes to the latest version and try again",
        )

    def _admit(self, kind: Kind, obj: dict[str, Any], *, old: dict[str, Any] | None) -> None:
        for check in self.checks:
            check(kind, obj)
        if kind.schema is None:
            return
        causes = kind.schema.admit(obj, old=old)
        if causes:
            name = obj.get("metadata", {}).get("name")
            listed = ", ".join(str(c) for c in causes)
            raise ApiError(
                422, "Invalid", f'{kind.kind}.{kind.group} "{name}" is invalid: {listed}', causes
            )

    def _update(
        self,
        kind: Kind,
        current: dict[str, Any],
        changed: dict[str, Any],
        *,
        subresource: str | None,
        source: str,
        verb: str,
    ) -> dict[str, Any]:
        meta = current["metadata"]
        new = _isolate(kind, current, changed, subresource=subresource)
        new["apiVersion"], new["kind"] = kind.api_version, kind.kind
        self._admit(kind, new, old=current)
        self.writes[(source, kind.plural, verb)] += 1
        if new == current:
            return current
        if _spec_part(new) != _spec_part(current):
            new["metadata"]["generation"] = int(meta.get("generation", 1)) + 1
        key = (kind.key, meta.get("namespace", ""), meta["name"])
        new_meta = new["metadata"]
        if new_meta.get("deletionTimestamp") and not new_meta.get("finalizers"):
            self._remove(kind, new, propagation="Background")
            return new
        self._store(kind, key, new, "MODIFIED", source=source, verb=None)
        return copy.deepcopy(new)

    def _store(
        self,
        kind: Kind,
        key: ObjectKey,
        obj: dict[str, Any],
        event: str,
        *,
        source: str,
        verb: str | None,
    ) -> None:
        if verb is not None:
            self.writes[(source, kind.plural, verb)] += 1
        self.resource_version += 1
        obj["metadata"]["resourceVersion"] = str(self.resource_version)
        self.objects[key] = copy.deepcopy(obj)
        self._publish(Change(self.resource_version, event, kind.key, copy.deepcopy(obj)))

    def _remove(self, kind: Kind, obj: dict[str, Any], *, propagation: str) -> None:
        meta = obj["metadata"]
        key = (kind.key, meta.get("namespace", "") if kind.namespaced else "", meta["name"])
        if self.objects.pop(key, None) is None:
            return
        self.resource_version += 1
        obj["metadata"]["resourceVersion"] = str(self.resource_version)
        self._publish(Change(self.resource_version, "DELETED", kind.key, copy.deepcopy(obj)))
        self._collect_dependents(meta["uid"], orphan=propagation == "Orphan")

    def _collect_dependents(self, uid: str, *, orphan: bool) -> None:
        """The garbage collector: delete (or orphan) every object owned by ``uid``."""
        for (key, namespace, name), obj in list(self.objects.items()):
            owners = obj["metadata"].get("ownerReferences") or []
            if not any(owner.get("uid") == uid for owner in owners):
                continue
            kind = self.kinds[key]
            if orphan:
                remaining = [o for o in owners if o.get("uid") != uid]
                self.patch(
                    kind,
                    namespace,
                    name,
                    {"metadata": {"ownerReferences": remaining or None}},
                    source="garbage-collector",
                )
            elif (key, namespace, name) in self.objects:
                self.delete(kind, namespace, name, source="garbage-collector")

    def _publish(self, change: Change) -> None:
        self.log.append(change)
        for listener in list(self.on_change):
            listener(change)
