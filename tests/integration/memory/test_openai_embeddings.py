"""The OpenAI embedder through the real ``openai`` SDK against a local ``/v1/embeddings`` server.

The server speaks the real wire format: it honours ``encoding_format`` (the SDK asks for base64
float32 by default), returns ``data[].index`` and ``usage``, and answers errors with OpenAI's
``{"error": {...}}`` body. Its vectors come from the lexical embedder, so the test knows them.
"""

import base64
import json
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from autopack import memory

DIMENSIONS = 32
KEY = "sk-test-not-a-real-key"
REFERENCE = memory.LexicalHashingEmbedder(dimensions=DIMENSIONS)


@dataclass
class EmbeddingsServer:
    base_url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


def _handler(state: EmbeddingsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append(body)
            state.headers.append(dict(self.headers))
            if self.path != "/v1/embeddings":
                self._reply(404, {"error": {"message": f"no route {self.path}", "type": "x"}})
                return
            if self.headers.get("Authorization") != f"Bearer {KEY}":
                error = {"message": "Incorrect API key provided", "type": "invalid_request_error"}
                self._reply(401, {"error": {**error, "code": "invalid_api_key"}})
                return
            texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
            vectors = REFERENCE.embed(texts)
            data = [
                {"object": "embedding", "index": index, "embedding": _encode(vector, body)}
                for index, vector in enumerate(vectors)
            ]
            data.reverse()  # the API does not promise order; clients must use "index"
            tokens = sum(len(text.split()) for text in texts)
            self._reply(
                200,
                {
                    "object": "list",
                    "data": data,
                    "model": body["model"],
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                },
            )

    return Handler


def _encode(vector: list[float], body: dict[str, Any]) -> str | list[float]:
    if body.get("encoding_format") == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


@pytest.fixture
def server() -> Iterator[EmbeddingsServer]:
    state = EmbeddingsServer(base_url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def openai_config(server: EmbeddingsServer, **openai: Any) -> memory.MemoryConfig:
    section = {"model": "text-embedding-3-small", "base_url": server.base_url, **openai}
    return memory.MemoryConfig.model_validate({"provider": "openai", "openai": section})


def test_vectors_arrive_in_input_order_through_the_sdk(
    server: EmbeddingsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    embedder = memory.build_embedder(openai_config(server, dimensions=DIMENSIONS))
    texts = ["JWT login tokens", "monthly invoice email", "tax rounding"]

    vectors = embedder.embed(texts)

    assert embedder.provider == "openai"
    assert not embedder.is_lexical
    assert embedder.dimensions == DIMENSIONS
    for vector, expected in zip(vectors, REFERENCE.embed(texts), strict=True):
        assert vector == pytest.approx(expected, abs=1e-6)  # float32 on the wire
    [request] = server.requests
    assert request["model"] == "text-embedding-3-small"
    assert request["input"] == texts
    assert request["encoding_format"] == "base64"
    assert request["dimensions"] == DIMENSIONS


def test_an_unknown_model_size_is_learnt_from_one_probe(
    server: EmbeddingsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    embedder = memory.build_embedder(openai_config(server, model="nomic-embed-text"))

    assert embedder.dimensions == DIMENSIONS
    assert embedder.dimensions == DIMENSIONS
    assert len(server.requests) == 1
    assert "dimensions" not in server.requests[0]


def test_drift_and_recall_work_end_to_end_with_openai_vectors(
    server: EmbeddingsServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    embedder = memory.build_embedder(openai_config(server, model="nomic-embed-text"))
    anchor = memory.IntentionAnchor(goal="monthly invoice email for customers", source="intention")
    store = memory.open_store(path=tmp_path / "qdrant")
    try:
        mem = memory.IntentionMemory(
            embedder=embedder, vector_store=store, retrieval=memory.RetrievalSettings()
        )
        mem.remember_anchor(run_id="r", anchor=anchor)
        recollection = mem.recall(run_id="r", query="invoice email")
    finally:
        store.close()
    result = memory.check_drift(
        change_summary="Replaced the footer logo",
        anchor=anchor,
        embedder=embedder,
        settings=memory.DriftSettings(thresholds={"openai": 0.3}),
    )

    assert "monthly invoice email" in recollection.text
    assert not recollection.lexical
    assert result.verdict == "drift"
    assert result.provider == "openai"
    assert result.model == "nomic-embed-text"


def test_a_rejected_key_gives_an_error_without_the_key(
    server: EmbeddingsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-secret-value")
    embedder = memory.build_embedder(openai_config(server, dimensions=DIMENSIONS))

    with pytest.raises(memory.EmbeddingError) as raised:
        embedder.embed(["hello"])

    message = str(raised.value)
    assert "HTTP 401" in message
    assert "Incorrect API key provided" in message
    assert server.base_url in message
    assert "sk-wrong-secret-value" not in message
    assert len(server.requests) == 1  # 401 is not retried
