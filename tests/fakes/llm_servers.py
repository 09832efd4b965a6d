"""Local servers that speak Anthropic's Messages API and OpenAI's Chat Completions, streaming too.

The official ``anthropic`` and ``openai`` SDKs talk to them over 127.0.0.1 exactly as they talk
to the providers: JSON answers and server-sent events (Anthropic's ``message_start`` …
``message_stop``; OpenAI's ``chat.completion.chunk`` lines with a final usage chunk and
``[DONE]``), over HTTP/1.1 with chunked bodies, so a stream cut midway is a real broken stream.

Each server plays a script of :class:`Answer` and :class:`Fault` entries (then a ``responder``
that chooses from the request, then its default answer): HTTP errors with the providers' bodies and ``retry-after`` / ``retry-after-ms``
headers, hangs before the headers, silence between chunks, slow but live streams, streams cut
midway, error events inside a stream. An outage (``outage_until`` against an injectable clock)
answers every request with the provider's overload error.

A cache model reports cache tokens as the providers do. Anthropic: only blocks carrying
``cache_control`` (at most four, more is a 400) end cacheable prefixes, and only prefixes of at
least the model's minimum cacheable length; a prefix seen before is read, the rest up to the last
breakpoint is written, ``input_tokens`` is what follows. OpenAI: the longest prefix shared with
an earlier request, in 128-token steps from 1,024 tokens, is reported as ``cached_tokens`` inside
``prompt_tokens``. Tokens are counted with the offline cl100k tokenizer.
"""

import contextlib
import hashlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from autopack.llm.tokens import token_ids

Provider = Literal["anthropic", "openai"]

ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


@dataclass(frozen=True)
class Answer:
    """A successful answer; its usage comes from the cache model and the tokenizer."""

    text: str
    stop: str | None = None
    """Anthropic ``end_turn``/``max_tokens``, OpenAI ``stop``/``length``; None: the natural one."""
    chunk_delay: float = 0.0
    """Seconds between stream events (a slow but live answer)."""
    reasoning_tokens: int = 0


@dataclass(frozen=True)
class Fault:
    """A scripted failure."""

    status: int = 200
    """HTTP status of an error answer (200: the fault happens inside a successful stream)."""
    message: str = "scripted fault"
    headers: dict[str, str] = field(default_factory=dict)
    hang_seconds: float = 0.0
    """Silence before the response headers."""
    stall_after_events: int | None = None
    """Send this many stream events, then go silent for ``stall_seconds``."""
    stall_seconds: float = 30.0
    cut_after_events: int | None = None
    """Send this many stream events, then drop the connection without ending the stream."""
    keepalive_after_events: int | None = None
    """Send this many stream events, then only keep-alives (pings or SSE comments), forever."""
    keepalive_every: float = 0.05
    error_event: str | None = None
    """Send the stream's first events, then an error of this type: Anthropic's ``error``
    event, OpenAI's ``{"error": ...}`` data line."""
    text: str = "a partial answer that never finishes " * 4


Step = Answer | Fault


@dataclass
class CacheModel:
    """What the provider has cached, and how usage is reported."""

    min_tokens: dict[str, int] = field(default_factory=dict)
    default_min_tokens: int = 1024
    anthropic_prefixes: set[str] = field(default_factory=set)
    openai_prompts: dict[str, list[list[int]]] = field(default_factory=dict)

    def minimum(self, model: str) -> int:
        """The minimum cacheable prefix of ``model``."""
        return self.min_tokens.get(model, self.default_min_tokens)

    def anthropic_usage(self, model: str, blocks: list[tuple[str, bool]]) -> dict[str, int]:
        """Usage of a request whose blocks are (text, has cache_control), in prompt order."""
        counts = [len(token_ids(text)) for text, _ in blocks]
        total = sum(counts)
        cumulative = list(itertools.accumulate(counts))
        digest = hashlib.sha256(model.encode())
        keys: list[str] = []
        for text, _ in blocks:
            digest.update(b"\x00" + text.encode())
            keys.append(digest.copy().hexdigest())
        eligible = [
            index
            for index, (_, marked) in enumerate(blocks)
            if marked and cumulative[index] >= self.minimum(model)
        ]
        hits = [index for index in eligible if keys[index] in self.anthropic_prefixes]
        read = cumulative[max(hits)] if hits else 0
        last = cumulative[max(eligible)] if eligible else 0
        write = max(last - read, 0)
        self.anthropic_prefixes.update(keys[index] for index in eligible)
        return {
            "input_tokens": total - read - write,
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": write,
        }

    def openai_usage(self, model: str, text: str) -> tuple[int, int]:
        """(prompt_tokens, cached_tokens) of a request whose messages linearize to ``text``."""
        tokens = token_ids(text)
        seen = self.openai_prompts.setdefault(model, [])
        shared = 0
        for earlier in seen:
            common = 0
            for mine, theirs in zip(tokens, earlier, strict=False):
                if mine != theirs:
                    break
                common += 1
            shared = max(shared, common)
        seen.append(tokens)
        cached = (shared // 128) * 128 if shared >= 1024 else 0
        return len(tokens), cached


@dataclass
class FakeLlmServer:
    """One provider's server: its script, its cache and what it received."""

    provider: Provider
    script: list[Step] = field(default_factory=list)
    default: Step | None = field(default_factory=lambda: Answer("ok"))
    cache: CacheModel = field(default_factory=CacheModel)
    clock: Callable[[], float] = time.monotonic
    outage_until: float | None = None
    """While ``clock() < outage_until`` every request gets the provider's overload error."""
    outage_status: int | None = None
    reasoning_models: set[str] = field(default_factory=set)
    """OpenAI models that reject ``max_tokens`` (they take ``max_completion_tokens``)."""
    responder: Callable[[dict[str, Any]], Step | None] | None = None
    """Chooses the step from the request's body once the script is empty (None: the default)."""
    requests: list[dict[str, Any]] = field(default_factory=list)
    answered: list[dict[str, Any]] = field(default_factory=list)
    """Model and usage of every answer sent in full, as the server reported them."""
    url: str = ""
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        """What the SDK's ``base_url`` should be."""
        return self.url if self.provider == "anthropic" else f"{self.url}/v1"

    def next_step(self, body: dict[str, Any] | None = None) -> Step | None:
        """The next scripted step, or the outage's error, or the responder's, or the default."""
        with self.lock:
            if self.outage_until is not None and self.clock() < self.outage_until:
                status = self.outage_status or (529 if self.provider == "anthropic" else 503)
                return Fault(status=status, message="Overloaded")
            if self.script:
                return self.script.pop(0)
        # Outside the lock: a responder may hold its answer back (a call kept in flight).
        chosen = self.responder(body or {}) if self.responder is not None else None
        return chosen if chosen is not None else self.default

    def _answered(self, model: str, usage: dict[str, Any]) -> None:
        with self.lock:
            self.answered.append({"model": model, "usage": usage})

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        """The provider's error body for ``status``."""
        if self.provider == "anthropic":
            kind = ANTHROPIC_ERROR_TYPES.get(status, "api_error")
            return {"type": "error", "error": {"type": kind, "message": message}}
        code = "rate_limit_exceeded" if status == 429 else None
        return {"error": {"message": message, "type": "server_error", "param": None, "code": code}}


def _chunks(text: str, size: int = 16) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _sse(event: str | None, data: Any) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


class _Cut(Exception):
    """The script drops the connection."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_state: FakeLlmServer

    def log_message(self, *args: Any) -> None:
        del args

    def handle(self) -> None:
        # the client dropping a kept-alive connection is normal after timeouts and cuts
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            super().handle()

    # -- plumbing ---------------------------------------------------------------------------

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self.server_state.stopping.wait(seconds)

    def _json(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.send_header("request-id", "req_fake")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("cache-control", "no-cache")
        self.end_headers()

    def _send_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _keep_alive(self, every: float) -> None:
        """Send keep-alives until the client hangs up or the server stops, then drop the line."""
        alive = (
            _sse("ping", {"type": "ping"})
            if self.server_state.provider == "anthropic"
            else b": keep-alive\n\n"
        )
        while not self.server_state.stopping.is_set():
            self._send_chunk(alive)
            self._wait(every)
        raise _Cut

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _stream(self, events: list[bytes], step: Step) -> None:
        """Send events, applying the step's delays, stalls and cuts."""
        self._start_stream()
        delay = step.chunk_delay if isinstance(step, Answer) else 0.0
        for number, event in enumerate(events):
            if isinstance(step, Fault):
                if step.cut_after_events is not None and number >= step.cut_after_events:
                    raise _Cut
                if step.stall_after_events is not None and number == step.stall_after_events:
                    self._wait(step.stall_seconds)
                    raise _Cut
                if (
                    step.keepalive_after_events is not None
                    and number == step.keepalive_after_events
                ):
                    self._keep_alive(step.keepalive_every)
            self._send_chunk(event)
            self._wait(delay)
        self._end_stream()

    # -- requests ---------------------------------------------------------------------------

    def do_POST(self) -> None:
        state = self.server_state
        length = int(self.headers.get("content-length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        state.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        step = state.next_step(body)
        if step is None:
            step = Fault(status=500, message="the fake server's script is empty")
        try:
            if isinstance(step, Fault):
                self._wait(step.hang_seconds)
                if step.status != 200:
                    self._json(
                        step.status, state.error_body(step.status, step.message), step.headers
                    )
                    return
            if state.provider == "anthropic":
                self._anthropic(body, step)
            else:
                self._openai(body, step)
        except _Cut:
            self.close_connection = True
            with contextlib.suppress(OSError):  # the client may be gone already (a killed runner)
                self.connection.shutdown(2)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    def _anthropic(self, body: dict[str, Any], step: Step) -> None:
        state = self.server_state
        model = str(body.get("model"))
        blocks: list[tuple[str, bool]] = []
        system = body.get("system") or []
        if isinstance(system, str):
            system = [{"type": "text", "text": system}]
        for item in system:
            blocks.append((item["text"], "cache_control" in item))
        for message in body.get("messages", []):
            content = message["content"]
            if isinstance(content, str):
                blocks.append((content, False))
                continue
            for item in content:
                blocks.append((item.get("text", ""), "cache_control" in item))
        marked = sum(1 for _, flag in blocks if flag)
        if marked > 4:
            message = f"A maximum of 4 blocks with cache_control may be provided. Found {marked}."
            self._json(400, state.error_body(400, message), {})
            return
        usage = state.cache.anthropic_usage(model, blocks)
        text = step.text
        output = len(token_ids(text))
        max_tokens = int(body.get("max_tokens", 4096))
        stop = (step.stop if isinstance(step, Answer) else None) or (
            "max_tokens" if output > max_tokens else "end_turn"
        )
        message_id = f"msg_{len(state.requests)}"
        if not body.get("stream"):
            self._json(
                200,
                {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [{"type": "text", "text": text}],
                    "stop_reason": stop,
                    "stop_sequence": None,
                    "usage": {**usage, "output_tokens": output},
                },
                {},
            )
            state._answered(model, {**usage, "output_tokens": output})
            return
        events = [
            _sse(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": message_id,
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {**usage, "output_tokens": 1},
                    },
                },
            ),
            _sse(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
            _sse("ping", {"type": "ping"}),
        ]
        events += [
            _sse(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": piece},
                },
            )
            for piece in _chunks(text)
        ]
        if isinstance(step, Fault) and step.error_event:
            error = {"type": "error", "error": {"type": step.error_event, "message": step.message}}
            events = [*events[:3], _sse("error", error)]
        else:
            events += [
                _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
                _sse(
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": stop, "stop_sequence": None},
                        "usage": {"output_tokens": output},
                    },
                ),
                _sse("message_stop", {"type": "message_stop"}),
            ]
        self._stream(events, step)
        if isinstance(step, Answer):
            state._answered(model, {**usage, "output_tokens": output})

    def _openai(self, body: dict[str, Any], step: Step) -> None:
        state = self.server_state
        model = str(body.get("model"))
        if model in state.reasoning_models and "max_tokens" in body:
            message = (
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead."
            )
            self._json(400, state.error_body(400, message), {})
            return
        linear = "".join(
            f"<|{message['role']}|>{message['content']}" for message in body.get("messages", [])
        )
        prompt, cached = state.cache.openai_usage(model, linear)
        text = step.text
        output = len(token_ids(text))
        limit = int(body.get("max_completion_tokens") or body.get("max_tokens") or 4096)
        finish = (step.stop if isinstance(step, Answer) else None) or (
            "length" if output > limit else "stop"
        )
        reasoning = step.reasoning_tokens if isinstance(step, Answer) else 0
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": output + reasoning,
            "total_tokens": prompt + output + reasoning,
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": reasoning},
        }
        base = {"id": f"chatcmpl-{len(state.requests)}", "created": 1, "model": model}
        if not body.get("stream"):
            self._json(
                200,
                {
                    **base,
                    "object": "chat.completion",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": finish,
                        }
                    ],
                    "usage": usage,
                },
                {},
            )
            state._answered(model, usage)
            return
        chunk = {**base, "object": "chat.completion.chunk"}
        events = [
            _sse(
                None,
                {
                    **chunk,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"role": "assistant", "content": ""},
                            "finish_reason": None,
                        }
                    ],
                },
            )
        ]
        events += [
            _sse(
                None,
                {
                    **chunk,
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                },
            )
            for piece in _chunks(text)
        ]
        if isinstance(step, Fault) and step.error_event:
            error = {"error": {"message": step.message, "type": step.error_event, "code": None}}
            self._stream([*events[:3], _sse(None, error)], step)
            return
        events.append(
            _sse(None, {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        )
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(_sse(None, {**chunk, "choices": [], "usage": usage}))
        events.append(_sse(None, "[DONE]"))
        self._stream(events, step)
        if isinstance(step, Answer):
            state._answered(model, usage)


@contextmanager
def llm_server(
    provider: Provider, *, host: str = "127.0.0.1", **options: Any
) -> Iterator[FakeLlmServer]:
    """Serve a fake ``provider`` on a free port of ``host`` until the block ends.

    ``url`` names 127.0.0.1 whatever the host: a server bound to all addresses (kind's pods
    reach it through the Docker network) is still addressed locally by the test.
    """
    state = FakeLlmServer(provider=provider, **options)
    token_ids("load the tokenizer before the first request: tests use sub-second idle timeouts")
    handler = type("Handler", (_Handler,), {"server_state": state})
    server = ThreadingHTTPServer((host, 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        state.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
