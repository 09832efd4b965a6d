import pytest

from autopack.agents.auditing import AuditParseError, build_audit_prompt, parse_audit
from autopack.agents.doctoring import parse_diagnosis
from autopack.api import PhaseDefinition


def test_approval_is_read_with_reasons() -> None:
    result = parse_audit("VERDICT: approved\n- meets every criterion\n- tests added\n")
    assert result.approved
    assert result.reasons == ("meets every criterion", "tests added")


@pytest.mark.parametrize(
    "text",
    [
        "**Verdict:** changes_requested\n- reading_time(0 words) returns 1",
        "verdict: request changes\n* reading_time(0 words) returns 1",
        "Some preamble.\n\nVERDICT: CHANGES REQUESTED\n- reading_time(0 words) returns 1",
    ],
)
def test_change_requests_are_read_in_common_shapes(text: str) -> None:
    result = parse_audit(text)
    assert not result.approved
    assert result.reasons == ("reading_time(0 words) returns 1",)


def test_request_without_bullets_keeps_the_prose_as_reason() -> None:
    result = parse_audit("VERDICT: changes_requested\nThe CLI ignores its FILE argument.")
    assert result.summary == "The CLI ignores its FILE argument."


def test_missing_verdict_is_a_parse_error_never_an_approval() -> None:
    with pytest.raises(AuditParseError, match="no verdict line"):
        parse_audit("Looks approved to me!")


def test_prompt_carries_goal_criteria_tests_and_bounded_diff() -> None:
    phase = PhaseDefinition(
        title="Add reading time",
        goal="reading_time(text)",
        acceptance_criteria=["empty text is 0"],
        deliverables=["textstats/reading.py"],
    )
    system, user = build_audit_prompt(
        phase=phase, diff="+x\n" * 40_000, test_summary="4 passed", intention="tiny library"
    )
    assert "VERDICT: approved" in system
    assert "- empty text is 0" in user
    assert "Tests: 4 passed" in user
    assert user.startswith("Project intention:\ntiny library")
    assert "[diff truncated]" in user
    assert len(user) < 70_000


def test_unreadable_doctor_answer_is_only_ever_a_plain_retry() -> None:
    assert parse_diagnosis("I think we should give up").decision == "retry_with_hint"
    assert not parse_diagnosis('{"decision": "explode"}').readable
    sure = parse_diagnosis(
        '```json\n{"decision": "skip_phase", "confidence": 7, "reason": "x"}\n```'
    )
    assert (sure.decision, sure.confidence) == ("skip_phase", 1.0)
