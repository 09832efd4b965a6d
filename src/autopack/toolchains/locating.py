"""Find a toolchain's programs where their installers put them, not only on ``PATH``.

Go's official archive lives in ``/usr/local/go/bin`` and rustup's proxies in ``~/.cargo/bin``;
both installers add those directories to ``PATH`` through shell start-up files, which CI
scripts, service managers and ``bash -c`` never read. A repository's Go or Rust tests would
then fail with "command not found" on a machine that has the toolchain. The adapters look in
the same places a person would, and a test command that needs such a directory gets it
appended to ``PATH`` (appended, so a toolchain already on ``PATH`` always wins).
"""

import os
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path


def _home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or Path.home())


def known_directories(program: str, env: Mapping[str, str] | None = None) -> tuple[Path, ...]:
    """Where the usual installers put ``program``, most specific (environment variables) first."""
    env = os.environ if env is None else env
    home = _home(env)
    # Each entry: an environment variable naming an installation root, then fixed places.
    rooted: dict[str, tuple[tuple[str, str], ...]] = {
        "go": (("GOROOT", "bin"),),
        "gofmt": (("GOROOT", "bin"),),
        "cargo": (("CARGO_HOME", "bin"),),
        "rustc": (("CARGO_HOME", "bin"),),
        "rustup": (("CARGO_HOME", "bin"),),
        "mvn": (("MAVEN_HOME", "bin"), ("M2_HOME", "bin")),
        "gradle": (("GRADLE_HOME", "bin"),),
        "java": (("JAVA_HOME", "bin"),),
        "javac": (("JAVA_HOME", "bin"),),
    }
    fixed: dict[str, tuple[Path, ...]] = {
        "go": (Path("/usr/local/go/bin"), Path("/usr/lib/go/bin"), home / "sdk" / "go" / "bin"),
        "gofmt": (Path("/usr/local/go/bin"), Path("/usr/lib/go/bin")),
        "cargo": (home / ".cargo" / "bin",),
        "rustc": (home / ".cargo" / "bin",),
        "rustup": (home / ".cargo" / "bin",),
        "mvn": (Path("/usr/share/maven/bin"), Path("/opt/maven/bin")),
        "gradle": (Path("/usr/share/gradle/bin"), Path("/opt/gradle/bin")),
        "node": (Path("/usr/local/node/bin"),),
        "npm": (Path("/usr/local/node/bin"),),
    }
    from_env = tuple(
        Path(env[variable]) / sub for variable, sub in rooted.get(program, ()) if env.get(variable)
    )
    return from_env + fixed.get(program, ())


def find_tool(program: str, env: Mapping[str, str] | None = None) -> Path | None:
    """The executable that runs ``program``: from ``PATH`` first, else a known directory."""
    env = os.environ if env is None else env
    on_path = shutil.which(program, path=env.get("PATH", os.defpath))
    if on_path is not None:
        return Path(on_path)
    for directory in known_directories(program, env):
        candidate = directory / program
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def program_of(command: str) -> str | None:
    """The program a command line starts with, past ``VAR=value`` assignments (``./x`` is none)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    for word in words:
        if "=" in word and not word.startswith(("/", ".")) and word.split("=", 1)[0].isidentifier():
            continue
        return None if "/" in word else word
    return None


def missing_path_entries(command: str, env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Directories to append to ``PATH`` so that ``command``'s program is found (none if it is)."""
    env = os.environ if env is None else env
    program = program_of(command)
    if program is None or shutil.which(program, path=env.get("PATH", os.defpath)):
        return ()
    found = find_tool(program, env)
    return (str(found.parent),) if found is not None else ()


def path_prefix(command: str, env: Mapping[str, str] | None = None) -> str:
    """A shell prefix that appends to ``PATH`` what ``command``'s program needs ("" if nothing).

    Exported, so that every part of a compound command line (``cd x && go test``) sees it.
    """
    entries = missing_path_entries(command, env)
    if not entries:
        return ""
    return f'export PATH="$PATH":{":".join(shlex.quote(entry) for entry in entries)}; '
