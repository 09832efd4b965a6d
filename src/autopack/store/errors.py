"""The one error the store raises when the database cannot be used, phrased for people."""

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


class StoreUnavailableError(RuntimeError):
    """The database URL is malformed, unreachable or refuses us; the message says which."""


def redact_url(url: str) -> str:
    """Return ``url`` with any password hidden, safe for logs and error messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparseable database URL>"


def first_line(error: BaseException) -> str:
    """Return the first non-empty line of an exception's message (drivers write many)."""
    for line in str(getattr(error, "orig", None) or error).splitlines():
        if line.strip():
            return line.strip()
    return type(error).__name__
