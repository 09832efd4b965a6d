"""``autopack runs``: read past and current runs from the store.

Usage is shown the same way for every provider: input (never including cached input), cache
read, cache write, output and cost, and what the run spent against its budget.
"""

from decimal import Decimal
from typing import Annotated, Any

import pydantic
import typer
from rich.markup import escape
from rich.table import Column, Table

from autopack.api import RunBudgets
from autopack.cli.database import UrlOption, open_store
from autopack.cli.output import console, fail
from autopack.store import StoreUnavailableError, models, records

runs_app = typer.Typer(help="List and inspect runs recorded in the store.")


@runs_app.command("list")
def list_runs(
    url: UrlOption = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many runs to show.")] = 20,
) -> None:
    """List the most recent runs, newest first."""
    store = open_store(url)
    try:
        store.upgrade()
        with store.session() as session:
            rows = records.list_runs(session, limit=limit)
            table = Table("NAME", "NAMESPACE", "STATE", "PHASES", "TOKENS", "COST", "STARTED")
            # TOKENS: every billed token (input, cache read, cache write, output)
            for run in rows:
                complete = sum(1 for phase in run.phases if phase.state == "Complete")
                table.add_row(
                    escape(run.name),
                    escape(run.namespace or "-"),
                    run.state,
                    f"{complete}/{len(run.phases)}",
                    f"{_billed_tokens(run):,}",
                    f"${run.cost_usd:.4f}",
                    run.started_at.strftime("%Y-%m-%d %H:%M") if run.started_at else "-",
                )
    except StoreUnavailableError as exc:
        fail(str(exc))
    finally:
        store.dispose()
    if not rows:
        console.print("no runs recorded yet")
        return
    console.print(table)


@runs_app.command("show")
def show_run(
    name: Annotated[str, typer.Argument(help="Run name.")],
    namespace: Annotated[
        str | None, typer.Option(help="Namespace, for runs recorded from a cluster.")
    ] = None,
    url: UrlOption = None,
) -> None:
    """Show one run: its state, phases, attempts and usage."""
    store = open_store(url)
    try:
        store.upgrade()
        with store.session() as session:
            run = records.find_run(session, name=name, namespace=namespace)
            if run is None:
                fail(f"no run named {name!r} in {store.redacted_url}; see `autopack runs list`")
            console.print(f"[bold]{escape(run.name)}[/] {run.state} {escape(run.message or '')}")
            console.print(f"repo {escape(run.repo_url)}@{run.base_ref} -> {run.push_branch}")
            console.print(f"usage: {describe_usage(run)}, {run.llm_calls} calls")
            console.print(f"spent: {describe_budget(run)}")
            # Titles and states never wrap (they are what people look for); numbers stay narrow.
            # One line per phase that fits 80 columns; the run's line above splits the tokens
            # into input, cache read, cache write and output.
            table = Table(
                "#",
                Column("PHASE", no_wrap=True, min_width=12, max_width=36, overflow="ellipsis"),
                Column("STATE", no_wrap=True),
                Column("TRIES", no_wrap=True, justify="right"),
                Column("TOKENS", no_wrap=True, justify="right"),
                Column("COST", no_wrap=True, justify="right"),
                Column("FAILURE", overflow="fold", min_width=8),
            )
            for phase in run.phases:
                tokens = (
                    phase.input_tokens
                    + phase.cache_read_tokens
                    + phase.cache_write_tokens
                    + phase.output_tokens
                )
                table.add_row(
                    str(phase.index),
                    escape(phase.title),
                    phase.state,
                    str(phase.attempts_made),
                    f"{tokens:,}",
                    f"${phase.cost_usd:.4f}",
                    escape(phase.failure_signature or ""),
                )
            console.print(table)
            _print_failed_attempts(run)
            finished = [
                e for e in records.run_events(session, run_id=run.id) if e.type == "RunFinished"
            ]
            if finished:
                data = finished[-1].data
                console.print(
                    f"Doctor calls: {data.get('doctor_calls', 0)}; avoided by deterministic "
                    f"mitigations: {data.get('doctor_calls_avoided', 0)} (about "
                    f"{data.get('doctor_tokens_avoided', 0):,} tokens)"
                )
    except StoreUnavailableError as exc:
        fail(str(exc))
    finally:
        store.dispose()


def _billed_tokens(usage: models.Run | models.PhaseRecord) -> int:
    return (
        usage.input_tokens
        + usage.cache_read_tokens
        + usage.cache_write_tokens
        + usage.output_tokens
    )


def describe_usage(usage: models.Run | models.PhaseRecord) -> str:
    """Input, cache read, cache write, output and cost on one line."""
    return (
        f"{usage.input_tokens:,} in · {usage.cache_read_tokens:,} cache read · "
        f"{usage.cache_write_tokens:,} cache write · {usage.output_tokens:,} out · "
        f"${usage.cost_usd:.4f}"
    )


def _budgets(spec: dict[str, Any]) -> RunBudgets:
    try:
        return RunBudgets.model_validate(spec.get("budgets") or {})
    except pydantic.ValidationError:
        return RunBudgets()


def describe_budget(run: models.Run) -> str:
    """What the run spent against its budget, in tokens and dollars."""
    budgets = _budgets(run.spec or {})
    tokens = _billed_tokens(run)
    cost = Decimal(run.cost_usd)
    share = max(tokens / budgets.tokens, float(cost) / budgets.cost_usd) if budgets.tokens else 0
    return (
        f"{tokens:,} of {budgets.tokens:,} tokens, ${cost:.4f} of ${budgets.cost_usd:.2f} "
        f"({share:.0%} of the budget)"
    )


def _print_failed_attempts(run: models.Run) -> None:
    """List every failed attempt: signature, mitigation and result, Doctor, escalation."""
    rows = [
        (phase, attempt)
        for phase in run.phases
        for attempt in phase.attempts
        if attempt.outcome == "failed"
    ]
    if not rows:
        return
    console.print("[bold]failed attempts[/]")
    for phase, attempt in rows:
        mitigation = attempt.mitigation or "none"
        if attempt.mitigation and attempt.mitigation_fixed is not None:
            mitigation += " (fixed)" if attempt.mitigation_fixed else " (did not fix)"
        console.print(
            f"  phase {phase.index} attempt {attempt.number} ({escape(attempt.model or '-')}): "
            f"{escape(attempt.failure_category or '?')}: {escape(attempt.failure_signature or '')}"
        )
        console.print(
            f"    mitigation: {escape(mitigation)} · doctor: "
            f"{escape(attempt.doctor_decision or 'none')} · escalation: "
            f"{escape(attempt.escalation or 'none')}"
        )
