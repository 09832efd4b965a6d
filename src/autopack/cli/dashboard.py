"""``autopack dashboard``: serve the web UI and JSON API over the run store.

The dashboard reads; it never migrates the store (in a cluster its credentials are
read-only), so a store behind the newest schema gets one clear line instead of a traceback.
"""

from typing import Annotated

import typer

from autopack.cli.database import open_store
from autopack.cli.output import console, fail
from autopack.store import StoreUnavailableError
from autopack.store.engine import MIGRATIONS_DIR


def _older_than_ours(revision: str) -> str | None:
    """Our newest revision when ``revision`` is an older one we know, else None.

    A revision we do not know is newer (an upgraded operator migrated first); migrations are
    additive, so the dashboard still reads it.
    """
    from alembic.config import Config  # noqa: PLC0415 - only this command reads revisions
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(config)
    newest = script.get_current_head()
    known = {entry.revision for entry in script.walk_revisions()}
    return newest if revision in known and revision != newest else None


def dashboard(
    url: Annotated[
        str | None,
        typer.Option(
            "--db",
            "--url",
            envvar="AUTOPACK_DATABASE_URL",
            help="SQLAlchemy URL of the run store (default: per-user SQLite).",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str, typer.Option(envvar="AUTOPACK_DASHBOARD_HOST", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(envvar="AUTOPACK_DASHBOARD_PORT", min=0, max=65535, help="Port.")
    ] = 8090,
    allow_notes: Annotated[
        bool,
        typer.Option(
            "--allow-notes/--no-notes",
            envvar="AUTOPACK_DASHBOARD_ALLOW_NOTES",
            help="Let visitors add notes to runs (the dashboard's only write).",
        ),
    ] = False,
    refresh: Annotated[
        int,
        typer.Option(
            envvar="AUTOPACK_DASHBOARD_REFRESH_SECONDS",
            min=0,
            help="Seconds between live refreshes of the pages (0: off).",
        ),
    ] = 5,
    profile: Annotated[
        str, typer.Option(help="Model profile the Models page shows first.")
    ] = "default",
    live_status: Annotated[
        bool,
        typer.Option(
            "--live-status/--no-live-status",
            envvar="AUTOPACK_DASHBOARD_LIVE_STATUS",
            help="Show run states from the cluster's AutopackRuns (pod token or kubeconfig).",
        ),
    ] = False,
) -> None:
    """Serve the dashboard: runs, attempts, usage, models and hardening, in a browser."""
    # Imported here: the server stack is only loaded by the command that needs it.
    import uvicorn  # noqa: PLC0415

    from autopack.dashboard import DashboardConfig, create_app, live  # noqa: PLC0415

    store = open_store(url)
    try:
        revision = store.current_revision()
    except StoreUnavailableError as exc:
        fail(str(exc))
    if revision is None:
        fail(
            f"database {store.redacted_url} has no Autopack tables yet; "
            "run `autopack db upgrade` (or any run) first"
        )
    newest = _older_than_ours(revision)
    if newest is not None:
        fail(
            f"database {store.redacted_url} is at schema revision {revision}, this dashboard "
            f"needs {newest}: run `autopack db upgrade` with credentials that may migrate"
        )
    config = DashboardConfig(
        allow_notes=allow_notes,
        refresh_seconds=refresh,
        models_profile=profile,
        live_status=live_status,
    )
    status = None
    if live_status:
        try:
            status = live.LiveStatus(live.kubernetes_lister(), ttl_seconds=max(refresh, 2))
        except Exception as exc:  # no kubeconfig, no in-cluster token: say so and stop
            fail(f"--live-status needs access to the cluster: {exc}")
    console.print(
        f"dashboard on http://{host}:{port}/ over {store.redacted_url}"
        f" (notes {'enabled' if allow_notes else 'disabled'})"
    )
    try:
        uvicorn.run(
            create_app(store, config, live=status), host=host, port=port, log_level="warning"
        )
    finally:
        store.dispose()
