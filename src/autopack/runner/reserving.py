"""Reservations: a runner whose Phases are the run's only ledger writes them rarely, never short.

Without a store, a runner killed mid-phase loses the usage it had not written yet, and a
relaunched runner, starting from what the Phases say, would then spend past the budgets.
Writing the usage after every model call keeps the ledger exact but costs a write per call.
Instead the runner writes, with a phase's start, a *reservation*: a share (a quarter) of what
the run and the phase have left, which it may spend beyond the usage written before it must
write again. Usage within the reservation waits for the next progress write; a call that takes
the unwritten usage past it is written at once, with a new reservation. A phase's end and the
run's end clear the reservation.

A relaunched runner cannot know how much of a reservation left behind was spent, so it counts
all of it, as ``unrecorded``: over-counting is safe, under-counting is not. A runner killed
mid-phase therefore costs at most a quarter of what was left on paper, and a phase writes its
usage early only after spending a quarter of it. Calls made before the Phases exist (the
planner normalizing free-form notes) have nowhere to be reserved; a runner killed while
planning loses their usage, as it loses the usage of the call in flight.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from autopack.api import PhaseDefinition
from autopack.events import Spend

RESERVED_SHARE = Decimal(1) / 4
"""The part of what is left that a phase reserves."""

_MICRODOLLAR = Decimal("0.000001")


@dataclass(frozen=True)
class Amount:
    """Tokens and dollars, as budgets count them."""

    tokens: int = 0
    cost: Decimal = Decimal(0)

    @classmethod
    def of(cls, spend: Spend) -> "Amount":
        """Every billed token of ``spend`` and its cost."""
        return cls(spend.tokens, Decimal(str(spend.cost_usd)))

    @classmethod
    def of_status(cls, fields: Mapping[str, Any], prefix: str) -> "Amount":
        """``{prefix}Tokens`` and ``{prefix}CostUSD`` of a Phase's ``status.ledger``."""
        return cls(
            int(fields.get(f"{prefix}Tokens") or 0),
            Decimal(str(fields.get(f"{prefix}CostUSD") or 0)),
        )

    def __add__(self, other: "Amount") -> "Amount":
        return Amount(self.tokens + other.tokens, self.cost + other.cost)

    def __sub__(self, other: "Amount") -> "Amount":
        return Amount(self.tokens - other.tokens, self.cost - other.cost)

    def beyond(self, limit: "Amount") -> bool:
        """Whether either figure is past ``limit``'s."""
        return self.tokens > limit.tokens or self.cost > limit.cost

    def status(self, prefix: str) -> dict[str, Any]:
        """``{prefix}Tokens`` and ``{prefix}CostUSD`` for a Phase's ``status.ledger``."""
        return {f"{prefix}Tokens": self.tokens, f"{prefix}CostUSD": float(self.cost)}


ZERO = Amount()


def _left(budget: int | None, counted: int, fallback: int) -> int:
    return fallback if budget is None else budget - counted


class Ledger:
    """What the budgets count per phase and the reservation each phase holds, for one runner.

    ``usage`` maps phase indices to their usage, this runner's calls included (the sink's own
    totals, shared); ``unrecorded`` is what earlier runners left counted beyond their written
    usage (their ``unrecorded`` plus any reservation they never cleared).
    """

    def __init__(
        self,
        *,
        budget: Amount,
        usage: Mapping[int, Spend],
        planning: Spend,
        unrecorded: Mapping[int, Amount] | None = None,
    ) -> None:
        """Count against ``budget`` (the run's ``spec.budgets``).

        ``planning`` is the planner's usage (shared with the sink, like ``usage``).
        """
        self.budget = budget
        self.usage = usage
        self.planning = planning
        self.unrecorded = dict(unrecorded or {})
        self.reserved: dict[int, Amount] = {}
        self.written: dict[int, Amount] = {i: Amount.of(s) for i, s in usage.items()}
        self.caps: dict[int, tuple[int | None, Decimal | None]] = {}

    def plan(self, phases: tuple[PhaseDefinition, ...]) -> None:
        """Learn the phases' own budgets."""
        for index, phase in enumerate(phases):
            cost = phase.budgets.cost_usd
            self.caps[index] = (
                phase.budgets.tokens,
                None if cost is None else Decimal(str(cost)),
            )

    def _counted(self, index: int) -> Amount:
        spend = self.usage.get(index)
        return (Amount.of(spend) if spend else ZERO) + self.unrecorded.get(index, ZERO)

    def reserve(self, index: int) -> Amount:
        """Reserve a share of what the run and phase ``index`` have left; return it."""
        counted = sum(
            (self._counted(i) for i in {*self.usage, *self.unrecorded}), Amount.of(self.planning)
        )
        run_left = self.budget - counted
        phase = self._counted(index)
        tokens_cap, cost_cap = self.caps.get(index, (None, None))
        left = Amount(
            min(run_left.tokens, _left(tokens_cap, phase.tokens, run_left.tokens)),
            min(run_left.cost, run_left.cost if cost_cap is None else cost_cap - phase.cost),
        )
        share = Amount(
            max(int(left.tokens * RESERVED_SHARE), 0),
            max((left.cost * RESERVED_SHARE).quantize(_MICRODOLLAR, ROUND_DOWN), Decimal(0)),
        )
        self.reserved[index] = share
        return share

    def release(self, index: int) -> None:
        """Clear phase ``index``'s reservation (its usage is written with its end)."""
        self.reserved[index] = ZERO

    def uncovered(self, index: int) -> bool:
        """Whether phase ``index``'s unwritten usage is past its reservation."""
        spend = self.usage.get(index)
        unwritten = (Amount.of(spend) if spend else ZERO) - self.written.get(index, ZERO)
        return unwritten.beyond(self.reserved.get(index, ZERO))

    def wrote(self, index: int) -> None:
        """Phase ``index``'s status, usage included, was written."""
        spend = self.usage.get(index)
        if spend is not None:
            self.written[index] = Amount.of(spend)

    def open(self) -> list[int]:
        """Phases that still hold a reservation."""
        return [i for i, amount in self.reserved.items() if amount != ZERO]

    def status(self, index: int) -> dict[str, Any]:
        """Phase ``index``'s ``status.ledger``."""
        return {
            **self.reserved.get(index, ZERO).status("reserved"),
            **self.unrecorded.get(index, ZERO).status("unrecorded"),
        }


def left_behind(ledger: Mapping[str, Any] | None) -> Amount:
    """What a Phase's ``status.ledger`` counts beyond its usage: unrecorded plus reserved.

    Read by a new runner: a reservation still held was left by a runner that stopped.
    """
    fields = ledger or {}
    return Amount.of_status(fields, "unrecorded") + Amount.of_status(fields, "reserved")
