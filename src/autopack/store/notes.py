"""People's notes on a run, read fresh for each prompt (a note added mid-run reaches the next).

Notes come from ``autopack note``, the dashboard's form and the ``autopack.dev/note``
annotation (the operator records it); the engine asks for them before every Builder and Doctor
prompt. A store that does not answer means no notes, never a stopped run.
"""

import logging
from collections.abc import Callable

from autopack.store import records
from autopack.store.engine import Store
from autopack.store.errors import StoreUnavailableError

log = logging.getLogger(__name__)


def notes_reader(store: Store, *, run_id: str) -> Callable[[], list[str]]:
    """A function returning the run's notes, oldest first (empty while the store is down)."""

    def read() -> list[str]:
        try:
            with store.session() as session:
                return [note.text for note in records.notes_for_run(session, run_id=run_id)]
        except StoreUnavailableError as exc:
            log.warning("notes unavailable: %s", exc)
            return []

    return read
