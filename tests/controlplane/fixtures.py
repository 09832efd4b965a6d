"""Pytest fixtures of the real control plane, shared by every test directory (a pytest plugin).

``tests/conftest.py`` loads this module, so any test can ask for:

- ``control_plane``: etcd + kube-apiserver + kube-controller-manager for the session
  (``.kubeconfig`` is an admin kubeconfig, ``.url``, ``.audit_log``, ``.client()``);
- ``kubectl`` / ``helm``: the real clients bound to that admin kubeconfig;
- ``crds``: the committed CRDs applied (with validation) and established;
- ``release``: ``helm install autopack charts/autopack`` in ``autopack-system``;
- ``runner_namespace``: a fresh namespace holding the chart's runner ServiceAccount and RBAC.

All of them skip when the binaries are not built (see ``tests/controlplane/session.py``).
"""

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.controlplane import session
from tests.controlplane.server import ControlPlane
from tests.controlplane.tools import Tool, find_tool

REPO = Path(__file__).resolve().parents[2]
CRDS = REPO / "crds"
CHART = REPO / "charts" / "autopack"
RELEASE_NAME = "autopack"
RELEASE_NAMESPACE = "autopack-system"


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A real etcd + kube-apiserver + kube-controller-manager shared by the session."""
    yield from session.control_plane_for_session(tmp_path_factory.mktemp("controlplane"))


def _tool(name: str, control_plane: ControlPlane, home: Path, install: str) -> Tool:
    executable = find_tool(name)
    if executable is None:
        pytest.skip(f"{name} is not installed: run {install}")
    return Tool(executable, control_plane.kubeconfig, home=home)


@pytest.fixture(scope="session")
def kubectl(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Tool:
    """The real kubectl as the cluster admin."""
    home = tmp_path_factory.mktemp("kubectl-home")
    return _tool("kubectl", control_plane, home, "scripts/install-kubectl.sh")


@pytest.fixture(scope="session")
def helm(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Tool:
    """Helm 3 as the cluster admin."""
    home = tmp_path_factory.mktemp("helm-home")
    return _tool("helm", control_plane, home, "scripts/install-helm.sh")


@pytest.fixture(scope="session")
def crds(kubectl: Tool) -> list[str]:
    """The committed CRDs, applied with kubectl's validation and established."""
    kubectl("apply", "-f", str(CRDS))
    names = [
        f"crd/{yaml.safe_load(path.read_text())['metadata']['name']}"
        for path in sorted(CRDS.glob("*.yaml"))
    ]
    kubectl("wait", "--for=condition=Established", "--timeout=120s", *names)
    return names


@dataclass(frozen=True)
class Release:
    """The chart as Helm installed it."""

    name: str
    namespace: str
    fullname: str

    @property
    def operator_service_account(self) -> str:
        """The operator's ServiceAccount (and Deployment) name."""
        return f"{self.fullname}-operator"


@pytest.fixture(scope="session")
def release(helm: Tool, crds: list[str]) -> Iterator[Release]:
    """``helm install autopack charts/autopack`` into namespace ``autopack-system``."""
    helm(
        "install", RELEASE_NAME, str(CHART), "--namespace", RELEASE_NAMESPACE, "--create-namespace"
    )
    yield Release(name=RELEASE_NAME, namespace=RELEASE_NAMESPACE, fullname=RELEASE_NAME)
    helm("uninstall", RELEASE_NAME, "--namespace", RELEASE_NAMESPACE, "--wait=false")


def runner_rbac(helm: Tool, namespace: str) -> str:
    """The chart's runner ServiceAccount, Role and RoleBinding for ``namespace``, rendered."""
    rendered = helm(
        "template",
        RELEASE_NAME,
        str(CHART),
        "--namespace",
        RELEASE_NAMESPACE,
        "--set",
        f"runner.namespaces={{{namespace}}}",
        "--show-only",
        "templates/rbac.yaml",
    )
    documents = [doc for doc in yaml.safe_load_all(rendered) if doc]
    chosen = [
        doc
        for doc in documents
        if doc.get("metadata", {}).get("namespace") == namespace
        and doc["kind"] in ("ServiceAccount", "Role", "RoleBinding")
    ]
    return yaml.safe_dump_all(chosen)


@pytest.fixture
def runner_namespace(kubectl: Tool, helm: Tool, crds: list[str]) -> Iterator[str]:
    """A fresh namespace with the chart's runner RBAC; deleted (without waiting) afterwards."""
    name = f"test-{secrets.token_hex(4)}"
    kubectl("create", "namespace", name)
    kubectl("apply", "-f", "-", input=runner_rbac(helm, name))
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


# ----- which scenarios ran where -------------------------------------------------------------
_BACKEND_OUTCOMES: dict[str, dict[str, int]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Count outcomes of the operator tests by cluster backend.

    A test of ``tests/operator/`` ran on the real control plane when it carries the
    ``controlplane`` mark (or a ``[real]`` id), else on the emulator.
    """
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    if not report.nodeid.startswith("tests/operator/"):
        return
    real = "controlplane" in report.keywords or "[real]" in report.nodeid
    outcomes = _BACKEND_OUTCOMES.setdefault("real" if real else "emulator", {})
    outcomes[report.outcome] = outcomes.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many operator tests ran on the real control plane and on the emulator."""
    if not _BACKEND_OUTCOMES:
        return
    names = {"real": "real control plane", "emulator": "emulated cluster"}
    terminalreporter.section("operator tests by cluster backend")
    for backend, outcomes in sorted(_BACKEND_OUTCOMES.items()):
        counted = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
        terminalreporter.write_line(f"{names[backend]}: {counted}")
