"""End to end on a real kind cluster (``make e2e``): the real-provider scenario of the control-plane
tests, run by the chart's in-cluster operator on real nodes.

``scripts/e2e-kind.sh`` builds the images, creates the kind cluster, installs the chart and then
runs this module with ``AUTOPACK_E2E=1``. The scenario is the same function the control-plane
tests call (:func:`tests.operator.real_runs.run_succeeds_with_a_real_provider`); only where
things live differs: pods reach this machine's model server and git daemon through the kind
Docker network's gateway. Skipped, with the reason, where kind is absent or the script did not
prepare the cluster.
"""

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.builders.scenario import git
from tests.cluster.harness import ClusterUser
from tests.fakes.llm_servers import Provider, llm_server
from tests.operator import real_runs

REPO = Path(__file__).resolve().parents[2]
CLUSTER = os.environ.get("AUTOPACK_KIND_CLUSTER", "autopack-e2e")
NAMESPACE = os.environ.get("AUTOPACK_E2E_NAMESPACE", "autopack")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]


class KindCluster(ClusterUser):
    """A namespace of the kind cluster, its operator installed by the chart (not started here)."""

    backend = "kind"

    def __init__(self, workdir: Path, *, namespace: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self._setup_user(workdir)
        self.namespace = namespace
        config = yaml.safe_load(
            subprocess.run(
                ["kind", "get", "kubeconfig", "--name", CLUSTER],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for context in config["contexts"]:
            context["context"]["namespace"] = namespace
        self.kubeconfig = workdir / "kubeconfig"
        self.kubeconfig.write_text(yaml.safe_dump(config))


def _gateway() -> str:
    """The kind Docker network's gateway: this machine as the cluster's pods reach it."""
    found = subprocess.run(
        ["docker", "network", "inspect", "kind", "-f", "{{(index .IPAM.Config 0).Gateway}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert found, "the kind Docker network has no IPv4 gateway"
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", 0))  # noqa: S104 - served to the kind network
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def kind_cluster(tmp_path: Path) -> KindCluster:
    """The kind cluster ``scripts/e2e-kind.sh`` prepared; skips elsewhere with the reason."""
    if shutil.which("kind") is None:
        pytest.skip(
            "kind is not installed on this machine: `make e2e` runs the real-provider scenario "
            "(tests/operator/real_runs.py) on kind where kind and Docker exist; the control-plane "
            "tests (tests/operator/test_real_runs.py) run the same scenario here"
        )
    if not os.environ.get("AUTOPACK_E2E"):
        pytest.skip("run `make e2e`: it builds the images, creates the kind cluster and installs")
    return KindCluster(tmp_path / "kind", namespace=NAMESPACE)


@pytest.fixture
def served_origin(tmp_path: Path) -> Iterator[str]:
    """The demo project in a bare repository served by ``git daemon`` (push enabled); its URL."""
    work = tmp_path / "project"
    shutil.copytree(REPO / "examples" / "demo" / "project", work)
    git("init", "-q", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "textstats: word_count", cwd=work)
    served = tmp_path / "served"
    served.mkdir()
    git("clone", "-q", "--bare", str(work), str(served / "origin.git"), cwd=tmp_path)
    port = _free_port()
    daemon = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            "--export-all",
            "--enable=receive-pack",
            f"--base-path={served}",
            "--listen=0.0.0.0",
            f"--port={port}",
            str(served),
        ]
    )
    try:
        yield f"git://{_gateway()}:{port}/origin.git"
    finally:
        daemon.terminate()
        daemon.wait(30)


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_run_with_a_real_provider_profile_succeeds_on_kind(
    kind_cluster: KindCluster, served_origin: str, tmp_path: Path, provider: Provider
) -> None:
    def manifest(name: str, **spec: Any) -> Path:
        run = yaml.safe_load((REPO / "examples" / "demo" / "run.yaml").read_text())
        run["metadata"]["name"] = name
        run["spec"]["repo"]["url"] = served_origin
        run["spec"].update(spec)
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(run))
        return path

    name = f"real-{provider}"
    with llm_server(provider, host="0.0.0.0") as server:  # noqa: S104 - for the kind network
        real_runs.DemoModel(buggy_first=True).serve(server)
        port = server.url.rsplit(":", 1)[1]
        pods_url = f"http://{_gateway()}:{port}" + ("/v1" if provider == "openai" else "")
        try:
            real_runs.run_succeeds_with_a_real_provider(
                kind_cluster, server=server, base_url=pods_url, manifest=manifest, name=name
            )
        finally:
            kind_cluster.kubectl("delete", "autopackrun", name, "--ignore-not-found", check=False)
            kind_cluster.kubectl(
                "delete", "secret", "model-keys", "--ignore-not-found", check=False
            )
