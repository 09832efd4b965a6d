"""The session's control plane as the pytest fixture ``control_plane`` provides it.

Starting one takes 10-20 s, so a test session shares one; tests keep apart by namespace.
When the binaries are not built, tests that need them skip with the command that builds them,
unless ``AUTOPACK_REQUIRE_CONTROLPLANE=1`` (``scripts/test.sh`` sets it after building), where
a missing control plane fails instead of hiding behind a skip.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.controlplane.server import ControlPlane, locate_binaries


def is_required() -> bool:
    """Whether a missing control plane is an error rather than a reason to skip."""
    return os.environ.get("AUTOPACK_REQUIRE_CONTROLPLANE") == "1"


def control_plane_for_session(workdir: Path) -> Iterator[ControlPlane]:
    """Start the control plane in ``workdir``; skip (or fail, when required) if not built."""
    binaries = locate_binaries()
    missing = binaries.missing()
    if missing:
        reason = (
            "the test control plane is not built (missing "
            + ", ".join(path.name for path in missing)
            + f" in {missing[0].parent}); run scripts/build-controlplane.sh"
        )
        if is_required():
            pytest.fail(reason)
        pytest.skip(reason)
    with ControlPlane(workdir, binaries, audit=True) as plane:
        yield plane
