"""A pod's container run as a local process: what the emulated and the real-cluster kubelets share.

Both test kubelets turn a pod into a process on this machine the same way: the container's
command (or a stand-in), its environment with Secret and ConfigMap references resolved and
``fieldRef`` for the pod's name and namespace, every mounted volume mapped to a private
directory (Secret and ConfigMap volumes filled), and on exit the pod status a kubelet writes
(exit code, reason, termination message of at most 4096 bytes read from the termination log).
A container whose environment refers to a Secret, ConfigMap or key that does not exist is not
started, as a real kubelet does not start it (:func:`config_error`). Where the objects come
from differs (the emulator's store, or the real API), hence :class:`ObjectSource`.
"""

import base64
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

TERMINATION_MESSAGE_LIMIT = 4096
BIN = Path(sys.executable).parent


class ObjectSource(Protocol):
    """Reads the Secrets and ConfigMaps a pod refers to (None when missing)."""

    def secret(self, namespace: str, name: str) -> dict[str, str] | None:
        """The decoded data of Secret ``namespace/name``."""
        ...

    def config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        """The data of ConfigMap ``namespace/name``."""
        ...


class LocalKubelet(Protocol):
    """What tests ask of either test kubelet."""

    @property
    def pods(self) -> Mapping[tuple[str, str], Any]:
        """The running pods, by (namespace, name)."""
        ...

    def evict(self, namespace: str, pod_name: str) -> None:
        """Evict a pod as node pressure does: its process dies and the pod says Evicted."""
        ...


@dataclass(frozen=True)
class LocalContainer:
    """How to start one container as a local process."""

    name: str
    command: list[str]
    cwd: str
    env: dict[str, str]


CREATE_CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"


def config_error(source: ObjectSource, *, namespace: str, container: dict[str, Any]) -> str | None:
    """Why a kubelet would not create ``container`` (None: it would), in the kubelet's words.

    What the real kubelet's ``makeEnvironmentVariables`` (pkg/kubelet/kubelet_pods.go) checks
    before it creates a container: ``envFrom`` first, then ``env``; a Secret or ConfigMap that
    does not exist, or a key it lacks, unless the reference says ``optional: true``. The kubelet
    then leaves the container waiting with reason ``CreateContainerConfigError`` and exactly this
    message, keeps the pod Pending and tries again on the pod's next sync. (Secret volumes fail
    differently, in the volume manager: not reproduced here.)
    """
    kinds = {
        "secret": ("secret", source.secret, "Secret"),
        "configMap": ("configmap", source.config_map, "ConfigMap"),
    }

    def found(kind: str, name: str) -> dict[str, str] | None:
        return kinds[kind][1](namespace, name)

    for reference in container.get("envFrom") or []:
        for kind in kinds:
            ref = reference.get(f"{kind}Ref")
            if ref is not None and not ref.get("optional") and found(kind, ref["name"]) is None:
                return f'{kinds[kind][0]} "{ref["name"]}" not found'
    for variable in container.get("env") or []:
        value_from = variable.get("valueFrom") or {}
        for kind in kinds:
            ref = value_from.get(f"{kind}KeyRef")
            if ref is None or ref.get("optional"):
                continue
            data = found(kind, ref["name"])
            if data is None:
                return f'{kinds[kind][0]} "{ref["name"]}" not found'
            if ref["key"] not in data:
                return (
                    f"couldn't find key {ref['key']} in {kinds[kind][2]} {namespace}/{ref['name']}"
                )
    return None


def waiting_status(
    *, container: dict[str, Any], reason: str, message: str, now: str, init: bool = False
) -> dict[str, Any]:
    """The pod status a kubelet writes while ``container`` waits for ``reason``: still Pending.

    ``init``: it is an init container (a native sidecar), listed in ``initContainerStatuses``.
    """
    name = container["name"]
    initialized = "False" if init else "True"
    return {
        "phase": "Pending",
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
            {"type": "Initialized", "status": initialized, "lastTransitionTime": now},
            {
                "type": "ContainersReady",
                "status": "False",
                "reason": "ContainersNotReady",
                "message": f"containers with unready status: [{name}]",
                "lastTransitionTime": now,
            },
            {
                "type": "Ready",
                "status": "False",
                "reason": "ContainersNotReady",
                "message": f"containers with unready status: [{name}]",
                "lastTransitionTime": now,
            },
        ],
        "initContainerStatuses" if init else "containerStatuses": [
            {
                "name": name,
                "image": container.get("image", ""),
                "imageID": "",
                "lastState": {},
                "ready": False,
                "restartCount": 0,
                "started": False,
                "state": {"waiting": {"reason": reason, "message": message}},
            }
        ],
    }


def blocked_container(
    source: ObjectSource, *, namespace: str, pod_spec: dict[str, Any]
) -> tuple[dict[str, Any], str] | None:
    """The first container a kubelet would not create and why (native sidecars start first)."""
    for container in [*sidecars(pod_spec), *pod_spec["containers"]]:
        message = config_error(source, namespace=namespace, container=container)
        if message is not None:
            return container, message
    return None


def failed_event(
    pod: dict[str, Any], *, container: str, message: str, node: str, now: str
) -> dict[str, Any]:
    """The Event a kubelet posts when it cannot create ``container``: ``Failed``, ``Error: ...``."""
    meta = pod["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta.get("uid", ""),
            "fieldPath": f"spec.containers{{{container}}}",
        },
        "reason": "Failed",
        "message": f"Error: {message}",
        "type": "Warning",
        "source": {"component": "kubelet", "host": node},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }


def secret_data(secret: dict[str, Any]) -> dict[str, str]:
    """A Secret's values, base64 ``data`` decoded and ``stringData`` merged."""
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    data.update(secret.get("stringData") or {})
    return data


def prepare(
    source: ObjectSource,
    *,
    namespace: str,
    pod_name: str,
    pod_spec: dict[str, Any],
    directory: Path,
    kubeconfig: Path | None,
    extra_env: dict[str, str] | None = None,
    command: list[str] | None = None,
    container: dict[str, Any] | None = None,
) -> LocalContainer:
    """Lay out ``directory`` for one container (default: the first) and say how to start it.

    A container without ``kubeconfig`` gets no credentials for the API server, as a container
    without the service-account token has none.
    """
    container = container if container is not None else pod_spec["containers"][0]
    directory.mkdir(parents=True, exist_ok=True)
    mounts = _volumes(source, namespace, container, pod_spec, directory)
    env = _environment(
        source,
        namespace=namespace,
        pod_name=pod_name,
        container=container,
        mounts=mounts,
        directory=directory,
        kubeconfig=kubeconfig,
    )
    env.update(extra_env or {})
    argv = list(command or [*container.get("command", []), *container.get("args", [])])
    if argv and (BIN / argv[0]).exists():
        argv[0] = str(BIN / argv[0])
    if command is None:  # the container's own arguments name container paths: map them too
        argv = [argv[0], *(_local(arg, mounts) or arg for arg in argv[1:])] if argv else argv
    cwd = _local(container.get("workingDir") or "/", mounts) or str(directory)
    return LocalContainer(name=container["name"], command=argv, cwd=cwd, env=env)


def sidecars(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod's native sidecars: init containers that run beside the main container."""
    return [c for c in pod_spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]


def terminated_status(
    *, code: int, directory: Path, container: str, ended_by: str | None, finished: str
) -> dict[str, Any]:
    """The pod status a kubelet writes when the container exited with ``code``."""
    log = directory / "termination-log"
    message = (
        log.read_bytes()[:TERMINATION_MESSAGE_LIMIT].decode(errors="replace")
        if log.exists()
        else ""
    )
    terminated: dict[str, Any] = {
        "exitCode": code if code >= 0 else 128 - code,
        "reason": "Completed" if code == 0 else "Error",
        "finishedAt": finished,
    }
    if message:
        terminated["message"] = message
    status: dict[str, Any] = {
        "phase": "Succeeded" if code == 0 else "Failed",
        "containerStatuses": [
            {"name": container, "ready": False, "state": {"terminated": terminated}}
        ],
    }
    if ended_by == "Evicted":
        status.update(reason="Evicted", message="The node was low on resource: memory.")
    return status


def _environment(
    source: ObjectSource,
    *,
    namespace: str,
    pod_name: str,
    container: dict[str, Any],
    mounts: dict[str, Path],
    directory: Path,
    kubeconfig: Path | None,
) -> dict[str, str]:
    env: dict[str, str] = {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "AUTOPACK_TERMINATION_LOG": str(directory / "termination-log"),
        "LANG": "C.UTF-8",
    }
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    for reference in container.get("envFrom") or []:
        if "secretRef" in reference:
            env.update(source.secret(namespace, reference["secretRef"]["name"]) or {})
    for variable in container.get("env") or []:
        if "value" in variable:
            env[variable["name"]] = _local(variable["value"], mounts) or variable["value"]
            continue
        value_from = variable.get("valueFrom") or {}
        if "secretKeyRef" in value_from:
            ref = value_from["secretKeyRef"]
            secret_value = (source.secret(namespace, ref["name"]) or {}).get(ref["key"])
            if secret_value is not None:
                env[variable["name"]] = secret_value
        elif value_from.get("fieldRef", {}).get("fieldPath") == "metadata.name":
            env[variable["name"]] = pod_name
        elif value_from.get("fieldRef", {}).get("fieldPath") == "metadata.namespace":
            env[variable["name"]] = namespace
    return env


def _volumes(
    source: ObjectSource,
    namespace: str,
    container: dict[str, Any],
    pod_spec: dict[str, Any],
    directory: Path,
) -> dict[str, Path]:
    """Give every mounted volume a private directory; fill Secret and ConfigMap ones."""
    mounts: dict[str, Path] = {}
    volumes = {v["name"]: v for v in pod_spec.get("volumes") or []}
    for mount in container.get("volumeMounts") or []:
        local = directory / "volumes" / mount["name"]
        local.mkdir(parents=True, exist_ok=True)
        volume = volumes.get(mount["name"], {})
        if "secret" in volume:
            secret = source.secret(namespace, volume["secret"]["secretName"]) or {}
            for key, value in secret.items():
                (local / key).write_text(value)
        if "configMap" in volume:
            config_map = source.config_map(namespace, volume["configMap"]["name"]) or {}
            for key, value in config_map.items():
                (local / key).write_text(value)
        mounts[mount["mountPath"]] = local
    return mounts


def _local(path: str, mounts: dict[str, Path]) -> str | None:
    """Map a container path under a mount point to its local directory."""
    for mount_path, local in mounts.items():
        if path == mount_path or path.startswith(mount_path.rstrip("/") + "/"):
            return str(local / path[len(mount_path) :].lstrip("/"))
    return None
