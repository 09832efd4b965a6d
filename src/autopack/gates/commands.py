"""Judge a change without a model: the project's tests against a baseline, commands, deliverables.

Tests run through the project's own command inside the run's sandbox (allowlisted environment,
bubblewrap when available) with a timeout that kills every process the command started, output
streamed to a file and only its tail kept. For pytest the command gets ``--junitxml``
so outcomes are per test; other commands are judged by their exit code as one test. The gate
blocks on tests that passed in the baseline and fail now, and on collection errors — never on
failures that were already there — after re-running newly failing tests once (flaky ones are
reported, not hidden).
"""

import ast
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autopack import sandbox as sandboxing
from autopack.gates.outcome import GateOutcome
from autopack.toolchains import SuiteCommand

TAIL_BYTES = 20_000


@dataclass
class SuiteRun:
    """Per-test outcomes of one run of the test command."""

    command: str
    exit_code: int | None
    outcomes: dict[str, str] = field(default_factory=dict)  # id -> passed|failed|skipped
    collection_errors: int = 0
    timed_out: bool = False
    tail: str = ""
    duration: float = 0.0

    @property
    def failing(self) -> set[str]:
        """Tests that failed or errored."""
        return {test for test, outcome in self.outcomes.items() if outcome == "failed"}


def run_command(
    command: str,
    *,
    cwd: Path,
    timeout: float,
    sandbox: sandboxing.Sandbox | None = None,
) -> tuple[int | None, str, bool, float]:
    """Run a shell command line untrusted; return (code, tail, timed out, seconds).

    It runs through ``sandbox`` (default: the best one available here, for ``cwd`` alone): an
    allowlisted environment without Autopack's secrets, a private HOME and an emptied-afterwards
    TMPDIR (pytest prunes old ``pytest-of-<user>`` directories under the temporary directory,
    which would include those of the process running Autopack), and no process that outlives it.
    """
    if sandbox is None:
        with sandboxing.choose("auto", workspace=cwd) as own:
            return run_command(command, cwd=cwd, timeout=timeout, sandbox=own)
    result = sandbox.run(command, cwd=cwd, timeout=timeout, tail_bytes=TAIL_BYTES)
    return result.exit_code, result.tail, result.timed_out, result.duration


class CommandGates:
    """Gates for a repository whose tests run with one command."""

    def __init__(
        self,
        root: Path,
        *,
        suite: SuiteCommand | str,
        timeout: float = 900.0,
        sandbox: sandboxing.Sandbox | None = None,
        alongside_baseline: Callable[[], None] | None = None,
    ) -> None:
        """Judge changes in ``root`` by running ``suite`` (a command line means exit code).

        Commands run through ``sandbox`` (the run's; default: the best one available here).
        ``alongside_baseline`` starts background work as the baseline tests start: this
        process only waits for them.
        """
        self.root = root
        self._owns_sandbox = sandbox is None
        self.sandbox = sandbox if sandbox is not None else sandboxing.choose("auto", workspace=root)
        self.suite = (
            suite
            if isinstance(suite, SuiteCommand)
            else SuiteCommand(suite, report="junit" if "pytest" in suite else "exit-code")
        )
        self.test_command = self.suite.command
        self.timeout = timeout
        self._alongside_baseline = alongside_baseline
        self._baseline: SuiteRun | None = None

    def close(self) -> None:
        """Remove the sandbox's scratch space when these gates made the sandbox."""
        if self._owns_sandbox:
            self.sandbox.close()

    def _run_tests(self) -> SuiteRun:
        # The report directory lies in the sandbox's scratch space: the command can write it.
        with tempfile.TemporaryDirectory(prefix="report-", dir=self.sandbox.scratch) as scratch:
            command = self.suite.command_with_report(Path(scratch))
            code, tail, timed_out, duration = run_command(
                command, cwd=self.root, timeout=self.timeout, sandbox=self.sandbox
            )
            run = SuiteRun(
                self.test_command, code, timed_out=timed_out, tail=tail, duration=duration
            )
            run.outcomes, run.collection_errors = self.suite.parse(
                Path(scratch), output=tail, exit_code=code, root=self.root
            )
            if "pytest" in self.suite.command and code in (2, 3, 4) and not timed_out:
                run.collection_errors = max(run.collection_errors, 1)
            if not run.outcomes and not run.collection_errors:
                run.outcomes["<test command>"] = "passed" if code == 0 else "failed"
        return run

    def _outcome(
        self, run: SuiteRun, *, blocked: bool, new: set[str], flaky: set[str]
    ) -> GateOutcome:
        values = list(run.outcomes.values())
        baseline_failures = len(self._baseline.failing) if self._baseline else 0
        summary = f"{values.count('passed')} passed, {values.count('failed')} failed"
        if run.collection_errors:
            summary += f", {run.collection_errors} collection errors"
        if new:
            summary += f"; newly failing: {', '.join(sorted(new)[:5])}"
        if run.timed_out:
            summary += f"; timed out after {self.timeout:.0f} s"
        return GateOutcome(
            exit_code=run.exit_code,
            command=self.test_command,
            passed=values.count("passed"),
            failed=values.count("failed"),
            skipped=values.count("skipped"),
            collection_errors=run.collection_errors,
            new_failures=tuple(sorted(new)),
            failing=tuple(sorted(run.failing)),
            flaky=tuple(sorted(flaky)),
            baseline_failures=baseline_failures,
            blocked=blocked,
            summary=summary,
            log_excerpt=run.tail[-4000:],
            duration_seconds=run.duration,
        )

    def baseline(self) -> GateOutcome:
        """Run the tests before any change and remember what already fails."""
        if self._alongside_baseline is not None:
            self._alongside_baseline()
        self._baseline = self._run_tests()
        return self._outcome(self._baseline, blocked=False, new=set(), flaky=set())

    def tests(self) -> GateOutcome:
        """Run the tests and block on new failures (re-run once) and collection errors."""
        baseline = self._baseline or SuiteRun(self.test_command, 0)
        current = self._run_tests()
        previously_failing = baseline.failing
        new = {t for t in current.failing if t not in previously_failing}
        flaky: set[str] = set()
        if new and not current.collection_errors and not current.timed_out:
            rerun = self._run_tests()  # once more, to tell flaky tests from broken ones
            flaky = {t for t in new if rerun.outcomes.get(t) == "passed"}
            new -= flaky
            current.duration += rerun.duration  # the gate's test time includes the re-run
        blocked = bool(new) or current.collection_errors > 0 or current.timed_out
        return self._outcome(current, blocked=blocked, new=new, flaky=flaky)

    def validation(self, commands: list[str]) -> list[str]:
        """Run each validation command; return a message per failing one."""
        failures = []
        for command in commands:
            code, tail, timed_out, _ = run_command(
                command, cwd=self.root, timeout=self.timeout, sandbox=self.sandbox
            )
            if timed_out:
                failures.append(
                    f"Validation command `{command}` timed out after {self.timeout:.0f} s"
                )
            elif code != 0:
                failures.append(f"Validation command `{command}` exited {code}:\n{tail[-2000:]}")
        return failures

    def deliverables(self, deliverables: list[str]) -> list[str]:
        """Return a message for each deliverable (file, directory or symbol) that is missing."""
        return [m for d in deliverables if (m := missing_deliverable(self.root, d))]


def _has_symbol(path: Path, symbol: str) -> bool:
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".py":
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return False
        names = {
            node.name
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        }
        names |= {
            target.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        return symbol.rsplit(".", maxsplit=1)[-1] in names
    # Other languages: a declaration-looking line naming the symbol (documented regex fallback).
    keywords = "func|fn|function|class|interface|struct|type|def|const|let|var|enum|trait"
    pattern = rf"\b(?:{keywords})\s+(?:\([^)]*\)\s*)?{re.escape(symbol)}\b"
    return re.search(pattern, text) is not None


def missing_deliverable(root: Path, deliverable: str) -> str | None:
    """Return why ``deliverable`` is not satisfied in ``root``, or None when it is."""
    path_part, _, symbol = deliverable.partition("::")
    path = root / path_part
    if path_part.endswith("/"):
        if not path.is_dir():
            return f"Deliverable directory {path_part} does not exist"
        return None
    if not path.is_file():
        return f"Deliverable file {path_part} does not exist"
    if symbol and not _has_symbol(path, symbol):
        return f"Deliverable {path_part} does not define {symbol}"
    return None
