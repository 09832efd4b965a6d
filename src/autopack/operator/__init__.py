"""The Autopack operator: ``kopf run -m autopack.operator`` (or ``autopack operator``).

Importing this package registers the kopf handlers. It is event-driven: watch events on runs,
runner Jobs, runner pods and Phases put the run on a work queue (``queueing``), and one pass
(``reconciling``) decides and acts. The decision logic is pure and lives in ``decisions``,
``status``, ``admission``, ``observing`` and ``jobs``; only ``handlers`` and ``acting`` touch
kopf and the Kubernetes API.
"""

from autopack.operator import handlers

__all__ = ["handlers"]
