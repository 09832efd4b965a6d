"""Fixtures of the emulated-cluster tests: a cluster, a demo repository, run manifests."""

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.builders.scenario import git
from tests.cluster.harness import Cluster, emulated_cluster

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


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """An emulated cluster holding the demo cassette in ConfigMap ``autopack-cassette``.

    Runs of the ``scripted`` model profile mount it, as in a real cluster.
    """
    with emulated_cluster(tmp_path / "cluster") as emulated:
        config_map = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "autopack-cassette"},
            "data": {"cassette.yaml": CASSETTE.read_text()},
        }
        emulated.kubectl("apply", "--validate=false", "-f", "-", input=json.dumps(config_map))
        yield emulated
