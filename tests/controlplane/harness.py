"""The operator scenarios' cluster on the real control plane.

:class:`RealCluster` offers what :class:`tests.cluster.harness.Cluster` offers the scenarios
(kubectl, the operator process, the kubelet's pods), backed by the real kube-apiserver and
kube-controller-manager. Each test gets its own namespace with the chart's runner RBAC; the
operator runs out of cluster as the chart's operator ServiceAccount (a token from
``kubectl create token``) watching that namespace, so every permission it uses is checked; the
runner pods authenticate as the chart's runner ServiceAccount (see ``kubelet.py``).
"""

import base64
from pathlib import Path

from tests.cluster.harness import ClusterUser
from tests.controlplane.kubelet import NodeKubelet
from tests.controlplane.server import ControlPlane, write_kubeconfig
from tests.controlplane.tools import Tool


class RealCluster(ClusterUser):
    """One namespace of the real control plane, its test kubelet and the operator process."""

    backend = "real"
    kubelet: NodeKubelet

    def __init__(
        self,
        workdir: Path,
        *,
        control_plane: ControlPlane,
        kubectl: Tool,
        namespace: str,
        operator_service_account: tuple[str, str],
        runner_env: dict[str, str] | None = None,
        runner_command: list[str] | None = None,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self._setup_user(workdir)
        self.control_plane = control_plane
        self.namespace = namespace
        assert control_plane.pki is not None
        pki = control_plane.pki
        self.kubeconfig = write_kubeconfig(
            workdir / "kubeconfig",
            server=control_plane.url,
            ca_cert=pki.ca_cert,
            user={
                "client-certificate-data": base64.b64encode(pki.admin_cert.read_bytes()).decode(),
                "client-key-data": base64.b64encode(pki.admin_key.read_bytes()).decode(),
            },
            namespace=namespace,
        )
        sa_namespace, sa_name = operator_service_account
        token = kubectl("create", "token", sa_name, "-n", sa_namespace, "--duration=2h").strip()
        self.operator_kubeconfig = control_plane.token_kubeconfig(
            workdir / "operator.kubeconfig", token=token, namespace=namespace
        )
        self.kubelet = NodeKubelet(
            control_plane=control_plane,
            namespace=namespace,
            workdir=workdir / "nodes",
            extra_env=runner_env,
            command=runner_command,
        )

    def start(self) -> "RealCluster":
        """Start the kubelet (the control plane is already up)."""
        self.kubelet.start()
        return self

    def stop(self) -> None:
        """Stop the operator and the kubelet's pods."""
        self.stop_operator()
        self.kubelet.stop()

    def _operator_kubeconfig(self) -> Path:
        return self.operator_kubeconfig

    def _operator_arguments(self) -> list[str]:
        return [f"--namespace={self.namespace}"]

    def _kubectl_arguments(self, args: tuple[str, ...]) -> list[str]:
        # The emulator serves no OpenAPI, so scenarios pass --validate=false; the real server
        # does, and applies here are validated as a user's are.
        return [arg for arg in args if arg != "--validate=false"]
