"""Typed model-call errors the caller can act on, mapped from both official SDKs.

Retryable: rate limited (429), overloaded (529), server errors (5xx), timeouts, connection
failures. Never retried: authentication, invalid requests, context too long. Messages never
contain credentials (the SDKs do not echo keys; we only keep status, type and message).
"""

import re

import anthropic
import openai


class LlmError(Exception):
    """A model call failed."""

    retryable = False

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        """Keep the message and the server's retry-after hint (seconds), if any."""
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitedError(LlmError):
    """429: slow down."""

    retryable = True


class OverloadedError(LlmError):
    """529 or an overloaded error body: the provider is busy; another provider may not be."""

    retryable = True


class ServerError(LlmError):
    """5xx from the provider."""

    retryable = True


class CallTimeoutError(LlmError):
    """The call took longer than its timeout."""

    retryable = True


class ConnectionFailedError(LlmError):
    """The provider could not be reached."""

    retryable = True


class AuthenticationFailedError(LlmError):
    """401/403: the key is missing, wrong or not allowed."""


class InvalidRequestError(LlmError):
    """4xx: the request itself is wrong."""


class ContextTooLongError(InvalidRequestError):
    """The prompt does not fit the model's context window."""


class BudgetExceededError(LlmError):
    """The call could exceed the remaining token or cost budget, so it was not made."""


class MissingCredentialsError(LlmError):
    """No key is configured for the provider a route names."""


class ProviderUnavailableError(LlmError):
    """Every model of the route stayed overloaded or unreachable after its retries (an outage)."""


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
    (range(429, 430), RateLimitedError),
    (range(529, 530), OverloadedError),
    (range(500, 600), ServerError),
    (range(401, 402), AuthenticationFailedError),
    (range(403, 404), AuthenticationFailedError),
)


def _status_error(status: int, text: str) -> type[LlmError]:
    if status < 500 and "overloaded" in text.lower():
        return OverloadedError
    for statuses, error in _BY_STATUS:
        if status in statuses:
            return error
    return ContextTooLongError if _CONTEXT.search(text) else InvalidRequestError


def classify(exc: Exception, *, provider: str) -> LlmError:
    """Map an SDK exception to our typed error."""
    if isinstance(exc, anthropic.APITimeoutError | openai.APITimeoutError):
        return CallTimeoutError(f"{provider}: the call timed out")
    if isinstance(exc, anthropic.APIConnectionError | openai.APIConnectionError):
        return ConnectionFailedError(f"{provider}: cannot connect ({type(exc).__name__})")
    if isinstance(exc, anthropic.APIStatusError | openai.APIStatusError):
        text = str(getattr(exc, "message", "") or exc)[:500]
        error = _status_error(exc.status_code, text)
        retry_after = _retry_after(getattr(exc.response, "headers", None))
        return error(f"{provider}: HTTP {exc.status_code}: {text}", retry_after=retry_after)
    return LlmError(f"{provider}: {type(exc).__name__}: {exc}")
