"""Run the emulated cluster in a background thread and reach it like a user would.

A test gets a :class:`Cluster`: the API server (kmock plus our fidelity layer) and the test
kubelet on their own event loop, a kubeconfig pointing at them, the real ``kubectl`` client,
and the operator as a real process (``autopack operator``) that the test can stop and start.
What a test does with it (:class:`ClusterUser`) is shared with the real control plane's
harness (``tests/controlplane/harness.py``), so scenarios run on either.
"""

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import kmock
import yaml

from tests.cluster import pods
from tests.cluster.emulator import FidelityEmulator
from tests.cluster.kubelet import Kubelet

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
AUTOPACK = str(Path(sys.executable).with_name("autopack"))
# The machine's kubectl, else the one scripts/install-kubectl.sh puts in .tools/bin.
KUBECTL = shutil.which("kubectl") or str(REPO / ".tools" / "bin" / "kubectl")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_kubeconfig(path: Path, port: int) -> Path:
    """A kubeconfig for the emulator (a dummy token: it does not authenticate)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "emulated", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "tester", "user": {"token": "emulated-cluster-token"}}],
        "contexts": [
            {
                "name": "emulated",
                "context": {"cluster": "emulated", "user": "tester", "namespace": "default"},
            }
        ],
        "current-context": "emulated",
    }
    path.write_text(yaml.safe_dump(config))
    return path


class ClusterUser:
    """What a test does with a cluster, whichever backend serves it.

    The operator as a real process (``autopack operator``) that the test can stop and start,
    the real ``kubectl``, and waiting on what a user would read. Subclasses say where the API
    is (``kubeconfig``), which credentials the operator uses and which namespace it watches.
    """

    workdir: Path
    kubeconfig: Path
    kubelet: pods.LocalKubelet
    namespace: str = "default"
    backend: str = "emulator"

    def _setup_user(self, workdir: Path) -> None:
        self.workdir = workdir
        self.operator: subprocess.Popen[bytes] | None = None
        self.operator_log = workdir / "operator.log"
        self.metrics_port = free_port()
        self.liveness = ""

    def call(self, function: Callable[[], T]) -> T:
        """Run ``function`` where the kubelet's state lives and return its result."""
        return function()

    # ----- the operator ----------------------------------------------------------------------
    def _operator_kubeconfig(self) -> Path:
        return self.kubeconfig

    def _operator_arguments(self) -> list[str]:
        return []

    def start_operator(self, *, verbose: bool = True, **settings: str) -> None:
        """Start ``autopack operator`` against the cluster (settings: AUTOPACK_OPERATOR_*)."""
        env = {
            **os.environ,
            "KUBECONFIG": str(self._operator_kubeconfig()),
            "AUTOPACK_OPERATOR_RECONCILE_INTERVAL_SECONDS": "0.5",
            "AUTOPACK_OPERATOR_METRICS_PORT": str(self.metrics_port),
            "AUTOPACK_OPERATOR_RUNNER_IMAGE": "autopack/runner:dev",
            **{f"AUTOPACK_OPERATOR_{k.upper()}": v for k, v in settings.items()},
        }
        env.pop("AUTOPACK_DATABASE_URL", None)
        liveness = f"http://127.0.0.1:{free_port()}/healthz"
        command = [AUTOPACK, "operator", "--liveness", liveness, *self._operator_arguments()]
        with self.operator_log.open("ab") as log:
            self.operator = subprocess.Popen(
                [*command, *(["--verbose"] if verbose else [])],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.liveness = liveness

    def stop_operator(self, *, kill: bool = False) -> None:
        """Stop the operator process (SIGKILL with ``kill``, as a crash would)."""
        if self.operator is None or self.operator.poll() is not None:
            return
        os.killpg(self.operator.pid, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.operator.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.operator.pid, signal.SIGKILL)
            self.operator.wait(10)

    # ----- users' tools ----------------------------------------------------------------------
    def _kubectl_arguments(self, args: tuple[str, ...]) -> list[str]:
        return list(args)

    def kubectl(self, *args: str, check: bool = True, input: str | None = None) -> str:
        """Run the real ``kubectl`` against the cluster; return its standard output."""
        result = subprocess.run(
            [KUBECTL, "--kubeconfig", str(self.kubeconfig), *self._kubectl_arguments(args)],
            capture_output=True,
            text=True,
            input=input,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
            )
        return result.stdout if check else result.stdout + result.stderr

    def get(self, plural: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        """``kubectl get -o json`` of one object (in the cluster's namespace by default)."""
        found = self.kubectl("get", plural, name, "-n", namespace or self.namespace, "-o", "json")
        return dict(json.loads(found))

    def wait_for(self, what: str, predicate: Callable[[], bool], *, timeout: float = 300.0) -> None:
        """Poll ``predicate`` until it holds; fail with the operator's log tail otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(AssertionError, KeyError, OSError):
                if predicate():
                    return
            time.sleep(0.25)
        tail = (
            self.operator_log.read_text(errors="replace")[-6000:]
            if self.operator_log.exists()
            else ""
        )
        raise AssertionError(f"timed out waiting for {what}; operator log tail:\n{tail}")

    def run_status(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        """The run's status (empty if it has none yet)."""
        status: dict[str, Any] = self.get("autopackrun", name, namespace).get("status") or {}
        return status


class Cluster(ClusterUser):
    """The emulated cluster, its kubelet, kubectl and the operator process."""

    kubelet: Kubelet

    def __init__(
        self,
        workdir: Path,
        *,
        runner_env: dict[str, str] | None = None,
        runner_command: list[str] | None = None,
    ) -> None:
        self._setup_user(workdir)
        self.port = free_port()
        self.kubeconfig = write_kubeconfig(workdir / "kubeconfig", self.port)
        self.loop = asyncio.new_event_loop()
        self.api = FidelityEmulator()
        self.kubelet = Kubelet(
            self.api,
            workdir=workdir / "nodes",
            kubeconfig=self.kubeconfig,
            extra_env=runner_env,
            command=runner_command,
        )
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._serve, name="emulated-cluster", daemon=True)

    # ----- life cycle ----------------------------------------------------------------------
    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with kmock.Server(self.api, port=self.port):
            self.kubelet.start()
            self._ready.set()
            await self._stop.wait()
            await self.kubelet.stop()

    def start(self) -> "Cluster":
        """Start the API server and the kubelet; return when they answer."""
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the emulated cluster did not start within 30 s")
        return self

    def stop(self) -> None:
        """Stop the operator, the kubelet's pods and the API server."""
        self.stop_operator()
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        if not self._thread.is_alive():
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def call(self, function: Callable[[], T]) -> T:
        """Run ``function`` on the cluster's loop (where the store lives) and return its result."""
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(function())
            except Exception as exc:
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return future.result(30)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the cluster's loop."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(60)


@contextlib.contextmanager
def emulated_cluster(workdir: Path, **kwargs: Any) -> Iterator[Cluster]:
    """An emulated cluster for the duration of a ``with`` block."""
    workdir.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(workdir, **kwargs).start()
    try:
        yield cluster
    finally:
        cluster.stop()
