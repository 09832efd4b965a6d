"""Python environments for projects under test: offline wheels and a project virtualenv.

A project's tests must run with an interpreter Autopack does not run in, so that installing a
dependency into it (the missing-module mitigation) can be observed without touching the
suite's own environment. The project venv sees the suite's packages (pytest) through a
``.pth`` file; what is installed into it stays in it.
"""

import site
import venv
import zipfile
from pathlib import Path


def make_wheel(directory: Path, name: str) -> Path:
    """Write a minimal pure-Python wheel for ``name`` (no network, no build backend)."""
    wheel = directory / f"{name}-1.0-py3-none-any.whl"
    info = f"{name}-1.0.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{name}/__init__.py", "VALUE = 42\n")
        archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        archive.writestr(
            f"{info}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        archive.writestr(f"{info}/RECORD", "")
    return wheel


def project_venv(directory: Path, *, with_pip: bool = True) -> Path:
    """Create a virtualenv that also sees the suite's packages; return its python."""
    venv.EnvBuilder(with_pip=with_pip).create(directory)
    [purelib] = sorted((directory / "lib").glob("python3*/site-packages"))
    (purelib / "suite-packages.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return directory / "bin" / "python"
