"""A local forge: the few GitHub, GitLab and Gitea endpoints a run's pull request uses.

It keeps requests in memory, checks the token each forge expects, and records every call, so
tests assert on what was opened or updated and how it was authenticated.
"""

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class ForgeState:
    """Open requests by number, and every call made."""

    token: str
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    unauthorized: int = 0


def _authorized(headers: Any, token: str) -> bool:
    return token in {
        (headers.get("Authorization") or "").removeprefix("Bearer ").removeprefix("token "),
        headers.get("PRIVATE-TOKEN") or "",
    }


def _handler(state: ForgeState, base: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"{}") if length else {}

        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            state.calls.append((method, parts.path))
            if not _authorized(self.headers, state.token):
                state.unauthorized += 1
                self._reply(401, {"message": "Bad credentials"})
                return
            query = {key: values[0] for key, values in parse_qs(parts.query).items()}
            path = unquote(parts.path)
            gitlab = re.match(r"^/api/v4/projects/(.+)/merge_requests(?:/(\d+))?$", path)
            pulls = re.match(r"^(?:/api/v1)?/repos/([^/]+/[^/]+)/pulls(?:/(\d+))?$", path)
            if gitlab:
                self._merge_requests(method, gitlab.group(2), query)
            elif pulls:
                self._pulls(method, pulls.group(1), pulls.group(2), query)
            else:
                self._reply(404, {"message": "not found"})

        def _pulls(self, method: str, repo: str, number: str | None, query: dict[str, str]) -> None:
            if method == "GET":
                head = query.get("head", "").split(":")[-1]
                found = [
                    pull
                    for pull in state.pulls.values()
                    if pull["state"] == "open" and (not head or pull["head"]["ref"] == head)
                ]
                self._reply(200, found)
            elif method == "POST":
                data = self._body()
                new = len(state.pulls) + 1
                state.pulls[new] = {
                    "number": new,
                    "state": "open",
                    "title": data["title"],
                    "body": data.get("body", ""),
                    "draft": data.get("draft", False),
                    "head": {"ref": data["head"]},
                    "base": {"ref": data["base"]},
                    "html_url": f"{base}/{repo}/pull/{new}",
                }
                self._reply(201, state.pulls[new])
            elif method == "PATCH" and number is not None:
                pull = state.pulls[int(number)]
                pull.update({k: v for k, v in self._body().items() if k in ("title", "body")})
                self._reply(200, pull)

        def _merge_requests(self, method: str, iid: str | None, query: dict[str, str]) -> None:
            if method == "GET":
                found = [
                    pull
                    for pull in state.pulls.values()
                    if pull["state"] == "opened"
                    and pull["source_branch"] == query.get("source_branch")
                ]
                self._reply(200, found)
            elif method == "POST":
                data = self._body()
                new = len(state.pulls) + 1
                state.pulls[new] = {
                    "iid": new,
                    "state": "opened",
                    "title": data["title"],
                    "description": data.get("description", ""),
                    "source_branch": data["source_branch"],
                    "target_branch": data["target_branch"],
                    "web_url": f"{base}/merge_requests/{new}",
                }
                self._reply(201, state.pulls[new])
            elif method == "PUT" and iid is not None:
                pull = state.pulls[int(iid)]
                data = self._body()
                pull.update({k: v for k, v in data.items() if k in ("title", "description")})
                self._reply(200, pull)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

        def do_PUT(self) -> None:
            self._serve("PUT")

    return Handler


@contextmanager
def forge_server(token: str) -> Iterator[tuple[str, ForgeState]]:
    """Serve a forge on 127.0.0.1; yields (its URL, its state)."""
    state = ForgeState(token=token)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state, "http://forge.test"))
    url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url, state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
