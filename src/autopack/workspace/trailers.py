"""The run's record on its branch: the commit trailers the engine writes and reads back.

Phase commits carry ``Autopack-Phase: <index>``, a change waiting for approval
``Autopack-Pending-Approval: <index>``, a mitigation ``Autopack-Mitigation: <index>``, and
every one ``Autopack-Run: <uid>``. Resume, approval and rollback read them from one ``git log``
each; this module says what to ask git for and how to read its answer, and runs nothing.
"""

PHASE_TRAILER = "Autopack-Phase"
PENDING_TRAILER = "Autopack-Pending-Approval"
MITIGATION_TRAILER = "Autopack-Mitigation"
RUN_TRAILER = "Autopack-Run"  # the run's identity (its uid), so no run mistakes another's work

RUN_LOG_FORMAT = (
    f"--format=%H%x00%(trailers:key={PHASE_TRAILER},valueonly)%x00"
    f"%(trailers:key={PENDING_TRAILER},valueonly)%x00"
    f"%(trailers:key={RUN_TRAILER},valueonly)%x1e"
)
"""``git log`` format for :func:`run_record`: commit, phase, pending phase, run."""

BASE_LOG_FORMAT = (
    f"--format=%H%x00%P%x00%(trailers:key={PHASE_TRAILER},valueonly)"
    f"%(trailers:key={PENDING_TRAILER},valueonly)"
    f"%(trailers:key={MITIGATION_TRAILER},valueonly)%x1e"
)
"""``git log --first-parent`` format for :func:`run_base`: commit, parents, Autopack trailers."""


def run_record(log: str, *, run_id: str | None) -> tuple[dict[int, str], int | None]:
    """Completed phases (index -> commit) and the pending phase, from a :data:`RUN_LOG_FORMAT` log.

    With a ``run_id`` only commits carrying ``Autopack-Run: <run_id>`` count. The newest commit
    of a phase wins; a phase is pending only when its commit is the newest on the branch.
    """
    completed: dict[int, str] = {}
    pending: int | None = None
    for position, entry in enumerate(log.split("\x1e")):
        commit, _, rest = entry.strip().partition("\x00")
        phase, _, rest = rest.partition("\x00")
        waiting, _, run = rest.partition("\x00")
        if not commit or (run_id is not None and run.strip() != run_id):
            continue
        if phase.strip().isdigit():
            completed.setdefault(int(phase.strip()), commit)
        if position == 0 and waiting.strip().isdigit():
            pending = int(waiting.strip())
    return completed, pending


def run_base(log: str, *, head: str) -> str:
    """The parent of the oldest Autopack commit in a :data:`BASE_LOG_FORMAT` log (else ``head``)."""
    base = head
    for entry in log.split("\x1e"):
        fields = entry.strip().split("\x00")
        if len(fields) < 3 or not fields[2].strip():
            break
        parents = fields[1].split()
        if not parents:
            break
        base = parents[0]
    return base
