from datetime import UTC, datetime, timedelta

from autopack.api import AutopackRunStatus, RunPhase
from autopack.operator.admission import RunSlot, admit
from autopack.operator.reconciling import status_patch, ttl_expired
from tests.builders.api import a_run


def slot(name: str, created: str, phase: str = "", namespace: str = "a") -> RunSlot:
    return RunSlot(namespace=namespace, name=name, created=created, phase=phase)


def test_no_limits_admit_everyone() -> None:
    runs = [slot("r1", "1", "Running"), slot("r2", "2")]
    assert admit(runs[1], runs, cluster_limit=0, namespace_limit=0) == (True, 0)


def test_cluster_limit_queues_runs_first_come_first_served() -> None:
    running = slot("r1", "1", "Running")
    early, late = slot("r2", "2"), slot("r3", "3")
    runs = [running, early, late]
    assert admit(early, runs, cluster_limit=2, namespace_limit=0) == (True, 0)
    assert admit(late, runs, cluster_limit=2, namespace_limit=0) == (False, 1)
    assert admit(late, runs, cluster_limit=3, namespace_limit=0) == (True, 0)


def test_namespace_limit_only_counts_its_own_namespace() -> None:
    runs = [
        slot("x", "1", "Running", namespace="a"),
        slot("y", "2", "Running", namespace="b"),
        slot("z", "3", namespace="b"),
        slot("w", "4", namespace="a"),
    ]
    assert admit(runs[2], runs, cluster_limit=0, namespace_limit=1) == (False, 0)
    assert admit(runs[3], runs, cluster_limit=0, namespace_limit=1) == (False, 0)
    assert admit(runs[3], runs, cluster_limit=0, namespace_limit=2) == (True, 0)


def test_finished_and_waiting_for_approval_runs_hold_no_slot() -> None:
    runs = [slot("done", "1", "Succeeded"), slot("wait", "2", "AwaitingApproval"), slot("new", "3")]
    assert admit(runs[2], runs, cluster_limit=1, namespace_limit=0) == (True, 0)


def test_status_patch_sets_changes_and_removes_cleared_fields() -> None:
    old = {"phase": "Failed", "finishedAt": "2026-01-01T00:00:00Z", "progress": "1/2"}
    new = {"phase": "Running", "progress": "1/2"}
    assert status_patch(old, new) == {"phase": "Running", "finishedAt": None}
    assert status_patch(new, dict(new)) == {}


def test_ttl_deletes_only_finished_runs_after_their_time() -> None:
    finished = datetime(2026, 1, 1, tzinfo=UTC)
    run = a_run().set("spec.ttlSecondsAfterFinished", 60).obj()
    run.status = AutopackRunStatus(phase=RunPhase.SUCCEEDED, finished_at=finished)
    assert not ttl_expired(run, now=finished + timedelta(seconds=59))
    assert ttl_expired(run, now=finished + timedelta(seconds=60))
    run.status.phase = RunPhase.RUNNING
    assert not ttl_expired(run, now=finished + timedelta(hours=1))
    no_ttl = a_run().obj()
    no_ttl.status = AutopackRunStatus(phase=RunPhase.FAILED, finished_at=finished)
    assert not ttl_expired(no_ttl, now=finished + timedelta(days=9))
