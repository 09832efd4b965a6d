"""The kopf handlers: thin entry points that fetch from indexes, reconcile, and patch status.

All ``@kopf`` decorators live here (and only here); each handler is a few lines calling into
:mod:`autopack.operator.reconciling`. Progress and diff-base are kept in annotations so the
status schema stays ours, and status is written only through ``patch.status``.
"""

import logging
from typing import Any

import kopf
from kubernetes import config as kube_config

from autopack.api import constants
from autopack.operator import metrics, reconciling
from autopack.operator.acting import plain
from autopack.operator.admission import RunSlot
from autopack.operator.config import OperatorConfig
from autopack.operator.history import RunHistory

CONFIG = OperatorConfig()
HISTORY = RunHistory(CONFIG.database_url)
RUNS = (constants.GROUP, constants.VERSION, constants.RUN_PLURAL)
PHASES = (constants.GROUP, constants.VERSION, constants.PHASE_PLURAL)
RUNNER = {constants.LABEL_COMPONENT: "runner"}

logger = logging.getLogger(__name__)


@kopf.on.startup(id="operator_configure")
def operator_configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    """Keep kopf's bookkeeping in annotations and load API credentials for our client."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=constants.KOPF_PROGRESS_PREFIX
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=constants.KOPF_PROGRESS_PREFIX, key="last-handled-configuration"
    )
    settings.posting.level = logging.INFO
    metrics.serve(CONFIG.metrics_port)
    try:
        kube_config.load_incluster_config()  # type: ignore[no-untyped-call]
    except kube_config.ConfigException:
        kube_config.load_kube_config()  # type: ignore[no-untyped-call]


@kopf.index(*RUNS, id="run_slots")
def run_slots(
    *, namespace: str | None, name: str, meta: Any, spec: Any, status: Any, **_: Any
) -> Any:
    """Index every run by nothing (one bucket) for admission decisions."""
    return {
        None: RunSlot(
            namespace=namespace or "",
            name=name,
            created=str(meta.get("creationTimestamp") or ""),
            phase=str(status.get("phase") or ""),
            suspended=bool(spec.get("suspend")),
        )
    }


@kopf.index("batch", "v1", "jobs", labels=RUNNER, id="runner_jobs")
def runner_jobs(*, namespace: str | None, labels: Any, body: Any, **_: Any) -> Any:
    """Index runner Jobs by (namespace, run)."""
    return {(namespace, labels.get(constants.LABEL_RUN)): plain(body)}


@kopf.index("", "v1", "pods", labels=RUNNER, id="runner_pods")
def runner_pods(*, namespace: str | None, labels: Any, body: Any, **_: Any) -> Any:
    """Index runner pods by (namespace, run)."""
    return {(namespace, labels.get(constants.LABEL_RUN)): plain(body)}


@kopf.index(*PHASES, id="run_phases")
def run_phases(*, namespace: str | None, spec: Any, body: Any, **_: Any) -> Any:
    """Index Phase objects by (namespace, run)."""
    return {(namespace, spec.get("runName")): plain(body)}


def _reconcile(
    *, body: Any, namespace: str | None, patch: kopf.Patch, kwargs: dict[str, Any]
) -> None:
    with metrics.timed_reconcile():
        decision, status = reconciling.reconcile(
            body=body,
            namespace=namespace or "",
            config=CONFIG,
            run_slots=kwargs.get("run_slots"),
            runner_jobs=kwargs.get("runner_jobs"),
            runner_pods=kwargs.get("runner_pods"),
            run_phases=kwargs.get("run_phases"),
            history=HISTORY,
        )
    if decision is not None:
        metrics.record(namespace or "", str(body["metadata"]["name"]), decision)
    if status:
        patch.status.update(status)
    if decision is not None and decision.retry_token:
        patch.metadata.annotations[constants.ANNOTATION_RETRY_HANDLED] = decision.retry_token


@kopf.on.create(*RUNS, id="run_create")
@kopf.on.resume(*RUNS, id="run_resume")
@kopf.on.update(*RUNS, field="spec", id="run_spec_update")
@kopf.on.field(*RUNS, field=["metadata", "annotations", constants.ANNOTATION_RETRY], id="run_retry")
def run_changed(*, body: Any, namespace: str | None, patch: kopf.Patch, **kwargs: Any) -> None:
    """React at once to a new, resumed, changed or retried run."""
    _reconcile(body=body, namespace=namespace, patch=patch, kwargs=kwargs)


@kopf.timer(*RUNS, interval=CONFIG.reconcile_interval_seconds, id="run_reconcile")
def run_reconcile(*, body: Any, namespace: str | None, patch: kopf.Patch, **kwargs: Any) -> None:
    """Refresh the run from its Jobs, pods and Phases every few seconds."""
    _reconcile(body=body, namespace=namespace, patch=patch, kwargs=kwargs)


@kopf.on.delete(*RUNS, id="run_delete", optional=True)
def run_delete(*, namespace: str | None, name: str, **_: Any) -> None:
    """Forget a deleted run; its Jobs and Phases go through ownerReferences."""
    reconciling.forget(namespace or "", name)
    metrics.forget(namespace or "", name)


_PHASE_EVENTS = {
    "Complete": ("Normal", "PhaseCompleted"),
    "Failed": ("Warning", "PhaseFailed"),
    "AwaitingApproval": ("Normal", "ApprovalRequired"),
}


@kopf.on.field(*PHASES, field="status.state", id="phase_state")
def phase_state(*, new: Any, body: Any, namespace: str | None, spec: Any, **_: Any) -> None:
    """Post PhaseCompleted / PhaseFailed / ApprovalRequired on the owning run."""
    kind = _PHASE_EVENTS.get(str(new))
    owners = [
        o
        for o in body.get("metadata", {}).get("ownerReferences") or []
        if o.get("kind") == constants.RUN_KIND
    ]
    if kind is None or not owners:
        return
    owner = owners[0]
    reference = {
        "apiVersion": constants.API_VERSION,
        "kind": constants.RUN_KIND,
        "metadata": {"name": owner["name"], "namespace": namespace, "uid": owner["uid"]},
    }
    failure = (body.get("status") or {}).get("failure") or {}
    signature = failure.get("signature") if new == "Failed" else None
    detail = f": {signature}" if signature else ""
    kopf.event(
        reference,  # type: ignore[arg-type]  # an object reference is all events need
        type=kind[0],
        reason=kind[1],
        message=f"phase {spec.get('index')} {spec.get('title')!r} is {new}{detail}",
    )
