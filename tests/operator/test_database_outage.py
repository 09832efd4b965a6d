"""A PostgreSQL outage in the middle of a run: the run proceeds, a condition says so, rows catch up.

The operator writes the run's lifecycle rows and the runner its phase, attempt and usage rows
to a real PostgreSQL 15 server of this test, which the test stops (``pg_ctl stop -m
immediate``) while the runner works and starts again before the run finishes.
"""

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from autopack.store import Store, models, records
from tests.cluster.harness import ClusterUser
from tests.cluster.outage import PrivatePostgres
from tests.operator.conftest import REAL_ONLY, cluster_on

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(1200)]


@pytest.fixture(params=REAL_ONLY)
def cluster(request: pytest.FixtureRequest) -> ClusterUser:
    """The real control plane: the fault is the database's, not the cluster's."""
    return cluster_on(request)


RUN = "textstats-demo"


def condition(cluster: ClusterUser, kind: str) -> dict[str, str]:
    """One condition of the run (empty if absent)."""
    conditions = cluster.run_status(RUN).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind), {})


def test_database_outage_mid_run(
    cluster: ClusterUser, run_manifest: Callable[..., Path], tmp_path: Path
) -> None:
    database = PrivatePostgres(tmp_path / "postgres")
    database.start()
    postgres_url = database.url
    Store.open(postgres_url).engine.dispose()  # the schema, as `autopack db upgrade` makes it
    secret = base64.b64encode(postgres_url.encode()).decode()
    cluster.kubectl(
        "apply",
        "--validate=false",
        "-f",
        "-",
        input=f'{{"apiVersion":"v1","kind":"Secret","metadata":{{"name":"autopack-db"}},'
        f'"data":{{"url":"{secret}"}}}}',
    )
    cluster.start_operator(database_url=postgres_url, database_secret="autopack-db")
    try:
        cluster.kubectl("apply", "--validate=false", "-f", str(run_manifest()))
        cluster.wait_for("the runner working", lambda: bool(cluster.run_status(RUN).get("jobName")))
        database.stop()
        cluster.wait_for(
            "DatabaseAvailable=False",
            lambda: condition(cluster, "DatabaseAvailable").get("status") == "False",
            timeout=600,
        )
        assert condition(cluster, "DatabaseAvailable")["reason"] == "DatabaseUnavailable"
        cluster.wait_for(
            "phase 0 complete during the outage",
            lambda: cluster.get("phase", f"{RUN}-p00").get("status", {}).get("state") == "Complete",
            timeout=600,
        )
        database.start()
        cluster.wait_for(
            "Succeeded", lambda: cluster.run_status(RUN).get("phase") == "Succeeded", timeout=600
        )
        cluster.wait_for(
            "DatabaseAvailable=True",
            lambda: condition(cluster, "DatabaseAvailable").get("status") == "True",
            timeout=300,
        )
    except BaseException:
        database.stop()
        raise

    store = Store.connect(postgres_url)
    try:
        with store.session() as session:
            run = records.find_run(session, name=RUN, namespace=cluster.namespace)
            assert run is not None
            assert (run.state, run.source) == ("Succeeded", "kubernetes")
            assert run.finished_at is not None
            assert [p.state for p in run.phases] == ["Complete", "Complete"]
            calls = session.scalars(select(models.LlmCall).filter_by(run_id=run.id)).all()
            assert len(calls) == cluster.run_status(RUN)["usage"]["llmCalls"]
    finally:
        store.engine.dispose()
        cluster.stop_operator()
        database.stop()
