"""A deterministic mitigation tried on a failed attempt, and kept only when it worked.

Recovery (:mod:`autopack.engine.recovering`) calls :func:`mitigate` before any model is
asked. A mitigation that worked and changed files is committed on its own, holding only the
files it meant to change (an install's side effects stay out), so the next attempt's rollback
keeps it; one that did not work is rolled back.
"""

from autopack.api import PhaseDefinition
from autopack.engine.ports import Mitigations, Workspace
from autopack.events import Failure
from autopack.workspace import MITIGATION_TRAILER


def mitigate(
    mitigations: Mitigations,
    workspace: Workspace,
    index: int,
    failure: Failure,
    phase: PhaseDefinition,
) -> tuple[str | None, Failure]:
    """Try the registry's mitigation; return its description when it worked, and the feedback."""
    savepoint = workspace.head()
    detail = "\n".join([failure.summary, *failure.feedback])
    mitigation = mitigations.mitigate(category=failure.category, message=detail, phase=phase)
    if mitigation is None:
        return None, failure
    failure = failure.with_feedback(*mitigation.feedback)
    if not mitigation.applied:
        workspace.rollback(savepoint)
        return None, failure
    if mitigation.changed_files:
        workspace.discard_side_effects(workspace.snapshot(mitigation.changed_files))
        workspace.commit(
            f"autopack: {mitigation.rule} in phase {index}\n\n"
            f"{mitigation.description}\n\n{MITIGATION_TRAILER}: {index}"
        )
    installed = "; ".join(mitigation.installs)
    described = f"{mitigation.description} ({installed})" if installed else mitigation.description
    return described, failure.with_feedback(f"Autopack already applied: {mitigation.description}")
