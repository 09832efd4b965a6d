"""The container images: they build, the runner executes a run, the operator answers liveness.

Run when a Docker engine answers (the set-up installs docker.io and starts dockerd where it
can); skipped with the reason otherwise. Images are built by ``scripts/build-images.sh``
(offline: a debootstrap base and a host-built wheelhouse). Containers run as they run in the
cluster: non-root uid 10001, read-only root filesystem, writable tmpfs for /tmp and the
workspace; the runner also without network.
"""

import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.builders.scenario import git
from tests.cluster.harness import Cluster, emulated_cluster, free_port
from tests.container.dockerd import docker_unavailable

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo"
RUNNER = "autopack/runner:dev"
OPERATOR = "autopack/operator:dev"

# A first build (debootstrap base, wheelhouse, two images) on two shared cores takes minutes.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]


if (reason := docker_unavailable()) is not None:
    pytest.skip(reason, allow_module_level=True)


@pytest.fixture(scope="module")
def images() -> None:
    """Build (or rebuild from cache) both images."""
    subprocess.run([str(REPO / "scripts" / "build-images.sh")], check=True, timeout=1800)


@pytest.mark.usefixtures("images")
def test_both_images_exist_and_run_as_non_root() -> None:
    for image in (RUNNER, OPERATOR):
        user = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{.Config.User}}", image],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert user == "10001:10001"


@pytest.mark.usefixtures("images")
def test_runner_image_executes_the_demo_run_against_a_local_bare_repository(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(DEMO / "project", data / "project")
    git("init", "-q", "-b", "main", cwd=data / "project")
    git("add", "-A", cwd=data / "project")
    git("commit", "-q", "-m", "textstats", cwd=data / "project")
    git("clone", "-q", "--bare", str(data / "project"), str(data / "origin.git"), cwd=data)
    shutil.copy(DEMO / "run.yaml", data / "run.yaml")
    shutil.copy(DEMO / "cassette.yaml", data / "cassette.yaml")
    subprocess.run(["chown", "-R", "10001:10001", str(data)], check=True)
    result = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--read-only",
            "--network",
            "none",
            "--user",
            "10001:10001",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "--tmpfs",
            "/tmp:exec",
            "--tmpfs",
            "/workspace:exec,uid=10001,gid=10001",
            "-v",
            f"{data}:/data",
            RUNNER,
            "run",
            "/data/run.yaml",
            "--repo",
            "/data/origin.git",
            "--cassette",
            "/data/cassette.yaml",
            "--workdir",
            "/workspace/work",
            "--db",
            "sqlite:////workspace/autopack.db",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Succeeded 2 phases complete" in result.stdout
    log = git(
        "-c",
        f"safe.directory={data / 'origin.git'}",
        "log",
        "--format=%s",
        "autopack/textstats-demo",
        cwd=data / "origin.git",
    )
    assert "phase 0" in log
    assert "phase 1" in log


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """An emulated API server for the operator container to talk to."""
    with emulated_cluster(tmp_path / "cluster") as emulated:
        yield emulated


@pytest.mark.usefixtures("images")
def test_operator_image_starts_and_answers_its_liveness_probe(cluster: Cluster) -> None:
    port = free_port()
    name = f"autopack-operator-test-{os.getpid()}"
    kubeconfig = cluster.kubeconfig
    kubeconfig.chmod(0o644)
    started = subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "--rm",
            "--name",
            name,
            "--network",
            "host",
            "--read-only",
            "--tmpfs",
            "/tmp",
            "--cap-drop",
            "ALL",
            "-v",
            f"{kubeconfig}:/etc/autopack/kubeconfig:ro",
            "-e",
            "KUBECONFIG=/etc/autopack/kubeconfig",
            "-e",
            f"AUTOPACK_OPERATOR_METRICS_PORT={free_port()}",
            OPERATOR,
            "operator",
            f"--liveness=http://127.0.0.1:{port}/healthz",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    try:
        deadline = time.monotonic() + 60
        answer = None
        while time.monotonic() < deadline and answer is None:
            try:
                url = f"http://127.0.0.1:{port}/healthz"
                answer = urllib.request.urlopen(url, timeout=2)
            except OSError:
                time.sleep(0.5)
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True, check=False)
        assert answer is not None, logs.stdout[-3000:] + logs.stderr[-3000:]
        assert answer.status == 200
        answer.close()
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
