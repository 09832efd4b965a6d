"""The observed state of an ``AutopackRun``: its lifecycle phase, counts, result, spend and models.

Kept apart from the spec (:mod:`autopack.api.run`): the spec is what users write and the run
file checks; the status is what the operator and runners report.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from autopack.api.common import (
    ApiModel,
    Condition,
    ShortText,
    Usage,
)


class RunPhase(StrEnum):
    """Where a run is in its lifecycle (a printer-column convenience; conditions are canonical)."""

    PENDING = "Pending"
    QUEUED = "Queued"
    PLANNING = "Planning"
    RUNNING = "Running"
    AWAITING_APPROVAL = "AwaitingApproval"
    SUSPENDED = "Suspended"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"


TERMINAL_RUN_PHASES = frozenset({RunPhase.SUCCEEDED, RunPhase.FAILED, RunPhase.CANCELLED})


class PhaseCounts(ApiModel):
    """How many of the run's phases are in each state."""

    total: Annotated[int, Field(ge=0)] = 0
    """All phases of the run."""

    queued: Annotated[int, Field(ge=0)] = 0
    """Phases not started yet."""

    running: Annotated[int, Field(ge=0)] = 0
    """Phases building, validating or auditing."""

    awaiting_approval: Annotated[int, Field(ge=0)] = 0
    """Phases waiting for a person."""

    complete: Annotated[int, Field(ge=0)] = 0
    """Phases finished and committed."""

    failed: Annotated[int, Field(ge=0)] = 0
    """Phases that failed."""

    skipped: Annotated[int, Field(ge=0)] = 0
    """Phases skipped."""


class RunResult(ApiModel):
    """Where the run's work ended up."""

    branch: Annotated[str, Field(max_length=255)] | None = None
    """Work branch holding the result."""

    commit: Annotated[str, Field(max_length=64)] | None = None
    """Last commit pushed to the work branch."""

    pull_request: Annotated[str, Field(max_length=512)] | None = None
    """URL of the pull (merge) request opened or updated for the result."""


class RunSpend(ApiModel):
    """What the run spent against its budgets (``spec.budgets``), from its phases' usage."""

    cost_usd: Annotated[float, Field(ge=0, alias="costUSD")]
    """Model cost so far, in US dollars."""

    cost_limit_usd: Annotated[float, Field(ge=0, alias="costLimitUSD")]
    """The run's cost budget in US dollars (spec.budgets.costUSD)."""

    tokens: Annotated[int, Field(ge=0)]
    """Model tokens so far: input, cache reads and writes, and output."""

    token_limit: Annotated[int, Field(ge=0)]
    """The run's token budget (spec.budgets.tokens)."""

    unrecorded_tokens: Annotated[int, Field(ge=0)] | None = None
    """Tokens counted against the budget beyond ``tokens``: runners that stopped mid-phase may
    have spent up to this without recording it (their reservations; see the Phases' ledger)."""

    unrecorded_cost_usd: Annotated[float, Field(ge=0)] | None = Field(
        None, alias="unrecordedCostUSD"
    )
    """The same in US dollars."""


class RunModels(ApiModel):
    """The models of the run."""

    profile: Annotated[str, Field(max_length=63)]
    """Model profile of config/models.yaml (spec.models.profile; spec.models.chains override)."""

    used: Annotated[list[ShortText], Field(max_length=20)] = Field(default_factory=list)
    """Models that wrote the phases' changes so far (each phase's last Builder), in phase order."""


class AutopackRunStatus(ApiModel):
    """Observed state of an AutopackRun, written by the operator."""

    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The metadata.generation this status reflects."""

    phase: RunPhase = RunPhase.PENDING
    """Lifecycle summary: Pending, Queued, Planning, Running, AwaitingApproval, Suspended,
    Succeeded, Failed or Cancelled."""

    conditions: Annotated[list[Condition], Field(max_length=16)] = Field(default_factory=list)
    """Succeeded (the summary), Ready, Reconciling and Stalled, in the metav1.Condition shape."""

    progress: Annotated[str, Field(max_length=16)] | None = None
    """Completed phases over total phases, such as 3/5."""

    current_phase: Annotated[str, Field(max_length=256)] | None = None
    """Name of the Phase being worked on."""

    phase_counts: PhaseCounts = Field(default_factory=PhaseCounts)
    """Phases per state."""

    usage: Usage = Field(default_factory=Usage)
    """Model usage of the whole run."""

    models: RunModels | None = None
    """Model profile and the models used."""

    budget: RunSpend | None = None
    """Spend against the run's budgets."""

    started_at: datetime | None = None
    """When the first runner started."""

    finished_at: datetime | None = None
    """When the run reached Succeeded, Failed or Cancelled."""

    job_name: Annotated[str, Field(max_length=63)] | None = None
    """The current or last runner Job."""

    runner_restarts: Annotated[int, Field(ge=0, le=1000)] = 0
    """Runner relaunches after infrastructure failures (OOMKilled, Evicted, a crash without a
    report), counted apart from phase failures."""

    result: RunResult | None = None
    """Branch and commit holding the result."""

    message: Annotated[str, Field(max_length=4096)] | None = None
    """Human-readable summary of the current state."""

    hint: Annotated[str, Field(max_length=1024)] | None = None
    """What to do next: for a failure, the step its reason calls for; for a wait, how to approve."""
