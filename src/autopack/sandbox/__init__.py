"""Running untrusted commands: allowlisted environment, bubblewrap locally, nothing survives.

``choose("auto", workspace=...)`` returns a :class:`Sandbox`; ``sandbox.run(command, ...)``
returns a :class:`CommandResult`. In a cluster the runner pod's sandbox container plays the same
role: :class:`RemoteSandbox` in the agent container hands commands to :func:`serve` in the
sandbox container (``python -m autopack.sandbox serve``).
"""

from autopack.sandbox.choosing import (
    MODES,
    SandboxMode,
    SandboxUnavailable,
    choose,
    probe_bubblewrap,
)
from autopack.sandbox.environment import (
    ForbiddenVariable,
    build_environment,
    check_names,
    is_forbidden,
)
from autopack.sandbox.remote import RemoteSandbox, RemoteSandboxError, serve
from autopack.sandbox.running import (
    TAIL_BYTES,
    Bubblewrap,
    CommandResult,
    Sandbox,
    Unsandboxed,
)

__all__ = [
    "MODES",
    "TAIL_BYTES",
    "Bubblewrap",
    "CommandResult",
    "ForbiddenVariable",
    "RemoteSandbox",
    "RemoteSandboxError",
    "Sandbox",
    "SandboxMode",
    "SandboxUnavailable",
    "Unsandboxed",
    "build_environment",
    "check_names",
    "choose",
    "is_forbidden",
    "probe_bubblewrap",
    "serve",
]
