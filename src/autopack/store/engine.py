"""Open the run store: build the SQLAlchemy engine, check it, migrate it, hand out sessions.

Every failure to reach the database becomes a :class:`StoreUnavailableError` with one line
naming the (password-redacted) URL and what went wrong, so the CLI never prints a traceback.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session, sessionmaker

from autopack.store.errors import StoreUnavailableError, first_line, redact_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """Foreign keys on; a write-ahead log synced at checkpoints, not at every commit.

    The sink commits once per event: with SQLite's default rollback journal each commit waits
    for an fsync (6-30 ms here), several times the rest of the engine's work per event. With
    ``journal_mode=WAL`` and ``synchronous=NORMAL`` a crash of the process loses nothing and
    the database is never corrupted; only a power cut may lose the last commits (the work
    branch stays the durable record of a run). Readers (the dashboard, ``autopack runs``) no
    longer block the writer. An in-memory database keeps its own journal.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _build_engine(url: str, *, connect_timeout: float) -> Engine:
    redacted = redact_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreUnavailableError(
            f"database URL {url!r} is not a valid SQLAlchemy URL; "
            "expected e.g. sqlite:////path/autopack.db or postgresql+psycopg://user@host/db"
        ) from None
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreUnavailableError(
            f"database {redacted}: {parsed.get_backend_name()} is not supported; "
            "use a sqlite:/// or postgresql+psycopg:// URL"
        )
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        connect_args["timeout"] = connect_timeout
    elif parsed.get_backend_name() == "postgresql":
        if "+" not in parsed.drivername:  # plain postgresql:// means the driver we ship
            parsed = parsed.set(drivername="postgresql+psycopg")
        connect_args["connect_timeout"] = max(1, int(connect_timeout))
    try:
        engine = create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
    except (NoSuchModuleError, ModuleNotFoundError, ImportError) as exc:
        raise StoreUnavailableError(
            f"cannot use database {redacted}: {first_line(exc)}; "
            "for PostgreSQL install the extra: pip install 'autopack[postgres]'"
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _configure_sqlite)
    return engine


class Store:
    """A handle on the run store; cheap to create, connects on first use."""

    def __init__(self, engine: Engine, *, url: str) -> None:
        """Wrap an engine; use :meth:`connect` rather than calling this directly."""
        self.engine = engine
        self.url = url
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def connect(cls, url: str, *, connect_timeout: float = 5.0) -> "Store":
        """Create a store for ``url`` and check that the database answers."""
        store = cls(_build_engine(url, connect_timeout=connect_timeout), url=url)
        store.ping()
        return store

    @classmethod
    def lazy(cls, url: str, *, connect_timeout: float = 5.0) -> "Store":
        """Create a store without touching the database (its first use may fail)."""
        return cls(_build_engine(url, connect_timeout=connect_timeout), url=url)

    @classmethod
    def open(cls, url: str, *, connect_timeout: float = 5.0) -> "Store":
        """Connect and bring the schema up to date (what local runs and the runner do)."""
        store = cls.connect(url, connect_timeout=connect_timeout)
        store.upgrade()
        return store

    @property
    def redacted_url(self) -> str:
        """The URL with its password hidden."""
        return redact_url(self.url)

    def _unavailable(self, exc: BaseException) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"database {self.redacted_url} is unavailable: {first_line(exc)}"
        )

    def ping(self) -> None:
        """Run ``SELECT 1``; raise StoreUnavailableError if the database does not answer."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise self._unavailable(exc) from None

    def _alembic_config(self, connection: Any) -> Config:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        return config

    def upgrade(self, revision: str = "head") -> None:
        """Apply Alembic migrations up to ``revision``."""
        try:
            with self.engine.begin() as connection:
                command.upgrade(self._alembic_config(connection), revision)
        except SQLAlchemyError as exc:
            raise self._unavailable(exc) from None

    def current_revision(self) -> str | None:
        """Return the schema revision the database is at (None before the first upgrade)."""
        try:
            with self.engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()
        except SQLAlchemyError as exc:
            raise self._unavailable(exc) from None

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yield a session that commits on success and rolls back on error."""
        try:
            with self._sessions.begin() as session:
                yield session
        except (SQLAlchemyError, OSError) as exc:
            if isinstance(exc, SQLAlchemyError) and not _is_connection_error(exc):
                raise
            raise self._unavailable(exc) from None

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _is_connection_error(exc: SQLAlchemyError) -> bool:
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)
