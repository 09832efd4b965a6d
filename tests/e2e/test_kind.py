"""End to end on a real kind cluster: ``scripts/e2e-kind.sh`` (``make e2e``).

Needs Docker, kind, network access for kind's node image and a git URL the cluster can clone
(``AUTOPACK_E2E_REPO_URL``); opt in with ``AUTOPACK_E2E=1``. Skipped otherwise, with the reason.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_run_succeeds_on_kind() -> None:
    if shutil.which("kind") is None:
        pytest.skip("kind is not installed on this machine")
    if not os.environ.get("AUTOPACK_E2E"):
        pytest.skip("set AUTOPACK_E2E=1 (and AUTOPACK_E2E_REPO_URL) to run the kind end to end")
    result = subprocess.run(
        [str(REPO / "scripts" / "e2e-kind.sh")],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "Succeeded" in result.stdout
