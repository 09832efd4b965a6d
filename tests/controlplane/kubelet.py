"""A test kubelet for the real control plane: the only stand-in left when tests run on it.

The real kube-controller-manager creates the runner Job's pods, tracks their outcome in the Job
status (``FailureTarget``, ``Failed``, ``Complete``, ...), enforces deadlines and collects
garbage. What a node would do is done here, through the API like a kubelet: register a Node
(and renew its Lease, so the node lifecycle controller keeps it Ready), bind the namespace's
pending pods to it (``pods/binding``; there is no scheduler), run each pod's container as a
local process (see ``tests/cluster/pods.py``) authenticated as the pod's ServiceAccount with a
token from the TokenRequest API, write ``pods/status`` as it runs and ends, and on deletion kill
the process and finish the deletion (grace period 0), as a kubelet does.

A pod whose environment refers to a Secret (or ConfigMap, or key) that does not exist is not
started, as the real kubelet does not start it: it stays Pending, its container waiting with
reason ``CreateContainerConfigError`` and the kubelet's own message (``secret "x" not found``,
``couldn't find key k in Secret ns/x``; see ``pods.config_error``), a ``Failed`` event says
``Error: <message>``, and it is tried again every few seconds (the kubelet's pod resync) until
the Secret appears or the pod is deleted. Unlike a real kubelet, its native sidecars do not run
meanwhile (they start with the main container).
"""

import contextlib
import datetime
import os
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.cluster import pods
from tests.controlplane.client import ApiClient, ApiStatusError
from tests.controlplane.server import ControlPlane

NODE_NAME = "autopack-test-node"
LEASE_SECONDS = 40
HEARTBEAT_SECONDS = 10.0
CONFIG_RETRY_SECONDS = 2.0
"""How often a pod the kubelet cannot create a container of is tried again."""


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class PodProcess:
    """One pod whose container runs as a local process."""

    namespace: str
    pod: str
    container: str
    process: subprocess.Popen[bytes]
    directory: Path
    ended_by: str | None = None
    sidecars: list[subprocess.Popen[bytes]] = field(default_factory=list)


@dataclass
class NodeKubelet:
    """Runs the pods of one namespace on a Node it registers with the real API server."""

    control_plane: ControlPlane
    namespace: str
    workdir: Path
    extra_env: dict[str, str] | None = None
    command: list[str] | None = None
    """Run this instead of the container's command (benchmarks use a stand-in runner)."""
    node: str = NODE_NAME
    pods: dict[tuple[str, str], PodProcess] = field(default_factory=dict)
    _api: ApiClient | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _started: set[str] = field(default_factory=set)
    _blocked: dict[str, str] = field(default_factory=dict)
    """Pods not started for a missing Secret or key: name -> the kubelet's message."""
    _threads: list[threading.Thread] = field(default_factory=list)

    # ----- life cycle --------------------------------------------------------------------------
    def start(self) -> "NodeKubelet":
        """Register the node and begin running the namespace's pods."""
        self._api = self.control_plane.client()
        self._register_node()
        for target, name in [
            (self._watch_pods, "pods"),
            (self._heartbeat, "heartbeat"),
            (self._retry_blocked, "config-retry"),
        ]:
            thread = threading.Thread(target=target, name=f"kubelet-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Kill every pod process and stop watching."""
        self._stopping.set()
        with self._lock:
            running = list(self.pods.values())
        for pod in running:
            self._kill(pod, "KubeletStopped")
        self.api.close_watches()
        for thread in self._threads:
            thread.join(30)

    @property
    def api(self) -> ApiClient:
        """The admin client (the kubelet's own identity does not matter to these tests)."""
        assert self._api is not None, "start() the kubelet first"
        return self._api

    # ----- the node ----------------------------------------------------------------------------
    def _register_node(self) -> None:
        with contextlib.suppress(ApiStatusError):
            self.api.request(
                "POST",
                "/api/v1/nodes",
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "metadata": {
                        "name": self.node,
                        "labels": {"kubernetes.io/hostname": self.node},
                    },
                },
            )
        self._node_status()
        with contextlib.suppress(ApiStatusError):
            self.api.request(
                "POST",
                "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {"name": self.node},
                    "spec": {
                        "holderIdentity": self.node,
                        "leaseDurationSeconds": LEASE_SECONDS,
                        "renewTime": _micro_now(),
                    },
                },
            )

    def _node_status(self) -> None:
        now = _now()
        self.api.merge_patch(
            f"/api/v1/nodes/{self.node}/status",
            {
                "status": {
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True",
                            "reason": "KubeletReady",
                            "message": "the autopack test kubelet is posting ready status",
                            "lastHeartbeatTime": now,
                            "lastTransitionTime": now,
                        }
                    ],
                    "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                    "capacity": {"cpu": "2", "memory": "24Gi", "pods": "110"},
                    "allocatable": {"cpu": "2", "memory": "24Gi", "pods": "110"},
                }
            },
        )

    def _heartbeat(self) -> None:
        while not self._stopping.wait(HEARTBEAT_SECONDS):
            with contextlib.suppress(ApiStatusError, OSError):
                self.api.merge_patch(
                    f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.node}",
                    {"spec": {"renewTime": _micro_now(), "holderIdentity": self.node}},
                )

    # ----- watching pods -----------------------------------------------------------------------
    def _watch_pods(self) -> None:
        path = f"/api/v1/namespaces/{self.namespace}/pods"
        while not self._stopping.is_set():
            try:
                listed = self.api.request("GET", path)
                for pod in listed.get("items") or []:
                    self._sync(pod)
                version = listed["metadata"]["resourceVersion"]
                for event in self.api.watch(path, resource_version=version):
                    if self._stopping.is_set():
                        return
                    if event.get("type") == "ERROR":
                        break  # e.g. 410 Gone: list again
                    if event.get("type") in ("ADDED", "MODIFIED"):
                        version = event["object"]["metadata"]["resourceVersion"]
                        self._sync(event["object"])
                    elif event.get("type") == "BOOKMARK":
                        version = event["object"]["metadata"]["resourceVersion"]
            except (ApiStatusError, OSError, KeyError, ValueError):
                if self._stopping.wait(1.0):
                    return

    def _sync(self, pod: dict[str, Any]) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        name = meta["name"]
        with self._lock:
            running = self.pods.get((self.namespace, name))
        if meta.get("deletionTimestamp"):
            with self._lock:
                self._started.add(meta["uid"])  # a retry must not start it any more
                self._blocked.pop(name, None)
            if running is not None:
                self._kill(running, "Deleted")
            elif spec.get("nodeName") == self.node:
                self._finish_deletion(name)
            return
        if not spec.get("nodeName"):
            self._bind(name)
            return
        if spec["nodeName"] != self.node:
            return
        if (pod.get("status") or {}).get("phase", "Pending") != "Pending":
            return
        with self._lock:  # the watch and the retries both get here
            if meta["uid"] in self._started:
                return
            blocked = pods.blocked_container(self, namespace=self.namespace, pod_spec=spec)
            if blocked is None:
                self._started.add(meta["uid"])
                self._blocked.pop(name, None)
        if blocked is not None:
            self._cannot_create(pod, *blocked)
            return
        try:
            self._launch(pod)
        except (ApiStatusError, OSError) as error:
            self._fail_to_start(name, spec["containers"][0]["name"], str(error))

    def _bind(self, name: str) -> None:
        with contextlib.suppress(ApiStatusError):  # 409: bound meanwhile
            self.api.request(
                "POST",
                f"/api/v1/namespaces/{self.namespace}/pods/{name}/binding",
                {
                    "apiVersion": "v1",
                    "kind": "Binding",
                    "metadata": {"name": name},
                    "target": {"apiVersion": "v1", "kind": "Node", "name": self.node},
                },
            )

    # ----- containers that cannot be created ---------------------------------------------------
    def _cannot_create(self, pod: dict[str, Any], container: dict[str, Any], message: str) -> None:
        """Say so as the kubelet does: the pod's status and a ``Failed`` event, once per message."""
        name = pod["metadata"]["name"]
        with self._lock:
            if self._blocked.get(name) == message:
                return
            self._blocked[name] = message
        now = _now()
        status = pods.waiting_status(
            container=container,
            reason=pods.CREATE_CONTAINER_CONFIG_ERROR,
            message=message,
            now=now,
            init=container not in pod["spec"]["containers"],
        )
        with contextlib.suppress(ApiStatusError):
            self._patch_status(name, status)
            event = pods.failed_event(
                pod, container=container["name"], message=message, node=self.node, now=now
            )
            self.api.request("POST", f"/api/v1/namespaces/{self.namespace}/events", event)

    def _retry_blocked(self) -> None:
        """Try the pods not started again, as the kubelet's pod workers resync them."""
        while not self._stopping.wait(CONFIG_RETRY_SECONDS):
            for name in list(self._blocked):
                with contextlib.suppress(ApiStatusError, OSError, KeyError, ValueError):
                    pod = self.api.get(f"/api/v1/namespaces/{self.namespace}/pods/{name}")
                    if pod is None:
                        with self._lock:
                            self._blocked.pop(name, None)
                    else:
                        self._sync(pod)

    # ----- running a pod -----------------------------------------------------------------------
    def _launch(self, pod: dict[str, Any]) -> None:
        meta, spec = pod["metadata"], pod["spec"]
        name = meta["name"]
        directory = self.workdir / self.namespace / name
        directory.mkdir(parents=True, exist_ok=True)
        kubeconfig = self._service_account_kubeconfig(
            directory, spec.get("serviceAccountName") or "default", pod
        )
        started_sidecars = []
        for sidecar in pods.sidecars(spec):
            # Native sidecars start first, without the pod's service-account token.
            side = pods.prepare(
                self,
                namespace=self.namespace,
                pod_name=name,
                pod_spec=spec,
                directory=directory,
                kubeconfig=None,
                container=sidecar,
            )
            # What each container was given, by name only: the scenarios check the split.
            (directory / f"{side.name}.env-names").write_text("\n".join(sorted(side.env)))
            with (directory / f"{side.name}.log").open("ab") as side_log:
                started_sidecars.append(
                    subprocess.Popen(
                        side.command,
                        cwd=side.cwd,
                        env=side.env,
                        stdout=side_log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                )
        local = pods.prepare(
            self,
            namespace=self.namespace,
            pod_name=name,
            pod_spec=spec,
            directory=directory,
            kubeconfig=kubeconfig,
            extra_env=self.extra_env,
            command=self.command,
        )
        (directory / f"{local.name}.env-names").write_text("\n".join(sorted(local.env)))
        with (directory / "container.log").open("ab") as log:
            process = subprocess.Popen(
                local.command,
                cwd=local.cwd,
                env=local.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        running = PodProcess(self.namespace, name, local.name, process, directory)
        running.sidecars = started_sidecars
        with self._lock:
            self.pods[(self.namespace, name)] = running
        started = _now()
        with contextlib.suppress(ApiStatusError):
            self._patch_status(
                name,
                {
                    "phase": "Running",
                    "startTime": started,
                    "hostIP": "127.0.0.1",
                    "conditions": self._conditions(ready=True, now=started),
                    "containerStatuses": [
                        {
                            "name": local.name,
                            "image": spec["containers"][0].get("image", ""),
                            "imageID": "",
                            "restartCount": 0,
                            "ready": True,
                            "started": True,
                            "state": {"running": {"startedAt": started}},
                        }
                    ],
                },
            )
        waiter = threading.Thread(target=self._wait, args=(running, spec), daemon=True)
        waiter.start()

    def _service_account_kubeconfig(
        self, directory: Path, service_account: str, pod: dict[str, Any]
    ) -> Path:
        """A kubeconfig with a token of the pod's ServiceAccount, bound to the pod."""
        answer = self.api.request(
            "POST",
            f"/api/v1/namespaces/{self.namespace}/serviceaccounts/{service_account}/token",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {
                    "expirationSeconds": 3600,
                    "boundObjectRef": {
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "name": pod["metadata"]["name"],
                        "uid": pod["metadata"]["uid"],
                    },
                },
            },
        )
        return self.control_plane.token_kubeconfig(
            directory / "kubeconfig", token=answer["status"]["token"], namespace=self.namespace
        )

    def _wait(self, pod: PodProcess, spec: dict[str, Any]) -> None:
        code = pod.process.wait()
        for sidecar in pod.sidecars:  # the main container ended: its sidecars are stopped
            with contextlib.suppress(ProcessLookupError):
                os.killpg(sidecar.pid, signal.SIGKILL)
            sidecar.wait()
        with self._lock:
            self.pods.pop((pod.namespace, pod.pod), None)
        finished = _now()
        status = pods.terminated_status(
            code=code,
            directory=pod.directory,
            container=pod.container,
            ended_by=pod.ended_by,
            finished=finished,
        )
        status["conditions"] = self._conditions(ready=False, now=finished)
        if pod.ended_by == "Evicted":
            status["conditions"].append(
                {
                    "type": "DisruptionTarget",
                    "status": "True",
                    "reason": "TerminationByKubelet",
                    "message": "The node was low on resource: memory.",
                    "lastTransitionTime": finished,
                }
            )
        image = spec["containers"][0].get("image", "")
        for container_status in status["containerStatuses"]:
            container_status.update(image=image, imageID="", restartCount=0)
        with contextlib.suppress(ApiStatusError):
            self._patch_status(pod.pod, status)
        if pod.ended_by == "Deleted":
            self._finish_deletion(pod.pod)

    def _fail_to_start(self, name: str, container: str, message: str) -> None:
        now = _now()
        with contextlib.suppress(ApiStatusError):
            self._patch_status(
                name,
                {
                    "phase": "Failed",
                    "message": message[:1000],
                    "reason": "TestKubeletError",
                    "conditions": self._conditions(ready=False, now=now),
                    "containerStatuses": [
                        {
                            "name": container,
                            "image": "",
                            "imageID": "",
                            "restartCount": 0,
                            "ready": False,
                            "state": {
                                "terminated": {
                                    "exitCode": 128,
                                    "reason": "StartError",
                                    "finishedAt": now,
                                }
                            },
                        }
                    ],
                },
            )

    def _finish_deletion(self, name: str) -> None:
        """What a kubelet does once the containers are gone: delete with grace period 0."""
        with contextlib.suppress(ApiStatusError):
            self.api.request(
                "DELETE",
                f"/api/v1/namespaces/{self.namespace}/pods/{name}",
                {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0},
            )

    @staticmethod
    def _conditions(*, ready: bool, now: str) -> list[dict[str, str]]:
        value = "True" if ready else "False"
        return [
            {"type": kind, "status": status, "lastTransitionTime": now}
            for kind, status in [
                ("PodScheduled", "True"),
                ("Initialized", "True"),
                ("ContainersReady", value),
                ("Ready", value),
            ]
        ]

    def _patch_status(self, name: str, status: dict[str, Any]) -> None:
        self.api.merge_patch(
            f"/api/v1/namespaces/{self.namespace}/pods/{name}/status", {"status": status}
        )

    def _kill(self, pod: PodProcess, reason: str) -> None:
        if pod.process.poll() is None:
            pod.ended_by = pod.ended_by or reason
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pod.process.pid, signal.SIGKILL)

    def evict(self, namespace: str, pod_name: str) -> None:
        """Evict a pod as node pressure does: its process dies and the pod says Evicted."""
        with self._lock:
            running = self.pods[(namespace, pod_name)]
        self._kill(running, "Evicted")

    # ----- pods.ObjectSource -------------------------------------------------------------------
    def secret(self, namespace: str, name: str) -> dict[str, str] | None:
        """The decoded data of a Secret (None when missing)."""
        found = self.api.get(f"/api/v1/namespaces/{namespace}/secrets/{name}")
        return pods.secret_data(found) if found is not None else None

    def config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        """The data of a ConfigMap (None when missing)."""
        found = self.api.get(f"/api/v1/namespaces/{namespace}/configmaps/{name}")
        return dict(found.get("data") or {}) if found is not None else None
