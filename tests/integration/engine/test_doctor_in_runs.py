"""The Doctor and replanning in real runs (scripted models, real repositories and tests)."""

import json
from pathlib import Path

import pytest

from autopack.engine import events
from tests.builders.scenario import APPROVE, GOOD_READING, Scenario, file_block

pytestmark = pytest.mark.slow

BROKEN = GOOD_READING + file_block(
    "tests/test_counting.py",
    "from textstats import word_count\n\n\ndef test_counts_words() -> None:\n"
    "    assert word_count('one two') == 3\n",
)
CLI = file_block("textstats/cli.py", "def main() -> int:\n    return 0")


def doctor(
    decision: str, *, confidence: float = 0.9, hint: str = "", reason: str = ""
) -> dict[str, str]:
    return {
        "text": json.dumps(
            {"decision": decision, "confidence": confidence, "hint": hint, "reason": reason}
        )
    }


def two_phases(tmp_path: Path) -> Scenario:
    scenario = Scenario(tmp_path).phase("Add reading time", deliverables=["textstats/reading.py"])
    scenario.phase("Add a CLI", deliverables=["textstats/cli.py"])
    scenario.builder.budget(maxAttemptsPerPhase=3)
    return scenario


def test_doctor_skip_phase_lets_the_run_continue(tmp_path: Path) -> None:
    scenario = two_phases(tmp_path)
    outcome = scenario.run(
        {
            "responses": {
                "builder": [{"text": BROKEN}, {"text": CLI}],
                "doctor": [doctor("skip_phase", reason="the phase needs a decision from a person")],
                "auditor": [APPROVE],
            }
        }
    )
    assert outcome.state == "Succeeded", outcome.message
    assert outcome.message == "1 phases complete, skipped: 0"
    finished = {e.index: e.state for e in scenario.of_type(events.PhaseFinished)}
    assert finished == {0: "Skipped", 1: "Complete"}
    [failed] = [e for e in scenario.of_type(events.AttemptFinished) if e.outcome == "failed"]
    assert failed.doctor_decision == "skip_phase (confidence 0.90)"


def test_doctor_mark_fatal_ends_the_run_with_its_reason(tmp_path: Path) -> None:
    scenario = two_phases(tmp_path)
    outcome = scenario.run(
        {
            "responses": {
                "builder": [{"text": BROKEN}],
                "doctor": [doctor("mark_fatal", reason="the tests require a network service")],
            }
        }
    )
    assert (outcome.state, outcome.reason) == ("Failed", "DoctorMarkedFatal")
    assert outcome.message == "DoctorMarkedFatal: the tests require a network service"


def test_unsure_cheap_doctor_defers_to_the_strong_one(tmp_path: Path) -> None:
    scenario = two_phases(tmp_path)
    outcome = scenario.run(
        {
            "responses": {
                "builder": [{"text": BROKEN}],
                "doctor": [
                    doctor("retry_with_hint", confidence=0.2),
                    doctor("mark_fatal", reason="no"),
                ],
            }
        }
    )
    assert outcome.reason == "DoctorMarkedFatal"
    assert len(scenario.prompts("doctor")) == 2


def test_repeated_identical_failure_is_replanned_once_then_fails_with_its_signature(
    tmp_path: Path,
) -> None:
    scenario = two_phases(tmp_path)
    outcome = scenario.run(
        {
            "responses": {
                "builder": [{"text": BROKEN}] * 3,
                "doctor": [doctor("retry_with_hint", hint="keep word_count unchanged")] * 2,
                "planner": [
                    {"text": "Add reading_time in a new module without touching counting."}
                ],
            }
        }
    )
    assert outcome.state == "Failed"
    [replanned] = scenario.of_type(events.PhaseReplanned)
    assert replanned.goal == "Add reading_time in a new module without touching counting."
    assert "Add reading_time in a new module" in scenario.prompts("builder")[2]
    assert "Doctor's hint: keep word_count unchanged" in scenario.prompts("builder")[1]
    [finished] = [e for e in scenario.of_type(events.PhaseFinished) if e.index == 0]
    assert finished.state == "Failed"
    assert "tests.test_counting::test_counts_words" in (finished.failure or "")
