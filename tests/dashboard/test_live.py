"""Live run status from the cluster laid over the store's rows (a fake lister stands in for
the API server: the real client call is one line in ``kubernetes_lister``)."""

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.testclient import TestClient

from autopack.dashboard import DashboardConfig, create_app
from autopack.dashboard.live import LiveStatus
from autopack.store import Store
from tests.dashboard.builders import add_run


class FakeCluster:
    def __init__(self, *runs: Mapping[str, Any]) -> None:
        self.runs = list(runs)
        self.calls = 0
        self.down = False

    def __call__(self) -> Sequence[Mapping[str, Any]]:
        self.calls += 1
        if self.down:
            raise ConnectionError("connection refused")
        return self.runs


def cr(uid: str, **status: str) -> dict[str, Any]:
    return {"metadata": {"uid": uid, "name": uid}, "status": status}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_cluster_state_progress_and_message_replace_the_stored_ones(sqlite_url: str) -> None:
    store = Store.open(sqlite_url)
    with store.session() as session:
        add_run(session, "uid-1", name="queued", state="Pending", phases=())
        add_run(session, "uid-2", name="only-in-store", state="Failed")
    cluster = FakeCluster(cr("uid-1", phase="Queued", progress="0/3", message="waiting for a slot"))
    app = create_app(store, DashboardConfig(live_status=True), live=LiveStatus(cluster))
    api = TestClient(app)
    items = {item["name"]: item for item in api.get("/api/v1/runs").json()["items"]}
    assert (items["queued"]["state"], items["queued"]["progress"]) == ("Queued", "0/3")
    assert items["queued"]["message"] == "waiting for a slot"
    assert items["only-in-store"]["state"] == "Failed"
    assert api.get("/api/v1/runs/queued").json()["run"]["state"] == "Queued"
    assert "waiting for a slot" in api.get("/runs/uid-1").text
    store.dispose()


def test_statuses_are_cached_for_the_ttl() -> None:
    cluster = FakeCluster(cr("a", phase="Running"))
    clock = Clock()
    live = LiveStatus(cluster, ttl_seconds=5, clock=clock)
    live.statuses()
    clock.now += 4
    live.statuses()
    assert cluster.calls == 1
    clock.now += 1
    live.statuses()
    assert cluster.calls == 2


def test_an_unreachable_cluster_leaves_the_store_view() -> None:
    cluster = FakeCluster(cr("a", phase="Running"))
    cluster.down = True
    assert LiveStatus(cluster).statuses() == {}
