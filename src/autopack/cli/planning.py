"""``autopack plan``: show the normalized phases of a run file without changing anything.

Users run it before spending tokens: it prints where each phase's scope came from and how
sure Autopack is, which budgets apply, and every preflight error or warning.
"""

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.markup import escape
from rich.table import Table

from autopack import toolchains
from autopack.api import AutopackRun, ResourceInvalidError, loading
from autopack.cli.output import console, err_console, fail
from autopack.planning import (
    NormalizedPlan,
    PlanUnusableError,
    PreflightReport,
    load_planning_config,
    normalize_plan,
    preflight,
    scan_repository,
)


class OutputFormat(StrEnum):
    """How ``autopack plan`` prints the plan."""

    TABLE = "table"
    YAML = "yaml"
    JSON = "json"


def load_run_file(path: Path) -> AutopackRun:
    """Read a run file holding exactly one AutopackRun; exit with precise errors otherwise."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")
    loaded, errors = loading.load_documents(content, source=str(path))
    if errors:
        fail("\n".join(str(error) for error in errors))
    runs = [d.resource for d in loaded if isinstance(d.resource, AutopackRun)]
    if len(runs) != 1:
        fail(f"{path}: expected exactly one AutopackRun, found {len(runs)}")
    return runs[0]


def local_repository(run: AutopackRun, *, run_file: Path, override: Path | None) -> Path:
    """Return the checkout to ground the plan in: --repo, or the run's URL if it is local."""
    if override is not None:
        candidate = override
    else:
        url = run.spec.repo.url.removeprefix("file://")
        candidate = Path(url) if Path(url).is_absolute() else run_file.parent / url
        if not candidate.is_dir():
            candidate = Path(url)
    if not candidate.is_dir():
        fail(
            f"repository {run.spec.repo.url!r} is not a local directory; pass --repo PATH "
            "pointing at a checkout of it"
        )
    return candidate.resolve()


def plan_document(plan: NormalizedPlan, report: PreflightReport) -> dict[str, Any]:
    """Return the plan, its provenance and the preflight outcome as plain data."""
    phases = []
    for phase, origin in zip(plan.phases, plan.provenance, strict=True):
        body = phase.to_api()
        body["provenance"] = {
            "origin": origin.origin,
            "line": origin.line,
            "scope": {
                "confidence": origin.scope.confidence,
                "sources": origin.scope.sources,
                "evidence": [
                    {
                        "path": e.path,
                        "source": e.source,
                        "confidence": e.confidence,
                        "reason": e.reason,
                    }
                    for e in origin.scope.evidence
                ],
            },
            "deliverables": origin.deliverables,
            "validation": origin.validation,
            "budgets": origin.budgets,
        }
        phases.append(body)
    return {
        "source": plan.source,
        "reason": plan.source_reason,
        "modelCalls": plan.model_calls,
        "testCommand": plan.test_command,
        "phases": phases,
        "errors": [str(issue) for issue in report.errors],
        "warnings": [str(issue) for issue in report.warnings],
    }


def _print_table(plan: NormalizedPlan, report: PreflightReport) -> None:
    calls = "no model call" if plan.model_calls == 0 else f"{plan.model_calls} model call(s)"
    console.print(f"plan from {plan.source}: {escape(plan.source_reason)} ({calls})")
    for index, (phase, origin) in enumerate(zip(plan.phases, plan.provenance, strict=True)):
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(overflow="fold")
        scope = origin.scope
        grid.add_row(
            "scope",
            f"{escape(', '.join(phase.scope.allowed_paths) or '-')} "
            f"[dim](from {scope.sources}, confidence {scope.confidence:.2f})[/]",
        )
        for item in scope.evidence:
            grid.add_row(
                "",
                f"[dim]{escape(item.path)} · {item.source} {item.confidence:.2f} · "
                f"{escape(item.reason)}[/]",
            )
        if phase.scope.read_only_context:
            grid.add_row("read only", escape(", ".join(phase.scope.read_only_context)))
        grid.add_row(
            "deliverables",
            f"{escape(', '.join(phase.deliverables) or '-')} [dim]({origin.deliverables})[/]",
        )
        grid.add_row(
            "validation",
            escape("; ".join(phase.validation) if phase.validation else origin.validation),
        )
        budgets = phase.budgets
        grid.add_row(
            "budgets",
            f"{budgets.tokens or 0:,} tokens · ${budgets.cost_usd or 0:.2f} · "
            f"{budgets.max_attempts} attempts [dim]({origin.budgets})[/]",
        )
        console.print(
            f"\n[bold]{index}  {escape(phase.title)}[/] "
            f"[dim]{escape(f'[{phase.complexity} · {phase.category}]')}[/]"
        )
        console.print(grid)
    for issue in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(str(issue))}")
    for issue in report.errors:
        err_console.print(f"[red]error:[/] {escape(str(issue))}")


def plan(
    file: Annotated[Path, typer.Argument(help="Run file (one AutopackRun).")],
    repo: Annotated[Path | None, typer.Option(help="Local checkout to ground the plan in.")] = None,
    output: Annotated[
        OutputFormat, typer.Option("--output", "-o", help="table, yaml or json.")
    ] = OutputFormat.TABLE,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --output json.")] = False,
) -> None:
    """Print the normalized phases, where each scope came from, and preflight problems."""
    run = load_run_file(file)
    root = local_repository(run, run_file=file, override=repo)
    config = load_planning_config()
    scan = scan_repository(
        root,
        max_files=config.scan.max_files,
        time_limit_seconds=config.scan.time_limit_seconds,
    )
    suite = toolchains.choose_suite_command(
        toolchains.detect(root, list(scan.files)), run.spec.toolchain
    )
    try:
        normalized = normalize_plan(
            run.spec, scan=scan, config=config, test_command=suite.command if suite else None
        )
    except (PlanUnusableError, ResourceInvalidError) as exc:
        fail(f"PlanInvalid: {exc}")
    report = preflight(normalized, spec=run.spec, scan=scan)
    chosen = OutputFormat.JSON if as_json else output
    if chosen is OutputFormat.TABLE:
        _print_table(normalized, report)
    else:
        document = plan_document(normalized, report)
        text = (
            json.dumps(document, indent=2)
            if chosen is OutputFormat.JSON
            else yaml.safe_dump(document, sort_keys=False)
        )
        console.print(text, markup=False, highlight=False)
    if not report.ok:
        raise typer.Exit(1)
