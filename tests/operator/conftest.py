"""Fixtures of the operator tests: a cluster, a demo repository, run manifests.

``cluster`` is the emulated cluster. A test module whose scenarios run on the real control
plane overrides ``cluster`` with a fixture parametrized by :data:`REAL_ONLY` that returns
:func:`cluster_on` (``tests/operator/test_kubectl_scenarios.py`` does).
"""

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.builders.scenario import git
from tests.cluster.harness import Cluster, ClusterUser, emulated_cluster
from tests.controlplane.fixtures import Release
from tests.controlplane.harness import RealCluster
from tests.controlplane.server import ControlPlane
from tests.controlplane.tools import Tool

REPO = Path(__file__).resolve().parents[2]
CASSETTE = REPO / "examples" / "demo" / "cassette.yaml"
DEMO_RUN = REPO / "examples" / "demo" / "run.yaml"

if shutil.which("kubectl") is None:  # pragma: no cover - the machines of DESIGN.md have it
    pytest.skip("the kubectl client is not installed", allow_module_level=True)


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare remote holding the demo project on ``main``."""
    work = tmp_path / "project"
    shutil.copytree(REPO / "examples" / "demo" / "project", work)
    git("init", "-q", "-b", "main", cwd=work)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "textstats: word_count", cwd=work)
    bare = tmp_path / "origin.git"
    git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    return bare


def branch_commits(origin: Path, branch: str) -> list[str]:
    """Subjects of the commits on ``branch`` of the bare remote, newest first."""
    return git("log", "--format=%s", branch, cwd=origin).splitlines()


@pytest.fixture
def run_manifest(tmp_path: Path, origin: Path) -> Callable[..., Path]:
    """Write the demo AutopackRun for ``origin`` with spec overrides; return its path."""

    def write(name: str = "textstats-demo", **spec: Any) -> Path:
        run = yaml.safe_load(DEMO_RUN.read_text())
        run["metadata"]["name"] = name
        run["spec"]["repo"]["url"] = str(origin)
        for key, value in spec.items():
            if isinstance(value, dict):
                run["spec"][key] = {**run["spec"].get(key, {}), **value}
            else:
                run["spec"][key] = value
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(run))
        return path

    return write


def _cassette_config_map() -> str:
    """ConfigMap ``autopack-cassette``: runs of the ``scripted`` profile mount it."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "autopack-cassette"},
            "data": {"cassette.yaml": CASSETTE.read_text()},
        }
    )


@pytest.fixture
def emulated(tmp_path: Path) -> Iterator[Cluster]:
    """An emulated cluster holding the demo cassette in ConfigMap ``autopack-cassette``."""
    with emulated_cluster(tmp_path / "cluster") as started:
        started.kubectl("apply", "--validate=false", "-f", "-", input=_cassette_config_map())
        yield started


@pytest.fixture
def cluster(emulated: Cluster) -> Cluster:
    """The emulated cluster (tests of the emulator itself, and fault injection)."""
    return emulated


@pytest.fixture
def real_cluster(
    tmp_path: Path,
    control_plane: ControlPlane,
    kubectl: Tool,
    release: Release,
    runner_namespace: str,
) -> Iterator[RealCluster]:
    """A namespace of the real control plane with the chart's runner RBAC and the cassette.

    The operator started on it authenticates as the chart's operator ServiceAccount.
    """
    real = RealCluster(
        tmp_path / "cluster",
        control_plane=control_plane,
        kubectl=kubectl,
        namespace=runner_namespace,
        operator_service_account=(release.namespace, release.operator_service_account),
    ).start()
    try:
        real.kubectl("apply", "-f", "-", input=_cassette_config_map())
        yield real
    finally:
        real.stop()


REAL_ONLY = [pytest.param("real", marks=pytest.mark.controlplane)]
"""Parameters of a fixture that runs a scenario on the real control plane.

The ``[real]`` test id lets the suite's summary say which scenarios ran on the real control
plane; the emulator keeps only what it still earns (its own fidelity tests, the real server's
behaviours it reproduces, the container test and the scale benchmark).
"""


def cluster_on(request: pytest.FixtureRequest) -> ClusterUser:
    """The cluster of the backend ``request.param`` names (``emulator`` or ``real``)."""
    fixture = "emulated" if request.param == "emulator" else "real_cluster"
    chosen: ClusterUser = request.getfixturevalue(fixture)
    return chosen
