"""Start and stop a real Kubernetes control plane for the tests: etcd, kube-apiserver, KCM.

The emulated cluster (``tests/cluster/``) misses what only the real thing does: admission
by the CRD schema, OpenAPI for ``kubectl apply``, RBAC, protobuf (``helm install``), the Job
controller's conditions and the garbage collector. The binaries are built from
``tests/controlplane/go.mod`` by ``scripts/build-controlplane.sh`` into a cache outside the
clone; this module runs them bound to 127.0.0.1 on free ports with fresh certificates, RBAC on,
service-account token signing, and an admin kubeconfig, and stops them by PID.

There is no scheduler and no kubelet: pods stay Pending until something binds them
(``pods/binding``) and writes ``pods/status``.
"""

import base64
import contextlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from tests.controlplane.client import ApiClient

if TYPE_CHECKING:
    from tests.controlplane.certificates import Pki


REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "scripts" / "build-controlplane.sh"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/24"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
# Writes only, at Metadata level: what the scale benchmark counts per writer.
AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "Metadata", "verbs": ["create", "update", "patch", "delete", "deletecollection"]},
        {"level": "None"},
    ],
}


class ControlPlaneError(RuntimeError):
    """The control plane could not be found, started or reached."""


@dataclass(frozen=True)
class Binaries:
    """The three executables of the control plane."""

    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path

    @classmethod
    def in_directory(cls, directory: Path) -> "Binaries":
        """The binaries in ``directory`` (as the build script lays them out)."""
        return cls(
            etcd=directory / "etcd",
            kube_apiserver=directory / "kube-apiserver",
            kube_controller_manager=directory / "kube-controller-manager",
        )

    def missing(self) -> list[Path]:
        """Executables that are not there."""
        paths = [self.etcd, self.kube_apiserver, self.kube_controller_manager]
        return [path for path in paths if not os.access(path, os.X_OK)]


def locate_binaries() -> Binaries:
    """Where the built binaries are: ``AUTOPACK_CONTROLPLANE_BIN``, else the build cache."""
    override = os.environ.get("AUTOPACK_CONTROLPLANE_BIN")
    if override:
        return Binaries.in_directory(Path(override))
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT), "--bin-dir"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return Binaries.in_directory(Path(result.stdout.strip()))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _dying_with_parent(command: list[str]) -> list[str]:
    """``command`` set to be killed when the test process dies, even by SIGKILL.

    Without it a killed pytest (a CI timeout, a second ^C) leaves the API server, etcd and the
    controller manager running. SIGKILL, not SIGTERM: all three would get it at once, and an API
    server whose etcd went first hangs in its graceful shutdown; the data is thrown away anyway.
    util-linux's ``setpriv`` sets the signal and execs the command (no ``preexec_fn``, which is
    unsafe in a process with threads).
    """
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--", *command] if setpriv else command


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(
    path: Path,
    *,
    server: str,
    ca_cert: Path,
    user: dict[str, str],
    namespace: str = "default",
) -> Path:
    """Write a kubeconfig for ``server`` with the given user credentials."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "autopack-test",
                "cluster": {"server": server, "certificate-authority-data": _b64(ca_cert)},
            }
        ],
        "users": [{"name": "autopack-test-user", "user": user}],
        "contexts": [
            {
                "name": "autopack-test",
                "context": {
                    "cluster": "autopack-test",
                    "user": "autopack-test-user",
                    "namespace": namespace,
                },
            }
        ],
        "current-context": "autopack-test",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


class ControlPlane:
    """etcd + kube-apiserver + kube-controller-manager as local processes."""

    def __init__(
        self,
        workdir: Path,
        binaries: Binaries,
        *,
        audit: bool = False,
        controllers: str = "*",
        ready_timeout: float = 300.0,
    ) -> None:
        self.workdir = workdir
        self.binaries = binaries
        self.audit = audit
        self.controllers = controllers
        self.ready_timeout = ready_timeout
        self.etcd_port = free_port()
        self.etcd_peer_port = free_port()
        self.port = free_port()
        self.controller_manager_port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.kubeconfig = workdir / "admin.kubeconfig"
        self.audit_log = workdir / "audit.log"
        self.logs = workdir / "logs"
        self.pki: Pki | None = None
        self._processes: dict[str, subprocess.Popen[bytes]] = {}

    # ----- life cycle --------------------------------------------------------------------------
    def start(self) -> "ControlPlane":
        """Start the three processes; return once the API is ready and the controllers work."""
        missing = self.binaries.missing()
        if missing:
            raise ControlPlaneError(
                f"control-plane binaries missing: {', '.join(map(str, missing))}; "
                f"build them with scripts/build-controlplane.sh"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        # Imported here: `cryptography` is a development dependency that only this needs.
        from tests.controlplane.certificates import generate_pki  # noqa: PLC0415

        self.pki = pki = generate_pki(self.workdir / "pki")
        write_kubeconfig(
            self.kubeconfig,
            server=self.url,
            ca_cert=pki.ca_cert,
            user={
                "client-certificate-data": _b64(pki.admin_cert),
                "client-key-data": _b64(pki.admin_key),
            },
        )
        try:
            self._spawn("etcd", self._etcd_command())
            self._spawn("kube-apiserver", self._apiserver_command(pki))
            self._wait("the API server to be ready (/readyz)", self._api_ready)
            self._spawn("kube-controller-manager", self._controller_manager_command(pki))
            # The service-account controller makes `default` in every namespace; pods need it,
            # and its appearance shows the controller manager is up and talking to the API.
            self._wait(
                "the controller manager (ServiceAccount default/default)",
                lambda: self._exists("/api/v1/namespaces/default/serviceaccounts/default"),
            )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the controller manager, the API server and etcd, in that order, by PID."""
        for name in ["kube-controller-manager", "kube-apiserver", "etcd"]:
            process = self._processes.pop(name, None)
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(30)

    def __enter__(self) -> "ControlPlane":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ----- commands ----------------------------------------------------------------------------
    def _etcd_command(self) -> list[str]:
        return [
            str(self.binaries.etcd),
            f"--data-dir={self.workdir / 'etcd'}",
            f"--client-url=http://127.0.0.1:{self.etcd_port}",
            f"--peer-url=http://127.0.0.1:{self.etcd_peer_port}",
        ]

    def _apiserver_command(self, pki: "Pki") -> list[str]:
        command = [
            str(self.binaries.kube_apiserver),
            f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.port}",
            f"--cert-dir={self.workdir / 'apiserver-certs'}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca_cert}",
            "--authorization-mode=RBAC",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={pki.service_account_public_key}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            # No endpoints for the `kubernetes` Service: nothing in the cluster dials it, and the
            # reconciler would want a routable address.
            "--endpoint-reconciler-type=none",
            "--allow-privileged=true",
            "--profiling=false",
        ]
        if self.audit:
            policy = self.workdir / "audit-policy.yaml"
            policy.write_text(yaml.safe_dump(AUDIT_POLICY))
            command += [
                f"--audit-policy-file={policy}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-format=json",
                "--audit-log-maxsize=0",
            ]
        return command

    def _controller_manager_command(self, pki: "Pki") -> list[str]:
        return [
            str(self.binaries.kube_controller_manager),
            f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}",
            f"--authorization-kubeconfig={self.kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={self.controller_manager_port}",
            "--leader-elect=false",
            # Each controller acts as its own ServiceAccount, as in a real cluster (and so the
            # audit log tells the Job controller's writes from the garbage collector's).
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki.service_account_key}",
            f"--root-ca-file={pki.ca_cert}",
            f"--cluster-signing-cert-file={pki.ca_cert}",
            f"--cluster-signing-key-file={pki.ca_key}",
            f"--controllers={self.controllers}",
            f"--cert-dir={self.workdir / 'controller-manager-certs'}",
            "--profiling=false",
        ]

    def _spawn(self, name: str, command: list[str]) -> None:
        with (self.logs / f"{name}.log").open("ab") as log:
            self._processes[name] = subprocess.Popen(
                _dying_with_parent(command),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    # ----- readiness ---------------------------------------------------------------------------
    def _ssl_context(self) -> ssl.SSLContext:
        assert self.pki is not None
        context = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        context.load_cert_chain(str(self.pki.admin_cert), str(self.pki.admin_key))
        return context

    def client(self) -> ApiClient:
        """A JSON client of the API as the admin (for test machinery such as the kubelet)."""
        return ApiClient(host="127.0.0.1", port=self.port, context=self._ssl_context())

    def request(self, path: str) -> Any:
        """GET ``path`` as the admin; return the decoded JSON (raises on HTTP errors)."""
        with urllib.request.urlopen(  # noqa: S310 - our own https URL
            self.url + path, context=self._ssl_context(), timeout=30
        ) as response:
            body = response.read()
        return json.loads(body) if body.strip().startswith(b"{") else body.decode()

    def _api_ready(self) -> bool:
        return bool(self.request("/readyz") == "ok")

    def _exists(self, path: str) -> bool:
        try:
            self.request(path)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return False
            raise
        return True

    def _wait(self, what: str, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.ready_timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            for name, process in self._processes.items():
                if process.poll() is not None:
                    raise ControlPlaneError(
                        f"{name} exited with {process.returncode} while waiting for {what}:\n"
                        f"{self.log_tail(name)}"
                    )
            try:
                if ready():
                    return
            except (OSError, urllib.error.URLError, ValueError) as error:
                last_error = str(error)
            time.sleep(0.5)
        raise ControlPlaneError(
            f"timed out after {self.ready_timeout:.0f} s waiting for {what} ({last_error});\n"
            + "\n".join(f"--- {name}:\n{self.log_tail(name)}" for name in self._processes)
        )

    def log_tail(self, name: str, size: int = 4000) -> str:
        """The end of one component's log."""
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-size:] if path.exists() else ""

    # ----- clients -----------------------------------------------------------------------------
    def token_kubeconfig(self, path: Path, *, token: str, namespace: str = "default") -> Path:
        """A kubeconfig that authenticates with a bearer token (e.g. a ServiceAccount's)."""
        assert self.pki is not None
        return write_kubeconfig(
            path,
            server=self.url,
            ca_cert=self.pki.ca_cert,
            user={"token": token},
            namespace=namespace,
        )


@contextlib.contextmanager
def running_control_plane(workdir: Path, **options: Any) -> Iterator[ControlPlane]:
    """A started control plane for the duration of a ``with`` block."""
    plane = ControlPlane(workdir, locate_binaries(), **options)
    with plane:
        yield plane
