"""Stops, approvals and re-runs through the real engine: every path ends with final states."""

from pathlib import Path

import pytest

from autopack import events
from autopack.api import PhaseState
from autopack.api.conditions import Reason
from autopack.events import AttemptOutcome
from tests.builders.scenario import APPROVE, GOOD_READING, Scenario, file_block, git
from tests.fakes.forge_server import forge_server

pytestmark = pytest.mark.slow

# A reading-time function whose own test fails (empty text should be 0 minutes).
BUGGY_READING = file_block(
    "textstats/reading.py",
    '"""Reading time."""\n\nfrom textstats.counting import word_count\n\n\n'
    "def reading_time(text: str, wpm: int = 200) -> int:\n"
    '    """Minutes to read text."""\n'
    "    return word_count(text) // wpm + 1\n",
) + file_block(
    "tests/test_reading.py",
    "from textstats.reading import reading_time\n\n\n"
    "def test_empty_is_zero() -> None:\n    assert reading_time('') == 0\n",
)


def reading_phase(scenario: Scenario, **fields: object) -> Scenario:
    return scenario.phase(
        "Add reading time",
        deliverables=["textstats/reading.py::reading_time", "tests/test_reading.py"],
        **fields,
    )


def finished(scenario: Scenario) -> list[events.PhaseFinished]:
    return scenario.of_type(events.PhaseFinished)


def test_an_approved_change_is_gated_against_the_commit_before_it(tmp_path: Path) -> None:
    scenario = reading_phase(Scenario(tmp_path))
    scenario.builder.set("spec.approval", {"policy": "always"})
    first = scenario.run({"responses": {"builder": [{"text": BUGGY_READING}]}})
    assert first.state == "AwaitingApproval"
    # Approved, the pending change's own failing test is a new failure, not a baseline one.
    seen = len(scenario.events)
    approved = scenario.run(
        {"responses": {"builder": [{"text": GOOD_READING}], "auditor": [APPROVE]}},
        approved={0},
    )
    ran = [e for e in scenario.events[seen:] if isinstance(e, events.TestsRan)]
    assert ran[0].attempt is None
    assert ran[0].outcome.failed == 0  # the baseline is the commit before the change
    assert ran[1].outcome.blocked
    assert "tests.test_reading::test_empty_is_zero" in ran[1].outcome.new_failures
    assert approved.state == "Succeeded"
    assert "math.ceil" in scenario.branch_file("textstats/reading.py")
    result = git("show", "autopack/scenario:tests/test_reading.py", cwd=scenario.origin)
    assert "test_rounds_up" in result


def test_a_budget_stop_mid_phase_leaves_no_phase_running(tmp_path: Path) -> None:
    scenario = reading_phase(Scenario(tmp_path))
    scenario.builder.set("spec.budgets", {"tokens": 3000, "costUSD": 1})
    outcome = scenario.run(
        {"responses": {"builder": [{"text": BUGGY_READING}, {"text": GOOD_READING}]}}
    )
    assert outcome.state == "Failed"
    assert outcome.reason == Reason.BUDGET_EXCEEDED
    assert not outcome.message.startswith("BudgetExceeded")
    [phase] = finished(scenario)
    assert phase.result.state == PhaseState.FAILED
    assert phase.result.stop is not None
    assert phase.result.stop.reason == Reason.BUDGET_EXCEEDED
    last = scenario.of_type(events.AttemptFinished)[-1]
    assert last.result.outcome == AttemptOutcome.STOPPED
    assert outcome.results[0].state == PhaseState.FAILED  # the summary shows the phase
    workspace = tmp_path / "work" / "scenario"
    assert git("status", "--porcelain", cwd=workspace) == ""  # rolled back


def test_a_cassette_that_runs_out_stops_the_run_with_the_phase_failed(tmp_path: Path) -> None:
    scenario = reading_phase(Scenario(tmp_path))
    outcome = scenario.run({"responses": {"builder": [{"text": GOOD_READING}]}})  # no auditor
    assert outcome.state == "Failed"
    assert outcome.reason == Reason.PROVIDER_ERROR
    [phase] = finished(scenario)
    assert phase.result.state == PhaseState.FAILED
    assert scenario.of_type(events.AttemptFinished)[-1].result.outcome == AttemptOutcome.STOPPED
    workspace = tmp_path / "work" / "scenario"
    assert git("status", "--porcelain", cwd=workspace) == ""


def test_a_rerun_keeps_the_attempt_history(tmp_path: Path) -> None:
    scenario = reading_phase(Scenario(tmp_path), budgets={"maxAttempts": 1})
    failed = scenario.run({"responses": {"builder": [{"text": BUGGY_READING}]}})
    assert failed.state == "Failed"
    assert failed.results[0].attempts == 1
    seen = len(scenario.events)
    again = scenario.run({"responses": {"builder": [{"text": GOOD_READING}], "auditor": [APPROVE]}})
    assert again.state == "Succeeded"
    rerun = scenario.events[seen:]
    assert [e.attempt for e in rerun if isinstance(e, events.AttemptStarted)] == [2]
    calls = [e.call for e in rerun if isinstance(e, events.ModelCalled)]
    assert {call.attempt for call in calls} == {2}
    assert again.results[0].attempts == 2
    # a third run finds the phase complete and keeps its count
    third = scenario.run({"responses": {}})
    assert third.results[0].attempts == 2
    assert scenario.of_type(events.PhaseAlreadyComplete)


def test_a_new_run_of_the_same_name_does_its_own_work(tmp_path: Path) -> None:
    scenario = reading_phase(Scenario(tmp_path))
    first = scenario.run({"responses": {"builder": [{"text": GOOD_READING}], "auditor": [APPROVE]}})
    assert first.state == "Succeeded"
    scenario.run_id = "another-run-same-name"
    scenario.previous_attempts = {}
    seen = len(scenario.events)
    second = scenario.run(
        {"responses": {"builder": [{"text": GOOD_READING}], "auditor": [APPROVE]}}
    )
    assert second.state == "Succeeded"
    assert not [e for e in scenario.events[seen:] if isinstance(e, events.PhaseAlreadyComplete)]
    assert len(scenario.of_type(events.AttemptStarted)) == 2


def test_a_note_reaches_the_next_builder_and_doctor_prompts(tmp_path: Path) -> None:
    scenario = reading_phase(Scenario(tmp_path))
    scenario.notes.append("Round reading time up with math.ceil.")
    doctor = '{"decision": "retry_with_hint", "confidence": 0.9, "hint": "zero for empty text"}'
    outcome = scenario.run(
        {
            "responses": {
                "builder": [{"text": BUGGY_READING}, {"text": GOOD_READING}],
                "doctor": [{"text": doctor}],
                "auditor": [APPROVE],
            }
        }
    )
    assert outcome.state == "Succeeded"
    assert all("Round reading time up with math.ceil." in p for p in scenario.prompts())
    [asked] = scenario.prompts("doctor")
    assert "Round reading time up with math.ceil." in asked


def test_a_succeeded_run_opens_then_updates_its_pull_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "ghp_" + "F" * 36
    monkeypatch.setenv("AUTOPACK_GIT_TOKEN", token)
    with forge_server(token) as (url, state):
        scenario = reading_phase(Scenario(tmp_path))
        scenario.builder.set(
            "spec.repo.pullRequest",
            {"provider": "github", "apiURL": url, "repository": "acme/textstats"},
        )
        outcome = scenario.run(
            {"responses": {"builder": [{"text": GOOD_READING}], "auditor": [APPROVE]}}
        )
        assert outcome.state == "Succeeded"
        assert outcome.pull_request == "http://forge.test/acme/textstats/pull/1"
        [pull] = state.pulls.values()
        assert pull["head"]["ref"] == "autopack/scenario"
        assert pull["base"]["ref"] == "main"
        assert "| 0 | Add reading time | Complete | 1 |" in pull["body"]
        assert "tests before: 30 passed, 0 failed" in pull["body"]
        assert "tests after: 32 passed, 0 failed" in pull["body"]
        again = scenario.run({"responses": {}})
        assert again.pull_request == outcome.pull_request
        assert len(state.pulls) == 1
        assert ("PATCH", "/repos/acme/textstats/pulls/1") in state.calls
    assert token not in repr(scenario.events)


def test_a_test_command_that_cannot_start_fails_the_run_before_any_change(
    tmp_path: Path,
) -> None:
    scenario = reading_phase(Scenario(tmp_path))
    scenario.builder.set("spec.toolchain", {"test": "no-such-test-runner --all"})
    outcome = scenario.run({"responses": {}})
    assert outcome.state == "Failed"
    assert outcome.reason == Reason.PLAN_INVALID
    assert "`no-such-test-runner --all` cannot start (exit code 127" in outcome.message
    assert "set spec.toolchain.test" in outcome.message
    assert not scenario.of_type(events.AttemptStarted)
