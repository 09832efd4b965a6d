"""Read test results the way each toolchain writes them, into one outcome per test.

JUnit XML (pytest, Maven Surefire, Gradle, node:test's and vitest's junit reporters), jest's
``--json`` results, ``go test -json`` lines, and libtest's plain output (``cargo test``).
Each parser returns test id -> outcome (passed | failed | skipped) plus a count of
collection or build errors.

Maven and Gradle write their reports inside the project, where the previous run's files stay
when a compile error stops the next run before any test: only reports written by the current
run are read, or a broken build would look like the last good one.
"""

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

Outcomes = dict[str, str]


def parse_junit(paths: Iterable[Path]) -> tuple[Outcomes, int]:
    """Merge JUnit XML files; a nameless errored case (pytest collection) counts as an error."""
    outcomes: Outcomes = {}
    errors = 0
    for path in paths:
        try:
            root = ET.parse(path).getroot()  # noqa: S314 - reports written by our own test run
        except ET.ParseError:
            errors += 1
            continue
        for case in root.iter("testcase"):
            classname = case.get("classname", "")
            name = case.get("name", "")
            test_id = f"{classname}::{name}" if classname else name
            if case.find("error") is not None and not name:
                errors += 1
            elif case.find("failure") is not None or case.find("error") is not None:
                outcomes[test_id] = "failed"
            elif case.find("skipped") is not None:
                outcomes[test_id] = "skipped"
            else:
                outcomes[test_id] = "passed"
    return outcomes, errors


def fresh_reports(project: Path, pattern: str, *, since: Path) -> list[Path]:
    """Report files under ``project`` matching ``pattern`` written after ``since`` was created.

    ``since`` is the scratch directory made just before the test command started.
    """
    started = since.stat().st_mtime_ns
    return sorted(
        path
        for path in project.glob(pattern)
        if path.is_file() and path.stat().st_mtime_ns >= started
    )


# Maven (`[ERROR] COMPILATION ERROR`), javac through Gradle (`Compilation failed`), and a
# dependency or plugin that could not be resolved: the tests never ran.
_BUILD_FAILURE = re.compile(
    r"COMPILATION ERROR|Compilation failed|compileJava FAILED|compileTestJava FAILED"
    r"|Could not resolve dependencies|Could not resolve all|Non-resolvable|"
    r"Failed to execute goal org\.apache\.maven\.plugins:maven-compiler-plugin"
)


def parse_build_tool_reports(
    paths: Iterable[Path], *, output: str, exit_code: int | None
) -> tuple[Outcomes, int]:
    """Surefire or Gradle XML of this run; a failed build without reports is a build error."""
    outcomes, errors = parse_junit(paths)
    if exit_code not in (0, None) and (not outcomes or _BUILD_FAILURE.search(output)):
        errors = max(errors, 1)
    return outcomes, errors


def parse_go_json(output: str) -> tuple[Outcomes, int]:
    """Read ``go test -json`` events; a failing package without tests is a build error."""
    outcomes: Outcomes = {}
    failed_packages: set[str] = set()
    tested_packages: set[str] = set()
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        action, package, test = event.get("Action"), event.get("Package", ""), event.get("Test")
        if test and action in ("pass", "fail", "skip"):
            outcomes[f"{package}::{test}"] = {"pass": "passed", "fail": "failed"}.get(
                action, "skipped"
            )
            tested_packages.add(package)
        elif not test and action == "fail":
            failed_packages.add(package)
    return outcomes, len(failed_packages - tested_packages)


_LIBTEST = re.compile(r"^test (?P<name>\S+) \.\.\. (?P<result>ok|FAILED|ignored)\b", re.MULTILINE)


def parse_libtest(output: str, *, exit_code: int | None) -> tuple[Outcomes, int]:
    """Read ``cargo test`` output; a failure with no ``test result:`` line is a build error."""
    outcomes = {
        match["name"]: {"ok": "passed", "FAILED": "failed"}.get(match["result"], "skipped")
        for match in _LIBTEST.finditer(output)
    }
    built = "test result:" in output or "running " in output
    errors = 1 if exit_code not in (0, None) and not built else 0
    return outcomes, errors


def parse_jest_json(path: Path) -> tuple[Outcomes, int]:
    """Read ``jest --json`` results; a suite that failed to run counts as a collection error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}, 0
    outcomes: Outcomes = {}
    errors = 0
    for suite in data.get("testResults", []):
        name = str(suite.get("name", ""))
        assertions = suite.get("assertionResults") or []
        if suite.get("status") == "failed" and not assertions:
            errors += 1
        for test in assertions:
            status = test.get("status")
            test_id = f"{name}::{test.get('fullName') or test.get('title')}"
            outcomes[test_id] = {"passed": "passed", "failed": "failed"}.get(status, "skipped")
    return outcomes, errors
