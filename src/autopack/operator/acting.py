"""Carry out a decision against the Kubernetes API, idempotently.

Only this module and the handlers talk to the API. Every action tolerates being repeated
after an operator restart: creating a Job that exists is a no-op (deterministic names),
patching a Job or Phase to the state it already has changes nothing.
"""

import json
import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import kopf
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from autopack.api import AutopackRun, constants
from autopack.api.common import truncate
from autopack.operator.config import OperatorConfig
from autopack.operator.decisions import Decision, refuse_launch
from autopack.operator.jobs import build_runner_job, runner_secret_keys
from autopack.operator.observing import plain

logger = logging.getLogger(__name__)

MAX_EVENT_MESSAGE = 1024
"""Kubernetes keeps at most 1 KiB of an Event's message; longer ones are cut with a marker."""

USER_AGENT = "autopack-operator"
"""How the operator's own requests name their writer (API server audit logs show it)."""

__all__ = [
    "api_client",
    "carry_out",
    "delete_run",
    "missing_runner_secrets",
    "patch_run_status",
    "plain",
    "post_event",
]

_client: client.ApiClient | None = None
_client_lock = threading.Lock()


def api_client() -> client.ApiClient:
    """One shared API client (its connection pool is thread-safe), made after credentials load.

    Its pool keeps a connection for every reconcile worker: the client's default (five per
    CPU) is smaller than the workers on small nodes, and each connection dropped from a full
    pool means a new TLS handshake for the next request.
    """
    global _client  # noqa: PLW0603 - one client per process, created on first use
    with _client_lock:
        if _client is None:
            configuration = client.Configuration.get_default_copy()
            configuration.connection_pool_maxsize = max(
                configuration.connection_pool_maxsize or 0, OperatorConfig().workers + 4
            )
            _client = client.ApiClient(configuration)
            _client.user_agent = USER_AGENT
        return _client


def patch_run_status(name: str, *, namespace: str, status: dict[str, Any]) -> dict[str, Any]:
    """Merge-patch the run's status subresource; return the run as the API server stored it."""
    stored = client.CustomObjectsApi(api_client()).patch_namespaced_custom_object_status(
        group=constants.GROUP,
        version=constants.VERSION,
        namespace=namespace,
        plural=constants.RUN_PLURAL,
        name=name,
        body={"status": status},
    )
    return stored if isinstance(stored, dict) else {}


def patch_run(name: str, *, namespace: str, patch: dict[str, Any]) -> None:
    """Merge-patch the run itself (not its status)."""
    client.CustomObjectsApi(api_client()).patch_namespaced_custom_object(
        group=constants.GROUP,
        version=constants.VERSION,
        namespace=namespace,
        plural=constants.RUN_PLURAL,
        name=name,
        body=patch,
    )


def annotate_run(name: str, *, namespace: str, annotations: dict[str, str]) -> None:
    """Merge annotations into the run's metadata."""
    client.CustomObjectsApi(api_client()).patch_namespaced_custom_object(
        group=constants.GROUP,
        version=constants.VERSION,
        namespace=namespace,
        plural=constants.RUN_PLURAL,
        name=name,
        body={"metadata": {"annotations": annotations}},
    )


def post_event(body: Mapping[str, Any], *, type: str, reason: str, message: str) -> None:
    """Post a Kubernetes Event about ``body`` (reported by autopack-operator), cut to fit."""
    kopf.event(
        body,  # type: ignore[arg-type]
        type=type,
        reason=reason,
        message=truncate(message, MAX_EVENT_MESSAGE),
    )


def create_runner_job(
    run: AutopackRun,
    *,
    body: Mapping[str, Any],
    namespace: str,
    launch: int,
    config: OperatorConfig,
    retry: str | None = None,
) -> bool:
    """Create the ``launch``-th runner Job, owned by the run.

    False if it already existed, or if the namespace is being deleted (the API server refuses
    new objects there with 403 NamespaceTerminating; the run goes away with it).
    """
    job = build_runner_job(run, namespace=namespace, launch=launch, config=config, retry=retry)
    kopf.adopt(job, owner=body)  # type: ignore[arg-type]
    try:
        # The created Job is not read back (no model decoding: the watch brings it).
        client.BatchV1Api(api_client()).create_namespaced_job(
            namespace=namespace,
            body=job,  # type: ignore[arg-type]
            _preload_content=False,
        )
    except ApiException as exc:
        if exc.status == 403 and "NamespaceTerminating" in str(exc.body or ""):
            logger.info("namespace %s is being deleted: no runner Job for %s", namespace, run.name)
            return False
        if exc.status != 409:
            raise
        logger.info("runner Job %s already exists", job["metadata"]["name"])
        return False
    return True


def missing_runner_secrets(namespace: str, *, config: OperatorConfig) -> list[str]:
    """The Secrets and keys runner pods refer to that ``namespace`` lacks, described for people.

    The operator may read only the Secrets its settings name, and only in the chart's runner
    namespaces (a Role with ``resourceNames`` there; no Secret is listed or watched). Only the
    names of a Secret's keys are looked at; values are never kept or logged. Where it may not
    read them (403: a namespace the chart does not provision), it cannot tell and launches as
    before.
    """
    missing: list[str] = []
    for ref in runner_secret_keys(config):
        try:
            keys = _secret_key_names(namespace, ref.secret)
        except ApiException as exc:
            if exc.status == 404:
                missing.append(f'Secret "{ref.secret}" ({ref.purpose}, {ref.env})')
            elif exc.status == 403:
                logger.info(
                    "may not read Secret %s in namespace %s (not a runner namespace of the "
                    "chart?); launching without checking it",
                    ref.secret,
                    namespace,
                )
            else:
                raise
            continue
        if ref.key not in keys:
            missing.append(f'key "{ref.key}" in Secret "{ref.secret}" ({ref.purpose}, {ref.env})')
    return missing


def _secret_key_names(namespace: str, name: str) -> set[str]:
    """The names of a Secret's keys (its values are read undecoded and dropped at once).

    Through the shared ApiClient rather than ``CoreV1Api``: the client loads its API classes
    lazily, and the core one alone costs the operator about 20 MiB that nothing else needs.
    """
    api = api_client()
    request = api.param_serialize(
        method="GET",
        resource_path="/api/v1/namespaces/{namespace}/secrets/{name}",
        path_params={"namespace": namespace, "name": name},
        header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
    )
    response = api.call_api(*request)
    data = response.read()  # type: ignore[no-untyped-call]
    if response.status >= 400:
        raise ApiException(status=response.status, reason=response.reason)
    return set((json.loads(data) or {}).get("data") or {})


def set_job_suspended(name: str, *, namespace: str, suspended: bool) -> None:
    """Suspend (stops its pod) or resume a runner Job."""
    client.BatchV1Api(api_client()).patch_namespaced_job(
        name=name, namespace=namespace, body={"spec": {"suspend": suspended}}
    )


def reset_phase(name: str, *, namespace: str) -> None:
    """Put a failed Phase back to Queued so the next runner works on it again."""
    client.CustomObjectsApi(api_client()).patch_namespaced_custom_object_status(
        group=constants.GROUP,
        version=constants.VERSION,
        namespace=namespace,
        plural=constants.PHASE_PLURAL,
        name=name,
        body={"status": {"state": "Queued", "failure": None, "finishedAt": None}},
    )


def delete_run(name: str, *, namespace: str) -> None:
    """Delete a finished run (its Jobs and Phases follow through ownerReferences)."""
    try:
        client.CustomObjectsApi(api_client()).delete_namespaced_custom_object(
            group=constants.GROUP,
            version=constants.VERSION,
            namespace=namespace,
            plural=constants.RUN_PLURAL,
            name=name,
            body=client.V1DeleteOptions(propagation_policy="Background"),
        )
    except ApiException as exc:
        if exc.status != 404:
            raise


def carry_out(
    decision: Decision,
    *,
    run: AutopackRun,
    body: Mapping[str, Any],
    namespace: str,
    config: OperatorConfig,
) -> None:
    """Perform the decision's actions and post its events.

    A launch whose runner pod could not start for a Secret missing in the run's namespace ends
    the run instead (:func:`decisions.refuse_launch`), before anything else is done.
    """
    if decision.launch is not None:
        missing = missing_runner_secrets(namespace, config=config)
        if missing:
            refuse_launch(decision, run=run, missing=missing, now=datetime.now(UTC))
    created = decision.launch is not None and create_runner_job(
        run,
        body=body,
        namespace=namespace,
        launch=decision.launch,
        config=config,
        retry=decision.retry_token,
    )
    decision.launched = created
    if decision.suspend_job:
        set_job_suspended(decision.suspend_job, namespace=namespace, suspended=True)
    if decision.resume_job:
        set_job_suspended(decision.resume_job, namespace=namespace, suspended=False)
    for phase in decision.reset_phases:
        reset_phase(phase, namespace=namespace)
    for event_type, reason, message in decision.events:
        post_event(body, type=event_type, reason=reason, message=message)
