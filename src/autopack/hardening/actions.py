"""The small functions behind the mitigations: each fixes one known failure deterministically.

An action gets the captured groups of its pattern and a context (workspace root, a way to run
a command there, the phase's allowed paths and the current test command) and returns what it
did. It never calls a model. Actions are looked up by the name used in ``hardening.yaml``.

The failure text they read is the output of untrusted tests, so an install never takes a name
from it alone: a package is installed only when the project declares it (its dependency files
or lockfile) or ``hardening.yaml``'s ``allowed_installs`` names it; otherwise the failure goes
back to the Builder. Installs run through the sandbox (with network) and each is recorded.
"""

import json
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.exceptions
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from tomlkit.items import Array, Table

from autopack import sandbox as sandboxing
from autopack.edits import paths as edit_paths

CommandRunner = Callable[[Sequence[str]], tuple[int, str]]


INSTALL_TIMEOUT = 600.0


def run_command(root: Path, sandbox: sandboxing.Sandbox | None = None) -> CommandRunner:
    """Return a runner of argument lists in ``root`` (no shell), with a timeout.

    With ``sandbox`` the command runs there, with network (installs reach the registries);
    without one it still gets the allowlisted environment, never Autopack's secrets.
    """

    def run(argv: Sequence[str]) -> tuple[int, str]:
        if sandbox is not None:
            result = sandbox.run(list(argv), cwd=root, timeout=INSTALL_TIMEOUT, network=True)
            return (1 if result.exit_code is None else result.exit_code), result.tail[-4000:]
        with sandboxing.Unsandboxed(root) as own:
            environment = own.environment(tmpdir=own.scratch)
            try:
                done = subprocess.run(
                    list(argv),
                    cwd=root,
                    capture_output=True,
                    text=True,
                    timeout=INSTALL_TIMEOUT,
                    check=False,
                    env=environment,
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                return 1, str(exc)
        return done.returncode, (done.stdout + done.stderr)[-4000:]

    return run


@dataclass
class MitigationContext:
    """What an action may use."""

    root: Path
    run: CommandRunner
    allowed_paths: Sequence[str]
    test_command: str
    python_distributions: dict[str, str] = field(default_factory=dict)
    allowed_installs: dict[str, list[str]] = field(default_factory=dict)
    """Packages installable although the project does not declare them: ecosystem -> names."""


@dataclass
class ActionResult:
    """What an action did; ``applied`` False means it could not help."""

    applied: bool
    description: str
    feedback: list[str] = field(default_factory=list)
    changed_files: list[str] = field(default_factory=list)
    test_command: str | None = None
    installs: list[str] = field(default_factory=list)
    """Each install tried: the command, why it was allowed, and how it ended."""


def _requirement_name(line: str) -> str | None:
    try:
        return canonicalize_name(Requirement(line).name)
    except InvalidRequirement:
        return None


def _declare_in_pyproject(path: Path, distribution: str) -> bool:
    """Add ``distribution`` to ``[project].dependencies`` (or Poetry's table), keeping style."""
    try:
        document = tomlkit.parse(path.read_text(encoding="utf-8"))
    except (OSError, tomlkit.exceptions.ParseError):
        return False
    wanted = canonicalize_name(distribution)
    project = document.get("project")
    poetry = document.get("tool", {}).get("poetry", {}).get("dependencies")
    if isinstance(project, Table):
        dependencies = project.get("dependencies")
        if dependencies is None:
            dependencies = tomlkit.array()
            project["dependencies"] = dependencies
        if not isinstance(dependencies, Array):
            return False
        if wanted not in {_requirement_name(str(item)) for item in dependencies}:
            dependencies.append(distribution)
            dependencies.multiline(True)
    elif isinstance(poetry, Table):
        if wanted not in {canonicalize_name(str(name)) for name in poetry}:
            poetry[distribution] = "*"
    else:
        return False
    path.write_text(tomlkit.dumps(document), encoding="utf-8")
    return True


def _add_requirement(root: Path, distribution: str) -> str | None:
    """Declare ``distribution`` where the project declares its dependencies; return that file."""
    requirements = root / "requirements.txt"
    if requirements.is_file():
        text = requirements.read_text(encoding="utf-8")
        declared = {_requirement_name(line.split(" #")[0].strip()) for line in text.splitlines()}
        if canonicalize_name(distribution) not in declared:
            requirements.write_text(text.rstrip("\n") + f"\n{distribution}\n", encoding="utf-8")
        return "requirements.txt"
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and _declare_in_pyproject(pyproject, distribution):
        return "pyproject.toml"
    return None


_PYTHON = re.compile(r"python(?:\d+(?:\.\d+)?)?")


def project_python(test_command: str, root: Path) -> str:
    """The interpreter the project's tests run with: the test command's, else Autopack's own.

    ``python -m pytest`` and ``.venv/bin/python -m pytest`` name it; ``pytest`` and
    ``.venv/bin/pytest`` are scripts whose interpreter sits beside them.
    """
    try:
        words = shlex.split(test_command.rsplit("&&", maxsplit=1)[-1])
    except ValueError:
        words = []
    for word in words:
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", word) or word == "env":
            continue  # environment assignments before the command
        name = Path(word).name
        if not (_PYTHON.fullmatch(name) or name in ("pytest", "py.test")):
            break
        found = str(root / word) if "/" in word and not word.startswith("/") else word
        resolved = shutil.which(found)
        if resolved is None:
            break
        if _PYTHON.fullmatch(name):
            return resolved
        beside = Path(resolved).parent / "python"
        if beside.exists():
            return str(beside)
        break
    return sys.executable


def _names(values: Iterable[Any]) -> set[str]:
    return {
        name for value in values if isinstance(value, str) and (name := _requirement_name(value))
    }


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}


def declared_python(root: Path) -> dict[str, str]:
    """Distributions the project declares (canonical name -> the file that declares it).

    Read: requirements*.txt (also under requirements/), pyproject.toml (PEP 621 dependencies and
    optional dependencies, dependency groups, Poetry's tables), Pipfile, and the names locked in
    poetry.lock, uv.lock and pdm.lock.
    """
    found: dict[str, str] = {}

    def add(names: Iterable[str], source: str) -> None:
        for name in names:
            found.setdefault(canonicalize_name(name), source)

    requirement_files = sorted(root.glob("requirements*.txt")) + sorted(
        root.glob("requirements/*.txt")
    )
    for path in requirement_files:
        if path.is_file() and not path.is_symlink():
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            add(_names(line.split(" #")[0].strip() for line in lines), path.name)
    pyproject = _toml(root / "pyproject.toml")
    project = pyproject.get("project", {})
    add(_names(project.get("dependencies", [])), "pyproject.toml")
    for extra in project.get("optional-dependencies", {}).values():
        add(_names(extra), "pyproject.toml")
    for group in pyproject.get("dependency-groups", {}).values():
        add(_names(group), "pyproject.toml")
    poetry = pyproject.get("tool", {}).get("poetry", {})
    tables = [poetry.get("dependencies", {}), poetry.get("dev-dependencies", {})]
    tables += [group.get("dependencies", {}) for group in poetry.get("group", {}).values()]
    for table in tables:
        add((name for name in table if name != "python"), "pyproject.toml")
    pipfile = _toml(root / "Pipfile")
    for section in ("packages", "dev-packages"):
        add(pipfile.get(section, {}), "Pipfile")
    for lock in ("poetry.lock", "uv.lock", "pdm.lock"):
        packages = _toml(root / lock).get("package", [])
        add((p["name"] for p in packages if isinstance(p, dict) and "name" in p), lock)
    return found


def _allowed(ctx: MitigationContext, ecosystem: str, name: str) -> bool:
    wanted = canonicalize_name(name) if ecosystem == "python" else name
    names = ctx.allowed_installs.get(ecosystem, [])
    return any((canonicalize_name(n) if ecosystem == "python" else n) == wanted for n in names)


def _restore(root: Path, saved: dict[str, bytes | None]) -> None:
    for name, data in saved.items():
        path = root / name
        if data is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(data)


def add_python_dependency(groups: dict[str, str], ctx: MitigationContext) -> ActionResult:
    """Install the missing module's distribution when the project declares it (or config allows).

    A declared distribution is only installed. One ``allowed_installs`` names is also declared
    in the project's dependency file; when its install fails that file is put back.
    """
    module = groups.get("module", "").split(".")[0]
    if not module:
        return ActionResult(False, "no module name captured")
    for base in (ctx.root, ctx.root / "src"):
        if (base / module).is_dir() or (base / f"{module}.py").is_file():
            return ActionResult(False, f"{module} is part of the repository, not a dependency")
    distribution = ctx.python_distributions.get(module, module)
    declared_in = declared_python(ctx.root).get(canonicalize_name(distribution))
    if declared_in is None and not _allowed(ctx, "python", distribution):
        return ActionResult(
            False,
            f"{distribution} is not declared by the project; not installed",
            [
                f"Module {module!r} is missing, and the project does not declare the "
                f"distribution {distribution!r} in its dependency files. Use the standard "
                "library or a declared dependency, or declare it yourself in the project's "
                "dependency file if it is in scope."
            ],
        )
    saved = {name: _read_bytes(ctx.root / name) for name in ("requirements.txt", "pyproject.toml")}
    declared = None if declared_in else _add_requirement(ctx.root, distribution)
    python = project_python(ctx.test_command, ctx.root)
    argv = [python, "-m", "pip", "install", "--quiet", distribution]
    why = f"declared in {declared_in}" if declared_in else "allowed by allowed_installs"
    code, output = ctx.run(argv)
    record = f"{' '.join(argv)} ({why}): {'installed' if code == 0 else f'failed, exit {code}'}"
    if code != 0:
        _restore(ctx.root, saved)
        return ActionResult(
            False,
            f"pip install {distribution} failed",
            [
                f"Module {module!r} is missing and could not be installed: {output[-500:]}. "
                "Avoid this dependency or use the standard library."
            ],
            installs=[record],
        )
    return ActionResult(
        True,
        f"installed {distribution}" + (f" and declared it in {declared}" if declared else ""),
        changed_files=[declared] if declared else [],
        installs=[record],
    )


def _read_bytes(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() and not path.is_symlink() else None


_NODE_SECTIONS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")
NODE_FILES = (
    "package.json",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
)


def declared_node(root: Path) -> set[str]:
    """Packages ``package.json`` declares (every dependency section)."""
    try:
        manifest = json.loads((root / "package.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return set()
    if not isinstance(manifest, dict):
        return set()
    found: set[str] = set()
    for section in _NODE_SECTIONS:
        table = manifest.get(section)
        if isinstance(table, dict):
            found.update(str(name) for name in table)
    return found


def add_node_dependency(groups: dict[str, str], ctx: MitigationContext) -> ActionResult:
    """Install the missing Node module when ``package.json`` declares it (or config allows)."""
    module = groups.get("module", "")
    if not module or not (ctx.root / "package.json").is_file():
        return ActionResult(False, "not a Node project or no module captured")
    declared = module in declared_node(ctx.root)
    if not declared and not _allowed(ctx, "node", module):
        return ActionResult(
            False,
            f"{module} is not declared in package.json; not installed",
            [
                f"Node module {module!r} is missing and package.json does not declare it. Use "
                "a declared dependency or Node's standard library, or declare it in "
                "package.json yourself if it is in scope."
            ],
        )
    if (ctx.root / "pnpm-lock.yaml").is_file():
        argv = ["pnpm", "install"] if declared else ["pnpm", "add", module]
    elif (ctx.root / "yarn.lock").is_file():
        argv = ["yarn", "install"] if declared else ["yarn", "add", module]
    else:
        argv = ["npm", "install"] if declared else ["npm", "install", "--save", module]
    saved = {name: _read_bytes(ctx.root / name) for name in NODE_FILES}
    code, output = ctx.run(argv)
    why = "declared in package.json" if declared else "allowed by allowed_installs"
    record = f"{' '.join(argv)} ({why}): {'installed' if code == 0 else f'failed, exit {code}'}"
    if code != 0:
        _restore(ctx.root, saved)
        return ActionResult(
            False,
            f"{' '.join(argv)} failed",
            [f"Node module {module!r} could not be installed: {output[-500:]}"],
            installs=[record],
        )
    changed = [name for name, data in saved.items() if _read_bytes(ctx.root / name) != data]
    return ActionResult(True, f"ran {' '.join(argv)}", changed_files=changed, installs=[record])


def fix_working_directory(groups: dict[str, str], ctx: MitigationContext) -> ActionResult:
    """Find where the missing path really is and run the tests from that directory."""
    missing = groups.get("path", "").strip("/")
    if not missing:
        return ActionResult(False, "no path captured")
    candidates = sorted(
        p.parent
        for p in ctx.root.rglob(Path(missing).name)
        if ".git" not in p.parts and p.relative_to(ctx.root).as_posix().endswith(missing)
    )
    if not candidates:
        return ActionResult(False, f"{missing} exists nowhere in the repository")
    base = candidates[0]
    depth = len(Path(missing).parts) - 1
    directory = base.parents[depth - 1] if depth > 0 else base
    relative = directory.relative_to(ctx.root).as_posix()
    if relative in ("", "."):
        return ActionResult(False, f"{missing} is already relative to the repository root")
    return ActionResult(
        True, f"run the tests from {relative}/", test_command=f"cd {relative} && {ctx.test_command}"
    )


def point_at_tests(groups: dict[str, str], ctx: MitigationContext) -> ActionResult:
    """Point a test command that found no tests at the directory that holds them."""
    del groups
    for name in ("tests", "test", "spec", "__tests__"):
        found = sorted(
            p
            for p in ctx.root.rglob(name)
            if p.is_dir() and ".git" not in p.parts and "node_modules" not in p.parts
        )
        if found:
            relative = found[0].relative_to(ctx.root).as_posix()
            if relative in ctx.test_command.split():
                continue
            return ActionResult(
                True,
                f"point the test command at {relative}/",
                test_command=f"{ctx.test_command} {relative}",
            )
    return ActionResult(False, "no test directory found")


def feed_scope(groups: dict[str, str], ctx: MitigationContext) -> ActionResult:
    """Tell the Builder exactly which paths it may change."""
    del groups
    allowed = ", ".join(ctx.allowed_paths) or "(none)"
    return ActionResult(
        True,
        "fed the allowed paths back",
        [f"Only these paths may be changed: {allowed}. Put every edit inside them."],
    )


def make_executable(groups: dict[str, str], ctx: MitigationContext) -> ActionResult:
    """Give a script in the repository its execute bit."""
    path = (ctx.root / groups.get("path", "")).resolve()
    if not path.is_file() or ctx.root.resolve() not in path.parents:
        return ActionResult(False, "the script is not inside the repository")
    relative = path.relative_to(ctx.root.resolve()).as_posix()
    if relative.split("/")[0] == ".git" or edit_paths.is_protected(
        relative, edit_paths.DEFAULT_PROTECTED
    ):
        return ActionResult(False, f"{relative} is protected; its mode is left alone")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return ActionResult(
        True,
        f"made {path.relative_to(ctx.root.resolve())} executable",
        changed_files=[path.relative_to(ctx.root.resolve()).as_posix()],
    )


ACTIONS: dict[str, Callable[[dict[str, str], MitigationContext], ActionResult]] = {
    "add_python_dependency": add_python_dependency,
    "add_node_dependency": add_node_dependency,
    "fix_working_directory": fix_working_directory,
    "point_at_tests": point_at_tests,
    "feed_scope": feed_scope,
    "make_executable": make_executable,
}
