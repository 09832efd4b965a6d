"""A local run scenario: a real project in a bare git remote, a run, and a scripted cassette.

``Scenario(tmp_path).run(cassette_data)`` clones, plans and executes through the real engine
(workspace, test gate, edit blocks, scripted models) and returns the outcome with every event.
"""

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autopack import events
from autopack.api import AutopackRun
from autopack.engine.wiring import SessionOptions, open_session
from autopack.events import RunOutcome
from autopack.llm.scripted import Cassette
from autopack.sandbox import SandboxMode
from tests.builders.api import RunBuilder
from tests.fakes.clock import VirtualClock

PROJECT = Path(__file__).resolve().parents[2] / "examples" / "demo" / "project"
GIT = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]


def git(*args: str, cwd: Path) -> str:
    """Run git and return stdout."""
    return subprocess.run(
        ["git", *GIT, *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


class Collector:
    """A sink that keeps every event (after the fan-out scrubbed it, as real sinks get it)."""

    def __init__(self, into: list[events.RunEvent]) -> None:
        self.into = into

    def emit(self, event: events.RunEvent) -> None:
        self.into.append(event)


class Scenario:
    """One project, one run definition, any number of executions."""

    def __init__(self, tmp_path: Path, *, extra_files: dict[str, str] | None = None) -> None:
        """Create the project repository and its bare remote under ``tmp_path``."""
        self.tmp = tmp_path
        source = tmp_path / "source"
        shutil.copytree(PROJECT, source)
        for name, content in (extra_files or {}).items():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_text(content)
        git("init", "-q", "-b", "main", cwd=source)
        git("add", "-A", cwd=source)
        git("commit", "-q", "-m", "initial", cwd=source)
        self.origin = tmp_path / "origin.git"
        git("clone", "-q", "--bare", str(source), str(self.origin), cwd=tmp_path)
        self.builder = (
            RunBuilder("scenario", repo_url=str(self.origin))
            .set("spec.phases", [])
            .set("spec.toolchain", {"test": "python -m pytest -q -p no:asyncio -p no:kmock"})
            .set("spec.approval", {"policy": "auto"})
        )
        self.events: list[events.RunEvent] = []
        self.previous_attempts: dict[int, int] = {}
        self.run_id = "scenario"
        self.notes: list[str] = []
        self.sandbox: SandboxMode = "auto"
        self.before_model_call: Callable[[], None] | None = None
        self.cassettes: list[Cassette] = []
        self.executions = 0
        self.clock = VirtualClock()
        """The model layer's clock: retry waits advance it instead of sleeping."""

    @property
    def waits(self) -> list[float]:
        """The model layer's retry waits so far, in seconds (none was slept)."""
        return self.clock.slept

    def phase(self, title: str, **fields: Any) -> "Scenario":
        """Add a phase (defaults: deliverables textstats/, scope textstats/ and tests/)."""
        defaults: dict[str, Any] = {
            "goal": title,
            "deliverables": ["textstats/"],
            "scope": {"allowedPaths": ["textstats/", "tests/"]},
        }
        defaults.update(fields)
        self.builder.phase(title, **defaults)
        return self

    @property
    def run_object(self) -> AutopackRun:
        """The validated run."""
        return self.builder.obj()

    def run(
        self, cassette: dict[str, Any] | None, *, approved: set[int] | None = None
    ) -> RunOutcome:
        """Execute the run once with ``cassette`` (None: the real providers); return the outcome."""
        self.executions += 1
        tape = Cassette.from_data({"model": "test", **cassette}) if cassette is not None else None
        if tape is not None:
            self.cassettes.append(tape)
        options = SessionOptions(
            repo_url=str(self.origin),
            workdir=self.tmp / "work",
            cassette=tape,
            profile=None if tape is not None else "default",
            previous_attempts=self.previous_attempts,
            notes=lambda: list(self.notes),
            sandbox=self.sandbox,
            sleep=self.clock.sleep,
            clock=self.clock,
            before_model_call=self.before_model_call,
        )
        session = open_session(
            self.run_object,
            run_id=self.run_id,
            options=options,
            emit=events.FanOut([Collector(self.events)]).emit,
        )
        session.start()
        outcome = session.execute(approved=approved or set())
        for index, result in outcome.results.items():
            self.previous_attempts[index] = result.attempts
        return outcome

    def prompts(self, role: str = "builder") -> list[str]:
        """The last message of every call made for ``role``, over all executions."""
        return [text for tape in self.cassettes for r, text in tape.requests if r == role]

    def branch_file(self, path: str, branch: str = "autopack/scenario") -> str:
        """A file's content on the pushed branch of the remote."""
        return git("show", f"{branch}:{path}", cwd=self.origin)

    def branch_log(self, branch: str = "autopack/scenario") -> list[str]:
        """Subjects of the pushed branch's commits, newest first."""
        return git("log", "--format=%s", branch, cwd=self.origin).splitlines()

    def of_type(self, event_type: type[events.Event]) -> list[Any]:
        """Events of one type, in order."""
        return [e for e in self.events if isinstance(e, event_type)]


def file_block(path: str, content: str) -> str:
    """A FILE edit block."""
    return f"=== FILE: {path}\n{content.rstrip()}\n=== END\n"


APPROVE = {"text": "VERDICT: approved\n- looks right\n"}

GOOD_READING = file_block(
    "textstats/reading.py",
    '"""Reading time."""\n\nimport math\n\nfrom textstats.counting import word_count\n\n\n'
    "def reading_time(text: str, wpm: int = 200) -> int:\n"
    '    """Minutes to read text."""\n'
    "    return math.ceil(word_count(text) / wpm)\n",
) + file_block(
    "tests/test_reading.py",
    "from textstats.reading import reading_time\n\n\n"
    "def test_empty_is_zero() -> None:\n    assert reading_time('') == 0\n\n\n"
    "def test_rounds_up() -> None:\n    assert reading_time('w ' * 201) == 2\n",
)
