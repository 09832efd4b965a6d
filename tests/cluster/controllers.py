"""What the real control plane does that the test kubelet's plain writes would not show.

Installed into the emulator's object store (:func:`install`), these make the emulated cluster
behave like Kubernetes 1.36 where the operator once went wrong against a real server:

- **The Job controller ends a Job in two steps.** When a Job fails it first sets
  ``FailureTarget`` (with ``status.failed`` already counted) and, about a second later, once the
  pods are terminated, ``Failed``; when it succeeds, ``SuccessCriteriaMet`` and then
  ``Complete`` (with ``completionTime``). An operator that reads the count or the first
  condition for the final state sees the real timing here.
- **Evicted pods say so in a condition.** A pod that the kubelet evicts (node pressure) gets
  ``DisruptionTarget`` (reason ``TerminationByKubelet``) besides ``reason: Evicted``.
- **Annotations are limited to 256 KiB in total** (keys and values): a create or update over
  the limit is refused with 422, as the API server's validation does.
"""

import asyncio
import copy
from dataclasses import dataclass
from typing import Any

from tests.cluster.kinds import Kind
from tests.cluster.store import ApiError, ObjectStore, now_rfc3339

ANNOTATIONS_LIMIT = 256 * 1024
"""Total bytes of a object's annotation keys and values (apimachinery's TotalAnnotationSizeLimitB)."""

FINAL_CONDITION_DELAY = 1.0
"""Seconds between FailureTarget / SuccessCriteriaMet and Failed / Complete."""

_INTERIM = {"Failed": "FailureTarget", "Complete": "SuccessCriteriaMet"}
SOURCE = "job-controller"


def check_annotations(kind: Kind, obj: dict[str, Any]) -> None:
    """Refuse an object whose annotations exceed 256 KiB, as the API server does."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    size = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in annotations.items())
    if size > ANNOTATIONS_LIMIT:
        name = (obj.get("metadata") or {}).get("name")
        raise ApiError(
            422,
            "Invalid",
            f'{kind.kind} "{name}" is invalid: metadata.annotations: Too long: '
            f"must have at most {ANNOTATIONS_LIMIT} bytes",
        )


@dataclass
class JobController:
    """Turns the kubelet's final Job status into the controller's two-step ending."""

    store: ObjectStore
    delay: float = FINAL_CONDITION_DELAY

    def rewrite(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        patch: Any,
        *,
        subresource: str | None,
        source: str,
    ) -> Any:
        """Return the patch to apply now; schedule the final condition for later."""
        if source == SOURCE or subresource != "status" or not isinstance(patch, dict):
            return patch
        if kind.plural == "pods":
            return self._evicted(patch)
        if kind.plural != "jobs":
            return patch
        status = patch.get("status") or {}
        conditions = status.get("conditions") or []
        final = [c for c in conditions if c.get("type") in _INTERIM and c.get("status") == "True"]
        if not final:
            return patch
        ending = final[0]
        interim = {**ending, "type": _INTERIM[ending["type"]]}
        now_status = {
            **{k: v for k, v in status.items() if k != "completionTime"},
            "conditions": [c for c in conditions if c is not ending] + [interim],
        }
        later = copy.deepcopy(now_status)
        later["conditions"] = [*now_status["conditions"], ending]
        if status.get("completionTime"):
            later["completionTime"] = status["completionTime"]
        asyncio.get_running_loop().call_later(
            self.delay, self._finish, kind, namespace, name, later
        )
        return {**patch, "status": now_status}

    def _finish(self, kind: Kind, namespace: str, name: str, status: dict[str, Any]) -> None:
        try:
            self.store.patch(
                kind,
                namespace,
                name,
                {"status": status},
                subresource="status",
                source=SOURCE,
            )
        except ApiError:
            return  # the Job was deleted meanwhile

    @staticmethod
    def _evicted(patch: dict[str, Any]) -> dict[str, Any]:
        status = patch.get("status") or {}
        if status.get("reason") != "Evicted":
            return patch
        disruption = {
            "type": "DisruptionTarget",
            "status": "True",
            "reason": "TerminationByKubelet",
            "message": status.get("message") or "the node was low on resources",
            "lastTransitionTime": now_rfc3339(),
        }
        conditions = [
            c for c in status.get("conditions") or [] if c.get("type") != "DisruptionTarget"
        ]
        return {**patch, "status": {**status, "conditions": [*conditions, disruption]}}


def install(store: ObjectStore) -> JobController:
    """Make ``store`` behave like the real control plane in the ways listed above."""
    controller = JobController(store)
    store.checks.append(check_annotations)
    store.patch_hooks.append(controller.rewrite)
    return controller
