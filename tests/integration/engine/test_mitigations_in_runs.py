"""Known failures fixed deterministically between attempts, recorded on the attempt."""

from pathlib import Path

import pytest

from autopack.engine import events
from tests.builders.scenario import APPROVE, GOOD_READING, Scenario

pytestmark = pytest.mark.slow


def test_wrong_test_path_is_fixed_by_a_mitigation_without_any_model_diagnosis(
    tmp_path: Path,
) -> None:
    scenario = Scenario(
        tmp_path,
        extra_files={
            "backend/tests/test_api.py": "def test_api() -> None:\n    assert True\n",
        },
    )
    scenario.builder.set(
        "spec.toolchain",
        {"test": "python -m pytest -q -p no:asyncio -p no:kmock tests/test_api.py"},
    )
    scenario.phase("Add reading time", deliverables=["textstats/reading.py"])
    outcome = scenario.run(
        {
            "responses": {
                "builder": [{"text": GOOD_READING}, {"text": GOOD_READING}],
                "auditor": [APPROVE],
            }
        }
    )
    assert outcome.state == "Succeeded", outcome.message
    failed = [e for e in scenario.of_type(events.AttemptFinished) if e.outcome == "failed"]
    assert len(failed) == 1
    assert failed[0].mitigation == "wrong-working-directory: run the tests from backend/"
    ran = scenario.of_type(events.TestsRan)
    assert ran[-1].passed == 1
    assert scenario.prompts("doctor") == []


def test_failure_signatures_are_normalized(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path).phase("Add reading time", deliverables=["textstats/reading.py"])
    scenario.builder.budget(maxAttemptsPerPhase=1)
    outcome = scenario.run({"responses": {"builder": [{"text": "no blocks at all"}] * 2}})
    assert outcome.state == "Failed"
    [failed] = [e for e in scenario.of_type(events.AttemptFinished) if e.outcome == "failed"]
    assert failed.category == "malformed"
    assert failed.signature == (
        "unparseable Builder output: no '=== FILE:', '=== EDIT:' or '=== DELETE:' block found"
    )
