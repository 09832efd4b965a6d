"""``autopack runner``: the entry point of the runner pod the operator starts."""

from typing import Annotated

import typer

from autopack.cli.output import fail


def runner(
    run: Annotated[
        str, typer.Option("--run", envvar="AUTOPACK_RUN", help="The run, as NAMESPACE/NAME.")
    ],
) -> None:
    """Execute one AutopackRun in the cluster (exit 0 succeeded or awaiting approval, 1 failed)."""
    from autopack.runner.main import run_in_cluster  # noqa: PLC0415 - kube imports only here

    try:
        code = run_in_cluster(run)
    except ValueError as exc:
        fail(str(exc))
    raise typer.Exit(code)
