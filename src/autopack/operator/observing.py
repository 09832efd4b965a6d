"""What the operator keeps in memory of each watched object: the few fields it decides on.

kopf's indexes hold one value per object for as long as the object exists. Keeping whole Jobs
and pods (their pod templates, environment, managed fields) would make the operator's memory
grow with every run it tracks; these builders keep only what :mod:`autopack.operator.status`
and :mod:`autopack.operator.decisions` read, in the same shape, so the pure code does not care
whether it sees a full object or its summary. Pure functions over plain dicts.
"""

from collections.abc import Mapping
from typing import Any

from autopack.api import constants
from autopack.api.common import truncate
from autopack.operator.status import CANNOT_START

_JOB_CONDITIONS = frozenset(
    {"Complete", "Failed", "FailureTarget", "SuccessCriteriaMet", "Suspended"}
)
_POD_CONDITIONS = frozenset({"DisruptionTarget"})
_HEAVY_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})
MAX_WAITING_MESSAGE = 1024
"""What is kept of the kubelet's message on a container it cannot start (events keep 1 KiB)."""


def plain(value: Any) -> Any:
    """Return a deep plain-dict copy of a kopf body (or any mapping/list structure)."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value


def _conditions(status: Mapping[str, Any], kept: frozenset[str]) -> list[dict[str, Any]]:
    fields = ("type", "status", "reason", "message", "lastTransitionTime")
    return [
        {k: c.get(k) for k in fields if c.get(k) is not None}
        for c in status.get("conditions") or []
        if c.get("type") in kept
    ]


def run_view(body: Mapping[str, Any]) -> dict[str, Any]:
    """The run without managed fields and kubectl's copy of the whole manifest."""
    run = plain(body)
    metadata = run.get("metadata") or {}
    metadata.pop("managedFields", None)
    annotations = metadata.get("annotations") or {}
    for heavy in _HEAVY_ANNOTATIONS & annotations.keys():
        del annotations[heavy]
    return dict(run)


def job_view(body: Mapping[str, Any]) -> dict[str, Any]:
    """A runner Job: name, launch and retry annotations, queue label, suspend, outcome."""
    metadata = body.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    labels = metadata.get("labels") or {}
    spec = body.get("spec") or {}
    status = body.get("status") or {}
    kept_annotations = (constants.ANNOTATION_RUNNER_LAUNCHES, constants.ANNOTATION_RETRY_HANDLED)
    return {
        "metadata": {
            "name": metadata.get("name"),
            "annotations": {k: annotations[k] for k in kept_annotations if k in annotations},
            "labels": {k: labels[k] for k in (constants.LABEL_KUEUE_QUEUE,) if k in labels},
        },
        "spec": {
            "suspend": bool(spec.get("suspend")),
            "activeDeadlineSeconds": spec.get("activeDeadlineSeconds"),
        },
        "status": {
            **{k: status[k] for k in ("active", "succeeded", "failed") if status.get(k)},
            "conditions": _conditions(status, _JOB_CONDITIONS),
        },
    }


def _container_view(container: Mapping[str, Any]) -> dict[str, Any]:
    """A container's name, how it ended, or why the kubelet cannot start it (nothing else)."""
    state = container.get("state") or {}
    terminated = state.get("terminated")
    waiting = state.get("waiting") or {}
    kept: dict[str, Any] = {"name": container.get("name")}
    if terminated:
        kept["state"] = {
            "terminated": {
                k: terminated.get(k)
                for k in ("exitCode", "reason", "message")
                if terminated.get(k) is not None
            }
        }
    elif waiting.get("reason") in CANNOT_START:
        message = truncate(str(waiting.get("message") or ""), MAX_WAITING_MESSAGE)
        kept["state"] = {"waiting": {"reason": waiting["reason"], "message": message}}
    return kept


def pod_view(body: Mapping[str, Any]) -> dict[str, Any]:
    """A runner pod: its Job, phase, disruption, how its containers ended or cannot start."""
    metadata = body.get("metadata") or {}
    status = body.get("status") or {}
    containers = [_container_view(c) for c in status.get("containerStatuses") or []]
    stuck_init = [
        view
        for view in map(_container_view, status.get("initContainerStatuses") or [])
        if "waiting" in view.get("state", {})
    ]
    return {
        "metadata": {
            "name": metadata.get("name"),
            "creationTimestamp": metadata.get("creationTimestamp"),
            "labels": {"job-name": (metadata.get("labels") or {}).get("job-name")},
        },
        "status": {
            **{k: status[k] for k in ("phase", "reason", "message") if status.get(k)},
            "conditions": _conditions(status, _POD_CONDITIONS),
            "containerStatuses": containers,
            **({"initContainerStatuses": stuck_init} if stuck_init else {}),
        },
    }


def phase_view(body: Mapping[str, Any]) -> dict[str, Any]:
    """A Phase without its managed fields."""
    phase = plain(body)
    (phase.get("metadata") or {}).pop("managedFields", None)
    return dict(phase)
