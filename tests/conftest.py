"""Shared fixtures: a fresh run store on SQLite and on a real PostgreSQL 15 server.

The fixtures of the real Kubernetes control plane live in ``tests/controlplane/fixtures.py``.

The PostgreSQL server is started once per session by pytest-postgresql through
``scripts/pg_ctl_as_postgres.sh`` (PostgreSQL refuses to run as root); each test gets its own
database, dropped afterwards.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_postgresql import factories
from pytest_postgresql.janitor import DatabaseJanitor

from autopack.store import Store

# control_plane, kubectl, helm, crds, release, runner_namespace: the real Kubernetes control plane.
pytest_plugins = ["tests.controlplane.fixtures"]

postgresql_proc = factories.postgresql_proc()

_database_counter = iter(range(1_000_000))


@pytest.fixture
def postgres_url(postgresql_proc) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """URL of an empty database on the suite's PostgreSQL server."""
    name = f"autopack_test_{next(_database_counter)}"
    janitor = DatabaseJanitor(
        user=postgresql_proc.user,
        host=postgresql_proc.host,
        port=postgresql_proc.port,
        dbname=name,
        password=postgresql_proc.password,
    )
    with janitor:
        yield f"postgresql+psycopg://{postgresql_proc.user}@{postgresql_proc.host}:{postgresql_proc.port}/{name}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of an empty SQLite database file."""
    return f"sqlite:///{tmp_path / 'autopack.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database on each supported backend in turn."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated store on each backend in turn."""
    opened = Store.open(database_url)
    yield opened
    opened.dispose()
