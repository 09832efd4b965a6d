"""What a relaunched runner counts from the Phases: usage plus what stopped runners left."""

from decimal import Decimal

from autopack.events import Spend
from autopack.runner.kube import Recorded
from autopack.runner.reserving import Amount, left_behind


def test_a_relaunched_runner_counts_usage_unrecorded_and_left_over_reservations() -> None:
    recorded = Recorded(
        usage={
            0: Spend(input_tokens=1_000, output_tokens=200, cost_usd=0.02, calls=2),
            1: Spend(input_tokens=300, cost_usd=0.01, calls=1),
        },
        planning=Spend(input_tokens=40, output_tokens=10, cost_usd=0.001, calls=1),
        unrecorded={
            # A runner stopped in phase 1 holding 5,000 tokens / $0.10, after an earlier one
            # had left 700 tokens / $0.03 unrecorded there.
            1: left_behind(
                {
                    "reservedTokens": 5_000,
                    "reservedCostUSD": 0.1,
                    "unrecordedTokens": 700,
                    "unrecordedCostUSD": 0.03,
                }
            ),
        },
    )
    assert recorded.phase_spend() == {
        0: (1_200, Decimal("0.02")),
        1: (6_000, Decimal("0.14")),
    }
    assert recorded.spend() == (7_250, Decimal("0.161"))  # the planner's usage too


def test_a_phase_without_a_ledger_counts_nothing_beyond_its_usage() -> None:
    assert left_behind(None) == Amount()
    assert left_behind({}) == Amount()
