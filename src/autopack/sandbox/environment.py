"""The environment an untrusted command gets: an allowlist, never Autopack's own environment.

A repository's build and test commands (and the code the Builder wrote) run with PATH, a private
HOME and TMPDIR, the locale, the toolchain's own variables (caches, JDK, proxies to the package
registries) and the names the run lists in ``spec.toolchain.env``. Provider keys, git tokens,
``AUTOPACK_*`` settings and the Kubernetes service-account variables never pass, even when a run
names them, and no passed value may carry credentials in a URL.
"""

import os
import re
from collections.abc import Iterable, Mapping

from autopack import redaction
from autopack.api import run

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Passed through from the runner's environment when set there.
LOCALE_NAMES = frozenset({"LANG", "LANGUAGE", "TZ", "TERM"})
TOOLCHAIN_NAMES = frozenset(
    {
        # Go
        "GOPATH", "GOCACHE", "GOMODCACHE", "GOROOT", "GOFLAGS", "GOPROXY", "GONOSUMDB",
        "GOPRIVATE", "GONOPROXY", "GOSUMDB", "GOTOOLCHAIN", "CGO_ENABLED",
        # Rust
        "CARGO_HOME", "RUSTUP_HOME", "RUSTUP_TOOLCHAIN", "CARGO_TARGET_DIR", "RUSTFLAGS",
        # JVM
        "JAVA_HOME", "MAVEN_OPTS", "MAVEN_HOME", "M2_HOME", "GRADLE_USER_HOME", "GRADLE_OPTS",
        # Node
        "npm_config_cache", "npm_config_registry", "NODE_PATH", "NODE_EXTRA_CA_CERTS",
        "YARN_CACHE_FOLDER", "PNPM_HOME", "COREPACK_HOME",
        # Python
        "VIRTUAL_ENV", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_CERT",
        "PIP_CACHE_DIR", "UV_INDEX_URL", "UV_CACHE_DIR", "PYTHONUTF8",
        # Version managers (their shims find the right toolchain through these)
        "PYENV_ROOT", "PYENV_VERSION", "NVM_DIR", "NVM_BIN", "VOLTA_HOME", "ASDF_DIR",
        "ASDF_DATA_DIR", "SDKMAN_DIR", "RBENV_ROOT", "NODENV_ROOT", "GOENV_ROOT", "GEM_HOME",
        "GEM_PATH", "DOTNET_ROOT",
        # Certificates and proxies to the package registries
        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    }
)  # fmt: skip

# Prefixes of toolchain settings passed through (values of secret-named ones never are).
TOOLCHAIN_PREFIXES = (
    "CARGO_",
    "RUSTUP_",
    "MAVEN_",
    "GRADLE_",
    "npm_config_",
    "NPM_CONFIG_",
    "PIP_",
    "UV_",
    "YARN_",
)

# Toolchains installed under the runner's HOME keep working with the command's private HOME.
HOME_TOOLCHAINS = {"RUSTUP_HOME": ".rustup", "CARGO_HOME": ".cargo", "GOPATH": "go"}

# Set for every command: tests behave as in CI and leave no bytecode in the repository.
FIXED = {"CI": "true", "PYTHONDONTWRITEBYTECODE": "1"}

# Never passed, whatever a run names: Autopack's settings, its credentials, the cluster's token.
_FORBIDDEN = re.compile(run.FORBIDDEN_ENV_PATTERN)
_URL_USERINFO = re.compile(r"://[^/@\s]*:[^/@\s]*@|://[^/@\s:]{16,}@")


class ForbiddenVariable(ValueError):
    """A name in ``spec.toolchain.env`` may not be passed to untrusted commands."""


def is_forbidden(name: str) -> bool:
    """True when ``name`` never reaches an untrusted command, even if a run lists it."""
    return _FORBIDDEN.match(name) is not None


def check_names(names: Iterable[str]) -> None:
    """Refuse names a run may not pass to its commands, with the reason."""
    refused = sorted(name for name in names if is_forbidden(name))
    if refused:
        raise ForbiddenVariable(
            f"spec.toolchain.env names {', '.join(refused)}: Autopack's settings, credentials and "
            "the cluster's variables never reach build and test commands"
        )


def build_environment(
    source: Mapping[str, str],
    *,
    home: str,
    tmpdir: str,
    extra_names: Iterable[str] = (),
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The allowlisted environment for one command.

    ``source`` is the runner's environment, ``home`` and ``tmpdir`` private directories,
    ``extra_names`` the names from ``spec.toolchain.env``; ``extra`` are values Autopack itself
    sets for this command (never secrets).
    """
    named = set(extra_names)
    allowed = LOCALE_NAMES | TOOLCHAIN_NAMES
    env: dict[str, str] = {}
    for name, value in source.items():
        passes = name in named or (
            (name in allowed or name.startswith(("LC_", *TOOLCHAIN_PREFIXES)))
            and not redaction.is_secret_name(name)
        )
        if passes and not is_forbidden(name) and not _URL_USERINFO.search(value):
            env[name] = value
    runner_home = source.get("HOME")
    for name, directory in HOME_TOOLCHAINS.items():
        if runner_home and name not in env and os.path.isdir(os.path.join(runner_home, directory)):
            env[name] = os.path.join(runner_home, directory)
    env["PATH"] = source.get("PATH") or DEFAULT_PATH
    env["HOME"] = home
    env["TMPDIR"] = tmpdir
    env.setdefault("LANG", "C.UTF-8")
    env.update(FIXED)
    for name, value in (extra or {}).items():
        if not is_forbidden(name):
            env[name] = value
    return env
