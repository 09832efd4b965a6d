"""A small JSON client of the test control plane's API, for test machinery (not the code under test).

The test kubelet and fixtures need a handful of raw calls (bind a pod, write ``pods/status``,
watch pods, request a ServiceAccount token) on plain dicts; the kubernetes client's generated
models would only get in the way. The code under test keeps using its own clients.
"""

import http.client
import json
import ssl
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any


class ApiStatusError(RuntimeError):
    """The API server answered with an error status."""

    def __init__(self, method: str, path: str, code: int, body: str) -> None:
        super().__init__(f"{method} {path} -> {code}: {body[:2000]}")
        self.code = code


class ApiClient:
    """JSON requests and watches against ``https://127.0.0.1:<port>``."""

    def __init__(self, *, host: str, port: int, context: ssl.SSLContext) -> None:
        self.host = host
        self.port = port
        self.context = context
        self._watches: set[http.client.HTTPSConnection] = set()
        self._lock = threading.Lock()

    def _connection(self, timeout: float) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(
            self.host, self.port, context=self.context, timeout=timeout
        )

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        query: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send one request; return the decoded JSON answer (raise on an error status)."""
        if query:
            path = f"{path}?{urllib.parse.urlencode(query)}"
        connection = self._connection(60)
        try:
            payload = None if body is None else json.dumps(body).encode()
            headers = {"Accept": "application/json"}
            if payload is not None:
                headers["Content-Type"] = content_type
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read().decode(errors="replace")
        finally:
            connection.close()
        if response.status >= 400:
            raise ApiStatusError(method, path, response.status, data)
        answer: dict[str, Any] = json.loads(data) if data else {}
        return answer

    def get(self, path: str) -> dict[str, Any] | None:
        """GET ``path``; None when it does not exist."""
        try:
            return self.request("GET", path)
        except ApiStatusError as error:
            if error.code == 404:
                return None
            raise

    def merge_patch(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """PATCH ``path`` with a JSON merge patch."""
        return self.request("PATCH", path, body, content_type="application/merge-patch+json")

    def watch(self, path: str, *, resource_version: str, timeout: int = 60) -> Iterator[Any]:
        """Events of a watch on the collection ``path`` from ``resource_version``.

        Ends when the server closes the stream (after ``timeout`` seconds) or when
        :meth:`close_watches` is called from another thread.
        """
        query = urllib.parse.urlencode(
            {
                "watch": "1",
                "resourceVersion": resource_version,
                "timeoutSeconds": str(timeout),
                "allowWatchBookmarks": "true",
            }
        )
        connection = self._connection(timeout + 30)
        with self._lock:
            self._watches.add(connection)
        try:
            connection.request("GET", f"{path}?{query}", headers={"Accept": "application/json"})
            response = connection.getresponse()
            if response.status >= 400:
                raise ApiStatusError("WATCH", path, response.status, response.read().decode())
            while True:
                line = response.readline()
                if not line:
                    return
                if line.strip():
                    yield json.loads(line)
        except (OSError, http.client.HTTPException, ValueError):
            return  # closed by close_watches() or by the server; the caller lists again
        finally:
            with self._lock:
                self._watches.discard(connection)
            connection.close()

    def close_watches(self) -> None:
        """Interrupt every open watch (their iterators end)."""
        with self._lock:
            connections = list(self._watches)
        for connection in connections:
            if connection.sock is not None:
                try:
                    connection.sock.shutdown(2)
                except OSError:
                    continue
