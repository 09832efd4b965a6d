from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from autopack import events
from autopack.api import FailureCategory, PhaseDefinition, PhaseState, RunPhase
from autopack.api.conditions import Reason
from autopack.edits import BlockEditor
from autopack.engine.attempts import PhaseLoop
from autopack.engine.doctoring import Doctor
from autopack.engine.ports import AttemptFailed, RunStopped
from autopack.engine.recovering import PhaseRecovery
from autopack.engine.steps import RunContext
from autopack.events import AttemptOutcome, Stop
from autopack.gates import GateOutcome
from autopack.hardening.health import RunHealth
from autopack.hardening.registry import HealthSettings
from tests.builders.api import a_run
from tests.unit.engine.fakes import FakeMitigations, FakeModels, FakeWorkspace, doctor_says

AT = datetime(2026, 1, 1, tzinfo=UTC)
GOOD = "=== FILE: pkg/new.py\nx = 1\n=== END\n"
APPROVE = "VERDICT: approved\n- fine\n"


class FakeGates:
    def __init__(self, *, explode: Exception | None = None) -> None:
        self.explode = explode

    def baseline(self) -> GateOutcome:
        return GateOutcome(command="t", passed=1, failed=0)

    def tests(self) -> GateOutcome:
        if self.explode is not None:
            raise self.explode
        return GateOutcome(command="t", passed=2, failed=0, summary="2 passed")

    def validation(self, commands: list[str]) -> list[str]:
        return []

    def deliverables(self, deliverables: list[str]) -> list[str]:
        return []


class NoContext:
    def render(self, *, phase: PhaseDefinition, feedback: list[str], budget_tokens: int) -> str:
        return "(repository)"

    def render_related(
        self, *, phase: PhaseDefinition, feedback: list[str], budget_tokens: int
    ) -> str:
        return ""


def loop(
    tmp_path: Path,
    models: FakeModels,
    *,
    gates: FakeGates | None = None,
    max_attempts: int = 3,
    previous_attempts: int = 0,
) -> tuple[PhaseLoop, list[Any], FakeWorkspace]:
    (tmp_path / "pkg").mkdir(exist_ok=True)
    seen: list[Any] = []
    workspace = FakeWorkspace(root=tmp_path)
    phase = PhaseDefinition.model_validate(
        {
            "title": "t",
            "goal": "g",
            "deliverables": ["pkg/"],
            "scope": {"allowedPaths": ["pkg/"]},
            "budgets": {"maxAttempts": max_attempts},
        },
        by_alias=True,
    )
    ctx = RunContext(
        run="demo",
        workspace=workspace,
        models=models,
        editor=BlockEditor(tmp_path, run=a_run("demo").obj()),
        context=NoContext(),
        gates=gates or FakeGates(),
        emit=seen.append,
        now=lambda: AT,
    )
    recovery = PhaseRecovery(
        index=0,
        workspace=workspace,
        health=RunHealth(max_failures=25, settings=HealthSettings()),
        mitigations=FakeMitigations(),
        doctor=Doctor(models=models),
    )
    return (
        PhaseLoop(ctx, recovery, index=0, phase=phase, previous_attempts=previous_attempts),
        seen,
        workspace,
    )


def of(seen: list[Any], kind: type) -> list[Any]:
    return [event for event in seen if isinstance(event, kind)]


def test_a_budget_stop_mid_attempt_finishes_attempt_and_phase_and_rolls_back(
    tmp_path: Path,
) -> None:
    def over_budget() -> str:
        raise RunStopped(Stop(Reason.BUDGET_EXCEEDED, "the run has 10 tokens left"))

    phase_loop, seen, workspace = loop(tmp_path, FakeModels().say("builder", over_budget))
    result = phase_loop.run()
    assert result.state == PhaseState.FAILED
    assert result.stop == Stop(Reason.BUDGET_EXCEEDED, "the run has 10 tokens left")
    [finished] = of(seen, events.AttemptFinished)
    assert finished.result.outcome == AttemptOutcome.STOPPED
    assert finished.result.stop.reason == Reason.BUDGET_EXCEEDED
    [phase] = of(seen, events.PhaseFinished)
    assert phase.result.state == PhaseState.FAILED
    assert workspace.rollbacks == ["c0"]


def test_an_unexpected_error_ends_the_phase_with_internal_error_in_one_line(
    tmp_path: Path,
) -> None:
    boom = ValueError("embedded null byte\nsecond line of detail")
    models = FakeModels().say("builder", GOOD)
    phase_loop, seen, workspace = loop(tmp_path, models, gates=FakeGates(explode=boom))
    result = phase_loop.run()
    assert result.stop == Stop(Reason.INTERNAL_ERROR, "ValueError: embedded null byte")
    assert of(seen, events.AttemptFinished)[0].result.outcome == AttemptOutcome.STOPPED
    assert workspace.rollbacks == ["c0"]


def test_a_provider_outage_costs_no_attempt(tmp_path: Path) -> None:
    def outage() -> str:
        raise AttemptFailed.of(FailureCategory.PROVIDER, "every model of the route failed")

    models = FakeModels().say("builder", outage, GOOD).say("auditor", APPROVE)
    phase_loop, seen, _ = loop(tmp_path, models, max_attempts=1)
    result = phase_loop.run()
    assert result.state == PhaseState.COMPLETE
    assert result.attempts == 2
    outcomes = [event.result.outcome for event in of(seen, events.AttemptFinished)]
    assert outcomes == [AttemptOutcome.FAILED, AttemptOutcome.PASSED]
    assert "doctor" not in models.asked


def test_attempt_numbers_continue_after_earlier_processes(tmp_path: Path) -> None:
    models = FakeModels().say("builder", GOOD).say("auditor", APPROVE)
    phase_loop, seen, workspace = loop(tmp_path, models, previous_attempts=3)
    result = phase_loop.run()
    assert [event.attempt for event in of(seen, events.AttemptStarted)] == [4]
    assert result.attempts == 4
    assert result.state == PhaseState.COMPLETE
    assert "Autopack-Phase: 0" in workspace.commits[-1]
    assert workspace.kept == [["pkg/new.py"]]  # only the governed edit survives the commands


def test_a_fully_refused_answer_applies_nothing_and_is_retried(tmp_path: Path) -> None:
    refused = "=== FILE: docs/out.md\nx\n=== END\n"
    models = (
        FakeModels()
        .say("builder", refused, GOOD)
        .say("doctor", *[doctor_says("retry_with_hint", hint="stay in pkg/")] * 2)
        .say("auditor", APPROVE)
    )
    phase_loop, seen, _ = loop(tmp_path, models)
    assert phase_loop.run().state == PhaseState.COMPLETE
    first = of(seen, events.EditsApplied)[0].outcome
    assert first.files == ()
    assert first.refusals
    failed = of(seen, events.AttemptFinished)[0].result
    assert failed.failure.category == FailureCategory.APPLY
    assert not (tmp_path / "docs").exists()


@pytest.mark.parametrize("state", [RunPhase.SUCCEEDED, RunPhase.FAILED, RunPhase.AWAITING_APPROVAL])
def test_run_states_have_exit_codes(state: RunPhase) -> None:
    outcome = events.RunOutcome(state, Reason.SUCCEEDED, "")
    assert outcome.exit_code == {"Succeeded": 0, "Failed": 1, "AwaitingApproval": 2}[state]


def test_an_error_inside_recovery_still_finishes_attempt_and_phase(tmp_path: Path) -> None:
    def broken_doctor() -> str:
        raise RuntimeError("the Doctor's transport broke")

    refused = "=== FILE: docs/out.md\nx\n=== END\n"
    models = FakeModels().say("builder", refused).say("doctor", broken_doctor)
    phase_loop, seen, _ = loop(tmp_path, models)
    result = phase_loop.run()
    assert result.stop == Stop(Reason.INTERNAL_ERROR, "RuntimeError: the Doctor's transport broke")
    [finished] = of(seen, events.AttemptFinished)
    assert finished.result.outcome == AttemptOutcome.STOPPED
    assert of(seen, events.PhaseFinished)[0].result.state == PhaseState.FAILED


def test_the_phase_fails_with_its_last_failure_once_its_attempts_are_spent(tmp_path: Path) -> None:
    def outage() -> str:
        raise AttemptFailed.of(FailureCategory.PROVIDER, "every model of the route failed")

    refused = "=== FILE: docs/out.md\nx\n=== END\n"
    models = (
        FakeModels()
        .say("builder", outage, refused, refused)
        .say("doctor", *[doctor_says("retry_with_hint", hint="stay in pkg/")] * 2)
        .say("planner", "a better goal")
    )
    phase_loop, seen, workspace = loop(tmp_path, models, max_attempts=2)
    result = phase_loop.run()
    assert (result.state, result.attempts) == (PhaseState.FAILED, 3)  # the outage cost nothing
    failures = [event.result.failure for event in of(seen, events.AttemptFinished)]
    assert result.failure == str(failures[-1].signature)
    assert [event.goal for event in of(seen, events.PhaseReplanned)] == ["a better goal"]
    assert workspace.rollbacks == ["c0", "c0", "c0"]
