"""Build the runner Job of a run: a pure function from the run and the operator's config.

One Job per launch, named ``<run>-runner-<n>``, isolated (non-root, read-only root
filesystem, no capabilities, RuntimeDefault seccomp, emptyDir workspace), with the run's
deadline and no Job-level retries (the operator owns retries). Kueue mode creates it
suspended with the queue label for Kueue to admit.

The pod has two containers sharing the workspace. ``agent`` holds the run's secrets and the
service-account token (projected into it alone: the pod does not automount one) and talks
to the models, the API server and the git remote. ``sandbox`` (a native sidecar, so it ends
with the agent) runs the repository's commands the agent hands it over a Unix socket on a
shared volume: no secrets, no token, its own UID, a read-only root filesystem.
"""

from dataclasses import dataclass
from typing import Any

from autopack.api import AutopackRun, constants
from autopack.operator.config import OperatorConfig

WORKSPACE = "/workspace"
CONTROL_DIR = "/run/autopack"
SANDBOX_SOCKET = f"{CONTROL_DIR}/sandbox.sock"
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"  # noqa: S105 - a path
GIT_CREDENTIALS_DIR = "/var/run/secrets/autopack/git"
CONFIG_DIR = "/etc/autopack"
CASSETTE_DIR = "/etc/autopack-cassette"
SCRIPTED_PROFILE = "scripted"
RUNNER_UID = 10001
SANDBOX_UID = 10002  # the sandbox container's own user; files are shared through the group


def runner_labels(run_name: str) -> dict[str, str]:
    """Labels on every runner Job and pod of ``run_name``."""
    return {
        constants.LABEL_RUN: run_name,
        constants.LABEL_COMPONENT: "runner",
        constants.LABEL_MANAGED_BY: constants.MANAGED_BY_VALUE,
    }


@dataclass(frozen=True)
class SecretKey:
    """A key of a Secret the operator's settings make every runner read, in the run's namespace.

    Kubernetes resolves it when it starts the pod: a missing Secret or key leaves the pod in
    ``CreateContainerConfigError``, so the operator checks these before it creates the Job.
    """

    secret: str
    key: str
    env: str
    """The runner's variable it fills."""
    purpose: str
    """What the runner needs it for, as people read it in the run's message."""


def runner_secret_keys(config: OperatorConfig) -> list[SecretKey]:
    """The Secret keys every runner pod refers to (per-run credentials are the run's own)."""
    keys = []
    if config.database_secret:
        keys.append(
            SecretKey(
                config.database_secret,
                config.database_secret_key,
                "AUTOPACK_DATABASE_URL",
                "the history database",
            )
        )
    if config.qdrant_url and config.qdrant_api_key_secret:
        keys.append(
            SecretKey(
                config.qdrant_api_key_secret,
                config.qdrant_api_key_key,
                "AUTOPACK_QDRANT_API_KEY",
                "Qdrant's API key",
            )
        )
    return keys


def _secret_env(ref: SecretKey) -> dict[str, Any]:
    return {"name": ref.env, "valueFrom": {"secretKeyRef": {"name": ref.secret, "key": ref.key}}}


def _resources(run: AutopackRun, config: OperatorConfig) -> dict[str, dict[str, str]]:
    requested = run.spec.runner.resources
    requests = {"cpu": config.default_cpu_request, "memory": config.default_memory_request}
    requests.update(requested.requests)
    limits = {"memory": config.default_memory_limit}
    limits.update(requested.limits)
    return {"requests": requests, "limits": limits}


def _env(run: AutopackRun, *, namespace: str, config: OperatorConfig) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "AUTOPACK_RUN", "value": f"{namespace}/{run.name}"},
        {"name": "AUTOPACK_WORKDIR", "value": WORKSPACE},
        {"name": "HOME", "value": f"{WORKSPACE}/.home"},
        {"name": "AUTOPACK_MODEL_PROFILE", "value": run.spec.models.profile},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "AUTOPACK_SANDBOX_SOCKET", "value": SANDBOX_SOCKET},
    ]
    if config.qdrant_url:
        env.append({"name": "AUTOPACK_QDRANT_URL", "value": config.qdrant_url})
    env.extend(_secret_env(ref) for ref in runner_secret_keys(config))
    if run.spec.repo.credentials_secret:
        env.append({"name": "AUTOPACK_GIT_CREDENTIALS_DIR", "value": GIT_CREDENTIALS_DIR})
    if config.config_map:
        env.append({"name": "AUTOPACK_CONFIG_DIR", "value": CONFIG_DIR})
    if run.spec.models.profile == SCRIPTED_PROFILE:
        env.append({"name": "AUTOPACK_CASSETTE", "value": f"{CASSETTE_DIR}/cassette.yaml"})
    return env


def _token_volume() -> dict[str, Any]:
    """The service-account token, CA and namespace, as an automounted token would have them."""
    return {
        "name": "token",
        "projected": {
            "defaultMode": 0o400,
            "sources": [
                {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}},
                {
                    "configMap": {
                        "name": "kube-root-ca.crt",
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}
                        ]
                    }
                },
            ],
        },
    }


def _restricted(*, user: int) -> dict[str, Any]:
    """A container security context that PodSecurity ``restricted`` admits.

    ``user`` runs in the runner's group, with a read-only root, no privilege escalation and no
    capabilities.
    """
    return {
        "runAsNonRoot": True,
        "runAsUser": user,
        "runAsGroup": RUNNER_UID,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _sandbox_container(run: AutopackRun, *, config: OperatorConfig) -> dict[str, Any]:
    """The container that runs the repository's commands: no secret, no token, its own UID."""
    return {
        "name": "sandbox",
        "image": run.spec.runner.image or config.runner_image,
        "imagePullPolicy": config.image_pull_policy,
        # A native sidecar: started before the agent, stopped when the agent has finished.
        "restartPolicy": "Always",
        "command": [
            "python",
            "-m",
            "autopack.sandbox",
            "serve",
            "--socket",
            SANDBOX_SOCKET,
            "--root",
            WORKSPACE,
        ],
        "workingDir": WORKSPACE,
        "env": [{"name": "HOME", "value": f"{CONTROL_DIR}/home"}],
        "resources": _resources(run, config),
        "volumeMounts": [
            {"name": "workspace", "mountPath": WORKSPACE},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - a private emptyDir
            {"name": "control", "mountPath": CONTROL_DIR},
        ],
        "securityContext": _restricted(user=SANDBOX_UID),
    }


def build_runner_job(
    run: AutopackRun,
    *,
    namespace: str,
    launch: int,
    config: OperatorConfig,
    retry: str | None = None,
) -> dict[str, Any]:
    """Return the Job manifest of the ``launch``-th runner of ``run`` (not yet adopted).

    A runner launched for a retry carries the retry token, so a reconcile pass that still sees
    the run without its ``retry-handled`` annotation does not launch a second one.
    """
    name = constants.runner_job_name(run.name, launch)
    labels = runner_labels(run.name)
    queue = run.spec.runner.queue_name or config.default_queue_name
    job_labels = {**labels, constants.LABEL_KUEUE_QUEUE: queue} if queue else labels
    volumes: list[dict[str, Any]] = [
        {"name": "workspace", "emptyDir": {"sizeLimit": config.workspace_size_limit}},
        {"name": "tmp", "emptyDir": {}},
        {"name": "control", "emptyDir": {}},
        _token_volume(),
    ]
    mounts: list[dict[str, Any]] = [
        {"name": "workspace", "mountPath": WORKSPACE},
        {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - a private emptyDir, not the host's
        {"name": "control", "mountPath": CONTROL_DIR},
        {"name": "token", "mountPath": TOKEN_DIR, "readOnly": True},
    ]
    if config.config_map:
        volumes.append({"name": "config", "configMap": {"name": config.config_map}})
        mounts.append({"name": "config", "mountPath": CONFIG_DIR, "readOnly": True})
    if run.spec.models.profile == SCRIPTED_PROFILE:
        volumes.append({"name": "cassette", "configMap": {"name": config.cassette_config_map}})
        mounts.append({"name": "cassette", "mountPath": CASSETTE_DIR, "readOnly": True})
    if run.spec.repo.credentials_secret:
        # Optional: a missing Secret would leave the pod in ContainerCreating (FailedMount
        # events only) until the deadline; the runner finds the directory empty and says so.
        secret = run.spec.repo.credentials_secret
        volumes.append(
            {
                "name": "git-credentials",
                "secret": {"secretName": secret, "defaultMode": 0o400, "optional": True},
            }
        )
        mounts.append(
            {"name": "git-credentials", "mountPath": GIT_CREDENTIALS_DIR, "readOnly": True}
        )
    container: dict[str, Any] = {
        "name": "agent",
        "image": run.spec.runner.image or config.runner_image,
        "imagePullPolicy": config.image_pull_policy,
        "command": ["autopack", "runner", "--run", f"{namespace}/{run.name}"],
        "workingDir": WORKSPACE,
        "env": _env(run, namespace=namespace, config=config),
        "resources": _resources(run, config),
        "volumeMounts": mounts,
        "terminationMessagePolicy": "File",
        "securityContext": _restricted(user=RUNNER_UID),
    }
    if run.spec.models.credentials_secret:
        container["envFrom"] = [{"secretRef": {"name": run.spec.models.credentials_secret}}]
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": run.spec.runner.service_account_name or config.runner_service_account,
        # The token is projected into the agent container only (see ``_token_volume``).
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUNNER_UID,
            "fsGroup": RUNNER_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "initContainers": [_sandbox_container(run, config=config)],
        "containers": [container],
        "volumes": volumes,
    }
    if run.spec.runner.node_selector:
        pod_spec["nodeSelector"] = dict(run.spec.runner.node_selector)
    if run.spec.runner.tolerations:
        pod_spec["tolerations"] = [t.to_api() for t in run.spec.runner.tolerations]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": job_labels,
            "annotations": {
                constants.ANNOTATION_RUNNER_LAUNCHES: str(launch),
                **({constants.ANNOTATION_RETRY_HANDLED: retry} if retry else {}),
            },
        },
        "spec": {
            "backoffLimit": 0,
            "activeDeadlineSeconds": run.spec.budgets.active_deadline_seconds,
            "suspend": bool(queue),
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }
