"""``autopack run``: execute a run file on this machine and leave the result on a branch.

The workspace is an isolated clone under the work directory; the result is pushed to branch
``autopack/<name>`` (or ``spec.repo.pushBranch``) of the source repository. Running the same
file again resumes at the first phase that is not complete. Exit codes: 0 succeeded,
1 failed, 2 waiting for approval (re-run with ``--approve N``).
"""

import time
import uuid
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from autopack import settings
from autopack.api import AutopackRun
from autopack.cli.output import console, err_console, fail
from autopack.cli.planning import load_run_file
from autopack import events
from autopack.cli.console import ConsoleSink
from autopack.workspace.git import WorkspaceError
from autopack.engine.wiring import open_local_session
from autopack.store.sink import StoreSink
from autopack.engine.running import RunOutcome
from autopack.llm.scripted import CassetteError
from autopack.store import Store, StoreUnavailableError, records


def _repo_url(run: AutopackRun, *, run_file: Path, override: str | None) -> str:
    url = override or run.spec.repo.url
    candidate = Path(url.removeprefix("file://"))
    if not candidate.is_absolute() and "://" not in url and not url.startswith("git@"):
        relative = (run_file.parent / candidate).resolve()
        if relative.exists():
            return str(relative)
    return url


def _summary(
    outcome: RunOutcome,
    *,
    run: AutopackRun,
    store_sink: StoreSink | None,
    tokens: tuple[int, int],
    cost: float,
    seconds: float,
) -> None:
    colour = {"Succeeded": "green", "Failed": "red"}.get(outcome.state, "yellow")
    console.print(f"\n[bold {colour}]{outcome.state}[/] {escape(outcome.message)}")
    for index, result in sorted(outcome.results.items()):
        commit = f" {result.commit[:10]}" if result.commit else ""
        console.print(f"  phase {index}: {result.state} after {result.attempts} attempt(s){commit}")
    console.print(f"  tests before: {escape(outcome.baseline or '-')}")
    console.print(
        f"  tokens: {tokens[0]:,} in / {tokens[1]:,} out · cost ${cost:.4f} · {seconds:.1f}s"
    )
    console.print(f"  branch: {run.push_branch} ({outcome.commit[:10] if outcome.commit else '-'})")
    if store_sink is not None and store_sink.pending:
        err_console.print(
            f"[yellow]warning:[/] {len(store_sink.pending)} event(s) not yet recorded: "
            f"{escape(store_sink.last_error or 'database unavailable')}"
        )


def run(
    file: Annotated[Path, typer.Argument(help="Run file (one AutopackRun).")],
    cassette: Annotated[
        Path | None,
        typer.Option(
            envvar="AUTOPACK_CASSETTE",
            help="Scripted provider cassette (recorded responses) to replay.",
        ),
    ] = None,
    repo: Annotated[
        str | None, typer.Option(help="Use this repository instead of spec.repo.url.")
    ] = None,
    workdir: Annotated[Path | None, typer.Option(help="Where workspaces live.")] = None,
    db: Annotated[str | None, typer.Option(help="Database URL (default: per-user SQLite).")] = None,
    model_profile: Annotated[
        str | None, typer.Option(help="Model profile from config/models.yaml.")
    ] = None,
    record: Annotated[
        Path | None,
        typer.Option(help="Record every real model answer into this cassette file."),
    ] = None,
    approve: Annotated[
        list[int] | None, typer.Option(help="Approve the phase with this index (repeatable).")
    ] = None,
) -> None:
    """Run the phases of FILE locally; the result lands on branch autopack/<name>."""
    started = time.monotonic()
    loaded = load_run_file(file)
    config = settings.load_settings(
        database_url=db, workdir=str(workdir) if workdir else None, model_profile=model_profile
    )
    profile = model_profile or loaded.spec.models.profile
    if cassette is None and profile == "scripted":
        fail(
            "model profile 'scripted' replays recorded responses: pass --cassette FILE "
            "(e.g. examples/demo/cassette.yaml), or choose a real profile with --model-profile"
        )
    url = _repo_url(loaded, run_file=file, override=repo)
    run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"autopack:{url}#{loaded.name}"))
    store_sink: StoreSink | None = None
    try:
        store = Store.open(
            config.resolved_database_url, connect_timeout=config.database_connect_timeout
        )
        with store.session() as session:
            records.upsert_run(
                session,
                run_id=run_id,
                name=loaded.name,
                repo_url=url,
                base_ref=loaded.spec.repo.ref,
                push_branch=loaded.push_branch,
                spec=loaded.to_api()["spec"],
            )
        store_sink = StoreSink(store, run_id=run_id)
    except StoreUnavailableError as exc:
        err_console.print(f"[yellow]warning:[/] running without the run store: {escape(str(exc))}")
    console_sink = ConsoleSink(console)
    sinks = events.FanOut([console_sink, *([store_sink] if store_sink else [])])
    tokens = [0, 0]
    cost = [0.0]

    def emit(event: events.Event) -> None:
        if isinstance(event, events.ModelCalled):
            cost[0] += event.cost_usd
            tokens[0] += event.input_tokens or 0
            tokens[1] += event.output_tokens or 0
        sinks.emit(event)

    try:
        local = open_local_session(
            loaded,
            run_id=run_id,
            repo_url=url,
            workdir=config.resolved_workdir,
            cassette=cassette,
            emit=emit,
            profile=profile,
            record=record,
        )
    except (WorkspaceError, CassetteError) as exc:
        fail(str(exc))
    done = local.ports.workspace.completed_phases()
    local.start(resumed_phases=len(done))
    try:
        outcome = local.execute(approved=set(approve or []))
    finally:
        console_sink.close()
        if store_sink is not None:
            store_sink.flush()
    _summary(
        outcome,
        run=loaded,
        store_sink=store_sink,
        tokens=(tokens[0], tokens[1]),
        cost=cost[0],
        seconds=time.monotonic() - started,
    )
    raise typer.Exit(outcome.exit_code)
