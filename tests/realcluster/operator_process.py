"""The operator as a local process that authenticates as the chart's operator ServiceAccount.

In a cluster the chart's Deployment runs ``autopack operator`` with that ServiceAccount's token
and the environment the chart renders. Here the same command runs out of cluster with a token
from ``kubectl create token`` and the environment read back from the installed Deployment, so
a permission the chart's ClusterRole lacks fails the tests as it would fail in production.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.controlplane.server import ControlPlane, free_port
from tests.controlplane.tools import Tool

AUTOPACK = str(Path(sys.executable).with_name("autopack"))


def chart_operator_environment(kubectl: Tool, *, namespace: str, deployment: str) -> dict[str, str]:
    """The literal ``env`` of the chart's operator container (references left out)."""
    rendered = json.loads(kubectl("get", "deployment", deployment, "-n", namespace, "-o", "json"))
    container = rendered["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item["value"] for item in container.get("env", []) if "value" in item}


class OperatorProcess:
    """``autopack operator`` started with a ServiceAccount's kubeconfig; stopped by PID."""

    def __init__(self, workdir: Path, *, kubeconfig: Path, environment: dict[str, str]) -> None:
        self.workdir = workdir
        self.kubeconfig = kubeconfig
        self.environment = environment
        self.log = workdir / "operator.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "OperatorProcess":
        """Start the operator with the chart's settings, its metrics on a free local port."""
        env = {
            **os.environ,
            **self.environment,
            "KUBECONFIG": str(self.kubeconfig),
            "HOME": str(self.workdir),
            "AUTOPACK_OPERATOR_METRICS_PORT": str(free_port()),
        }
        env.pop("AUTOPACK_DATABASE_URL", None)
        liveness = f"http://127.0.0.1:{free_port()}/healthz"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [AUTOPACK, "operator", "--liveness", liveness, "--verbose"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def stop(self) -> None:
        """SIGTERM the operator's process group, then SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def log_text(self) -> str:
        """Everything the operator logged so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for(self, what: str, predicate: Callable[[], bool], *, timeout: float = 120.0) -> None:
        """Poll ``predicate`` until it holds; fail with the operator's log tail otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(
                    f"the operator exited {self.process.returncode} while waiting for {what}:\n"
                    f"{self.log_text()[-6000:]}"
                )
            with contextlib.suppress(AssertionError, KeyError, ValueError):
                if predicate():
                    return
            time.sleep(0.5)
        raise AssertionError(
            f"timed out after {timeout:.0f} s waiting for {what}; operator log tail:\n"
            f"{self.log_text()[-6000:]}"
        )


def service_account_kubeconfig(
    control_plane: ControlPlane, kubectl: Tool, path: Path, *, namespace: str, name: str
) -> Path:
    """A kubeconfig holding a fresh token of ServiceAccount ``namespace/name``."""
    token = kubectl("create", "token", name, "-n", namespace, "--duration=2h").strip()
    return control_plane.token_kubeconfig(path, token=token, namespace=namespace)
