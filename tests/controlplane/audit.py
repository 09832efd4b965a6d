"""API writes counted from the test control plane's audit log, by writer.

The control plane's audit policy (``server.AUDIT_POLICY``) records every create, update, patch
and delete at Metadata level; the API server writes the event before it answers. Counting them
by user tells the operator's writes from the runner's, the controllers' and the kubelet's, as
the scale benchmark and write-budget tests need (issues 18 and 20), on the real server rather
than on the emulator's own bookkeeping.
"""

import json
from collections import Counter
from pathlib import Path

Write = tuple[str, str, str]
"""(user name, resource or resource/subresource, verb)."""


def count_writes(audit_log: Path, *, namespace: str | None = None) -> Counter[Write]:
    """Completed writes in ``audit_log`` (optionally only those in ``namespace``)."""
    counts: Counter[Write] = Counter()
    if not audit_log.exists():
        return counts
    for line in audit_log.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        event = json.loads(line)
        if event.get("stage") != "ResponseComplete":
            continue
        ref = event.get("objectRef") or {}
        if namespace is not None and ref.get("namespace") != namespace:
            continue
        resource = ref.get("resource", "")
        if ref.get("subresource"):
            resource = f"{resource}/{ref['subresource']}"
        counts[(event["user"]["username"], resource, event["verb"])] += 1
    return counts


def service_account_user(namespace: str, name: str) -> str:
    """The user name the API server gives ServiceAccount ``namespace/name``."""
    return f"system:serviceaccount:{namespace}:{name}"
