from datetime import UTC, datetime

from rich.console import Console

from autopack import events
from autopack.api import FailureCategory
from autopack.api.conditions import Reason
from autopack.cli.console import ConsoleSink
from autopack.edits import ApplyOutcome
from autopack.events import AttemptOutcome, AttemptResult, Failure, Stop

AT = datetime(2026, 1, 1, tzinfo=UTC)


def printed(*emitted: events.RunEvent) -> str:
    console = Console(record=True, width=200, force_terminal=False)
    sink = ConsoleSink(console, live=False)
    for event in emitted:
        sink.emit(event)
    return console.export_text()


def test_a_fully_refused_answer_is_not_counted_as_edits() -> None:
    refused = ApplyOutcome((), 0, 0, refusals=("'docs/x.md' is outside the allowed paths", "b"))
    text = printed(events.EditsApplied(run="r", at=AT, index=0, attempt=1, outcome=refused))
    assert "edits refused, nothing applied (2)" in text
    assert "edited" not in text


def test_replans_escalations_and_provider_waits_are_printed() -> None:
    text = printed(
        events.PhaseReplanned(run="r", at=AT, index=0, goal="g", reason="repeated failure: ci: x"),
        events.AttemptStarted(
            run="r", at=AT, index=0, attempt=3, model="opus", escalation="builder a -> b"
        ),
        events.ProviderNotice(
            run="r", at=AT, message="anthropic overloaded, retrying in 12 s (3/6)"
        ),
    )
    assert "phase 0 replanned (repeated failure: ci: x)" in text
    assert "attempt 3: escalating builder a -> b" in text
    assert "anthropic overloaded, retrying in 12 s (3/6)" in text


def test_a_stopped_attempt_says_why_and_a_failed_one_what_recovery_did() -> None:
    stopped = AttemptResult(
        AttemptOutcome.STOPPED, stop=Stop(Reason.BUDGET_EXCEEDED, "the run has 10 tokens left")
    )
    failed = AttemptResult(
        AttemptOutcome.FAILED,
        failure=Failure(FailureCategory.CI, "1 failed"),
        mitigation="wrong-test-path: tests point at tests/",
        doctor_decision=None,
    )
    text = printed(
        events.AttemptFinished(run="r", at=AT, index=0, attempt=1, result=failed),
        events.AttemptFinished(run="r", at=AT, index=0, attempt=2, result=stopped),
    )
    assert "attempt 1 failed: ci: <n> failed" in text
    assert "mitigation: wrong-test-path: tests point at tests/" in text
    assert "attempt 2 stopped: BudgetExceeded: the run has 10 tokens left" in text
