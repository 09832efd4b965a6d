"""The real engine loop on real git repositories with real test runs and scripted models."""

from pathlib import Path

import pytest

from autopack import edits, events
from autopack.llm import errors
from tests.builders.scenario import APPROVE, GOOD_READING, Scenario, file_block, git

pytestmark = pytest.mark.slow

BROKEN_TEST = file_block(
    "tests/test_counting.py",
    "from textstats import word_count\n\n\ndef test_counts_words() -> None:\n"
    "    assert word_count('one two') == 3\n",
)


def reading_phase(scenario: Scenario, **fields: object) -> Scenario:
    return scenario.phase(
        "Add reading time",
        deliverables=["textstats/reading.py::reading_time", "tests/test_reading.py"],
        **fields,
    )


def test_success_path_commits_and_pushes_each_phase(tmp_path: Path) -> None:
    scenario = reading_phase(Scenario(tmp_path))
    outcome = scenario.run(
        {"responses": {"builder": [{"text": GOOD_READING}], "auditor": [APPROVE]}}
    )
    assert (outcome.state, outcome.exit_code) == ("Succeeded", 0)
    assert scenario.branch_log()[0] == "autopack: phase 0 Add reading time"
    assert "def reading_time" in scenario.branch_file("textstats/reading.py")
    ran = [e for e in scenario.of_type(events.TestsRan) if e.attempt == 1]
    assert ran[0].outcome.passed == 32
    assert ran[0].outcome.new_failures == ()


def test_breaking_an_existing_test_is_blocked_and_fed_back(tmp_path: Path) -> None:
    scenario = reading_phase(Scenario(tmp_path))
    outcome = scenario.run(
        {
            "responses": {
                "builder": [{"text": GOOD_READING + BROKEN_TEST}, {"text": GOOD_READING}],
                "auditor": [APPROVE],
            }
        }
    )
    assert outcome.state == "Succeeded"
    assert outcome.results[0].attempts == 2
    second_prompt = scenario.prompts()[1]
    assert "New test failure: tests.test_counting::test_counts_words" in second_prompt
    assert "assert word_count('one two') == 3" not in scenario.branch_file("tests/test_counting.py")


def test_pre_existing_failures_never_block(tmp_path: Path) -> None:
    scenario = reading_phase(
        Scenario(
            tmp_path,
            extra_files={
                "tests/test_known_bug.py": "def test_known_bug() -> None:\n    assert 1 == 2\n"
            },
        )
    )
    outcome = scenario.run(
        {"responses": {"builder": [{"text": GOOD_READING}], "auditor": [APPROVE]}}
    )
    assert outcome.state == "Succeeded"
    assert scenario.of_type(events.TestsRan)[0].outcome.failed == 1  # the baseline saw it


def test_out_of_scope_edit_is_refused_then_retried_inside_scope(tmp_path: Path) -> None:
    scenario = reading_phase(Scenario(tmp_path))
    outside = file_block("scripts/deploy.sh", "echo deploy")
    outcome = scenario.run(
        {
            "responses": {
                "builder": [{"text": GOOD_READING + outside}, {"text": GOOD_READING}],
                "auditor": [APPROVE],
            }
        }
    )
    assert outcome.state == "Succeeded"
    assert "'scripts/deploy.sh' is outside the allowed paths" in scenario.prompts()[1]
    refused, applied = (e.outcome for e in scenario.of_type(events.EditsApplied))
    assert refused.refusals
    # a refused apply wrote nothing: it counts no files and no lines
    assert (refused.files, refused.additions, refused.deletions) == ((), 0, 0)
    assert applied.refusals == ()


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../escape.py", "contains '..'"),
        ("/etc/passwd", "is absolute"),
        (".git/hooks/pre-commit", "is inside .git/"),
    ],
)
def test_hostile_paths_are_refused_and_the_attempt_retried(
    tmp_path: Path, path: str, reason: str
) -> None:
    scenario = reading_phase(Scenario(tmp_path))
    outcome = scenario.run(
        {
            "responses": {
                "builder": [{"text": file_block(path, "print('pwned')")}, {"text": GOOD_READING}],
                "auditor": [APPROVE],
            }
        }
    )
    assert outcome.state == "Succeeded"
    refusals = scenario.of_type(events.EditsApplied)[0].outcome.refusals
    assert any(reason in refusal for refusal in refusals), refusals
    assert not (tmp_path / "work" / "escape.py").exists()
    assert reason in scenario.prompts()[1]


def test_writes_through_a_symlink_that_leaves_the_workspace_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    scenario = reading_phase(Scenario(tmp_path))
    scenario.run({"responses": {"builder": [{"text": GOOD_READING}], "auditor": [APPROVE]}})
    clone = tmp_path / "work" / "scenario"
    (clone / "textstats" / "linked").symlink_to(outside)
    result = edits.apply_edits(
        clone,
        edits.parse_edits(file_block("textstats/linked/evil.py", "x = 1")),
        allowed=["textstats/"],
        protected=edits.DEFAULT_PROTECTED,
        deletion_threshold=None,
    )
    assert result.refusals == (
        "'textstats/linked/evil.py' goes through a symlink (textstats/linked); refused",
    )
    assert not (outside / "evil.py").exists()


def test_large_deletion_waits_for_approval_then_continues(tmp_path: Path) -> None:
    big = "".join(f"LINE_{n} = {n}\n" for n in range(300))
    scenario = Scenario(tmp_path, extra_files={"textstats/table.py": big})
    scenario.builder.set("spec.approval", {"policy": "risky", "deletionThresholdLines": 200})
    scenario.phase("Shrink the table", deliverables=["textstats/table.py"])
    first = scenario.run(
        {"responses": {"builder": [{"text": file_block("textstats/table.py", "LINE_0 = 0")}]}}
    )
    assert (first.state, first.exit_code) == ("AwaitingApproval", 2)
    assert "deletes 299 more lines than it adds" in first.message
    assert scenario.of_type(events.ApprovalNeeded)
    again = scenario.run({"responses": {}})
    assert again.state == "AwaitingApproval"  # not approved yet: nothing is redone
    seen = len(scenario.events)
    approved = scenario.run({"responses": {"auditor": [APPROVE]}}, approved={0})
    assert approved.state == "Succeeded"
    # the approved change is gated as the phase's next attempt (numbering continues)
    assert [e.attempt for e in scenario.events[seen:] if isinstance(e, events.TestsRan)] == [
        None,
        2,
    ]
    assert approved.results[0].attempts == 2
    assert scenario.branch_file("textstats/table.py") == "LINE_0 = 0\n"
    assert scenario.branch_log()[0] == "autopack: phase 0 Shrink the table"


def test_policy_always_waits_for_approval_of_an_additive_change(tmp_path: Path) -> None:
    scenario = reading_phase(Scenario(tmp_path))
    scenario.builder.set("spec.approval", {"policy": "always"})
    first = scenario.run({"responses": {"builder": [{"text": GOOD_READING}]}})
    assert (first.state, first.exit_code) == ("AwaitingApproval", 2)
    assert "approval policy 'always'" in first.message
    approved = scenario.run({"responses": {"auditor": [APPROVE]}}, approved={0})
    assert approved.state == "Succeeded"


def test_truncated_output_is_continued_from_the_unfinished_file(tmp_path: Path) -> None:
    scenario = reading_phase(Scenario(tmp_path))
    cut = GOOD_READING[: GOOD_READING.index("def test_rounds_up")]
    rest = file_block(
        "tests/test_reading.py",
        "from textstats.reading import reading_time\n\n\n"
        "def test_empty_is_zero() -> None:\n    assert reading_time('') == 0\n",
    )
    outcome = scenario.run(
        {
            "responses": {
                "builder": [{"text": cut, "stop_reason": "max_tokens"}, {"text": rest}],
                "auditor": [APPROVE],
            }
        }
    )
    assert outcome.state == "Succeeded"
    assert "cut off inside the block for tests/test_reading.py" in scenario.prompts()[1]
    assert outcome.results[0].attempts == 1


def test_malformed_output_is_reasked_once_with_the_error(tmp_path: Path) -> None:
    scenario = reading_phase(Scenario(tmp_path))
    outcome = scenario.run(
        {
            "responses": {
                "builder": [
                    {"text": "Sure! Here is the code you asked for."},
                    {"text": GOOD_READING},
                ],
                "auditor": [APPROVE],
            }
        }
    )
    assert outcome.state == "Succeeded"
    assert "no '=== FILE:', '=== EDIT:' or '=== DELETE:' block found" in scenario.prompts()[1]
    assert outcome.results[0].attempts == 1


def test_auditor_rejection_is_fed_back(tmp_path: Path) -> None:
    scenario = reading_phase(Scenario(tmp_path))
    outcome = scenario.run(
        {
            "responses": {
                "builder": [{"text": GOOD_READING}, {"text": GOOD_READING}],
                "auditor": [
                    {
                        "text": "VERDICT: changes_requested\n"
                        "- reading_time lacks a docstring example"
                    },
                    APPROVE,
                ],
            }
        }
    )
    assert outcome.state == "Succeeded"
    assert "Auditor: reading_time lacks a docstring example" in scenario.prompts()[1]


def test_budget_exhaustion_stops_before_the_call(tmp_path: Path) -> None:
    scenario = reading_phase(Scenario(tmp_path))
    scenario.builder.budget(tokens=5000)
    outcome = scenario.run({"responses": {"builder": [{"text": GOOD_READING}]}})
    assert (outcome.state, outcome.reason) == ("Failed", "BudgetExceeded")
    assert "but the run has 5,000 tokens / $10.0000 left" in outcome.message
    assert not outcome.message.startswith("BudgetExceeded")  # the reason is not repeated
    assert scenario.prompts() == []  # no call was made


def test_resume_does_not_redo_completed_phases(tmp_path: Path) -> None:
    scenario = reading_phase(Scenario(tmp_path))
    scenario.phase("Add a CLI", deliverables=["textstats/cli.py"])
    first = scenario.run({"responses": {"builder": [{"text": GOOD_READING}], "auditor": [APPROVE]}})
    assert (first.state, first.reason) == ("Failed", "ProviderError")
    assert "has no builder response left" in first.message
    done_commit = git("rev-parse", "autopack/scenario", cwd=scenario.origin).strip()
    cli = file_block("textstats/cli.py", "def main() -> int:\n    return 0")
    seen = len(scenario.events)
    second = scenario.run({"responses": {"builder": [{"text": cli}], "auditor": [APPROVE]}})
    assert second.state == "Succeeded"
    rerun = scenario.events[seen:]
    # phase 0 was not run again: it was found complete on the branch
    assert [e.index for e in rerun if isinstance(e, events.PhaseStarted)] == [1]
    [found] = [e for e in rerun if isinstance(e, events.PhaseAlreadyComplete)]
    assert (found.index, found.commit) == (0, done_commit)
    assert (second.results[0].state, second.results[0].commit) == ("Complete", done_commit)
    # attempt numbering continues: phase 1's first attempt was the stopped one
    assert [e.attempt for e in rerun if isinstance(e, events.AttemptStarted)] == [2]
    assert (second.results[0].attempts, second.results[1].attempts) == (1, 2)
    log = scenario.branch_log()
    assert log[:2] == ["autopack: phase 1 Add a CLI", "autopack: phase 0 Add reading time"]
    assert git("rev-parse", "autopack/scenario~1", cwd=scenario.origin).strip() == done_commit


def test_health_budget_stops_a_run_that_would_loop(tmp_path: Path) -> None:
    scenario = reading_phase(Scenario(tmp_path))
    scenario.builder.budget(maxFailuresPerRun=2, maxAttemptsPerPhase=5)
    bad = {"text": file_block("outside.py", "x = 1")}
    outcome = scenario.run({"responses": {"builder": [bad] * 5}})
    assert (outcome.state, outcome.reason) == ("Failed", "HealthBudgetExhausted")
    assert outcome.message.startswith("2 failures, last: ")


def test_a_provider_outage_costs_no_attempt_and_is_recorded(tmp_path: Path) -> None:
    scenario = reading_phase(Scenario(tmp_path))
    scenario.builder.budget(maxAttemptsPerPhase=1)
    outage = [{"error": "overloaded"}] * 2  # every try of one call (overload_attempts: 2)
    outcome = scenario.run(
        {"responses": {"builder": [*outage, {"text": GOOD_READING}], "auditor": [APPROVE]}}
    )
    assert outcome.state == "Succeeded", outcome.message
    failed, passed = scenario.of_type(events.AttemptFinished)
    assert failed.result.failure is not None
    assert (failed.attempt, failed.result.outcome, failed.result.failure.category) == (
        1,
        "failed",
        "provider",
    )
    assert failed.result.failure.signature.text == (
        "every route failed; the first error: scripted: injected overloaded (builder call <n>)"
    )
    assert (passed.attempt, passed.result.outcome) == (2, "passed")
    # the back-off between the two tries, then the open breaker's cooldown; none slept
    assert len(scenario.waits) == 2
    assert scenario.waits[1] == pytest.approx(30.0)  # breaker.cooldown_seconds


def test_repeated_provider_outages_exhaust_the_health_budget(tmp_path: Path) -> None:
    scenario = reading_phase(Scenario(tmp_path))
    outcome = scenario.run({"responses": {"builder": [{"error": "server_error"}] * 40}})
    assert (outcome.state, outcome.reason) == ("Failed", "HealthBudgetExhausted")
    assert outcome.message == (
        "8 provider errors, last: provider: every route failed; the first error: "
        "scripted: injected server_error (builder call <n>)"
    )
    assert len(scenario.of_type(events.AttemptFinished)) == 8


def test_a_rejected_key_stops_the_run_at_once(tmp_path: Path) -> None:
    scenario = reading_phase(Scenario(tmp_path))
    outcome = scenario.run({"responses": {"builder": [{"error": "authentication"}] * 3}})
    assert (outcome.state, outcome.reason) == ("Failed", "ProviderError")
    assert scenario.cassettes[0].positions["builder"] == 1  # never retried
    # the stop ends the attempt and the phase with a final state
    [stopped] = scenario.of_type(events.AttemptFinished)
    assert stopped.result.outcome == "stopped"
    assert stopped.result.failure is None
    assert stopped.result.stop is not None
    assert stopped.result.stop.reason == "ProviderError"
    [finished] = scenario.of_type(events.PhaseFinished)
    assert (finished.result.state, finished.result.stop) == ("Failed", stopped.result.stop)


def test_a_ledger_that_cannot_be_written_stops_the_run_before_any_call(tmp_path: Path) -> None:
    scenario = reading_phase(Scenario(tmp_path))

    def unwritable() -> None:
        raise errors.LedgerUnavailableError(
            "the usage of phase 0 cannot be written to its Phase (503); "
            "no model call is made until it can"
        )

    scenario.before_model_call = unwritable
    outcome = scenario.run({"responses": {"builder": [{"text": "never sent"}]}})
    assert (outcome.state, outcome.reason) == ("Failed", "InternalError")
    assert "cannot be written to its Phase" in outcome.message
    assert scenario.cassettes[0].positions.get("builder", 0) == 0  # no call was made
