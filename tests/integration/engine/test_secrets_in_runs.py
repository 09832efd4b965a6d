"""No secret reaches a test, a prompt, an event or the store, through the real engine."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from autopack import events, redaction
from tests.builders.scenario import APPROVE, GOOD_READING, Scenario

pytestmark = pytest.mark.slow

KEY = "sk-ant-api03-" + "Q" * 40
TOKEN = "ghp_" + "T" * 36

# A repository test that tries to read the keys and fails loudly with them.
LEAKY_TEST = """\
import os


def test_prints_the_environment() -> None:
    seen = {name: value for name, value in os.environ.items() if "KEY" in name or "TOKEN" in name}
    print(seen)
    assert not seen, f"leaked: {seen}"
    assert False, "also printing a key-shaped value: sk-ant-api03-" + "Z" * 40
"""


@pytest.fixture
def secrets_in_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("AUTOPACK_GIT_TOKEN", TOKEN)
    redaction.reset_default(dict(os.environ))
    yield
    redaction.reset_default({})


def test_a_test_printing_the_environment_leaks_nothing(
    tmp_path: Path, secrets_in_environment: None
) -> None:
    scenario = Scenario(tmp_path)
    scenario.phase(
        "Add reading time",
        deliverables=["textstats/reading.py::reading_time", "tests/test_reading.py"],
    )
    leaky = GOOD_READING + "=== FILE: tests/test_leaky.py\n" + LEAKY_TEST + "=== END\n"
    outcome = scenario.run(
        {
            "responses": {
                "builder": [{"text": leaky}, {"text": GOOD_READING}],
                "auditor": [APPROVE],
            }
        }
    )
    assert outcome.state == "Succeeded"
    failed = scenario.of_type(events.TestsRan)[1].outcome
    assert failed.blocked
    # The test saw no key in its environment (the sandbox's allowlist) ...
    assert "AssertionError: leaked" not in failed.log_excerpt
    assert "also printing a key-shaped value: sk-***" in failed.log_excerpt
    # ... and the key-shaped text it printed reached neither events nor the next prompt.
    everything = repr(scenario.events) + "\n".join(scenario.prompts())
    assert "Z" * 40 not in everything
    assert KEY not in everything
    assert TOKEN not in everything
