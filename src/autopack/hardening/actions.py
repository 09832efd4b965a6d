"""The small functions behind the mitigations: each fixes one known failure deterministically.

An action gets the captured groups of its pattern and a context (workspace root, a way to run
a command there, the phase's allowed paths and the current test command) and returns what it
did. It never calls a model. Actions are looked up by the name used in ``hardening.yaml``.
"""

import re
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import tomlkit
import tomlkit.exceptions
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from tomlkit.items import Array, Table

CommandRunner = Callable[[Sequence[str]], tuple[int, str]]


def run_command(root: Path) -> CommandRunner:
    """Return a runner of argument lists in ``root`` (no shell), with a timeout."""

    def run(argv: Sequence[str]) -> tuple[int, str]:
        try:
            done = subprocess.run(
                list(argv), cwd=root, capture_output=True, text=True, timeout=600, check=False
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


@dataclass
class ActionResult:
    """What an action did; ``applied`` False means it could not help."""

    applied: bool
    description: str
    feedback: list[str] = field(default_factory=list)
    changed_files: list[str] = field(default_factory=list)
    test_command: str | None = None


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


def add_python_dependency(groups: dict[str, str], ctx: MitigationContext) -> ActionResult:
    """Declare the missing module's distribution and install it where the tests run."""
    module = groups.get("module", "").split(".")[0]
    if not module:
        return ActionResult(False, "no module name captured")
    for base in (ctx.root, ctx.root / "src"):
        if (base / module).is_dir() or (base / f"{module}.py").is_file():
            return ActionResult(False, f"{module} is part of the repository, not a dependency")
    distribution = ctx.python_distributions.get(module, module)
    declared = _add_requirement(ctx.root, distribution)
    python = project_python(ctx.test_command, ctx.root)
    code, output = ctx.run([python, "-m", "pip", "install", "--quiet", distribution])
    if code != 0:
        return ActionResult(
            False,
            f"pip install {distribution} failed",
            [
                f"Module {module!r} is missing and could not be installed: {output[-500:]}. "
                "Avoid this dependency or use the standard library."
            ],
        )
    return ActionResult(
        True,
        f"installed {distribution}" + (f" and declared it in {declared}" if declared else ""),
        changed_files=[declared] if declared else [],
    )


def add_node_dependency(groups: dict[str, str], ctx: MitigationContext) -> ActionResult:
    """Install the missing Node module with the project's package manager."""
    module = groups.get("module", "")
    if not module or not (ctx.root / "package.json").is_file():
        return ActionResult(False, "not a Node project or no module captured")
    if (ctx.root / "pnpm-lock.yaml").is_file():
        argv = ["pnpm", "add", module]
    elif (ctx.root / "yarn.lock").is_file():
        argv = ["yarn", "add", module]
    else:
        argv = ["npm", "install", "--save", module]
    code, output = ctx.run(argv)
    if code != 0:
        return ActionResult(
            False,
            f"{' '.join(argv)} failed",
            [f"Node module {module!r} could not be installed: {output[-500:]}"],
        )
    return ActionResult(True, f"ran {' '.join(argv)}", changed_files=["package.json"])


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
