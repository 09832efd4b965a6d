"""The one place the model layer scrubs secrets from text it stores, prints or raises.

Error bodies can echo a key (a proxy that quotes the Authorization header, a server that repeats
the request). Until the project's shared redactor lands, this helper masks the provider keys
this process knows and the usual credential shapes; switching to the shared one is one line.
"""

import os
import re

MASK = "***"
_KEY_VARIABLES = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")
_SHAPES = (
    re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{8,}"),
    re.compile(r"(?i)\b(?:bearer|x-api-key[\"']?\s*[:=]\s*[\"']?)\s*[A-Za-z0-9._~+/=-]{8,}"),
)
_known: set[str] = set()


def register(secret: str) -> None:
    """Mask ``secret`` from now on (keys read from files, not only the environment)."""
    if len(secret) >= 8:
        _known.add(secret)


def redact(text: str) -> str:
    """``text`` without any key this process knows or anything shaped like a credential."""
    secrets = _known | {os.environ.get(name, "") for name in _KEY_VARIABLES}
    for secret in sorted((s for s in secrets if len(s) >= 8), key=len, reverse=True):
        text = text.replace(secret, MASK)
    for shape in _SHAPES:
        text = shape.sub(MASK, text)
    return text
