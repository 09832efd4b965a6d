"""The runner's Kubernetes calls: read its run, create its Phase objects, patch their status.

Least privilege: the runner only gets its own AutopackRun, creates and patches Phases (and
their status) and posts events about its run in its namespace (a phase's end: the runner is
the first to know, and the operator then has no per-phase event to write). Names are
deterministic, so a new runner pod finds the Phases an earlier one created and never
duplicates them.
"""

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from kubernetes import client
from kubernetes import config as kube_config
from kubernetes.client.exceptions import ApiException

from autopack.api import AutopackRun, Phase, PhaseDefinition, PhaseSpec, constants, loading
from autopack.api.common import ObjectMeta, truncate
from autopack.events import Spend
from autopack.runner.reserving import Amount, left_behind


def load_credentials() -> None:
    """Use the pod's service account, or the local kubeconfig outside a cluster."""
    try:
        kube_config.load_incluster_config()  # type: ignore[no-untyped-call]
    except kube_config.ConfigException:
        kube_config.load_kube_config()  # type: ignore[no-untyped-call]


def parse_reference(reference: str) -> tuple[str, str]:
    """Split ``NAMESPACE/NAME``; raise ValueError with what to pass otherwise."""
    namespace, _, name = reference.partition("/")
    if not namespace or not name or "/" in name:
        raise ValueError(f"--run expects NAMESPACE/NAME, got {reference!r}")
    return namespace, name


def read_run(namespace: str, name: str) -> tuple[AutopackRun, dict[str, Any]]:
    """Return the run (validated) and its raw body."""
    body = cast(
        dict[str, Any],
        client.CustomObjectsApi().get_namespaced_custom_object(
            group=constants.GROUP,
            version=constants.VERSION,
            namespace=namespace,
            plural=constants.RUN_PLURAL,
            name=name,
        ),
    )
    return loading.parse_run(body, source=f"{namespace}/{name}"), body


def build_phase_object(
    *,
    run: AutopackRun,
    run_body: dict[str, Any],
    namespace: str,
    index: int,
    definition: PhaseDefinition,
) -> dict[str, Any]:
    """Return the Phase object of one normalized phase, owned by the run."""
    spec = PhaseSpec.model_validate(
        {**definition.to_api(), "runName": run.name, "index": index}, by_alias=True
    )
    metadata = ObjectMeta(
        name=constants.phase_object_name(run.name, index),
        namespace=namespace,
        labels={
            constants.LABEL_RUN: run.name,
            constants.LABEL_PHASE_INDEX: str(index),
            constants.LABEL_MANAGED_BY: constants.MANAGED_BY_VALUE,
        },
    )
    obj = Phase(metadata=metadata, spec=spec).to_api()
    obj["metadata"] = {
        **metadata.to_api(),
        "ownerReferences": [
            {
                "apiVersion": constants.API_VERSION,
                "kind": constants.RUN_KIND,
                "name": run.name,
                "uid": run_body["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    return obj


def ensure_phase(obj: dict[str, Any]) -> dict[str, Any]:
    """Create the Phase, or refresh its spec keeping the user's approval; return the body."""
    api = client.CustomObjectsApi()
    namespace = obj["metadata"]["namespace"]
    name = obj["metadata"]["name"]
    common = {
        "group": constants.GROUP,
        "version": constants.VERSION,
        "namespace": namespace,
        "plural": constants.PHASE_PLURAL,
    }
    try:
        created = cast(
            dict[str, Any] | None, api.create_namespaced_custom_object(body=obj, **common)
        )
    except ApiException as exc:
        if exc.status != 409:
            raise
    else:
        if created:
            return dict(created)
    current = cast(dict[str, Any], api.get_namespaced_custom_object(name=name, **common))
    spec = dict(obj["spec"])
    spec["approved"] = bool(current.get("spec", {}).get("approved"))
    if current.get("spec") != spec:
        current = cast(
            dict[str, Any],
            api.patch_namespaced_custom_object(name=name, body={"spec": spec}, **common),
        )
    return current


def patch_phase_status(namespace: str, name: str, status: dict[str, Any]) -> None:
    """Merge-patch a Phase's status subresource."""
    client.CustomObjectsApi().patch_namespaced_custom_object_status(
        group=constants.GROUP,
        version=constants.VERSION,
        namespace=namespace,
        plural=constants.PHASE_PLURAL,
        name=name,
        body={"status": status},
    )


REPORTING_COMPONENT = "autopack-runner"
MAX_EVENT_MESSAGE = 1024


def post_run_event(run_body: dict[str, Any], *, type: str, reason: str, message: str) -> None:
    """Post a core/v1 Event about the run (shown by ``kubectl describe autopackrun``)."""
    metadata = run_body["metadata"]
    namespace = metadata["namespace"]
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    event: Any = {  # the client sends a plain object as it is, as for custom objects
        "metadata": {"generateName": f"{metadata['name']}.", "namespace": namespace},
        "involvedObject": {
            "apiVersion": constants.API_VERSION,
            "kind": constants.RUN_KIND,
            "name": metadata["name"],
            "namespace": namespace,
            "uid": metadata["uid"],
        },
        "type": type,
        "reason": reason,
        "message": truncate(message, MAX_EVENT_MESSAGE),
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "source": {"component": REPORTING_COMPONENT},
        "reportingComponent": REPORTING_COMPONENT,
        "reportingInstance": os.environ.get("HOSTNAME", REPORTING_COMPONENT),
    }
    client.CoreV1Api().create_namespaced_event(namespace=namespace, body=event)


def _run_phases(namespace: str, run_name: str, run_uid: str) -> list[dict[str, Any]]:
    """This run's Phase objects (owned by it: an earlier run of the same name does not count)."""
    listing = cast(
        dict[str, Any],
        client.CustomObjectsApi().list_namespaced_custom_object(
            group=constants.GROUP,
            version=constants.VERSION,
            namespace=namespace,
            plural=constants.PHASE_PLURAL,
            label_selector=f"{constants.LABEL_RUN}={run_name}",
        ),
    )
    return [
        item
        for item in listing.get("items", [])
        if item.get("spec", {}).get("runName") == run_name
        and any(
            owner.get("uid") == run_uid
            for owner in item.get("metadata", {}).get("ownerReferences") or []
        )
    ]


def approved_phases(namespace: str, run_name: str, run_uid: str) -> set[int]:
    """Return the indices of the run's Phases whose ``spec.approved`` is true."""
    return {
        int(item["spec"]["index"])
        for item in _run_phases(namespace, run_name, run_uid)
        if item["spec"].get("approved")
    }


def attempts_made(namespace: str, run_name: str, run_uid: str) -> dict[int, int]:
    """Phase index -> attempts earlier runners made (from the Phases' status)."""
    return {
        int(item["spec"]["index"]): int((item.get("status") or {}).get("attempts") or 0)
        for item in _run_phases(namespace, run_name, run_uid)
    }


@dataclass(frozen=True)
class Recorded:
    """What earlier runners of the run left on its Phases, by phase index."""

    usage: dict[int, Spend]
    """Each Phase's ``status.usage``."""
    planning: Spend
    """The planner's usage (the first Phase's ``status.planUsage``)."""
    unrecorded: dict[int, Amount]
    """What each Phase's ``status.ledger`` counts beyond its usage (a reservation still held
    there was left by a runner that stopped: it counts too)."""

    def phase_spend(self) -> dict[int, tuple[int, Decimal]]:
        """What the budgets count per phase: (every billed token, dollars)."""
        counted: dict[int, tuple[int, Decimal]] = {}
        for index in {*self.usage, *self.unrecorded}:
            spend = self.usage.get(index)
            amount = (Amount.of(spend) if spend else Amount()) + self.unrecorded.get(
                index, Amount()
            )
            counted[index] = (amount.tokens, amount.cost)
        return counted

    def spend(self) -> tuple[int, Decimal]:
        """What the budgets count for the run: (every billed token, dollars)."""
        counted = [*self.phase_spend().values()]
        planning = Amount.of(self.planning)
        counted.append((planning.tokens, planning.cost))
        return sum(t for t, _ in counted), sum((c for _, c in counted), Decimal(0))


def recorded(namespace: str, run_name: str, run_uid: str) -> Recorded:
    """Each of this run's Phases' usage and unrecorded spend as earlier runners left them."""
    usage: dict[int, Spend] = {}
    unrecorded: dict[int, Amount] = {}
    planning = Spend()
    for item in _run_phases(namespace, run_name, run_uid):
        index = int(item["spec"]["index"])
        status = item.get("status") or {}
        usage[index] = spend_of(status.get("usage"))
        unrecorded[index] = left_behind(status.get("ledger"))
        if index == 0:
            planning = spend_of(status.get("planUsage"))
    return Recorded(usage=usage, planning=planning, unrecorded=unrecorded)


def spend_of(usage: dict[str, Any] | None) -> Spend:
    """A Phase's ``status.usage`` (or ``planUsage``) as a running total."""
    fields = usage or {}
    return Spend(
        input_tokens=int(fields.get("inputTokens") or 0),
        cache_read_tokens=int(fields.get("cacheReadTokens") or 0),
        cache_write_tokens=int(fields.get("cacheWriteTokens") or 0),
        output_tokens=int(fields.get("outputTokens") or 0),
        cost_usd=float(fields.get("costUSD") or 0),
        calls=int(fields.get("llmCalls") or 0),
    )


def run_note(namespace: str, name: str) -> list[str]:
    """The run's ``autopack.dev/note`` annotation, read now (a note may come at any time)."""
    body = cast(
        dict[str, Any],
        client.CustomObjectsApi().get_namespaced_custom_object(
            group=constants.GROUP,
            version=constants.VERSION,
            namespace=namespace,
            plural=constants.RUN_PLURAL,
            name=name,
        ),
    )
    note = ((body.get("metadata") or {}).get("annotations") or {}).get(constants.ANNOTATION_NOTE)
    return [note.strip()] if note and note.strip() else []
