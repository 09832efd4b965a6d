"""Fixtures of the real-control-plane tests beyond the shared ones (``tests/controlplane/fixtures.py``)."""

import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.controlplane.tools import Tool

REPO = Path(__file__).resolve().parents[2]
DEMO_RUN = REPO / "examples" / "demo" / "run.yaml"


@pytest.fixture
def namespace(kubectl: Tool) -> Iterator[str]:
    """A fresh empty namespace, deleted (without waiting) afterwards."""
    name = f"test-{secrets.token_hex(4)}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


@pytest.fixture
def demo_run() -> Callable[..., dict[str, Any]]:
    """The demo AutopackRun with a name, a namespace and spec overrides."""

    def build(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
        run: dict[str, Any] = yaml.safe_load(DEMO_RUN.read_text())
        run["metadata"] = {"name": name, "namespace": namespace}
        run["spec"]["repo"]["url"] = "https://git.invalid/demo.git"
        run["spec"].update(spec)
        return run

    return build


def as_input(obj: dict[str, Any]) -> str:
    """An object as kubectl's ``-f -`` input."""
    return json.dumps(obj)
