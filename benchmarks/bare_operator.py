"""A bare kopf operator of Autopack's shape, the yardstick of ``benchmarks/cluster.py``.

    python -m kopf run --standalone --all-namespaces benchmarks/bare_operator.py

What anyone would write first with kopf's defaults: one creation handler that creates one Job
per AutopackRun (labelled like Autopack's runner Jobs, owned by the run), nothing else. kopf's
defaults stay as they are (progress and diff-base annotations, handler events), since that is
what the comparison is about.
"""

from typing import Any

import kopf
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException


@kopf.on.startup()
def configure(**_: Any) -> None:
    """Load the kubeconfig for the kubernetes client."""
    config.load_kube_config()  # type: ignore[no-untyped-call]


@kopf.on.create("autopack.dev", "v1alpha1", "autopackruns")
def create_job(name: str, namespace: str, **_: Any) -> None:
    """Create the run's one Job."""
    labels = {"autopack.dev/run": name, "autopack.dev/component": "runner"}
    job: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": f"{name}-runner-1", "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "runner", "image": "busybox", "command": ["true"]}],
                },
            },
        },
    }
    kopf.adopt(job)
    try:
        client.BatchV1Api().create_namespaced_job(namespace=namespace, body=job)
    except ApiException as exc:
        if exc.status != 409:
            raise
