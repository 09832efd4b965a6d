"""A reconcile pass writes only what changed, progress at most every interval, one Job per launch."""

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from autopack.api import PhaseState
from autopack.operator import acting
from autopack.operator.config import OperatorConfig
from autopack.operator.queueing import WorkQueue
from autopack.operator.reconciling import Reconciler, Snapshot, is_urgent
from tests.builders.api import a_run
from tests.builders.k8s import a_job, a_phase_in, a_pod

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
KEY = ("default", "demo")


class FakeApi:
    """Records the operator's writes; answers status patches like the API server."""

    def __init__(self) -> None:
        self.jobs: list[str] = []
        self.status_writes: list[dict[str, Any]] = []
        self.events: list[str] = []
        self.version = 10
        self.stored: dict[str, Any] = {}

    def create(self, run: Any, **kwargs: Any) -> bool:
        name = f"{run.name}-runner-{kwargs['launch']}"
        created = name not in self.jobs
        self.jobs.append(name)
        return created

    def patch(self, name: str, *, namespace: str, status: dict[str, Any]) -> dict[str, Any]:
        self.status_writes.append(status)
        self.version += 1
        self.stored.update(status)
        self.stored = {k: v for k, v in self.stored.items() if v is not None}
        return {"metadata": {"resourceVersion": str(self.version)}, "status": dict(self.stored)}


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    fake = FakeApi()
    monkeypatch.setattr(acting, "create_runner_job", fake.create)
    monkeypatch.setattr(acting, "patch_run_status", fake.patch)
    monkeypatch.setattr(
        acting, "post_event", lambda body, *, type, reason, message: fake.events.append(reason)
    )
    return fake


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def run_body(status: dict[str, Any] | None = None, version: str = "5") -> dict[str, Any]:
    body = a_run("demo").obj().to_api()
    body["metadata"].update(uid="uid-1", resourceVersion=version, namespace="default")
    if status is not None:
        body["status"] = status
    return body


def test_a_pass_before_the_watch_caught_up_neither_writes_again_nor_creates_a_second_job(
    api: FakeApi,
) -> None:
    clock = Clock()
    reconciler = Reconciler(OperatorConfig(status_interval_seconds=10), clock=clock)
    first = reconciler.reconcile(Snapshot(KEY, run_body()), now=NOW)
    assert first.decision is not None
    assert first.decision.launch == 1
    assert api.jobs == ["demo-runner-1"]
    # The Job is what the run waits for; its Planning status follows once settled.
    assert api.status_writes == []
    assert first.again == pytest.approx(2)
    # The index still holds the run without status and no Job: nothing is done twice.
    again = reconciler.reconcile(Snapshot(KEY, run_body()), now=NOW)
    assert again.decision is not None
    assert again.decision.launch is None
    assert api.jobs == ["demo-runner-1"]
    clock.now += 2
    reconciler.reconcile(Snapshot(KEY, run_body()), now=NOW)
    assert len(api.status_writes) == 1
    assert api.status_writes[0]["phase"] == "Planning"
    assert api.status_writes[0]["jobName"] == "demo-runner-1"
    assert api.status_writes[0]["startedAt"]
    reconciler.reconcile(Snapshot(KEY, run_body()), now=NOW)
    assert len(api.status_writes) == 1
    assert api.events == []  # the status says the runner started; no event write for it
    assert reconciler.wrote(KEY, "11")


def test_progress_waits_for_the_interval_and_state_changes_do_not(api: FakeApi) -> None:
    clock = Clock()
    reconciler = Reconciler(OperatorConfig(status_interval_seconds=10), clock=clock)
    reconciler.reconcile(Snapshot(KEY, run_body()), now=NOW)
    job = a_job()
    building = [
        a_phase_in(PhaseState.BUILDING, 0).to_api(),
        a_phase_in(PhaseState.QUEUED, 1).to_api(),
    ]
    running = reconciler.reconcile(Snapshot(KEY, run_body(), jobs=[job], phases=building), now=NOW)
    assert len(api.status_writes) == 1  # -> Running is a change of state
    assert running.again is None
    clock.now += 3
    progressed = [
        a_phase_in(PhaseState.BUILDING, 0, tokens=50).to_api(),
        a_phase_in(PhaseState.QUEUED, 1).to_api(),
    ]
    deferred = reconciler.reconcile(
        Snapshot(KEY, run_body(), jobs=[job], phases=progressed), now=NOW
    )
    assert len(api.status_writes) == 1
    assert deferred.again == pytest.approx(7)
    clock.now += 7
    reconciler.reconcile(Snapshot(KEY, run_body(), jobs=[job], phases=progressed), now=NOW)
    assert len(api.status_writes) == 2
    assert api.status_writes[-1]["usage"]["inputTokens"] == 50


def test_only_state_fields_and_condition_states_are_urgent() -> None:
    before = {
        "phase": "Running",
        "progress": "0/2",
        "conditions": [{"type": "Ready", "status": "False", "reason": "Running", "message": "a"}],
    }
    assert not is_urgent(
        before,
        {
            **before,
            "progress": "1/2",
            "conditions": [
                {"type": "Ready", "status": "False", "reason": "Running", "message": "b"}
            ],
        },
    )
    assert is_urgent(before, {**before, "phase": "Succeeded"})


def test_a_deleted_run_is_forgotten(api: FakeApi) -> None:
    reconciler = Reconciler(OperatorConfig())
    reconciler.reconcile(Snapshot(KEY, run_body()), now=NOW)
    assert reconciler.reconcile(Snapshot(KEY, None)).decision is None
    assert not reconciler.wrote(KEY, "11")


def test_the_work_queue_coalesces_events_that_arrive_during_a_pass() -> None:
    passes: list[str] = []

    async def scenario() -> None:
        gate = asyncio.Event()

        async def process(key: str) -> float | None:
            passes.append(key)
            await gate.wait()
            return None

        queue: WorkQueue[str] = WorkQueue(process, workers=2)
        queue.start()
        queue.add("a")
        await asyncio.sleep(0.01)
        for _ in range(10):
            queue.add("a")  # while "a" is being processed
        gate.set()
        await asyncio.sleep(0.05)
        await queue.stop()

    asyncio.run(scenario())
    assert passes == ["a", "a"]


def test_a_new_run_goes_ahead_of_passes_already_waiting() -> None:
    passes: list[str] = []

    async def scenario() -> None:
        gate, busy, done = asyncio.Event(), asyncio.Event(), asyncio.Event()

        async def process(key: str) -> float | None:
            passes.append(key)
            busy.set()
            await gate.wait()
            if len(passes) == 4:
                done.set()
            return None

        queue: WorkQueue[str] = WorkQueue(process, workers=1)
        queue.start()
        queue.add("busy")
        await asyncio.wait_for(busy.wait(), 10)  # the one worker is taken
        queue.add("status-1")
        queue.add("status-2")
        queue.add("new-run", first=True)
        gate.set()
        await asyncio.wait_for(done.wait(), 10)
        await queue.stop()

    asyncio.run(scenario())
    assert passes == ["busy", "new-run", "status-1", "status-2"]


def test_a_failed_pass_is_retried_later() -> None:
    passes: list[str] = []

    async def scenario() -> None:
        async def process(key: str) -> float | None:
            passes.append(key)
            if len(passes) == 1:
                raise RuntimeError("the API server answered 500")
            return None

        queue: WorkQueue[str] = WorkQueue(process, workers=1)
        queue.start()
        queue.add("a")
        for _ in range(100):
            if len(passes) == 2:
                break
            await asyncio.sleep(0.05)
        await queue.stop()

    asyncio.run(scenario())
    assert passes == ["a", "a"]


def test_what_earlier_versions_left_on_a_run_is_removed_and_a_deleted_run_is_let_go(
    api: FakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    patches: list[dict[str, Any]] = []
    monkeypatch.setattr(
        acting, "patch_run", lambda name, *, namespace, patch: patches.append(patch)
    )
    body = run_body()
    body["metadata"]["finalizers"] = ["kopf.zalando.org/KopfFinalizerMarker", "example.com/keep"]
    body["metadata"]["annotations"] = {
        "kopf.autopack.dev/last-handled-configuration": "{...}",
        "example.com/keep": "yes",
    }
    body["metadata"]["deletionTimestamp"] = "2026-01-01T12:00:00Z"
    result = Reconciler(OperatorConfig()).reconcile(Snapshot(KEY, body), now=NOW)
    assert patches == [
        {
            "metadata": {
                "resourceVersion": "5",
                "finalizers": ["example.com/keep"],
                "annotations": {"kopf.autopack.dev/last-handled-configuration": None},
            }
        }
    ]
    assert result.decision is None
    assert api.jobs == []
    assert api.status_writes == []


def test_a_phase_ending_and_the_next_starting_make_one_write_once_settled(api: FakeApi) -> None:
    clock = Clock()
    reconciler = Reconciler(OperatorConfig(status_interval_seconds=60), clock=clock)
    job = a_job()
    first = [a_phase_in(PhaseState.BUILDING, 0).to_api(), a_phase_in(PhaseState.QUEUED, 1).to_api()]
    reconciler.reconcile(Snapshot(KEY, run_body(), jobs=[job], phases=first), now=NOW)
    writes = len(api.status_writes)
    clock.now += 30
    ended = [a_phase_in(PhaseState.COMPLETE, 0).to_api(), a_phase_in(PhaseState.QUEUED, 1).to_api()]
    held = reconciler.reconcile(Snapshot(KEY, run_body(), jobs=[job], phases=ended), now=NOW)
    # The end alone waits (PhaseCompleted tells it): for the next start, else the interval.
    assert held.again == pytest.approx(30)
    clock.now += 0.5
    started = [
        a_phase_in(PhaseState.COMPLETE, 0).to_api(),
        a_phase_in(PhaseState.BUILDING, 1).to_api(),
    ]
    settling = reconciler.reconcile(Snapshot(KEY, run_body(), jobs=[job], phases=started), now=NOW)
    assert len(api.status_writes) == writes
    assert settling.again == pytest.approx(2)
    clock.now += 2
    reconciler.reconcile(Snapshot(KEY, run_body(), jobs=[job], phases=started), now=NOW)
    assert len(api.status_writes) == writes + 1
    assert api.status_writes[-1]["progress"] == "1/2"
    assert api.status_writes[-1]["currentPhase"] == "demo-p01"


def test_planning_becomes_running_with_the_first_phase_start_in_one_write(api: FakeApi) -> None:
    clock = Clock()
    reconciler = Reconciler(OperatorConfig(status_interval_seconds=60), clock=clock)
    reconciler.reconcile(Snapshot(KEY, run_body()), now=NOW)
    clock.now += 2
    job = a_job()
    reconciler.reconcile(Snapshot(KEY, run_body(), jobs=[job]), now=NOW)
    assert [w["phase"] for w in api.status_writes] == ["Planning"]
    # The runner creates the plan's Phases one by one: Running is not written for each.
    for count in (1, 2):
        created = [a_phase_in(PhaseState.QUEUED, i).to_api() for i in range(count)]
        held = reconciler.reconcile(Snapshot(KEY, run_body(), jobs=[job], phases=created), now=NOW)
        assert held.again == pytest.approx(60)
    assert len(api.status_writes) == 1
    clock.now += 3
    started = [
        a_phase_in(PhaseState.BUILDING, 0).to_api(),
        a_phase_in(PhaseState.QUEUED, 1).to_api(),
    ]
    reconciler.reconcile(Snapshot(KEY, run_body(), jobs=[job], phases=started), now=NOW)
    clock.now += 2
    reconciler.reconcile(Snapshot(KEY, run_body(), jobs=[job], phases=started), now=NOW)
    assert len(api.status_writes) == 2
    assert api.status_writes[-1]["phase"] == "Running"
    assert api.status_writes[-1]["progress"] == "0/2"
    assert api.status_writes[-1]["currentPhase"] == "demo-p00"


def test_a_relaunch_is_written_at_once_even_before_the_first_launch_was(api: FakeApi) -> None:
    reconciler = Reconciler(OperatorConfig(), clock=Clock())
    reconciler.reconcile(Snapshot(KEY, run_body()), now=NOW)
    assert api.status_writes == []
    crashed = a_job(state="failed")
    pod = a_pod(exit_code=137, reason="Error")
    pod["metadata"]["labels"] = {"job-name": "demo-runner-1"}
    reconciler.reconcile(Snapshot(KEY, run_body(), jobs=[crashed], pods=[pod]), now=NOW)
    assert api.jobs == ["demo-runner-1", "demo-runner-2"]
    assert api.status_writes[-1]["runnerRestarts"] == 1
