"""The Autopack operator: ``kopf run -m autopack.operator`` (or ``autopack operator``).

Importing this package registers the kopf handlers. The decision logic is pure and lives in
``decisions``, ``status``, ``admission`` and ``jobs``; only ``handlers`` and ``acting`` touch
kopf and the Kubernetes API.
"""

from autopack.operator import handlers

__all__ = ["handlers"]
