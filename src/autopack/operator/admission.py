"""Who may start a runner now: per-namespace and cluster-wide limits, first come first served.

Pure: given every run the operator knows (from its in-memory index) and the limits, answer
whether a run may launch a runner and, if not, how many runs are ahead of it.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from autopack.api import RunPhase

# States in which a run holds (or is about to hold) a runner.
_HOLDING = frozenset({RunPhase.PLANNING.value, RunPhase.RUNNING.value})
_WAITING = frozenset({RunPhase.PENDING.value, RunPhase.QUEUED.value, ""})


@dataclass(frozen=True)
class RunSlot:
    """What admission needs to know about one run."""

    namespace: str
    name: str
    created: str  # RFC 3339 creationTimestamp; sorts chronologically
    phase: str
    suspended: bool = False


def admit(
    candidate: RunSlot,
    runs: Iterable[RunSlot],
    *,
    cluster_limit: int,
    namespace_limit: int,
) -> tuple[bool, int]:
    """Return (may start now, runs ahead in the queue) for ``candidate``. 0 means no limit."""
    everything = list(runs)
    holding = [r for r in everything if r.phase in _HOLDING and r != candidate]
    waiting = sorted(
        (r for r in everything if r.phase in _WAITING and not r.suspended),
        key=lambda r: (r.created, r.namespace, r.name),
    )
    ahead = [
        r
        for r in waiting
        if (r.created, r.namespace, r.name)
        < (candidate.created, candidate.namespace, candidate.name)
    ]
    cluster_free = cluster_limit - len(holding) if cluster_limit else None
    same_namespace = [r for r in holding if r.namespace == candidate.namespace]
    namespace_free = namespace_limit - len(same_namespace) if namespace_limit else None
    cluster_ok = cluster_free is None or len(ahead) < cluster_free
    ahead_here = [r for r in ahead if r.namespace == candidate.namespace]
    namespace_ok = namespace_free is None or len(ahead_here) < namespace_free
    if cluster_ok and namespace_ok:
        return True, 0
    return False, len(ahead) if not cluster_ok else len(ahead_here)
