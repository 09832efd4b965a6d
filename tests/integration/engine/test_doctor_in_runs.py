"""The Doctor and replanning in real runs (scripted models, real repositories and tests)."""

import json
from pathlib import Path

import pytest

from autopack import events
from tests.builders.scenario import APPROVE, GOOD_READING, Scenario, file_block, git

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
    finished = {e.index: e.result.state for e in scenario.of_type(events.PhaseFinished)}
    assert finished == {0: "Skipped", 1: "Complete"}
    [failed] = [e for e in scenario.of_type(events.AttemptFinished) if e.result.outcome == "failed"]
    assert failed.result.doctor_decision == "skip_phase (confidence 0.90)"


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
    assert outcome.message == "the tests require a network service"


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
    assert finished.result.state == "Failed"
    assert finished.result.failure == (
        "ci: <n> passed, <n> failed; newly failing: tests.test_counting::test_counts_words"
    )


def test_doctor_rollback_run_resets_the_branch_and_keeps_the_undone_work(tmp_path: Path) -> None:
    scenario = two_phases(tmp_path)
    start = git("rev-parse", "main", cwd=scenario.origin).strip()
    broken_cli = file_block("textstats/cli.py", "def main() -> int:\n    return 0") + file_block(
        "tests/test_counting.py",
        "from textstats import word_count\n\n\ndef test_counts_words() -> None:\n"
        "    assert word_count('one two') == 3\n",
    )
    outcome = scenario.run(
        {
            "responses": {
                "builder": [{"text": GOOD_READING}, {"text": broken_cli}],
                "auditor": [APPROVE],
                "doctor": [doctor("rollback_run", reason="phase 0 chose the wrong module layout")],
            }
        }
    )
    assert (outcome.state, outcome.reason) == ("Failed", "RollbackRequested")
    assert outcome.message == (
        "phase 0 chose the wrong module layout; the work branch is back "
        "where the run began, the undone work is on autopack/scenario-rolled-back"
    )
    assert git("rev-parse", "autopack/scenario", cwd=scenario.origin).strip() == start
    assert outcome.commit == start
    assert scenario.branch_log("autopack/scenario-rolled-back")[0] == (
        "autopack: phase 0 Add reading time"
    )
    # A new execution starts over from the beginning of the plan.
    again = scenario.run(
        {
            "responses": {
                "builder": [{"text": GOOD_READING}, {"text": CLI}],
                "auditor": [APPROVE, APPROVE],
            }
        }
    )
    assert again.state == "Succeeded", again.message
    assert list(again.results) == [0, 1]


def test_a_failed_phase_reports_its_normalized_signature(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path).phase("Add reading time", deliverables=["textstats/reading.py"])
    scenario.builder.budget(maxAttemptsPerPhase=1)
    outcome = scenario.run({"responses": {"builder": [{"text": BROKEN}]}})
    [finished] = scenario.of_type(events.PhaseFinished)
    assert finished.result.failure == (
        "ci: <n> passed, <n> failed; newly failing: tests.test_counting::test_counts_words"
    )
    assert outcome.message.endswith(finished.result.failure)
