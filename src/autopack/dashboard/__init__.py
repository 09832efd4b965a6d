"""The dashboard: a read-only web UI and versioned JSON API over the run store.

People without a terminal see runs, attempts, spend over time, model routing and hardening
statistics here. The only write it allows is a human note on a run, and only when enabled.
"""

from autopack.dashboard.app import create_app
from autopack.dashboard.config import DashboardConfig

__all__ = ["DashboardConfig", "create_app"]
