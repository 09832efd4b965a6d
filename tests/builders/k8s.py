"""Builders of the Kubernetes objects the operator reads: runner Jobs, pods, Phases."""

from typing import Any

from autopack.api import Phase, PhaseState, PhaseStatus, Usage
from autopack.api.report import RunnerReport
from tests.builders.api import a_phase


def a_job(
    run: str = "demo",
    launch: int = 1,
    *,
    state: str = "running",
    reason: str | None = None,
    suspend: bool = False,
) -> dict[str, Any]:
    """A runner Job in the given state: pending, running, succeeded, failed or suspended."""
    status: dict[str, Any] = {}
    conditions: list[dict[str, Any]] = []
    if state == "running":
        status["active"] = 1
    elif state == "succeeded":
        status["succeeded"] = 1
        conditions.append({"type": "Complete", "status": "True"})
    elif state == "failed":
        status["failed"] = 1
        conditions.append(
            {"type": "Failed", "status": "True", "reason": reason or "BackoffLimitExceeded"}
        )
    elif state == "suspended":
        conditions.append({"type": "Suspended", "status": "True"})
    if conditions:
        status["conditions"] = conditions
    return {
        "metadata": {
            "name": f"{run}-runner-{launch}",
            "annotations": {"autopack.dev/runner-launches": str(launch)},
        },
        "spec": {"suspend": suspend or state == "suspended", "activeDeadlineSeconds": 3600},
        "status": status,
    }


def a_pod(
    *,
    exit_code: int = 0,
    reason: str = "Completed",
    report: RunnerReport | None = None,
    evicted: bool = False,
) -> dict[str, Any]:
    """A finished runner pod with its termination message."""
    if evicted:
        return {
            "metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"reason": "Evicted", "message": "node under memory pressure"},
        }
    terminated: dict[str, Any] = {"exitCode": exit_code, "reason": reason}
    if report is not None:
        terminated["message"] = report.encode()
    return {
        "metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"},
        "status": {"containerStatuses": [{"name": "runner", "state": {"terminated": terminated}}]},
    }


def a_phase_in(
    state: PhaseState,
    index: int = 0,
    *,
    run: str = "demo",
    approved: bool = False,
    cost: float = 0.0,
    tokens: int = 0,
) -> Phase:
    """A Phase object of ``run`` in ``state``."""
    phase = a_phase(run, index, approved=approved)
    phase.status = PhaseStatus(
        state=state, usage=Usage(input_tokens=tokens, cost_usd=cost, llm_calls=1 if tokens else 0)
    )
    return phase


def a_waiting_pod(
    reason: str,
    message: str = "",
    *,
    job: str = "demo-runner-1",
    container: str = "agent",
    init: bool = False,
) -> dict[str, Any]:
    """A Pending runner pod as the kubelet writes it when a container waits for ``reason``.

    ``init``: the waiting container is the ``sandbox`` native sidecar (an init container).
    """
    waiting = {"reason": reason, **({"message": message} if message else {})}
    stuck = {
        "name": container,
        "image": "ghcr.io/autopack/runner:0.1.0",
        "imageID": "",
        "ready": False,
        "restartCount": 0,
        "started": False,
        "state": {"waiting": waiting},
    }
    creating = {**stuck, "name": "agent", "state": {"waiting": {"reason": "PodInitializing"}}}
    return {
        "metadata": {
            "name": f"{job}-x7k2p",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"job-name": job, "autopack.dev/component": "runner"},
        },
        "spec": {"containers": [{"name": "agent", "image": "ghcr.io/autopack/runner:0.1.0"}]},
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "True"}],
            "initContainerStatuses": [stuck] if init else [],
            "containerStatuses": [creating if init else stuck],
        },
    }
