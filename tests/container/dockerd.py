"""Whether the container tests can use a Docker engine here, and why not when they cannot.

scripts/build-images.sh starts ``dockerd`` when it is installed but not running (as root),
so an installed daemon is enough; the suite's script stops the one it started.
"""

import os
import shutil
import subprocess


def docker_unavailable() -> str | None:
    """None if a Docker engine answers or can be started; else the reason to skip."""
    if os.environ.get("AUTOPACK_NO_DOCKER"):
        return "AUTOPACK_NO_DOCKER is set"
    if shutil.which("docker") is None:
        return "docker is not installed (scripts/setup.sh installs docker.io where it can)"
    result = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if result.returncode == 0 or (shutil.which("dockerd") and os.geteuid() == 0):
        return None
    return "no Docker engine answers and dockerd cannot be started here"
