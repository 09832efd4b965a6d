"""The run's git workspace: clone, work branch, savepoints, commits of governed edits, push."""

from autopack.workspace.credentials import (
    credentials_from_environment,
    display_url,
    mounted_credentials,
    split_credentials,
)
from autopack.workspace.git import SAFE_CONFIG, GitWorkspace, WorkspaceError, redact
from autopack.workspace.trailers import (
    MITIGATION_TRAILER,
    PENDING_TRAILER,
    PHASE_TRAILER,
    RUN_TRAILER,
)

__all__ = [
    "MITIGATION_TRAILER",
    "PENDING_TRAILER",
    "PHASE_TRAILER",
    "RUN_TRAILER",
    "SAFE_CONFIG",
    "GitWorkspace",
    "WorkspaceError",
    "credentials_from_environment",
    "display_url",
    "mounted_credentials",
    "redact",
    "split_credentials",
]
