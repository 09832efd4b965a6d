"""The ``autopack`` typer app, assembled from one module per command group.

Commands stay thin: they parse flags, call into the library and format the outcome; errors
become one clear line on stderr and a non-zero exit code, never a traceback.
"""

import typer

from autopack import __version__
from autopack.cli import (
    dashboard,
    database,
    generating,
    inpod,
    inspecting,
    models,
    notes,
    planning,
    running,
    runs,
    serving,
    validating,
)

app = typer.Typer(
    name="autopack",
    help="Autonomous, budgeted AI coding runs: locally or on Kubernetes.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("validate")(validating.validate)
app.command("crds")(generating.crds)
app.command("plan")(planning.plan)
app.command("run")(running.run)
app.command("operator")(serving.operator)
app.command("runner")(inpod.runner)
app.command("inspect")(inspecting.inspect)
app.command("models")(models.models)
app.command("dashboard")(dashboard.dashboard)
app.command("note")(notes.note)
app.add_typer(database.db_app, name="db")
app.add_typer(runs.runs_app, name="runs")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"autopack {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Autonomous, budgeted AI coding runs: locally or on Kubernetes."""
