"""``autopack note``: leave a note on a run for its next Builder and Doctor prompts.

Notes are how a person steers a run without editing its spec; the dashboard shows them on
the run's page.
"""

import getpass
from typing import Annotated

import typer

from autopack.cli.database import UrlOption, open_store
from autopack.cli.output import console, fail
from autopack.store import StoreUnavailableError, models, records


def note(
    run: Annotated[str, typer.Argument(help="Run name (the newest run so named), or run id.")],
    text: Annotated[str, typer.Argument(help="The note, e.g. 'use the stdlib, not requests'.")],
    namespace: Annotated[
        str | None, typer.Option(help="Namespace, for runs recorded from a cluster.")
    ] = None,
    author: Annotated[
        str | None, typer.Option(help="Who wrote it (default: your user name).")
    ] = None,
    url: UrlOption = None,
) -> None:
    """Add a note to a run; it is shown on the dashboard and reaches the next prompts."""
    store = open_store(url)
    try:
        store.upgrade()
        with store.session() as session:
            found = records.find_run(session, name=run, namespace=namespace)
            if found is None and namespace is None:
                found = session.get(models.Run, run)
            if found is None:
                fail(f"no run named {run!r} in {store.redacted_url}; see `autopack runs list`")
            try:
                added = records.add_note(
                    session,
                    run_id=found.id,
                    text=text,
                    author=author if author is not None else getpass.getuser(),
                    source="cli",
                )
            except ValueError as exc:
                fail(str(exc))
            console.print(f"note {added.id} added to run {found.name} ({found.id})")
    except StoreUnavailableError as exc:
        fail(str(exc))
    finally:
        store.dispose()
