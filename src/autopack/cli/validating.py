"""``autopack validate``: check run files against the API types before anything is applied."""

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from autopack.api import loading
from autopack.cli.output import console, err_console


def validate(
    files: Annotated[
        list[Path], typer.Argument(help="Run files (YAML; several documents per file allowed).")
    ],
) -> None:
    """Check AutopackRun and Phase files; print one line per valid document or every error."""
    error_count = 0
    for path in files:
        source = str(path)
        try:
            content = path.read_bytes()
        except OSError as exc:
            err_console.print(f"[red]✗[/] {escape(source)}: cannot read file: {exc.strerror}")
            error_count += 1
            continue
        loaded, errors = loading.load_documents(content, source=source)
        for document in loaded:
            summary = loading.describe(document.resource)
            console.print(
                f"[green]✓[/] {escape(source)}: document {document.document}: {escape(summary)}"
            )
        for error in errors:
            err_console.print(f"[red]✗[/] {escape(str(error))}", soft_wrap=True)
        error_count += len(errors)
    if error_count:
        err_console.print(f"{error_count} error(s) found")
        raise typer.Exit(1)
