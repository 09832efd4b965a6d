"""``autopack crds``: write the CustomResourceDefinitions generated from the API models."""

from pathlib import Path
from typing import Annotated

import typer

from autopack.api import schema
from autopack.cli.output import console, fail


def crds(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Directory to write the CRD files to.")
    ] = Path("crds"),
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 if the files in --output differ."),
    ] = False,
) -> None:
    """Generate crds/autopackruns.autopack.dev.yaml and crds/phases.autopack.dev.yaml."""
    rendered = schema.render_crds()
    if check:
        stale = []
        for name, text in rendered.items():
            path = output / name
            current = path.read_text(encoding="utf-8") if path.is_file() else None
            if current != text:
                stale.append(f"{path} ({'missing' if current is None else 'differs'})")
        if stale:
            fail(
                "generated CRDs are out of date: "
                + ", ".join(stale)
                + f"; run `autopack crds --output {output}` and commit the result"
            )
        console.print(f"CRDs in {output} are up to date ({len(rendered)} files)")
        return
    try:
        output.mkdir(parents=True, exist_ok=True)
        for name, text in rendered.items():
            (output / name).write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write CRDs to {output}: {exc.strerror}")
    console.print(f"wrote {len(rendered)} CRDs to {output}")
