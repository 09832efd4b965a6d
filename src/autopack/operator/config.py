"""The operator's configuration: one settings class, one comment per setting, env prefix.

Values come from ``AUTOPACK_OPERATOR_*`` environment variables (the Helm chart sets them from
``values.yaml``). Per-run choices live in the AutopackRun spec; these are cluster defaults.
"""

from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OperatorConfig(BaseSettings):
    """Cluster-wide defaults of the Autopack operator."""

    model_config = SettingsConfigDict(env_prefix="AUTOPACK_OPERATOR_", extra="forbid")

    runner_image: str = "ghcr.io/autopack/runner:0.1.0"
    """Image of the runner pod when a run does not name one."""

    runner_service_account: str = "autopack-runner"
    """Service account of runner pods when a run does not name one."""

    image_pull_policy: str = "IfNotPresent"
    """Pull policy of the runner container."""

    database_secret: str | None = None
    """Secret holding AUTOPACK_DATABASE_URL for runners (unset: no database). Runners read it
    in their run's namespace; the operator ends a run whose namespace lacks it before starting
    a runner (see ``acting.missing_runner_secrets``)."""

    database_secret_key: str = "url"  # noqa: S105 - a key name, not a secret
    """Key of the URL in ``database_secret``."""

    database_url: str | None = None
    """URL of the operator's own connection for run lifecycle rows (unset: none written)."""

    qdrant_url: str | None = None
    """URL of the Qdrant server runners keep intention memory in (unset: local files in the
    workspace, lost with the pod)."""

    qdrant_api_key_secret: str | None = None
    """Secret holding Qdrant's API key for runners, in their run's namespace (unset: no key)."""

    qdrant_api_key_key: str = "api-key"
    """Key of the API key in ``qdrant_api_key_secret``."""

    max_concurrent_runs: Annotated[int, Field(ge=0)] = 0
    """Runs active at once in the whole cluster; 0 means unlimited. Others wait as Queued."""

    max_concurrent_runs_per_namespace: Annotated[int, Field(ge=0)] = 0
    """Runs active at once per namespace; 0 means unlimited."""

    max_runner_launches: Annotated[int, Field(ge=1, le=20)] = 3
    """Runner launches per run after infrastructure failures (OOM, eviction, crash)."""

    default_cpu_request: str = "500m"
    """CPU request of a runner when the run sets none."""

    default_memory_request: str = "1Gi"
    """Memory request of a runner when the run sets none."""

    default_memory_limit: str = "4Gi"
    """Memory limit of a runner when the run sets none."""

    workspace_size_limit: str = "10Gi"
    """Size limit of the runner's emptyDir workspace."""

    default_queue_name: str | None = None
    """Kueue LocalQueue for runs that name none (unset: Kueue is used only when a run asks)."""

    config_map: str | None = None
    """ConfigMap with models.yaml, pricing.yaml, ... mounted into runners (unset: built-ins)."""

    cassette_config_map: str = "autopack-cassette"
    """ConfigMap (key cassette.yaml) that runs of the "scripted" model profile replay."""

    metrics_port: Annotated[int, Field(ge=0, le=65535)] = 8080
    """Port of the Prometheus metrics endpoint; 0 disables it."""

    status_interval_seconds: Annotated[float, Field(ge=0, le=3600)] = 60.0
    """Least time between two status writes of a run that only report usage (tokens, cost);
    changes of state are written at once, a phase's start or end within seconds. The operator
    is event-driven: it reconciles a run when the run, its Jobs, pods or Phases change."""

    workers: Annotated[int, Field(ge=1, le=64)] = 16
    """Runs reconciled at once (each in a thread; passes over one run never overlap)."""
