"""The run's health budget: failures counted by category against the caps of ``hardening.yaml``.

Recovery records every failed attempt here; when a cap is reached the run stops with
``HealthBudgetExhausted`` instead of retrying forever. It lives with the registry whose
settings it enforces, apart from the attempt loop, so that it can be tested on its own.
"""

from collections import Counter
from dataclasses import dataclass, field

from autopack.api import FailureCategory
from autopack.hardening.registry import HealthSettings
from autopack.hardening.signatures import FailureSignature


@dataclass
class RunHealth:
    """The run's failures so far, against the health budget's caps."""

    max_failures: int
    settings: HealthSettings
    counts: Counter[FailureCategory] = field(default_factory=Counter)

    def record(self, signature: FailureSignature) -> str | None:
        """Count a failure; return why the budget is exhausted when a cap is reached."""
        self.counts[FailureCategory(signature.category)] += 1
        caps = (
            (self.counts.total(), self.max_failures, "failures"),
            (
                self.counts[FailureCategory.APPLY],
                self.settings.max_apply_failures,
                "apply failures",
            ),
            (
                self.counts[FailureCategory.PROVIDER],
                self.settings.max_provider_errors,
                "provider errors",
            ),
        )
        for count, cap, what in caps:
            if count >= cap:
                return f"{count} {what}, last: {signature}"
        return None
