"""``autopack inspect``: what Autopack sees in a repository before any token is spent.

Prints the detected toolchains with confidence, evidence and commands; with ``--baseline`` it
also runs the tests once and prints the outcome counts and the failing test ids.
"""

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from autopack import toolchains
from autopack.cli.output import console, fail
from autopack.gates.commands import CommandGates
from autopack.planning import scan_repository


def inspect(
    path: Annotated[Path, typer.Argument(help="Repository (a local checkout).")],
    baseline: Annotated[
        bool, typer.Option("--baseline", help="Also run the tests once and report outcomes.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds before the test run is killed.")] = 900,
) -> None:
    """Show detected toolchains, their evidence and commands; optionally run a baseline."""
    if not path.is_dir():
        fail(f"{path} is not a directory; pass a local checkout of the repository")
    scan = scan_repository(path)
    detections = toolchains.detect(path, list(scan.files))
    document: dict[str, Any] = {
        "path": str(path),
        "files": len(scan.files),
        "toolchains": [
            {
                "name": d.name,
                "confidence": d.confidence,
                "evidence": list(d.evidence),
                "workingDir": d.working_dir,
                "install": d.install,
                "build": d.build,
                "test": d.test,
                "results": d.results,
                "notes": list(d.notes),
            }
            for d in detections
        ],
    }
    suite = toolchains.choose_suite_command(detections)
    if not detections or suite is None:
        looked = ", ".join(sorted({m[0] for marks in toolchains.MARKERS.values() for m in marks}))
        message = (
            f"no test command found in {path}: looked for {looked} at the root and one "
            "directory down; set spec.toolchain.test in the run file"
        )
        if as_json:
            document["error"] = message
            console.print(json.dumps(document, indent=2), markup=False, highlight=False)
            raise typer.Exit(1)
        _print_table(document)
        fail(message)
    if baseline:
        outcome = CommandGates(path, suite=suite, timeout=timeout).baseline()
        document["baseline"] = {
            "command": outcome.command,
            "passed": outcome.passed,
            "failed": outcome.failed,
            "skipped": outcome.skipped,
            "collectionErrors": outcome.collection_errors,
            "failing": list(outcome.failing),
            "seconds": round(outcome.duration_seconds, 2),
        }
    if as_json:
        console.print(json.dumps(document, indent=2), markup=False, highlight=False)
        return
    _print_table(document)
    if baseline:
        base = document["baseline"]
        console.print(
            f"baseline: {base['passed']} passed, {base['failed']} failed, {base['skipped']} "
            f"skipped, {base['collectionErrors']} collection errors ({base['seconds']} s)"
        )
        for test in base["failing"]:
            console.print(f"  failing: {escape(test)}")


def _print_table(document: dict[str, Any]) -> None:
    console.print(f"{escape(document['path'])}: {document['files']} files")
    for item in document["toolchains"]:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim")
        grid.add_column(overflow="fold")
        grid.add_row("evidence", escape(", ".join(item["evidence"])))
        for key in ("install", "build", "test"):
            grid.add_row(key, escape(item[key] or "-"))
        grid.add_row("results", item["results"])
        for note in item["notes"]:
            grid.add_row("note", escape(note))
        where = item["workingDir"] or "."
        console.print(
            f"\n[bold]{item['name']}[/] in {escape(where)} (confidence {item['confidence']:.2f})"
        )
        console.print(grid)
