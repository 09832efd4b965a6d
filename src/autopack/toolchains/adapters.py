"""Toolchain adapters: detection by a table of markers and weights, and the commands to run.

Each toolchain lists marker files with weights; a repository's confidence for a toolchain is
the sum of the weights of the markers it has (capped at 1), with the markers as evidence.
Markers are looked for at the root and one directory down (monorepos), and the directory that
holds them becomes the working directory. The run spec's ``toolchain`` overrides always win.
"""

import fnmatch
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from autopack.toolchains import locating, reports

# (glob relative to the project directory, weight, what it shows)
MARKERS: dict[str, tuple[tuple[str, float, str], ...]] = {
    "python": (
        ("pyproject.toml", 0.5, "pyproject.toml"),
        ("setup.py", 0.4, "setup.py"),
        ("requirements*.txt", 0.4, "requirements file"),
        ("poetry.lock", 0.2, "poetry lockfile"),
        ("uv.lock", 0.2, "uv lockfile"),
        ("pytest.ini", 0.3, "pytest.ini"),
        ("tox.ini", 0.2, "tox.ini"),
        ("tests/test_*.py", 0.3, "pytest-style tests"),
        ("test_*.py", 0.2, "pytest-style tests"),
    ),
    "node": (
        ("package.json", 0.6, "package.json"),
        ("package-lock.json", 0.2, "npm lockfile"),
        ("yarn.lock", 0.2, "yarn lockfile"),
        ("pnpm-lock.yaml", 0.2, "pnpm lockfile"),
        ("tsconfig.json", 0.1, "tsconfig.json"),
    ),
    "go": (("go.mod", 0.8, "go.mod"), ("go.sum", 0.1, "go.sum"), ("*_test.go", 0.2, "Go tests")),
    "rust": (
        ("Cargo.toml", 0.8, "Cargo.toml"),
        ("Cargo.lock", 0.1, "Cargo.lock"),
        ("tests/*.rs", 0.1, "integration tests"),
    ),
    "java": (
        ("pom.xml", 0.8, "Maven pom.xml"),
        ("build.gradle", 0.8, "Gradle build"),
        ("build.gradle.kts", 0.8, "Gradle build (Kotlin DSL)"),
        ("gradlew", 0.1, "Gradle wrapper"),
    ),
}


@dataclass(frozen=True)
class Detection:
    """One toolchain found in a repository."""

    name: str
    confidence: float
    evidence: tuple[str, ...]
    working_dir: str  # "" is the repository root
    install: str | None
    build: str | None
    test: str | None
    results: str  # how machine-readable results are obtained
    notes: tuple[str, ...] = ()


# Reports read from the command's own output: saved whole beside the scratch reports.
STREAMED = {"go-json": "go-test.json", "libtest": "cargo-test.txt"}


def _streamed(report_dir: Path, report: str, output: str) -> str:
    """The whole saved output of a streamed report, else the tail the gate kept."""
    try:
        return (report_dir / STREAMED[report]).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return output


@dataclass(frozen=True)
class SuiteCommand:
    """How to run one toolchain's tests and read the results."""

    command: str
    working_dir: str = ""
    report: str = "exit-code"  # junit | go-json | libtest | surefire | gradle | exit-code
    extra_args: str = ""

    def command_with_report(self, report_dir: Path, *, env: Mapping[str, str] | None = None) -> str:
        """The command line that also writes machine-readable results under ``report_dir``.

        When the command's program is installed off ``PATH`` (Go in ``/usr/local/go/bin``,
        rustup's ``~/.cargo/bin``), its directory is appended to ``PATH`` first; ``env`` is the
        environment the command will see (default: this process's).
        """
        base = f"cd {self.working_dir} && {self.command}" if self.working_dir else self.command
        base = locating.path_prefix(self.command, env) + base
        if self.report == "junit" and "pytest" in self.command:
            return f"{base} --junitxml={report_dir}/junit.xml -p no:cacheprovider"
        if self.report == "jest-json":
            return f"{base} -- --json --outputFile={report_dir}/jest.json"
        if self.report == "vitest-junit":
            return (
                f"{base} -- --reporter=default --reporter=junit "
                f"--outputFile.junit={report_dir}/junit.xml"
            )
        if self.report == "node-junit":
            return (
                f"{base} --test-reporter=junit --test-reporter-destination={report_dir}/junit.xml"
            )
        if self.report in STREAMED:
            # The gate keeps only the tail of the output; the whole stream goes to a file.
            saved = f"{report_dir}/{STREAMED[self.report]}"
            return f"set -o pipefail; {{ {base}; }} 2>&1 | tee {saved}"
        return base

    def parse(
        self, report_dir: Path, *, output: str, exit_code: int | None, root: Path
    ) -> tuple[reports.Outcomes, int]:
        """Per-test outcomes from whatever this toolchain wrote."""
        project = root / self.working_dir
        readers: dict[str, Callable[[], tuple[reports.Outcomes, int]]] = {
            "junit": lambda: reports.parse_junit(sorted(report_dir.glob("*.xml"))),
            "node-junit": lambda: reports.parse_junit(sorted(report_dir.glob("*.xml"))),
            "vitest-junit": lambda: reports.parse_junit(sorted(report_dir.glob("*.xml"))),
            "jest-json": lambda: reports.parse_jest_json(report_dir / "jest.json"),
            "surefire": lambda: reports.parse_build_tool_reports(
                reports.fresh_reports(
                    project, "**/target/surefire-reports/TEST-*.xml", since=report_dir
                ),
                output=output,
                exit_code=exit_code,
            ),
            "gradle": lambda: reports.parse_build_tool_reports(
                reports.fresh_reports(project, "**/build/test-results/**/*.xml", since=report_dir),
                output=output,
                exit_code=exit_code,
            ),
            "go-json": lambda: reports.parse_go_json(_streamed(report_dir, "go-json", output)),
            "libtest": lambda: reports.parse_libtest(
                _streamed(report_dir, "libtest", output), exit_code=exit_code
            ),
        }
        reader = readers.get(self.report)
        return reader() if reader is not None else ({}, 0)


def _python(root: Path, files: set[str], prefix: str) -> dict[str, str | None]:
    install = None
    if f"{prefix}uv.lock" in files:
        install = "uv sync"
    elif f"{prefix}poetry.lock" in files:
        install = "poetry install"
    elif any(f.startswith(f"{prefix}requirements") and f.endswith(".txt") for f in files):
        name = (
            "requirements.txt"
            if f"{prefix}requirements.txt" in files
            else next(
                PurePosixPath(f).name
                for f in sorted(files)
                if f.startswith(f"{prefix}requirements") and f.endswith(".txt")
            )
        )
        install = f"python -m pip install -r {name}"
    elif f"{prefix}pyproject.toml" in files or f"{prefix}setup.py" in files:
        install = "python -m pip install -e ."
    return {"install": install, "build": None, "test": "python -m pytest -q", "report": "junit"}


def _node(root: Path, files: set[str], prefix: str) -> dict[str, str | None]:
    manager = (
        "pnpm"
        if f"{prefix}pnpm-lock.yaml" in files
        else "yarn"
        if f"{prefix}yarn.lock" in files
        else "npm"
    )
    install = {
        "pnpm": "pnpm install --frozen-lockfile",
        "yarn": "yarn install --frozen-lockfile",
        "npm": "npm ci" if f"{prefix}package-lock.json" in files else "npm install",
    }[manager]
    try:
        package = json.loads((root / prefix / "package.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        package = {}
    scripts = package.get("scripts") or {}
    test_script = str(scripts.get("test", ""))
    build = f"{manager} run build" if "build" in scripts else None
    if not test_script or "no test specified" in test_script:
        return {"install": install, "build": build, "test": None, "report": "exit-code"}
    if test_script.startswith("node --test"):
        return {"install": install, "build": build, "test": test_script, "report": "node-junit"}
    # jest and vitest write machine-readable results with their own flags, passed after "--".
    if re.match(r"^(npx )?jest\b", test_script):
        return {
            "install": install,
            "build": build,
            "test": f"{manager} test",
            "report": "jest-json",
        }
    if re.match(r"^(npx )?vitest\b", test_script):
        return {
            "install": install,
            "build": build,
            "test": f"{manager} test",
            "report": "vitest-junit",
        }
    return {"install": install, "build": build, "test": f"{manager} test", "report": "exit-code"}


def _go(root: Path, files: set[str], prefix: str) -> dict[str, str | None]:
    del root, files, prefix
    return {
        "install": "go mod download",
        "build": "go build ./...",
        "test": "go test -json ./...",
        "report": "go-json",
    }


def _rust(root: Path, files: set[str], prefix: str) -> dict[str, str | None]:
    del root, files, prefix
    return {
        "install": "cargo fetch",
        "build": "cargo build --all-targets",
        "test": "cargo test --no-fail-fast",
        "report": "libtest",
    }


def _java(root: Path, files: set[str], prefix: str) -> dict[str, str | None]:
    del root
    if f"{prefix}pom.xml" in files:
        return {
            "install": "mvn -q -B dependency:go-offline",
            "build": "mvn -q -B compile",
            "test": "mvn -q -B test",
            "report": "surefire",
        }
    wrapper = "./gradlew" if f"{prefix}gradlew" in files else "gradle"
    # No daemon: one would outlive the command and carry state from one untrusted run to the
    # next (and hold a JVM's memory for hours on the machine running Autopack).
    return {
        "install": None,
        "build": f"{wrapper} assemble --no-daemon",
        "test": f"{wrapper} test --no-daemon",
        "report": "gradle",
    }


COMMANDS: dict[str, Callable[[Path, set[str], str], dict[str, str | None]]] = {
    "python": _python,
    "node": _node,
    "go": _go,
    "rust": _rust,
    "java": _java,
}

RESULTS = {
    "junit": "JUnit XML (pytest --junitxml)",
    "node-junit": "JUnit XML (node --test --test-reporter=junit)",
    "jest-json": "jest --json results",
    "vitest-junit": "JUnit XML (vitest --reporter=junit)",
    "go-json": "go test -json events",
    "libtest": "cargo test output (test ... ok/FAILED/ignored)",
    "surefire": "Maven Surefire XML (target/surefire-reports)",
    "gradle": "Gradle XML (build/test-results)",
    "exit-code": "exit code only",
}


@dataclass
class _Candidate:
    confidence: float = 0.0
    evidence: list[str] = field(default_factory=list)


def _shallow_files(files: list[str]) -> dict[str, list[str]]:
    """Map each project directory (root, and each top-level directory) to its near files.

    Only files at most two levels below a project directory can be markers (``tests/x.py``),
    so a 20,000-file tree is read once, not once per marker.
    """
    near: dict[str, list[str]] = {"": []}
    for path in files:
        parts = path.split("/")
        if len(parts) <= 2:
            near[""].append(path)
        if len(parts) >= 2 and len(parts) <= 3:
            near.setdefault(parts[0], []).append("/".join(parts[1:]))
    return near


def detect(root: Path, files: list[str]) -> list[Detection]:
    """Detect toolchains at the root and one directory down, most confident first."""
    file_set = set(files)
    found: list[Detection] = []
    for directory, near in sorted(_shallow_files(files).items()):
        prefix = f"{directory}/" if directory else ""
        for name, markers in MARKERS.items():
            candidate = _Candidate()
            for pattern, weight, evidence in markers:
                hit = next((f for f in near if fnmatch.fnmatchcase(f, pattern)), None)
                if hit is not None:
                    candidate.confidence += weight
                    candidate.evidence.append(f"{evidence} ({prefix}{hit})")
            if candidate.confidence < 0.3:
                continue
            commands = COMMANDS[name](root, file_set, prefix)
            notes = (
                ()
                if commands["test"]
                else (f"no test command: looked for a 'test' script in {prefix}package.json",)
            )
            found.append(
                Detection(
                    name=name,
                    confidence=round(min(candidate.confidence, 1.0), 2),
                    evidence=tuple(candidate.evidence),
                    working_dir=directory,
                    install=commands["install"],
                    build=commands["build"],
                    test=commands["test"],
                    results=RESULTS[commands["report"] or "exit-code"],
                    notes=notes,
                )
            )
    return sorted(found, key=lambda d: (-d.confidence, d.working_dir, d.name))


def report_kind(detection: Detection) -> str:
    """The report key of a detection (inverse of RESULTS)."""
    return next(key for key, text in RESULTS.items() if text == detection.results)
