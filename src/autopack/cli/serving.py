"""``autopack operator``: start the Kubernetes operator (the same as ``kopf run``).

The operator is a kopf application; this command only assembles kopf's command line so that
users and the Helm chart need one entry point, ``autopack``.
"""

import os
import sys
from typing import Annotated

import typer


def operator(
    namespace: Annotated[
        list[str] | None,
        typer.Option("--namespace", "-n", help="Watch only these namespaces (default: all)."),
    ] = None,
    liveness: Annotated[
        str, typer.Option(help="Liveness endpoint URL served by kopf.")
    ] = "http://0.0.0.0:8081/healthz",
    verbose: Annotated[bool, typer.Option("--verbose", help="Debug logging.")] = False,
) -> None:
    """Run the Autopack operator in the foreground (kopf run -m autopack.operator)."""
    argv = [sys.executable, "-m", "kopf", "run", "-m", "autopack.operator", "--standalone"]
    argv += [f"--namespace={ns}" for ns in namespace] if namespace else ["--all-namespaces"]
    argv.append(f"--liveness={liveness}")
    if verbose:
        argv.append("--verbose")
    os.execv(sys.executable, argv)  # noqa: S606 - replaces this process with kopf, no shell
