"""The dashboard's settings in one place, so the CLI, the chart and the tests set the same knobs."""

from dataclasses import dataclass


@dataclass(frozen=True)
class DashboardConfig:
    """How one dashboard process behaves."""

    # Accept notes from the run page's form and POST /api/v1/runs/{id}/notes (the only write).
    allow_notes: bool = False
    # Seconds between two refreshes of the runs list and of an active run's page (0: never).
    refresh_seconds: int = 5
    # The model profile the Models page shows first.
    models_profile: str = "default"
    # Most events the run page's timeline shows (the newest ones).
    timeline_limit: int = 500
    # Lay the cluster's AutopackRun status over the store's rows (in-cluster, read-only RBAC).
    live_status: bool = False
