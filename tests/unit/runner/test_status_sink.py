import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from autopack import events
from autopack.agents.auditing import AuditResult
from autopack.api import FailureCategory, PhaseDefinition, PhaseState, RunPhase
from autopack.api.conditions import Reason
from autopack.edits import ApplyOutcome
from autopack.events import AttemptOutcome, AttemptResult, Failure, PhaseResult, RunOutcome
from autopack.gates import GateOutcome
from autopack.llm import errors
from autopack.llm.types import CallRecord, RawUsage
from autopack.runner.reserving import Amount, left_behind
from autopack.runner.status_sink import KubernetesStatusSink

AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
Patches = list[tuple[str, str, dict[str, Any]]]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Timers:
    """Scheduled calls, run by the test when it moves the clock."""

    def __init__(self) -> None:
        self.calls: list[Timer] = []

    def __call__(self, seconds: float, function: Callable[[], None]) -> "Timer":
        timer = Timer(seconds, function)
        self.calls.append(timer)
        return timer


@dataclass
class Timer:
    seconds: float
    function: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


class FlakyApi:
    """Phase status writes, refused with a connection error while ``failing["now"]``."""

    def __init__(self) -> None:
        self.failing = {"now": False}
        self.patches: Patches = []

    def __call__(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        if self.failing["now"]:
            raise OSError("connection refused")
        self.patches.append((namespace, name, status))


def sink(
    clock: Clock, timers: Timers | None = None, **options: Any
) -> tuple[KubernetesStatusSink, Patches]:
    patches: Patches = []
    return (
        KubernetesStatusSink(
            namespace="team",
            run_name="demo",
            patch=lambda ns, n, s: patches.append((ns, n, s)),
            interval=5.0,
            clock=clock,
            schedule=timers or Timers(),
            **options,
        ),
        patches,
    )


def a_call(tokens: int, *, index: int | None = 0) -> events.ModelCalled:
    call = CallRecord(
        role="builder",
        provider="anthropic",
        model="m",
        outcome="ok",
        usage=RawUsage(input_tokens=tokens, output_tokens=10, cache_read_tokens=1000),
        cost_usd=0.01,
        phase_index=index,
        attempt=1,
    )
    return events.ModelCalled(run="demo", at=AT, call=call)


def test_a_phase_is_a_few_coalesced_patches_of_the_right_phase() -> None:
    clock = Clock()
    status_sink, patches = sink(clock)
    status_sink.emit(events.PhaseStarted(run="demo", at=AT, index=1, title="CLI"))
    status_sink.emit(events.AttemptStarted(run="demo", at=AT, index=1, attempt=1, model="m1"))
    status_sink.emit(a_call(100, index=1))
    applied = ApplyOutcome(("a.py",), 5, 1)
    status_sink.emit(events.EditsApplied(run="demo", at=AT, index=1, attempt=1, outcome=applied))
    tests = GateOutcome(command="pytest", passed=4, failed=0)
    status_sink.emit(events.TestsRan(run="demo", at=AT, index=1, attempt=1, outcome=tests))
    review = AuditResult("approved", ("fine",))
    status_sink.emit(events.AuditDone(run="demo", at=AT, index=1, attempt=1, result=review))
    done = PhaseResult(PhaseState.COMPLETE, 1, commit="abc")
    status_sink.emit(events.PhaseFinished(run="demo", at=AT, index=1, title="CLI", result=done))

    assert {name for _, name, _ in patches} == {"demo-p01"}
    assert len(patches) == 2  # started, then everything else merged into the finish
    assert patches[0][2]["state"] == "Building"
    final = patches[1][2]
    assert final["state"] == "Complete"
    assert final["commit"] == "abc"
    assert final["attempts"] == 1
    assert final["diff"] == {"files": 1, "additions": 5, "deletions": 1}
    assert final["ci"]["passed"] == 4
    assert final["audit"]["verdict"] == "approved"
    assert final["finishedAt"] == "2026-01-01T12:00:00Z"


def test_progress_is_written_at_most_once_per_interval() -> None:
    clock = Clock()
    status_sink, patches = sink(clock)
    status_sink.emit(events.PhaseStarted(run="demo", at=AT, index=0, title="x"))
    for second in range(12):
        clock.now = float(second)
        status_sink.emit(a_call(100))
    # one immediate write at the start, then progress at t=5 and t=10
    assert len(patches) == 3
    status_sink.flush()
    assert patches[-1][2]["usage"] == {
        "inputTokens": 1200,
        "cacheReadTokens": 12000,
        "cacheWriteTokens": 0,
        "outputTokens": 120,
        "costUSD": 0.12,
        "llmCalls": 12,
    }


def test_run_level_events_write_nothing_and_failures_are_summarized() -> None:
    # (the planner's call goes to the first Phase with its next write)
    clock = Clock()
    status_sink, patches = sink(clock)
    status_sink.emit(
        events.RunStarted(run="demo", at=AT, run_id="u", repo_url="r", base_ref="main", branch="b")
    )
    baseline = GateOutcome(command="t", passed=1, failed=0)
    status_sink.emit(events.TestsRan(run="demo", at=AT, index=None, attempt=None, outcome=baseline))
    status_sink.emit(a_call(5, index=None))
    assert patches == []
    failed = AttemptResult(
        AttemptOutcome.FAILED, failure=Failure(FailureCategory.CI, "ImportError: no module x")
    )
    clock.now = 100.0
    status_sink.emit(events.AttemptFinished(run="demo", at=AT, index=0, attempt=2, result=failed))
    assert patches[-1][2] == {
        "failure": {"signature": "ci: ImportError: no module x", "mitigation": ""},
        "planUsage": {
            "inputTokens": 5,
            "cacheReadTokens": 1000,
            "cacheWriteTokens": 0,
            "outputTokens": 10,
            "costUSD": 0.01,
            "llmCalls": 1,
        },
    }


def test_progress_held_back_is_written_by_a_timer_once_the_interval_has_passed() -> None:
    clock, timers = Clock(), Timers()
    status_sink, patches = sink(clock, timers)
    status_sink.emit(events.PhaseStarted(run="demo", at=AT, index=0, title="x"))
    clock.now = 1.0
    status_sink.emit(a_call(100))
    clock.now = 2.0
    status_sink.emit(a_call(100))
    # A long model call or test run follows: nothing else is emitted for a while.
    assert len(patches) == 1
    [timer] = timers.calls  # one timer for the phase, however many events wait
    assert timer.seconds == 4.0
    clock.now = 5.0
    timer.function()
    assert len(patches) == 2
    assert patches[-1][2]["usage"]["llmCalls"] == 2


def test_an_immediate_write_takes_what_a_timer_waited_for_and_calls_it_off() -> None:
    clock, timers = Clock(), Timers()
    status_sink, patches = sink(clock, timers)
    status_sink.emit(events.PhaseStarted(run="demo", at=AT, index=0, title="x"))
    status_sink.emit(a_call(100))
    done = PhaseResult(PhaseState.COMPLETE, 1, commit="abc")
    status_sink.emit(events.PhaseFinished(run="demo", at=AT, index=0, title="x", result=done))
    assert len(patches) == 2
    assert patches[-1][2]["usage"]["llmCalls"] == 1
    assert timers.calls[0].cancelled


def test_a_failed_timer_write_keeps_the_progress_for_the_next_write() -> None:
    clock, timers = Clock(), Timers()
    api = FlakyApi()
    patches, failing = api.patches, api.failing
    status_sink = KubernetesStatusSink(
        namespace="team", run_name="demo", patch=api, interval=5.0, clock=clock, schedule=timers
    )
    status_sink.emit(events.PhaseStarted(run="demo", at=AT, index=0, title="x"))
    status_sink.emit(a_call(100))
    failing["now"] = True
    clock.now = 5.0
    timers.calls[0].function()
    failing["now"] = False
    status_sink.flush()
    assert patches[-1][2]["usage"]["llmCalls"] == 1


def test_a_relaunched_runner_adds_its_calls_to_what_earlier_runners_recorded() -> None:
    earlier = events.Spend(
        input_tokens=500,
        cache_read_tokens=0,
        cache_write_tokens=1648,
        output_tokens=350,
        cost_usd=0.0045,
        calls=2,
    )
    status_sink, patches = sink(Clock(), spent={0: earlier})
    status_sink.emit(a_call(100))
    status_sink.flush()
    assert patches[-1][2]["usage"] == {
        "inputTokens": 600,
        "cacheReadTokens": 1000,
        "cacheWriteTokens": 1648,
        "outputTokens": 360,
        "costUSD": 0.0145,
        "llmCalls": 3,
    }
    assert earlier.calls == 2  # the caller's record is left as it was


def test_a_phase_end_is_announced_on_the_run_after_its_status_is_written() -> None:
    order: list[str] = []
    posted: list[tuple[str, str, str]] = []

    def announce(type: str, reason: str, message: str) -> None:
        order.append("event")
        posted.append((type, reason, message))

    status_sink = KubernetesStatusSink(
        namespace="team",
        run_name="demo",
        patch=lambda ns, n, s: order.append(f"{n}:{s.get('state')}"),
        announce=announce,
    )
    status_sink.emit(events.PhaseStarted(run="demo", at=AT, index=0, title="Core"))
    done = PhaseResult(PhaseState.COMPLETE, 2, commit="abc")
    status_sink.emit(events.PhaseFinished(run="demo", at=AT, index=0, title="Core", result=done))
    failed = PhaseResult(PhaseState.FAILED, 3, failure="tests: 2 new failures")
    status_sink.emit(events.PhaseFinished(run="demo", at=AT, index=1, title="CLI", result=failed))
    waiting = PhaseResult(PhaseState.AWAITING_APPROVAL, 1)
    status_sink.emit(events.PhaseFinished(run="demo", at=AT, index=2, title="X", result=waiting))

    assert order == [
        "demo-p00:Building",
        "demo-p00:Complete",
        "event",
        "demo-p01:Failed",
        "event",
        "demo-p02:AwaitingApproval",
    ]
    assert posted == [
        ("Normal", "PhaseCompleted", "phase 0 'Core' is Complete"),
        ("Warning", "PhaseFailed", "phase 1 'CLI' is Failed: tests: 2 new failures"),
    ]


def test_an_event_the_api_refuses_costs_the_event_not_the_run() -> None:
    def refuse(type: str, reason: str, message: str) -> None:
        raise RuntimeError("403 Forbidden")

    patches: Patches = []
    status_sink = KubernetesStatusSink(
        namespace="team",
        run_name="demo",
        patch=lambda ns, n, s: patches.append((ns, n, s)),
        announce=refuse,
    )
    done = PhaseResult(PhaseState.COMPLETE, 1, commit="abc")
    status_sink.emit(events.PhaseFinished(run="demo", at=AT, index=0, title="Core", result=done))
    assert patches[-1][2]["state"] == "Complete"


# -- reservations: the Phases as the run's only ledger ------------------------------------------

# Each a_call(100) is 1,110 billed tokens (100 in, 1,000 cache read, 10 out) and $0.01.
BUDGET = Amount(40_000, Decimal(1))


def ledger_sink(
    clock: Clock, *, budget: Amount = BUDGET, **options: Any
) -> tuple[KubernetesStatusSink, Patches]:
    return sink(clock, budget=budget, **options)


def ledger(tokens: int, cost: str, unrecorded: tuple[int, str] = (0, "0")) -> dict[str, Any]:
    return {
        "reservedTokens": tokens,
        "reservedCostUSD": float(cost),
        "unrecordedTokens": unrecorded[0],
        "unrecordedCostUSD": float(unrecorded[1]),
    }


def test_a_phase_reserves_a_quarter_of_what_is_left_with_its_start() -> None:
    status_sink, patches = ledger_sink(Clock())
    status_sink.emit(events.PhaseStarted(run="demo", at=AT, index=0, title="x"))
    [(_, name, started)] = patches
    assert name == "demo-p00"
    assert started["state"] == "Building"
    assert started["ledger"] == ledger(10_000, "0.25")


def test_usage_within_the_reservation_waits_and_usage_past_it_is_written_at_once() -> None:
    clock = Clock()
    status_sink, patches = ledger_sink(clock)
    status_sink.emit(events.PhaseStarted(run="demo", at=AT, index=0, title="x"))
    for _ in range(9):  # 9,990 tokens, $0.09: within the 10,000 tokens / $0.25 reserved
        status_sink.emit(a_call(100))
    assert len(patches) == 1
    status_sink.emit(a_call(100))  # 11,100 tokens: past the reservation
    assert len(patches) == 2
    written = patches[-1][2]
    assert written["usage"]["llmCalls"] == 10
    # A new quarter of what is left: (40,000 - 11,100) / 4 tokens, ($1 - $0.10) / 4.
    assert written["ledger"] == ledger(7_225, "0.225")
    for _ in range(6):  # 6,660 unwritten tokens: within the new reservation
        status_sink.emit(a_call(100))
    assert len(patches) == 2


def test_the_dollar_budget_is_reserved_as_well() -> None:
    status_sink, patches = ledger_sink(Clock(), budget=Amount(1_000_000, Decimal("0.1")))
    status_sink.emit(events.PhaseStarted(run="demo", at=AT, index=0, title="x"))
    assert patches[-1][2]["ledger"] == ledger(250_000, "0.025")
    status_sink.emit(a_call(100))
    status_sink.emit(a_call(100))
    assert len(patches) == 1
    status_sink.emit(a_call(100))  # $0.03 unwritten: past $0.025
    assert len(patches) == 2


def outcome_of_a_stop() -> RunOutcome:
    return RunOutcome(RunPhase.FAILED, Reason.BUDGET_EXCEEDED, "the run has 10 tokens left")


def test_a_phase_end_and_the_run_end_clear_reservations() -> None:
    status_sink, patches = ledger_sink(Clock())
    status_sink.emit(events.PhaseStarted(run="demo", at=AT, index=0, title="x"))
    status_sink.emit(a_call(100))
    done = PhaseResult(PhaseState.COMPLETE, 1, commit="abc")
    status_sink.emit(events.PhaseFinished(run="demo", at=AT, index=0, title="x", result=done))
    assert patches[-1][2]["ledger"] == ledger(0, "0")
    assert patches[-1][2]["usage"]["llmCalls"] == 1
    # The run stops mid-way through phase 1 (a budget refusal, say): its end clears phase 1's.
    status_sink.emit(events.PhaseStarted(run="demo", at=AT, index=1, title="y"))
    status_sink.emit(a_call(100, index=1))
    status_sink.emit(events.RunFinished(run="demo", at=AT, outcome=outcome_of_a_stop()))
    last = patches[-1]
    assert last[1] == "demo-p01"
    assert last[2]["ledger"] == ledger(0, "0")
    assert last[2]["usage"]["llmCalls"] == 1


def test_a_relaunched_runner_counts_what_a_stopped_one_left_reserved_as_unrecorded() -> None:
    earlier = events.Spend(input_tokens=2_000, cost_usd=0.02, calls=1)
    # A runner stopped mid-phase 0: 2,000 tokens written, 10,000 reserved, earlier 1,000 lost.
    left_reserved = left_behind(
        {"reservedTokens": 10_000, "reservedCostUSD": 0.25, "unrecordedTokens": 1_000}
    )
    assert left_reserved == Amount(11_000, Decimal("0.25"))
    status_sink, patches = ledger_sink(Clock(), spent={0: earlier}, unrecorded={0: left_reserved})
    status_sink.emit(events.PhaseStarted(run="demo", at=AT, index=0, title="x"))
    # Counted: 2,000 + 11,000 tokens, $0.02 + $0.25: a quarter of the rest is reserved anew.
    assert patches[-1][2]["ledger"] == ledger(6_750, "0.1825", unrecorded=(11_000, "0.25"))


def test_a_phase_budget_and_planning_calls_shrink_the_reservation() -> None:
    status_sink, patches = ledger_sink(Clock())
    phases = (
        PhaseDefinition.model_validate({"title": "a", "goal": "g", "budgets": {"tokens": 9_000}}),
        PhaseDefinition.model_validate({"title": "b", "goal": "g"}),
    )
    status_sink.emit(
        events.PlanReady(run="demo", at=AT, source="notes", model_calls=1, phases=phases)
    )
    status_sink.emit(a_call(100, index=None))  # the planner: 1,110 tokens, $0.01
    status_sink.emit(events.PhaseStarted(run="demo", at=AT, index=0, title="a"))
    assert patches[-1][2]["ledger"] == ledger(2_250, "0.2475")  # 9,000 / 4; ($1 - $0.01) / 4
    status_sink.emit(events.PhaseStarted(run="demo", at=AT, index=1, title="b"))
    assert patches[-1][2]["ledger"] == ledger(9_722, "0.2475")  # (40,000 - 1,110) / 4


def test_a_runner_stopped_at_any_moment_leaves_at_least_what_it_spent_counted() -> None:
    """After every event, what a new runner would count from the Phases covers the spend."""
    rng = random.Random(7)  # noqa: S311 - a repeatable sequence, not a secret
    clock = Clock()
    # Small reservations (6,000 tokens, $0.06 at first): the calls often go past them.
    status_sink, patches = ledger_sink(clock, budget=Amount(24_000, Decimal("0.24")))
    spent = Amount()
    merged: dict[str, dict[str, Any]] = {}
    for index in range(3):
        events_of_phase: list[events.RunEvent] = [
            events.PhaseStarted(run="demo", at=AT, index=index, title="p")
        ]
        events_of_phase += [a_call(rng.choice([10, 100, 900]), index=index) for _ in range(10)]
        done = PhaseResult(PhaseState.COMPLETE, 1, commit="abc")
        events_of_phase.append(
            events.PhaseFinished(run="demo", at=AT, index=index, title="p", result=done)
        )
        for event in events_of_phase:
            clock.now += rng.choice([0.0, 1.0, 3.0])
            status_sink.emit(event)
            if isinstance(event, events.ModelCalled):
                assert event.call.usage is not None
                spent += Amount(event.call.usage.total, Decimal("0.01"))
            for _, name, status in patches:
                merged.setdefault(name, {}).update(status)
            patches.clear()
            counted = Amount()
            for status in merged.values():
                usage = status.get("usage", {})
                tokens = sum(usage.get(k, 0) for k in ("inputTokens", "outputTokens"))
                tokens += usage.get("cacheReadTokens", 0) + usage.get("cacheWriteTokens", 0)
                counted += Amount(tokens, Decimal(str(usage.get("costUSD", 0))))
                counted += left_behind(status.get("ledger"))
            assert not spent.beyond(counted), (event, spent, counted)


def test_the_planners_usage_goes_to_the_first_phase_once_and_adds_to_earlier_runners() -> None:
    earlier = events.Spend(input_tokens=300, cost_usd=0.02, calls=1)  # an earlier runner's
    status_sink, patches = sink(Clock(), planned=earlier)
    status_sink.emit(a_call(100, index=None))  # the Phases do not exist yet: nothing written
    assert patches == []
    status_sink.emit(events.PhaseStarted(run="demo", at=AT, index=0, title="x"))
    [(_, name, started)] = patches
    assert name == "demo-p00"
    assert started["planUsage"]["inputTokens"] == 400
    assert started["planUsage"]["llmCalls"] == 2
    done = PhaseResult(PhaseState.COMPLETE, 1, commit="abc")
    status_sink.emit(events.PhaseFinished(run="demo", at=AT, index=0, title="x", result=done))
    assert "planUsage" not in patches[-1][2]  # written once


def test_a_run_that_ends_before_its_first_phase_still_records_the_planners_usage() -> None:
    status_sink, patches = sink(Clock())
    status_sink.emit(a_call(100, index=None))
    status_sink.phases_created()
    status_sink.emit(events.RunFinished(run="demo", at=AT, outcome=outcome_of_a_stop()))
    [(_, name, status)] = patches
    assert name == "demo-p00"
    assert status["planUsage"]["llmCalls"] == 1


def test_a_run_whose_plan_failed_writes_no_phase() -> None:
    status_sink, patches = sink(Clock())
    status_sink.emit(a_call(100, index=None))  # the planner answered; the plan was unusable
    status_sink.emit(events.RunFinished(run="demo", at=AT, outcome=outcome_of_a_stop()))
    assert patches == []


def test_with_a_store_phases_hold_reservations_only_while_it_queues_the_calls() -> None:
    store_up = {"now": True}
    status_sink, patches = ledger_sink(Clock(), durable=lambda: store_up["now"])
    status_sink.emit(events.PhaseStarted(run="demo", at=AT, index=0, title="x"))
    assert patches[-1][2]["ledger"] == ledger(0, "0")  # the store holds every call
    status_sink.emit(a_call(100))
    status_sink.emit(a_call(100))
    assert len(patches) == 1
    store_up["now"] = False  # the next call is queued, not in the store
    status_sink.emit(a_call(100))
    assert len(patches) == 2
    written = patches[-1][2]
    assert written["usage"]["llmCalls"] == 3
    assert written["ledger"] == ledger(9_167, "0.2425")  # (40,000 - 3,330) / 4
    status_sink.emit(a_call(100))  # within the reservation: held back
    assert len(patches) == 2


def test_usage_past_a_reservation_that_cannot_be_written_stops_model_calls() -> None:
    api = FlakyApi()
    patches, failing = api.patches, api.failing
    status_sink = KubernetesStatusSink(
        namespace="team",
        run_name="demo",
        patch=api,
        clock=Clock(),
        schedule=Timers(),
        budget=Amount(4_000, Decimal(1)),  # 1,000 tokens reserved: one call goes past it
    )
    status_sink.emit(events.PhaseStarted(run="demo", at=AT, index=0, title="x"))
    status_sink.settle()  # the reservation is written: calls may go
    failing["now"] = True
    with pytest.raises(OSError, match="connection refused"):  # FanOut logs this one
        status_sink.emit(a_call(100))
    with pytest.raises(errors.LedgerUnavailableError, match="phase 0 cannot be written"):
        status_sink.settle()
    failing["now"] = False
    status_sink.settle()
    assert patches[-1][2]["usage"]["llmCalls"] == 1
    assert patches[-1][2]["ledger"]["reservedTokens"] == 722  # (4,000 - 1,110) / 4
    writes = len(patches)
    status_sink.settle()  # nothing owed: no write
    assert len(patches) == writes


def test_a_phase_start_that_cannot_be_written_stops_model_calls() -> None:
    def refuse(namespace: str, name: str, status: dict[str, Any]) -> None:
        raise OSError("503 Service Unavailable")

    status_sink = KubernetesStatusSink(
        namespace="team", run_name="demo", patch=refuse, budget=Amount(4_000, Decimal(1))
    )
    with pytest.raises(OSError, match="503"):
        status_sink.emit(events.PhaseStarted(run="demo", at=AT, index=0, title="x"))
    with pytest.raises(errors.LedgerUnavailableError):
        status_sink.settle()
