"""A phase commits exactly the governed edits, whatever the repository's tests changed."""

from pathlib import Path

import pytest

from autopack import events
from tests.builders.scenario import APPROVE, GOOD_READING, Scenario, git

pytestmark = pytest.mark.slow

# A test of the repository that, like a hostile or careless one, writes outside the change.
SIDE_EFFECTS = """\
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_leaves_side_effects() -> None:
    (ROOT / "README.md").write_text("rewritten by a test\\n")
    (ROOT / "generated").mkdir(exist_ok=True)
    (ROOT / "generated" / "out.txt").write_text("build output\\n")
    (ROOT / "textstats" / "reading.py").write_text("# replaced after the apply\\n")
    try:
        (ROOT / ".git" / "hooks" / "pre-commit").write_text("#!/bin/sh\\necho owned\\n")
    except OSError:
        pass  # the sandbox keeps .git read-only
"""


def test_what_the_tests_changed_is_discarded_before_the_commit(tmp_path: Path) -> None:
    scenario = Scenario(
        tmp_path,
        extra_files={"README.md": "the project\n", "tests/test_side_effects.py": SIDE_EFFECTS},
    )
    scenario.phase(
        "Add reading time",
        deliverables=["textstats/reading.py::reading_time", "tests/test_reading.py"],
    )
    outcome = scenario.run(
        {"responses": {"builder": [{"text": GOOD_READING}], "auditor": [APPROVE]}}
    )
    assert outcome.state == "Succeeded"
    [discarded] = scenario.of_type(events.ChangesDiscarded)
    assert "README.md" in discarded.paths
    assert any(path.startswith("generated") for path in discarded.paths)
    assert scenario.branch_file("README.md") == "the project\n"
    assert "def reading_time" in scenario.branch_file("textstats/reading.py")
    changed = git("show", "--name-only", "--format=", "autopack/scenario", cwd=scenario.origin)
    assert sorted(changed.split()) == ["tests/test_reading.py", "textstats/reading.py"]
    passed = scenario.of_type(events.AttemptFinished)[-1].result
    assert "README.md" in passed.discarded
    hook = tmp_path / "work" / "scenario" / ".git" / "hooks" / "pre-commit"
    assert not hook.exists() or "owned" not in hook.read_text()
