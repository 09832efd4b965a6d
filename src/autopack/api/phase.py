"""The ``Phase`` custom resource: one unit of planned work inside a run, and its live status.

A run's ``spec.phases`` items use :class:`PhaseDefinition`; the runner turns each normalized
phase into a ``Phase`` object (:class:`Phase`) whose ``spec`` adds the run name, index and the
approval flag, and whose ``status`` the runner patches as the phase progresses.
"""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from autopack.api import constants
from autopack.api.common import (
    ApiModel,
    Command,
    Condition,
    ObjectMeta,
    PathPattern,
    ShortText,
    Usage,
)

Complexity = Literal["low", "medium", "high"]


class PhaseState(StrEnum):
    """Where a phase is in its lifecycle."""

    QUEUED = "Queued"
    BUILDING = "Building"
    VALIDATING = "Validating"
    AUDITING = "Auditing"
    AWAITING_APPROVAL = "AwaitingApproval"
    COMPLETE = "Complete"
    FAILED = "Failed"
    SKIPPED = "Skipped"


TERMINAL_PHASE_STATES = frozenset({PhaseState.COMPLETE, PhaseState.FAILED, PhaseState.SKIPPED})


class FailureCategory(StrEnum):
    """What kind of check an attempt failed; signatures, mitigations and health caps key on it."""

    MALFORMED = "malformed"
    APPLY = "apply"
    CI = "ci"
    VALIDATION = "validation"
    DELIVERABLES = "deliverables"
    AUDIT = "audit"
    DRIFT = "drift"
    PROVIDER = "provider"


class Scope(ApiModel):
    """Which paths the Builder may change and which it may only read."""

    allowed_paths: Annotated[list[PathPattern], Field(max_length=200)] = Field(default_factory=list)
    """Files or directory prefixes (ending in '/') the phase may create, edit or delete."""

    read_only_context: Annotated[list[PathPattern], Field(max_length=200)] = Field(
        default_factory=list
    )
    """Files or directory prefixes shown to the models but never edited."""


class PhaseBudgets(ApiModel):
    """Per-phase limits; unset values fall back to the run's budgets and config defaults."""

    tokens: Annotated[int, Field(ge=1_000, le=1_000_000_000)] | None = None
    """Maximum model tokens (input plus output) this phase may use."""

    cost_usd: Annotated[float, Field(gt=0, le=10_000)] | None = Field(None, alias="costUSD")
    """Maximum model cost in US dollars for this phase."""

    max_attempts: Annotated[int, Field(ge=1, le=20)] | None = None
    """Maximum Builder attempts for this phase."""


class PhaseDefinition(ApiModel):
    """A planned phase as written in a run's spec.phases."""

    id: Annotated[str, Field(max_length=63, pattern=constants.DNS1123_LABEL_PATTERN)] | None = None
    """Stable identifier other phases can name in dependsOn (defaults to the position)."""

    title: Annotated[str, Field(min_length=1, max_length=200)]
    """Short title of the phase."""

    goal: Annotated[str, Field(max_length=8192)] = ""
    """What the phase must achieve, in plain words."""

    deliverables: Annotated[list[PathPattern], Field(max_length=100)] = Field(default_factory=list)
    """Files or directory prefixes that must exist afterwards; 'path::Name' also needs a symbol."""

    scope: Scope = Field(default_factory=Scope)
    """Paths the phase may change and paths it may read."""

    acceptance_criteria: Annotated[
        list[Annotated[str, Field(max_length=2000)]], Field(max_length=50)
    ] = Field(default_factory=list)
    """Statements the Auditor checks the change against."""

    validation: Annotated[list[Command], Field(max_length=20)] = Field(default_factory=list)
    """Commands that must exit 0 after the change (in addition to the project's tests)."""

    complexity: Complexity = "medium"
    """Expected difficulty; selects the model chain and default budgets."""

    category: Annotated[str, Field(max_length=63, pattern=r"^[a-z][a-z0-9-]*$")] = "feature"
    """Kind of work, such as feature, fix, tests, docs or refactor."""

    depends_on: Annotated[list[ShortText], Field(max_length=50)] = Field(default_factory=list)
    """Ids of phases that must be complete before this one starts."""

    budgets: PhaseBudgets = Field(default_factory=PhaseBudgets)
    """Limits for this phase."""


class PhaseSpec(PhaseDefinition):
    """Desired state of a Phase object, created by the runner from the normalized plan."""

    run_name: Annotated[str, Field(min_length=1, max_length=constants.MAX_RUN_NAME_LENGTH)]
    """Name of the AutopackRun this phase belongs to."""

    index: Annotated[int, Field(ge=0, le=999)]
    """Position of the phase in the run, from 0."""

    approved: bool = False
    """Set to true to let a phase waiting for approval continue."""


class CiSummary(ApiModel):
    """Outcome of the project's tests for the last attempt, relative to the run's baseline."""

    passed: Annotated[int, Field(ge=0)] = 0
    """Tests that passed."""

    failed: Annotated[int, Field(ge=0)] = 0
    """Tests that failed or errored."""

    new_failures: Annotated[list[Annotated[str, Field(max_length=1024)]], Field(max_length=50)] = (
        Field(default_factory=list)
    )
    """Ids of tests that passed in the baseline and fail now (first 50)."""

    baseline_failures: Annotated[int, Field(ge=0)] = 0
    """Tests that already failed before the run changed anything."""


AuditVerdict = Literal["approved", "changes_requested"]


class AuditSummary(ApiModel):
    """The Auditor model's last review of the phase's change."""

    verdict: AuditVerdict
    """approved or changes_requested."""

    summary: Annotated[str, Field(max_length=4000)] = ""
    """The Auditor's reasons, shortened."""


class DiffSummary(ApiModel):
    """Size of the phase's change against the previous phase's commit."""

    files: Annotated[int, Field(ge=0)] = 0
    """Files changed."""

    additions: Annotated[int, Field(ge=0)] = 0
    """Lines added."""

    deletions: Annotated[int, Field(ge=0)] = 0
    """Lines deleted."""


class FailureSummary(ApiModel):
    """Why the phase's last attempt failed and what was tried."""

    signature: Annotated[str, Field(max_length=1024)]
    """Normalized failure signature (paths, numbers and hashes stripped)."""

    mitigation: Annotated[str, Field(max_length=1024)] = ""
    """The deterministic mitigation or Doctor decision tried, if any."""


class DriftSummary(ApiModel):
    """How close the phase's change stayed to the project's intention."""

    score: float
    """Cosine similarity of the change summary to the intention anchor."""

    threshold: float
    """Below this score the change counts as drift."""

    verdict: Literal["on_goal", "drift"]
    """on_goal or drift."""

    provider: Annotated[str, Field(max_length=64)]
    """Embedding provider used (hashing-lexical compares words, not meaning)."""

    lexical: bool = False
    """True when the score measures shared words rather than meaning."""


class PhaseLedger(ApiModel):
    """What the budgets count for a phase beyond ``usage`` when the Phases are the run's ledger.

    A runner without a store writes a phase's usage at most every few seconds; in between it
    holds a reservation, so that a runner that stops mid-phase never leaves less counted than it
    spent (see :mod:`autopack.runner.reserving`).
    """

    reserved_tokens: Annotated[int, Field(ge=0)] = 0
    """Tokens the runner working on the phase may spend beyond ``usage`` before it writes again
    (0 once the phase or the run ends)."""

    reserved_cost_usd: Annotated[float, Field(ge=0)] = Field(0.0, alias="reservedCostUSD")
    """The same in US dollars."""

    unrecorded_tokens: Annotated[int, Field(ge=0)] = 0
    """Reservations of runners that stopped during the phase: they may have spent up to this
    without recording it, so the budgets count it as spent."""

    unrecorded_cost_usd: Annotated[float, Field(ge=0)] = Field(0.0, alias="unrecordedCostUSD")
    """The same in US dollars."""


class PhaseStatus(ApiModel):
    """Observed state of a Phase, patched by the runner."""

    state: PhaseState = PhaseState.QUEUED
    """Queued, Building, Validating, Auditing, AwaitingApproval, Complete, Failed or Skipped."""

    attempts: Annotated[int, Field(ge=0)] = 0
    """Builder attempts made so far."""

    model: Annotated[str, Field(max_length=256)] | None = None
    """Model used by the Builder in the last attempt."""

    usage: Usage = Field(default_factory=Usage)
    """Model usage of this phase."""

    plan_usage: Usage | None = None
    """On the first Phase: model usage of the planner calls that turned the run's free-form
    plan into phases (every runner's), part of the run's usage; zero on the others."""

    ledger: PhaseLedger | None = None
    """Spend counted beyond ``usage`` (reservations), when no store keeps the run's ledger."""

    ci: CiSummary | None = None
    """Test outcome of the last attempt."""

    audit: AuditSummary | None = None
    """The Auditor's last verdict."""

    diff: DiffSummary | None = None
    """Size of the change."""

    commit: Annotated[str, Field(max_length=64)] | None = None
    """Commit on the work branch that completed the phase."""

    failure: FailureSummary | None = None
    """Why the last attempt failed."""

    drift: DriftSummary | None = None
    """Goal-drift check of the completed change (advisory unless configured to block)."""

    conditions: Annotated[list[Condition], Field(max_length=16)] = Field(default_factory=list)
    """Conditions of the phase."""

    started_at: datetime | None = None
    """When the first attempt started."""

    finished_at: datetime | None = None
    """When the phase reached a terminal state."""


class Phase(ApiModel):
    """A phase of an AutopackRun, owned by the run."""

    api_version: Literal["autopack.dev/v1alpha1"] = "autopack.dev/v1alpha1"
    """API version: autopack.dev/v1alpha1."""

    kind: Literal["Phase"] = constants.PHASE_KIND
    """Kind: Phase."""

    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    """Standard object metadata."""

    spec: PhaseSpec
    """Desired state of the phase."""

    status: PhaseStatus | None = None
    """Observed state of the phase."""

    @model_validator(mode="after")
    def _name_or_generate_name(self) -> Self:
        if not self.metadata.name and not self.metadata.generate_name:
            raise ValueError("metadata.name is required")
        return self
