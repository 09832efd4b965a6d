"""The run store: SQLAlchemy 2 models, Alembic migrations, sessions and idempotent records.

SQLite by default (a per-user path), PostgreSQL through ``AUTOPACK_DATABASE_URL``. Everything
that cannot reach the database raises :class:`StoreUnavailableError` with one readable line.
"""

from autopack.store import models, records
from autopack.store.engine import Store
from autopack.store.errors import StoreUnavailableError, redact_url

__all__ = ["Store", "StoreUnavailableError", "models", "records", "redact_url"]
