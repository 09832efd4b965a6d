"""One redactor for everything Autopack stores, prints, emits or sends to a model.

Secrets reach text in two ways: as values Autopack knows (provider keys, git tokens, credentials
taken out of a repository URL, secrets a user configured) and as credentials Autopack has never
seen but a test or a log printed (someone else's key, an ``Authorization`` header, a private
key). The first kind is removed by exact value, the second by the shapes common credentials
have. A process-wide default redactor starts from the environment; code that learns a secret at
run time ``register``s it.

This module imports nothing of ours: every layer may use it.
"""

import base64
import os
import re
import threading
import urllib.parse
from collections.abc import Iterable, Mapping

MASK = "***"

# Values shorter than this are not treated as secrets: masking "true" or "1234" everywhere would
# destroy text without protecting anything.
MIN_SECRET_LENGTH = 8

# Environment variable names whose values are secrets (matched on the upper-cased name).
_SECRET_NAME = re.compile(
    r"(?:^|_)(?:API_?KEY|KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASS|CREDENTIALS?|AUTH)(?:$|_)"
)

# Shapes of common credentials; the replacement keeps a prefix so the text stays readable. The
# third item is text every match contains (case and all): without it in the text the pattern
# cannot match, and a substring test is far cheaper than a regular expression pass over a prompt.
_PATTERNS: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = (
    (
        re.compile(
            r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
            re.DOTALL,
        ),
        "-----BEGIN \\1PRIVATE KEY-----" + MASK + "-----END \\1PRIVATE KEY-----",
        ("PRIVATE KEY-----",),
    ),
    # HTTP authorization headers, whatever the scheme (Basic, Bearer, token, ...).
    (
        re.compile(r"(?i)\b((?:proxy-)?authorization\s*[:=]\s*)(?:[A-Za-z]+\s+)?[^\s'\",;]+"),
        "\\1" + MASK,
        (),  # case-insensitive: always applied
    ),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), "\\1" + MASK, ()),
    # Userinfo in URLs: scheme://user:password@host and scheme://token@host.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s'\"<>]+@"), "\\1" + MASK + "@", ("://",)),
    # Provider and forge token formats.
    (re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}"), "sk-" + MASK, ("sk-",)),
    (re.compile(r"\b(gh[pousr]_)[A-Za-z0-9]{20,}"), "\\1" + MASK, ("gh",)),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"), "github_pat_" + MASK, ("github_pat_",)),
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"), "glpat-" + MASK, ("glpat-",)),
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "\\1" + MASK, ("AKIA", "ASIA")),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), "xox-" + MASK, ("xox",)),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}"), "AIza" + MASK, ("AIza",)),
    # JSON web tokens (a Kubernetes service-account token is one).
    (
        re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
        "eyJ" + MASK,
        ("eyJ",),
    ),
)


def _variants(secret: str) -> set[str]:
    """The spellings of ``secret`` that commonly end up in text (URL-quoted, base64)."""
    found = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
    found.add(base64.b64encode(secret.encode()).decode())
    return {value for value in found if len(value) >= MIN_SECRET_LENGTH}


def is_secret_name(name: str) -> bool:
    """True when an environment variable called ``name`` holds a secret by its name."""
    return _SECRET_NAME.search(name.upper()) is not None


def secrets_in_environment(env: Mapping[str, str]) -> list[str]:
    """Secret values in ``env``: those of secret-named variables and passwords inside URLs."""
    found: list[str] = []
    for name, value in env.items():
        if not value:
            continue
        if is_secret_name(name):
            found.append(value)
        if "://" in value and "@" in value:
            try:
                parsed = urllib.parse.urlsplit(value)
            except ValueError:
                continue
            for part in (parsed.password, parsed.username if parsed.password is None else None):
                if part:
                    found.append(urllib.parse.unquote(part))
    return found


class Redactor:
    """Remove known secret values and credential-shaped strings from text."""

    def __init__(self, secrets: Iterable[str] = (), *, patterns: bool = True) -> None:
        """Start with ``secrets``; ``patterns=False`` removes known values only."""
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._matcher: re.Pattern[str] | None = None
        self._patterns = patterns
        for secret in secrets:
            self.register(secret)

    def register(self, secret: str | None) -> None:
        """Treat ``secret`` (and its URL-quoted and base64 spellings) as a secret from now on."""
        if not secret or len(secret.strip()) < MIN_SECRET_LENGTH:
            return
        with self._lock:
            spellings = _variants(secret.strip()) | _variants(secret)
            if spellings <= self._values:
                return
            self._values |= spellings
            # Longest first, so a secret that contains another is removed whole.
            ordered = sorted(self._values, key=len, reverse=True)
            self._matcher = re.compile("|".join(re.escape(value) for value in ordered))

    @property
    def known(self) -> int:
        """How many secret spellings are known (for diagnostics; never the values)."""
        return len(self._values)

    def redact(self, text: str) -> str:
        """Return ``text`` with every known secret and credential-shaped string masked."""
        if not text:
            return text
        matcher = self._matcher
        if matcher is not None:
            text = matcher.sub(MASK, text)
        if self._patterns:
            for pattern, replacement, needles in _PATTERNS:
                if not needles or any(needle in text for needle in needles):
                    text = pattern.sub(replacement, text)
        return text

    def redact_data(self, value: object) -> object:
        """Redact every string inside ``value`` (dicts, lists and tuples are walked)."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {key: self.redact_data(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.redact_data(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self.redact_data(item) for item in value)
        return value


def from_environment(env: Mapping[str, str] | None = None) -> Redactor:
    """A redactor that knows the secrets in ``env`` (default: this process's environment).

    Secret files mounted for git (``AUTOPACK_GIT_CREDENTIALS_DIR``) are read too.
    """
    source = os.environ if env is None else env
    redactor = Redactor(secrets_in_environment(source))
    directory = source.get("AUTOPACK_GIT_CREDENTIALS_DIR")
    if directory:
        for name in ("token", "password"):
            path = os.path.join(directory, name)
            if os.path.isfile(path):
                with open(path, encoding="utf-8", errors="replace") as handle:
                    redactor.register(handle.read().strip())
    return redactor


_default: list[Redactor] = []  # the process-wide redactor, once built
_default_lock = threading.Lock()


def default() -> Redactor:
    """The process-wide redactor, built from the environment on first use."""
    with _default_lock:
        if not _default:
            _default.append(from_environment())
        return _default[0]


def register(secret: str | None) -> None:
    """Add ``secret`` to the process-wide redactor."""
    default().register(secret)


def redact(text: str) -> str:
    """Redact ``text`` with the process-wide redactor."""
    return default().redact(text)


def redact_data(value: object) -> object:
    """Redact every string inside ``value`` with the process-wide redactor."""
    return default().redact_data(value)


def reset_default(env: Mapping[str, str] | None = None) -> Redactor:
    """Rebuild the process-wide redactor from ``env`` (tests, and a runner that loaded secrets)."""
    with _default_lock:
        _default[:] = [from_environment(env)]
        return _default[0]
