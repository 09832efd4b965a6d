"""kmock's KubernetesEmulator with our fidelity layer: an API server kopf and kubectl accept.

kmock 0.8 serves discovery, parses requests and runs the HTTP server; raw, it breaks kopf and
kubectl in ways ``../shared/ENVIRONMENT.md`` lists (no uid / resourceVersion / generation, no
generateName, no status isolation, no schema, no garbage collection, selectors ignored, no 409,
octet-stream watches, an unparsable ``/api/v1/namespaces``). Here every request for a served
resource is answered from :class:`~tests.cluster.store.ObjectStore`, which implements those
semantics; discovery stays kmock's (with the core group's ``groupVersion`` corrected).
Lists carry ``kind`` / ``apiVersion`` / ``resourceVersion``; watches stream JSON lines from a
resourceVersion (410 Gone when it is too old), honour ``timeoutSeconds`` and selectors;
``kubectl get`` receives server-side tables built from the CRDs' printer columns.
"""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp.web
import attrs
import kmock
from kmock._internal import rendering

from tests.cluster import controllers
from tests.cluster.kinds import BUILTIN_KINDS, Key, Kind, our_kinds
from tests.cluster.selectors import SelectorError, field_selector, label_selector
from tests.cluster.store import MERGE_PATCH, ApiError, Change, ObjectStore

_VERBS = {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}


def _parse_path(path: str) -> tuple[Key, str | None, str | None, str | None] | None:
    """Split an API path into (resource key, namespace, name, subresource)."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    return (group, version, rest[0]), namespace, name, subresource


def _client(user_agent: str) -> str:
    """Name the writer from its User-Agent: kopf, the operator's own client, kubectl, or client.

    The operator writes through kopf (events) and its own client (User-Agent
    ``autopack-operator``: Jobs, run status); ``client`` is anyone else's kubernetes client,
    the runner's in particular.
    """
    lowered = user_agent.lower()
    if "autopack-operator" in lowered:
        return "operator"
    return "kopf" if "kopf" in lowered else "kubectl" if "kubectl" in lowered else "client"


def _age(timestamp: str | None) -> str:
    if not timestamp:
        return "<unknown>"
    then = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    seconds = max(0, int((datetime.now(UTC) - then).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def _json_path(obj: Any, path: str) -> Any:
    value = obj
    for part in path.strip(".").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


@attrs.define(kw_only=True)
class FidelityEmulator(kmock.KubernetesEmulator):
    """An emulated API server for Autopack's kinds and the built-ins the operator uses."""

    store: ObjectStore = attrs.field(factory=lambda: ObjectStore(kinds={}))
    _tick: asyncio.Event | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        for kind in (*BUILTIN_KINDS, *our_kinds()):
            self.serve(kind)
        self.store.on_change.append(self._wake)
        controllers.install(self.store)
        namespaces = self.kind("", "v1", "namespaces")
        self.store.create(namespaces, "", {"metadata": {"name": "default"}}, source="bootstrap")

    def serve(self, kind: Kind) -> None:
        """Serve a kind: register it for discovery and in the store."""
        self.store.kinds[kind.key] = kind
        self.resources[f"{kind.group}/{kind.version}/{kind.plural}"] = kmock.ResourceInfo(
            kind=kind.kind,
            singular=kind.singular,
            namespaced=kind.namespaced,
            verbs=_VERBS,
            shortnames=set(kind.short_names),
            categories=set(kind.categories),
            subresources={"status"} if kind.status_subresource else set(),
        )

    def kind(self, group: str, version: str, plural: str) -> Kind:
        """Return a served kind by its resource key."""
        return self.store.kinds[(group, version, plural)]

    # ----- HTTP ----------------------------------------------------------------------------
    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        """Answer requests for served resources; leave discovery to kmock."""
        parsed = _parse_path(raw_request.path)
        if parsed is None or parsed[0] not in self.store.kinds:
            return await super().__call__(raw_request)
        key, namespace, name, subresource = parsed
        kind = self.store.kinds[key]
        try:
            return await self._answer(raw_request, kind, namespace or "", name, subresource)
        except ApiError as exc:
            return aiohttp.web.json_response(exc.status(), status=exc.code)
        except SelectorError as exc:
            return aiohttp.web.json_response(
                ApiError(400, "BadRequest", str(exc)).status(), status=400
            )

    async def _answer(
        self,
        request: aiohttp.web.BaseRequest,
        kind: Kind,
        namespace: str,
        name: str | None,
        subresource: str | None,
    ) -> aiohttp.web.StreamResponse:
        method, query = request.method, request.query
        if method == "GET" and query.get("watch") in ("true", "1"):
            return await self._watch(request, kind, namespace, name)
        if method == "GET" and name is None:
            items = self.store.list(kind, namespace, where=self._filter(query))
            return self._respond(request, kind, items, listing=True)
        if method == "GET" and name is not None:
            return self._respond(request, kind, [self.store.get(kind, namespace, name)])
        if "protobuf" in request.headers.get("Content-Type", ""):
            raise ApiError(415, "UnsupportedMediaType", "the emulated API server speaks JSON only")
        body_text = await request.text()
        body = json.loads(body_text) if body_text.strip() else None
        return self._write(request, kind, namespace, name, subresource=subresource, body=body)

    def _write(
        self,
        request: aiohttp.web.BaseRequest,
        kind: Kind,
        namespace: str,
        name: str | None,
        *,
        subresource: str | None,
        body: Any,
    ) -> aiohttp.web.StreamResponse:
        method, query, store = request.method, request.query, self.store
        source = _client(request.headers.get("User-Agent", ""))
        if method == "POST" and name is None:
            created = store.create(kind, namespace, self._require_object(body), source=source)
            return aiohttp.web.json_response(created, status=201)
        if name is None:
            raise ApiError(405, "MethodNotAllowed", f"{method} needs an object name")
        if method == "PATCH":
            content_type = request.headers.get("Content-Type", MERGE_PATCH).split(";")[0]
            patched = store.patch(
                kind,
                namespace,
                name,
                body,
                content_type=content_type,
                subresource=subresource,
                source=source,
            )
            return aiohttp.web.json_response(patched)
        if method == "PUT":
            replaced = store.replace(
                kind,
                namespace,
                name,
                self._require_object(body),
                subresource=subresource,
                source=source,
            )
            return aiohttp.web.json_response(replaced)
        if method == "DELETE":
            propagation = (body or {}).get("propagationPolicy") or query.get(
                "propagationPolicy", "Background"
            )
            return aiohttp.web.json_response(
                store.delete(kind, namespace, name, propagation=str(propagation), source=source)
            )
        raise ApiError(405, "MethodNotAllowed", f"{method} is not supported")

    @staticmethod
    def _require_object(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the request body must be a JSON object")
        return body

    @staticmethod
    def _filter(query: Any) -> Any:
        labels = label_selector(query.get("labelSelector"))
        fields = field_selector(query.get("fieldSelector"))
        return lambda obj: labels(obj) and fields(obj)

    def _respond(
        self,
        request: aiohttp.web.BaseRequest,
        kind: Kind,
        items: list[dict[str, Any]],
        *,
        listing: bool = False,
    ) -> aiohttp.web.StreamResponse:
        if "as=Table" in request.headers.get("Accept", ""):
            include = request.query.get("includeObject", "PartialObjectMetadata")
            return aiohttp.web.json_response(self._table(kind, items, include))
        if not listing:
            return aiohttp.web.json_response(items[0])
        return aiohttp.web.json_response(
            {
                "apiVersion": kind.api_version,
                "kind": f"{kind.kind}List",
                "metadata": {"resourceVersion": str(self.store.resource_version)},
                "items": items,
            }
        )

    def _table(self, kind: Kind, items: list[dict[str, Any]], include: str) -> dict[str, Any]:
        columns: list[dict[str, Any]] = [
            {"name": "Name", "type": "string", "format": "name", "priority": 0, "description": ""}
        ]
        paths: list[tuple[str, str]] = []
        printer = kind.printer_columns or (
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        )
        for column in printer:
            columns.append(
                {
                    "name": column["name"],
                    "type": "string" if column["type"] == "date" else column["type"],
                    "format": column.get("format", ""),
                    "priority": column.get("priority", 0),
                    "description": column.get("description", ""),
                }
            )
            paths.append((column["type"], column["jsonPath"]))
        rows = []
        for obj in items:
            cells: list[Any] = [obj["metadata"]["name"]]
            for column_type, path in paths:
                value = _json_path(obj, path)
                cells.append(_age(value) if column_type == "date" else value)
            shown: dict[str, Any] = (
                obj
                if include == "Object"
                else {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj["metadata"],
                }
            )
            rows.append({"cells": cells, "object": shown})
        return {
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": str(self.store.resource_version)},
            "columnDefinitions": columns,
            "rows": rows,
        }

    # ----- watches -------------------------------------------------------------------------
    def _wake(self, change: Change) -> None:
        if self._tick is not None:
            self._tick.set()
            self._tick = None

    def _next_tick(self) -> asyncio.Event:
        if self._tick is None:
            self._tick = asyncio.Event()
        return self._tick

    def _after(self, last: int) -> list[Change]:
        """Changes newer than ``last``, read from the log's end (cost: the new changes only)."""
        fresh = []
        for change in reversed(self.store.log):
            if change.resource_version <= last:
                break
            fresh.append(change)
        fresh.reverse()
        return fresh

    async def changes(
        self, kind: Kind, since: int, *, timeout: float | None = None
    ) -> AsyncIterator[Change]:
        """Yield changes of ``kind`` after resourceVersion ``since``, waiting for new ones."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        last = since
        while True:
            tick = self._next_tick()
            fresh = self._after(last)
            for change in fresh:
                last = change.resource_version
                if change.key == kind.key:
                    yield change
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tick.wait(), remaining)

    async def _watch(
        self, request: aiohttp.web.BaseRequest, kind: Kind, namespace: str, name: str | None
    ) -> aiohttp.web.StreamResponse:
        query = request.query
        matches = self._filter(query)
        if name is not None:
            named = name
            by_name = matches
            matches = lambda obj: obj["metadata"]["name"] == named and by_name(obj)  # noqa: E731
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        since_text = query.get("resourceVersion") or "0"
        since = int(since_text) if since_text.isdigit() else 0
        oldest = self.store.log[0].resource_version if self.store.log else 0
        if since == 0:
            since = self.store.resource_version
            for obj in self.store.list(kind, namespace, where=matches):
                await self._send(response, {"type": "ADDED", "object": obj})
        elif since < oldest - 1:
            gone = ApiError(410, "Expired", f"too old resource version: {since} ({oldest})")
            await self._send(response, {"type": "ERROR", "object": gone.status()})
            return response
        timeout = float(query["timeoutSeconds"]) if query.get("timeoutSeconds") else None
        try:
            async for change in self.changes(kind, since, timeout=timeout):
                meta = change.obj["metadata"]
                in_namespace = not namespace or meta.get("namespace", "") == namespace
                if in_namespace and matches(change.obj):
                    await self._send(response, {"type": change.type, "object": change.obj})
        except (ConnectionResetError, asyncio.CancelledError):
            return response
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    @staticmethod
    async def _send(response: aiohttp.web.StreamResponse, event: dict[str, Any]) -> None:
        await response.write(json.dumps(event).encode() + b"\n")

    # ----- discovery fix -------------------------------------------------------------------
    async def _serve_version(self, request: rendering.Request) -> rendering.Payload:
        payload = await super()._serve_version(request)
        if not isinstance(payload, dict):
            return payload
        if payload.get("groupVersion") == "/v1":
            payload["groupVersion"] = "v1"
        for entry in payload.get("resources") or []:
            if "/" in entry["name"]:  # a subresource: no short names, categories or lists
                entry.update(shortNames=[], categories=[], verbs=["get", "patch", "update"])
        return payload
