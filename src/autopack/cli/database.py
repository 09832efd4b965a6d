"""``autopack db``: create or migrate the run store and report its schema revision."""

from typing import Annotated

import typer

from autopack import settings
from autopack.cli.output import console, fail
from autopack.store import Store, StoreUnavailableError

db_app = typer.Typer(help="Manage the run store (SQLite by default, PostgreSQL by URL).")

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="AUTOPACK_DATABASE_URL",
        help="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db (default: per-user SQLite).",
        show_default=False,
    ),
]


def open_store(url: str | None) -> Store:
    """Connect to the store named by ``url`` or the settings; exit with one line on failure."""
    config = settings.load_settings(database_url=url)
    try:
        return Store.connect(
            config.resolved_database_url, connect_timeout=config.database_connect_timeout
        )
    except StoreUnavailableError as exc:
        fail(str(exc))


@db_app.command("upgrade")
def upgrade(url: UrlOption = None) -> None:
    """Create the tables or migrate them to the newest revision."""
    store = open_store(url)
    try:
        store.upgrade()
        revision = store.current_revision()
    except StoreUnavailableError as exc:
        fail(str(exc))
    finally:
        store.dispose()
    console.print(f"database {store.redacted_url} is at revision {revision}")


@db_app.command("current")
def current(url: UrlOption = None) -> None:
    """Print the schema revision of the database (none before the first upgrade)."""
    store = open_store(url)
    try:
        revision = store.current_revision()
    except StoreUnavailableError as exc:
        fail(str(exc))
    finally:
        store.dispose()
    shown = revision or "none (run autopack db upgrade)"
    console.print(f"database {store.redacted_url} is at revision {shown}")
