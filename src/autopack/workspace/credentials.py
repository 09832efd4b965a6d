"""Git credentials: from the environment, a mounted secret, or taken out of the repository URL.

Credentials never stay in a URL: ``https://user:token@host/repo`` becomes ``https://host/repo``
plus (user, token), which reach git as an HTTP header (see :mod:`autopack.workspace.git`), so
they are never written to ``.git/config``, remotes, logs or error messages. Every secret found
here is registered with the process-wide redactor.
"""

import os
import shlex
import urllib.parse
from collections.abc import Mapping
from pathlib import Path

from autopack import redaction

Credentials = tuple[str, str]

_HTTP = ("http", "https")
DEFAULT_USERNAME = "x-access-token"


def credentials_from_environment(env: Mapping[str, str] | None = None) -> Credentials | None:
    """Return (username, secret) from the environment or a mounted secret, or None."""
    source = os.environ if env is None else env
    directory = source.get("AUTOPACK_GIT_CREDENTIALS_DIR")
    found: Credentials | None = None
    if directory:
        base = Path(directory)

        def read(name: str) -> str:
            path = base / name
            return path.read_text(encoding="utf-8").strip() if path.is_file() else ""

        secret = read("token") or read("password")
        if secret:
            found = (read("username") or DEFAULT_USERNAME, secret)
    token = source.get("AUTOPACK_GIT_TOKEN", "")
    if found is None and token:
        found = (source.get("AUTOPACK_GIT_USERNAME", DEFAULT_USERNAME), token)
    if found is not None:
        redaction.register(found[1])
    return found


def split_credentials(url: str) -> tuple[str, Credentials | None]:
    """``url`` without the credentials in its userinfo, and those credentials.

    Only http(s) URLs carry secrets there: ``https://token@host`` (the token alone) and
    ``https://user:password@host``. An ssh user (``ssh://git@host``) is a name, not a secret,
    and stays.
    """
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url, None
    if parts.scheme.lower() not in _HTTP or "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, has_password, password = userinfo.partition(":")
    user, password = urllib.parse.unquote(user), urllib.parse.unquote(password)
    clean = urllib.parse.urlunsplit(parts._replace(netloc=host))
    if has_password and password:
        found: Credentials = (user or DEFAULT_USERNAME, password)
    elif user:
        found = (DEFAULT_USERNAME, user)
    else:
        return clean, None
    redaction.register(found[1])
    return clean, found


def display_url(url: str) -> str:
    """``url`` fit to print: credentials removed."""
    return split_credentials(url)[0]


SSH_KEY_FILE = "ssh-privatekey"  # the key of a kubernetes.io/ssh-auth Secret
KNOWN_HOSTS_FILE = "known_hosts"


def mounted_credentials(env: Mapping[str, str] | None = None) -> bool | None:
    """Whether the mounted credentials directory holds a token, password or SSH key.

    None when no directory is mounted. The Secret's volume is optional, so a missing Secret
    (or one without these keys) is found here, and said, instead of a pod that never starts.
    """
    source = os.environ if env is None else env
    directory = source.get("AUTOPACK_GIT_CREDENTIALS_DIR")
    if not directory:
        return None
    return any((Path(directory) / name).is_file() for name in ("token", "password", SSH_KEY_FILE))


def ssh_command_from_environment(env: Mapping[str, str] | None = None) -> str | None:
    """The ssh command git uses with the mounted SSH key and known hosts, or None.

    The key and ``known_hosts`` stay where the Secret is mounted (never in the workspace);
    host keys are checked strictly, so an unknown host is refused rather than trusted.
    """
    source = os.environ if env is None else env
    directory = source.get("AUTOPACK_GIT_CREDENTIALS_DIR")
    if not directory:
        return None
    key = Path(directory) / SSH_KEY_FILE
    if not key.is_file():
        return None
    known_hosts = Path(directory) / KNOWN_HOSTS_FILE
    hosts = shlex.quote(str(known_hosts)) if known_hosts.is_file() else "/dev/null"
    options = [
        "ssh",
        "-F",
        "/dev/null",
        "-i",
        shlex.quote(str(key)),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        f"UserKnownHostsFile={hosts}",
    ]
    return " ".join(options)
