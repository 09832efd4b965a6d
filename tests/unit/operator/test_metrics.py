from datetime import UTC, datetime

from prometheus_client import generate_latest

from autopack.api import AutopackRunStatus, RunPhase, Usage
from autopack.operator import metrics
from autopack.operator.decisions import Decision


def decision(phase: RunPhase, *, launch: int | None = None, cost: float = 0.0) -> Decision:
    status = AutopackRunStatus(
        phase=phase, usage=Usage(input_tokens=10, output_tokens=5, cost_usd=cost)
    )
    status.started_at = datetime(2026, 1, 1, tzinfo=UTC)
    return Decision(status=status, launch=launch, launched=launch is not None)


def scrape() -> str:
    return generate_latest(metrics.REGISTRY).decode()


def test_runs_by_phase_queue_depth_launches_and_cost_are_exported() -> None:
    metrics.record("ns", "a", decision(RunPhase.PLANNING, launch=1, cost=0.5))
    metrics.record("ns", "b", decision(RunPhase.QUEUED))
    metrics.record("ns", "c", decision(RunPhase.QUEUED))
    text = scrape()
    assert 'autopack_runs{phase="Queued"} 2.0' in text
    assert 'autopack_runs{phase="Planning"} 1.0' in text
    assert "autopack_queue_depth 2.0" in text
    assert 'autopack_runner_job_launches_total{kind="first"}' in text
    assert 'autopack_run_cost_usd{namespace="ns",run="a"} 0.5' in text
    assert 'autopack_run_tokens{kind="input",namespace="ns",run="a"} 10.0' in text
    metrics.forget("ns", "a")
    metrics.forget("ns", "b")
    metrics.forget("ns", "c")
    metrics.record("ns", "d", decision(RunPhase.RUNNING))
    text = scrape()
    assert 'run="a"' not in text
    assert "autopack_queue_depth 0.0" in text
    metrics.forget("ns", "d")


def test_reconcile_duration_is_observed() -> None:
    name = "autopack_reconcile_duration_seconds_count"
    before = metrics.REGISTRY.get_sample_value(name) or 0.0
    with metrics.timed_reconcile():
        pass
    assert metrics.REGISTRY.get_sample_value(name) == before + 1
