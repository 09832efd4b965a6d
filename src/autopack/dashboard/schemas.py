"""Response models of the JSON API (``/api/v1``): the contract the pages and other clients read.

The HTML pages are rendered from these same models, so what a page shows is what the API says.
Money is a decimal string in JSON (exact, as in the ledger), tokens are integers.
"""

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Period = Literal["day", "week", "month"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Usage(_Model):
    """Token and cost totals."""

    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    llm_calls: int = 0


class RunSummary(_Model):
    """One row of the runs list."""

    id: str
    name: str
    namespace: str
    source: str
    state: str
    message: str | None
    repo_url: str
    progress: str = Field(description='Complete phases over all phases, e.g. "1/2".')
    phases_complete: int
    phases_total: int
    usage: Usage
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RunPage(_Model):
    """A page of runs, newest first, and the values the filters offer."""

    items: list[RunSummary]
    total: int
    limit: int
    offset: int
    states: list[str]
    namespaces: list[str]
    repositories: list[str]


class TestResult(_Model):
    """One run of the project's tests."""

    kind: str
    command: str
    passed: int
    failed: int
    skipped: int
    collection_errors: int
    new_failures: list[str]
    duration_seconds: float
    log_excerpt: str | None


class ModelCall(_Model):
    """One model call as billed."""

    id: int
    role: str
    provider: str
    model: str
    input_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    output_tokens: int | None
    cost_usd: Decimal | None
    latency_ms: int
    outcome: str
    stop_reason: str | None
    created_at: datetime


class AttemptView(_Model):
    """One Builder attempt with everything that happened to it."""

    number: int
    outcome: str
    model: str | None
    escalation: str | None
    failure_category: str | None
    failure_signature: str | None
    failure_detail: str | None
    mitigation: str | None
    mitigation_fixed: bool | None
    doctor_decision: str | None
    doctor_hint: str | None
    diff_files: list[str]
    diff_additions: int | None
    diff_deletions: int | None
    diff: str | None = Field(description="The unified diff, when the engine recorded it.")
    refusals: list[str]
    audit_verdict: str | None
    audit_summary: str | None
    tests_before: TestResult | None
    tests_after: TestResult | None
    calls: list[ModelCall]
    started_at: datetime | None
    finished_at: datetime | None


class PhaseView(_Model):
    """One phase and its attempts."""

    index: int
    title: str
    state: str
    attempts_made: int
    model: str | None
    commit: str | None
    failure_signature: str | None
    usage: Usage
    attempts: list[AttemptView]


class EventView(_Model):
    """One entry of a run's timeline."""

    id: int
    type: str
    phase_index: int | None
    summary: str
    created_at: datetime


class NoteView(_Model):
    """A person's note on a run."""

    id: int
    text: str
    author: str
    source: str
    created_at: datetime


class RunDetail(_Model):
    """One run: phases, attempts, calls, timeline and notes."""

    run: RunSummary
    base_ref: str
    push_branch: str
    result_commit: str | None
    reason: str | None
    baseline: TestResult | None
    phases: list[PhaseView]
    run_calls: list[ModelCall] = Field(description="Calls outside any phase (e.g. planning).")
    events: list[EventView]
    events_total: int
    notes: list[NoteView]
    notes_enabled: bool


class NoteIn(_Model):
    """A note to add to a run."""

    text: str = Field(min_length=1, max_length=4000)
    author: str = Field(default="", max_length=253)


class UsageRow(_Model):
    """Usage of one group (a period, provider, model or role)."""

    key: str
    usage: Usage
    cache_share: float = Field(description="Share of input tokens read from the cache (0..1).")


class ProviderCost(_Model):
    """The cost of one provider in one period."""

    period: str
    provider: str
    cost_usd: Decimal


class UsageReport(_Model):
    """Usage by period, provider, model and role over the chosen window."""

    period: Period
    since: datetime | None
    total: Usage
    cache_share: float
    by_period: list[UsageRow]
    by_provider: list[UsageRow]
    by_model: list[UsageRow]
    by_role: list[UsageRow]
    cost_by_provider: list[ProviderCost]


class PricedModel(_Model):
    """A model alias with its prices per million tokens."""

    alias: str
    name: str
    provider: str
    input: Decimal | None
    output: Decimal | None
    cache_read: Decimal | None
    cache_write: Decimal | None


class RoleRoute(_Model):
    """One role's model chains per complexity."""

    role: str
    low: list[str]
    medium: list[str]
    high: list[str]


class ModelsView(_Model):
    """A routing profile: chains per role and complexity, with prices."""

    profile: str
    profiles: list[str]
    escalate_after_failures: int
    complexity_bump_after: int
    routes: list[RoleRoute]
    fallback: list[str]
    models: list[PricedModel]
    pricing_version: str


class SignatureCount(_Model):
    """How often a failure signature occurred and how mitigations fared on it."""

    signature: str
    category: str | None
    failures: int
    mitigated: int
    resolved: int


class HardeningView(_Model):
    """Failure-hardening statistics over all runs."""

    failed_attempts: int
    mitigated: int
    resolved_by_mitigation: int
    resolved_share: float
    doctor_calls: int
    doctor_calls_avoided: int
    doctor_tokens_avoided: int
    signatures: list[SignatureCount]
