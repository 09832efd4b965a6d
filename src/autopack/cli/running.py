"""``autopack run``: execute a run file on this machine and leave the result on a branch.

The workspace is an isolated clone under the work directory; the result is pushed to branch
``autopack/<name>`` (or ``spec.repo.pushBranch``) of the source repository. Running the same
file again resumes at the first phase that is not complete. Exit codes: 0 succeeded,
1 failed, 2 waiting for approval (re-run with ``--approve N``).
"""

import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from autopack import events, redaction, settings
from autopack.api import AutopackRun
from autopack.cli.console import ConsoleSink
from autopack.cli.output import console, err_console, fail
from autopack.cli.planning import load_run_file
from autopack.engine.wiring import SessionOptions, open_session
from autopack.events import RunOutcome, Spend
from autopack.llm.scripted import CassetteError
from autopack.sandbox.choosing import MODES, SandboxMode, SandboxUnavailable
from autopack.store import Store, StoreUnavailableError, records
from autopack.store.notes import notes_reader
from autopack.store.sink import StoreSink
from autopack.workspace import WorkspaceError, display_url


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
    spend: Spend,
    before: tuple[int, Decimal],
    seconds: float,
    sandbox: str,
) -> None:
    colour = {"Succeeded": "green", "Failed": "red"}.get(outcome.state, "yellow")
    reason = f" ({outcome.reason})" if outcome.state == "Failed" else ""
    message = redaction.redact(outcome.message)
    console.print(f"\n[bold {colour}]{outcome.state}[/]{reason} {escape(message)}")
    for index, result in sorted(outcome.results.items()):
        commit = f" {result.commit[:10]}" if result.commit else ""
        console.print(f"  phase {index}: {result.state} after {result.attempts} attempt(s){commit}")
    console.print(f"  tests before: {escape(outcome.baseline or '-')}")
    budgets = run.spec.budgets
    console.print(f"  this session: {spend.describe()} · {spend.calls} calls · {seconds:.1f}s")
    total_tokens = before[0] + spend.tokens
    total_cost = float(before[1]) + spend.cost_usd
    console.print(
        f"  run spent: {total_tokens:,} of {budgets.tokens:,} tokens · "
        f"${total_cost:.4f} of ${budgets.cost_usd:.2f}"
    )
    console.print(f"  branch: {run.push_branch} ({outcome.commit[:10] if outcome.commit else '-'})")
    if outcome.pull_request:
        console.print(f"  pull request: {escape(outcome.pull_request)}")
    console.print(f"  sandbox: {escape(sandbox)}")


def _sandbox_mode(value: str) -> SandboxMode:
    if value not in MODES:
        fail(f"--sandbox must be one of {', '.join(MODES)}, not {value!r}")
    return value


@dataclass(frozen=True)
class _Earlier:
    """What earlier sessions of the run left in the store: attempts, and spend (its ledger)."""

    attempts: dict[int, int] = field(default_factory=dict)
    spent: tuple[int, Decimal] = (0, Decimal(0))
    by_phase: dict[int, tuple[int, Decimal]] = field(default_factory=dict)


def _open_store(
    url: str, timeout: float, *, run: AutopackRun, run_id: str, repo_url: str
) -> tuple[StoreSink | None, _Earlier]:
    """The store sink and what earlier sessions of the run did and spent."""
    try:
        store = Store.open(url, connect_timeout=timeout)
        with store.session() as session:
            records.upsert_run(
                session,
                run_id=run_id,
                name=run.name,
                repo_url=display_url(repo_url),
                base_ref=run.spec.repo.ref,
                push_branch=run.push_branch,
                spec=run.to_api()["spec"],
            )
            earlier = _Earlier(
                attempts=records.attempts_by_phase(session, run_id=run_id),
                spent=records.run_spend(session, run_id=run_id),
                by_phase=records.phase_spend(session, run_id=run_id),
            )
    except StoreUnavailableError as exc:
        err_console.print(f"[yellow]warning:[/] running without the run store: {escape(str(exc))}")
        return None, _Earlier()
    return StoreSink(store, run_id=run_id), earlier


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
    sandbox: Annotated[
        str,
        typer.Option(
            help="How the repository's commands run: auto (bubblewrap when it works here), "
            "bwrap (insist), none."
        ),
    ] = "auto",
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
    run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"autopack:{display_url(url)}#{loaded.name}"))
    store_sink, earlier = _open_store(
        config.resolved_database_url,
        config.database_connect_timeout,
        run=loaded,
        run_id=run_id,
        repo_url=url,
    )
    console_sink = ConsoleSink(console)
    sinks = events.FanOut([console_sink, *([store_sink] if store_sink else [])])
    options = SessionOptions(
        repo_url=url,
        workdir=config.resolved_workdir,
        cassette=cassette,
        record=record,
        profile=profile,
        previous_attempts=earlier.attempts,
        spent=earlier.spent,
        spent_by_phase=earlier.by_phase,
        notes=notes_reader(store_sink.store, run_id=run_id) if store_sink else list,
        sandbox=_sandbox_mode(sandbox),
    )
    try:
        session = open_session(loaded, run_id=run_id, options=options, emit=sinks.emit)
    except (WorkspaceError, CassetteError, SandboxUnavailable) as exc:
        fail(str(exc))
    session.start()
    try:
        outcome = session.execute(approved=set(approve or []))
    finally:
        console_sink.close()
        if store_sink is not None and not store_sink.flush():
            err_console.print(
                f"[yellow]warning:[/] {len(store_sink.pending)} event(s) not yet recorded: "
                f"{escape(store_sink.last_error or 'database unavailable')}"
            )
    _summary(
        outcome,
        run=loaded,
        spend=console_sink.spend,
        before=earlier.spent,
        seconds=time.monotonic() - started,
        sandbox=session.sandbox,
    )
    raise typer.Exit(outcome.exit_code)
