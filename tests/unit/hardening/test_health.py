"""The run's health budget counts failures by category and in total, and says why it stops."""

from autopack.hardening.health import RunHealth
from autopack.hardening.registry import HealthSettings
from autopack.hardening.signatures import signature


def test_health_caps_count_by_category_and_in_total() -> None:
    health = RunHealth(max_failures=3, settings=HealthSettings(max_apply_failures=2))
    assert health.record(signature("apply", "x is outside the allowed paths")) is None
    exhausted = health.record(signature("apply", "y is outside the allowed paths"))
    assert exhausted is not None
    assert exhausted.startswith("2 apply failures")
    total = RunHealth(max_failures=2, settings=HealthSettings())
    assert total.record(signature("ci", "a")) is None
    assert total.record(signature("audit", "b")) == "2 failures, last: audit: b"


def test_provider_errors_have_their_own_cap() -> None:
    health = RunHealth(max_failures=25, settings=HealthSettings(max_provider_errors=2))
    assert health.record(signature("provider", "529 overloaded")) is None
    exhausted = health.record(signature("provider", "529 overloaded"))
    assert exhausted is not None
    assert exhausted.startswith("2 provider errors")
