"""The ``autopack`` command line (the app is :mod:`autopack.cli.app`).

:func:`main` starts ``autopack operator`` without assembling the other commands: they import
the engine, both model SDKs and the Qdrant client (seconds on a busy node), and the operator
needs none of them; it replaces this process with kopf at once, so an operator restart waits
only for kopf and the operator's own modules.
"""

import sys

import typer


def main() -> None:
    """Entry point of the ``autopack`` console script."""
    if sys.argv[1:2] == ["operator"]:
        from autopack.cli import serving  # noqa: PLC0415 - only this command's imports

        alone = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        alone.command()(serving.operator)
        alone(args=sys.argv[2:], prog_name="autopack operator")
        return
    from autopack.cli.app import app  # noqa: PLC0415 - see the module's docstring

    app()
