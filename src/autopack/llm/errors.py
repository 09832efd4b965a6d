"""Typed model-call errors the caller can act on, mapped from both official SDKs.

Retryable, as both SDKs document: request timeout (408), conflict (409), rate limited (429),
server errors (5xx), overloaded (529), connection failures, timeouts, and streams cut midway.
Never retried: authentication, invalid requests, context too long. Messages pass through the
redactor: an error body that echoes a key never reaches a log, an event or the ledger.
"""

import re

import httpx2

from autopack.llm.types import RawUsage
from autopack.redaction import redact


class LlmError(Exception):
    """A model call failed."""

    retryable = False
    reason = "failed"
    """How a person would say what happened ("overloaded", "timed out")."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status_code: int | None = None,
        partial_usage: RawUsage | None = None,
    ) -> None:
        """Keep the redacted message, the retry-after hint (s), status and any partial usage."""
        super().__init__(redact(message))
        self.retry_after = retry_after
        self.status_code = status_code
        self.partial_usage = partial_usage


class RateLimitedError(LlmError):
    """429: slow down."""

    retryable = True
    reason = "rate limited"


class OverloadedError(LlmError):
    """529 or an overloaded error body: the provider is busy; another provider may not be."""

    retryable = True
    reason = "overloaded"


class ServerError(LlmError):
    """5xx from the provider."""

    retryable = True
    reason = "server error"


class QuotaExhaustedError(LlmError):
    """The account's quota or credit is used up: fail over at once, never retry the model.

    Retrying the same provider is useless; another provider may well work.
    """

    retryable = True
    reason = "out of quota"


class ConflictError(LlmError):
    """409: a transient conflict on the provider's side; both SDKs retry it."""

    retryable = True
    reason = "conflict"


class CallTimeoutError(LlmError):
    """The call took longer than a timeout (408, no chunk within the idle timeout, or the cap)."""

    retryable = True
    reason = "timed out"


class StreamCutError(LlmError):
    """The stream ended before the final message: the answer is incomplete."""

    retryable = True
    reason = "stream cut"


class ConnectionFailedError(LlmError):
    """The provider could not be reached."""

    retryable = True
    reason = "unreachable"


class AuthenticationFailedError(LlmError):
    """401/403: the key is missing, wrong or not allowed."""

    reason = "refused the key"


class InvalidRequestError(LlmError):
    """4xx: the request itself is wrong."""


class ContextTooLongError(InvalidRequestError):
    """The prompt does not fit the model's context window."""


class BudgetExceededError(LlmError):
    """The call could exceed the remaining token or cost budget, so it was not made."""


class LedgerUnavailableError(LlmError):
    """The spend of earlier calls cannot be recorded durably, so no further call is made."""


class MissingCredentialsError(LlmError):
    """No key is configured for the provider a route names."""


class ProviderUnavailableError(LlmError):
    """Every route stayed overloaded or unreachable after its retries (an outage).

    ``original`` is the first model's error: the message names it, not the last fallback's.
    """

    reason = "unavailable"

    def __init__(self, message: str, *, original: LlmError | None = None) -> None:
        """Keep the error that started the outage."""
        super().__init__(message, status_code=original.status_code if original else None)
        self.original = original


_CONTEXT = re.compile(r"prompt is too long|context[_ ]length|maximum context|too many tokens", re.I)


def _retry_after(headers: object) -> float | None:
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = getter(name)
        if value:
            try:
                return float(value) * scale
            except ValueError:
                continue
    return None


_BY_STATUS: tuple[tuple[range, type[LlmError]], ...] = (
    (range(408, 409), CallTimeoutError),
    (range(409, 410), ConflictError),
    (range(429, 430), RateLimitedError),
    (range(529, 530), OverloadedError),
    (range(500, 600), ServerError),
    (range(401, 402), AuthenticationFailedError),
    (range(403, 404), AuthenticationFailedError),
)


_BY_BODY_TYPE: dict[str, type[LlmError]] = {
    "overloaded_error": OverloadedError,
    "rate_limit_error": RateLimitedError,
    "api_error": ServerError,
    "timeout_error": CallTimeoutError,
    "request_too_large": InvalidRequestError,
}


_QUOTA = re.compile(
    r"insufficient_quota|credit balance is too low|exceeded your current quota", re.I
)


def _status_error(status: int, text: str) -> type[LlmError]:
    if _QUOTA.search(text):
        return QuotaExhaustedError
    if status < 500 and "overloaded" in text.lower():
        return OverloadedError
    if status == 200:  # an error event inside a stream: its body names the kind
        for kind, error in _BY_BODY_TYPE.items():
            if kind in text:
                return error
        return ServerError
    for statuses, error in _BY_STATUS:
        if status in statuses:
            return error
    return ContextTooLongError if _CONTEXT.search(text) else InvalidRequestError


def _server_says(error: LlmError, headers: object) -> LlmError:
    """Honour ``x-should-retry``, which both SDKs obey before their own rules."""
    getter = getattr(headers, "get", None)
    verdict = str(getter("x-should-retry") or "").lower() if getter is not None else ""
    if verdict in ("true", "false"):
        error.retryable = verdict == "true"
    return error


def _transport(exc: Exception, provider: str, partial: RawUsage | None) -> LlmError | None:
    """Timeouts, unreachable servers and broken streams; None for anything else."""
    import anthropic  # noqa: PLC0415 - the SDKs take a second to import: only on an error
    import openai  # noqa: PLC0415

    if isinstance(
        exc, anthropic.APITimeoutError | openai.APITimeoutError | httpx2.TimeoutException
    ):
        return CallTimeoutError(
            f"{provider}: no answer within the timeout ({type(exc).__name__})",
            partial_usage=partial,
        )
    if isinstance(
        exc, anthropic.APIConnectionError | openai.APIConnectionError | httpx2.ConnectError
    ):
        return ConnectionFailedError(f"{provider}: cannot connect ({type(exc).__name__})")
    if isinstance(exc, httpx2.TransportError):
        return StreamCutError(
            f"{provider}: the stream broke off ({type(exc).__name__}: {exc})",
            partial_usage=partial,
        )
    return None


def _in_stream(exc: Exception, provider: str, partial: RawUsage | None) -> LlmError:
    """An error object inside a stream that had started fine: transient unless it says not."""
    body = getattr(exc, "body", None)
    kind = (
        " ".join(str(body.get(key) or "") for key in ("type", "code"))
        if isinstance(body, dict)
        else ""
    )
    message = str(getattr(exc, "message", "") or exc)[:500]
    text = f"{kind} {message}"
    error = RateLimitedError if "rate_limit" in text else _status_error(200, text)
    return error(f"{provider}: an error in the stream: {message}", partial_usage=partial)


def classify(exc: Exception, *, provider: str, partial_usage: RawUsage | None = None) -> LlmError:
    """Map an SDK (or, mid-stream, an HTTP library) exception to our typed error."""
    import anthropic  # noqa: PLC0415 - the SDKs take a second to import: only on an error
    import openai  # noqa: PLC0415

    if isinstance(exc, LlmError):
        return exc
    transport = _transport(exc, provider, partial_usage)
    if transport is not None:
        return transport
    if isinstance(exc, anthropic.APIStatusError | openai.APIStatusError):
        text = str(getattr(exc, "message", "") or exc)[:500]
        error = _status_error(exc.status_code, text)
        retry_after = _retry_after(getattr(exc.response, "headers", None))
        status = exc.status_code
        where = "an error event in the stream" if status == 200 else f"HTTP {status}"
        typed = error(
            f"{provider}: {where}: {text}",
            retry_after=retry_after,
            status_code=status,
            partial_usage=partial_usage,
        )
        return _server_says(typed, getattr(exc.response, "headers", None))
    if isinstance(exc, anthropic.APIError | openai.APIError):
        return _in_stream(exc, provider, partial_usage)
    return LlmError(f"{provider}: {type(exc).__name__}: {exc}", partial_usage=partial_usage)
