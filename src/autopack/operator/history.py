"""Run lifecycle rows written by the operator, kept queued while PostgreSQL is down.

The database is history, not the source of truth: a run proceeds whether or not it answers.
The latest row per run (keyed by the run's uid, so writes are idempotent upserts) waits in
memory until the database is back, and the run's ``DatabaseAvailable`` condition tells users
that its history is behind. Attempts while the database is down are spaced out, so a dead
database does not slow every reconcile down by a connection timeout.
"""

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from autopack.api import TERMINAL_RUN_PHASES, AutopackRun, AutopackRunStatus

if TYPE_CHECKING:
    from autopack.store import Store

logger = logging.getLogger(__name__)

RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class LifecycleRow:
    """What the operator knows about one run, as a row."""

    uid: str
    name: str
    namespace: str
    repo_url: str
    base_ref: str
    push_branch: str
    spec: dict[str, Any]
    state: str
    reason: str | None
    message: str | None
    commit: str | None
    finished: bool
    at: datetime


def lifecycle_row(
    run: AutopackRun, status: AutopackRunStatus, *, uid: str, now: datetime
) -> LifecycleRow:
    """Build the row of ``run`` in ``status``."""
    succeeded = next((c for c in status.conditions if c.type == "Succeeded"), None)
    return LifecycleRow(
        uid=uid,
        name=run.name,
        namespace=run.metadata.namespace or "",
        repo_url=run.spec.repo.url,
        base_ref=run.spec.repo.ref,
        push_branch=run.push_branch,
        spec=run.to_api()["spec"],
        state=status.phase.value,
        reason=succeeded.reason if succeeded else None,
        message=status.message,
        commit=status.result.commit if status.result else None,
        finished=status.phase in TERMINAL_RUN_PHASES,
        at=now,
    )


class RunHistory:
    """Writes lifecycle rows to the database at ``url``; queues them while it is down."""

    def __init__(self, url: str | None, *, retry_seconds: float = RETRY_SECONDS) -> None:
        """Write to ``url`` (None: no database, nothing is recorded)."""
        self.url = url
        self.retry_seconds = retry_seconds
        self.pending: dict[str, LifecycleRow] = {}
        self.available = True
        self.last_error: str | None = None
        self._store: Store | None = None
        self._next_attempt = 0.0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Whether a database is configured."""
        return bool(self.url)

    def record(self, row: LifecycleRow) -> bool:
        """Queue ``row`` (replacing an older one of the same run) and write what is queued."""
        with self._lock:
            self.pending[row.uid] = row
            return self._flush()

    def _flush(self) -> bool:
        if not self.url:
            self.pending.clear()
            return True
        # Imported here: an operator without a database never loads SQLAlchemy (memory).
        from autopack.store import Store, StoreUnavailableError  # noqa: PLC0415

        if not self.available and time.monotonic() < self._next_attempt:
            return False
        try:
            store = self._store or Store.connect(self.url, connect_timeout=2.0)
            self._store = store
            for uid, row in list(self.pending.items()):
                with store.session() as session:
                    self._write(session, row)
                del self.pending[uid]
        except StoreUnavailableError as exc:
            if self.available:
                logger.warning("run history queued (%d run(s)): %s", len(self.pending), exc)
            self.available = False
            self.last_error = str(exc)
            self._next_attempt = time.monotonic() + self.retry_seconds
            return False
        if not self.available:
            logger.info("run history caught up: the database answers again")
        self.available = True
        self.last_error = None
        return True

    @staticmethod
    def _write(session: Any, row: LifecycleRow) -> None:
        from autopack.store import records  # noqa: PLC0415 - see _flush

        records.upsert_run(
            session,
            run_id=row.uid,
            name=row.name,
            namespace=row.namespace,
            source="kubernetes",
            repo_url=row.repo_url,
            base_ref=row.base_ref,
            push_branch=row.push_branch,
            spec=row.spec,
        )
        records.set_run_state(
            session,
            run_id=row.uid,
            state=row.state,
            now=row.at,
            reason=row.reason,
            message=row.message,
            result_commit=row.commit,
            finished=row.finished,
        )
