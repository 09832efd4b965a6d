"""Autopack: autonomous, budgeted AI coding runs on Kubernetes and on a laptop.

The package is layered (see ``pyproject.toml`` import-linter contracts): entry points
(``cli``, ``operator``, ``runner``) drive the ``engine``, which uses the domain packages,
which share the pure ``api`` types.
"""

__version__ = "0.1.0"
