"""The run's git workspace: clone, work branch, savepoints, commits of governed edits, push."""

from autopack.workspace.git import (
    MITIGATION_TRAILER,
    PENDING_TRAILER,
    PHASE_TRAILER,
    RUN_TRAILER,
    GitWorkspace,
    WorkspaceError,
    credentials_from_environment,
    redact,
)

__all__ = [
    "MITIGATION_TRAILER",
    "PENDING_TRAILER",
    "PHASE_TRAILER",
    "RUN_TRAILER",
    "GitWorkspace",
    "WorkspaceError",
    "credentials_from_environment",
    "redact",
]
