from datetime import UTC, datetime
from typing import Any

from autopack import events
from autopack.runner.status_sink import KubernetesStatusSink

AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def sink() -> tuple[KubernetesStatusSink, list[tuple[str, str, dict[str, Any]]]]:
    patches: list[tuple[str, str, dict[str, Any]]] = []
    return (
        KubernetesStatusSink(
            namespace="team", run_name="demo", patch=lambda ns, n, s: patches.append((ns, n, s))
        ),
        patches,
    )


def test_phase_lifecycle_becomes_status_patches_of_the_right_phase() -> None:
    status_sink, patches = sink()
    status_sink.emit(events.PhaseStarted(run="demo", at=AT, index=1, title="CLI"))
    status_sink.emit(events.AttemptStarted(run="demo", at=AT, index=1, attempt=1, model="m1"))
    status_sink.emit(
        events.EditsApplied(
            run="demo", at=AT, index=1, attempt=1, files=("a.py",), additions=5, deletions=1
        )
    )
    status_sink.emit(
        events.TestsRan(run="demo", at=AT, index=1, attempt=1, command="pytest", passed=4, failed=0)
    )
    status_sink.emit(
        events.AuditDone(run="demo", at=AT, index=1, attempt=1, verdict="approved", summary="ok")
    )
    status_sink.emit(
        events.PhaseFinished(
            run="demo", at=AT, index=1, title="CLI", state="Complete", attempts=1, commit="abc"
        )
    )
    assert {name for _, name, _ in patches} == {"demo-p01"}
    assert [p[2].get("state") for p in patches] == [
        "Building",
        "Building",
        "Validating",
        "Auditing",
        None,
        "Complete",
    ]
    assert patches[1][2] == {"state": "Building", "attempts": 1, "model": "m1"}
    assert patches[2][2]["diff"] == {"files": 1, "additions": 5, "deletions": 1}
    assert patches[-1][2] == {
        "state": "Complete",
        "commit": "abc",
        "finishedAt": "2026-01-01T12:00:00Z",
    }


def test_usage_accumulates_per_phase() -> None:
    status_sink, patches = sink()
    for tokens in (100, 50):
        status_sink.emit(
            events.ModelCalled(
                run="demo",
                at=AT,
                role="builder",
                model="m",
                outcome="ok",
                input_tokens=tokens,
                output_tokens=10,
                cost_usd=0.01,
                index=0,
                attempt=1,
            )
        )
    assert patches[-1][2]["usage"] == {
        "inputTokens": 150,
        "outputTokens": 20,
        "costUSD": 0.02,
        "llmCalls": 2,
    }


def test_failures_and_run_level_events_are_handled() -> None:
    status_sink, patches = sink()
    status_sink.emit(
        events.RunStarted(run="demo", at=AT, run_id="u", repo_url="r", base_ref="main", branch="b")
    )
    status_sink.emit(
        events.TestsRan(
            run="demo", at=AT, index=None, attempt=None, command="t", passed=1, failed=0
        )
    )
    assert patches == []
    status_sink.emit(
        events.AttemptFinished(
            run="demo", at=AT, index=0, attempt=2, outcome="failed", signature="ImportError: <mod>"
        )
    )
    assert patches[-1][2] == {"failure": {"signature": "ImportError: <mod>", "mitigation": ""}}
