"""Turn a run's plan (structured phases, tagged markdown or free text) into grounded phases.

Deterministic first: structured ``phases`` and tagged markdown are used without any model
call, and the result records that none was made. Only a plan that says too little goes to the
planner model. Every phase is then grounded in the scanned repository — scope inferred where
missing, budgets from per-complexity defaults capped by the run's — and each choice keeps its
provenance so ``autopack plan`` can show where it came from.
"""

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from autopack.api import AutopackRunSpec, PhaseBudgets, PhaseDefinition, Scope
from autopack.planning.config import PlanningConfig
from autopack.planning.markdown import MarkdownPhase, parse_markdown_plan
from autopack.planning.scanning import RepoScan
from autopack.planning.scoping import ScopeInference, infer_scope

PlanSource = Literal["phases", "markdown", "planner"]

_PATHLIKE = re.compile(r"`([^`\s]+)`|(?<![\w/.-])((?:[\w.-]+/)+[\w.-]*\.[A-Za-z0-9]+)(?![\w/])")

# The planner is handed the plan text and returns candidate phases as API-shaped mappings
# (see autopack.planning.planner); it reports how many model calls it made.
PlannerFn = Callable[[str], tuple[list[dict[str, Any]], int]]


@dataclass(frozen=True)
class PhaseProvenance:
    """Where each part of a normalized phase came from."""

    origin: PlanSource
    scope: ScopeInference
    deliverables: str
    validation: str
    budgets: str
    line: int | None = None


@dataclass
class NormalizedPlan:
    """The phases a run will execute, with provenance, warnings and the model calls made."""

    phases: list[PhaseDefinition]
    provenance: list[PhaseProvenance]
    source: PlanSource
    model_calls: int
    source_reason: str
    test_command: str | None
    warnings: list[str] = field(default_factory=list)


class PlanUnusableError(ValueError):
    """The plan cannot be turned into phases at all (before preflight can even look)."""


def paths_in_text(texts: Sequence[str]) -> list[str]:
    """Return path-like tokens (``src/a.py``, backticked names) mentioned in ``texts``."""
    found: dict[str, None] = {}
    for text in texts:
        for match in _PATHLIKE.finditer(text):
            token = match.group(1) or match.group(2)
            if token and ("/" in token or "." in token.strip(".")) and " " not in token:
                found[token] = None
    return list(found)


def _phase_from_markdown(phase: MarkdownPhase, warnings: list[str]) -> dict[str, Any]:
    tags = phase.tags
    draft: dict[str, Any] = {
        "title": phase.title,
        "goal": phase.goal or phase.title,
        "acceptanceCriteria": phase.criteria,
        "deliverables": [*phase.deliverables, *tags.get("deliverables", [])],
        "validation": [*phase.validation, *tags.get("validation", [])],
        "scope": {
            "allowedPaths": tags.get("paths", []),
            "readOnlyContext": tags.get("read_only", []),
        },
        "dependsOn": tags.get("depends_on", []),
    }
    for key, field_name in (("complexity", "complexity"), ("category", "category"), ("id", "id")):
        if key in tags:
            draft[field_name] = tags[key][-1].lower()
    if draft.get("complexity") not in (None, "low", "medium", "high"):
        warnings.append(
            f"phase {phase.title!r} (line {phase.line}): complexity {draft['complexity']!r} "
            "is not low, medium or high; using medium"
        )
        draft["complexity"] = "medium"
    return draft


def _validate_draft(draft: dict[str, Any], *, index: int, origin: PlanSource) -> PhaseDefinition:
    try:
        return PhaseDefinition.model_validate(draft, by_alias=True, by_name=False)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'phase'}: {error['msg']}"
            for error in exc.errors()
        )
        raise PlanUnusableError(f"{origin} phase {index} is not usable: {problems}") from None


@dataclass
class _Collected:
    phases: list[tuple[PhaseDefinition, PlanSource, int | None]]
    source: PlanSource
    reason: str
    calls: int
    warnings: list[str]


def _collect(
    spec: AutopackRunSpec, *, config: PlanningConfig, planner: PlannerFn | None
) -> _Collected:
    warnings: list[str] = []
    if spec.phases:
        given: list[tuple[PhaseDefinition, PlanSource, int | None]] = [
            (phase, "phases", None) for phase in spec.phases
        ]
        return _Collected(given, "phases", f"{len(given)} structured phases", 0, warnings)
    parsed = parse_markdown_plan(
        spec.plan,
        known_tags=config.markdown.known_tags,
        tag_aliases=config.markdown.tag_aliases,
    )
    warnings.extend(parsed.warnings)
    if parsed.structured:
        from_markdown: list[tuple[PhaseDefinition, PlanSource, int | None]] = [
            (
                _validate_draft(_phase_from_markdown(p, warnings), index=i, origin="markdown"),
                "markdown",
                p.line,
            )
            for i, p in enumerate(parsed.phases)
        ]
        return _Collected(from_markdown, "markdown", parsed.reason, 0, warnings)
    if planner is None:
        raise PlanUnusableError(
            f"the plan needs the planner model ({parsed.reason}), but no planner is configured; "
            "tag the markdown phases (e.g. [paths:src/] and indented acceptance criteria) "
            "or give spec.phases"
        )
    drafts_raw, calls = planner(spec.plan)
    from_planner: list[tuple[PhaseDefinition, PlanSource, int | None]] = [
        (_validate_draft(draft, index=i, origin="planner"), "planner", None)
        for i, draft in enumerate(drafts_raw)
    ]
    if not from_planner:
        raise PlanUnusableError("the planner returned no phases for this plan")
    return _Collected(from_planner, "planner", f"planner model: {parsed.reason}", calls, warnings)


def _budgets(
    phase: PhaseDefinition, spec: AutopackRunSpec, config: PlanningConfig
) -> tuple[PhaseBudgets, str]:
    """Fill unset budgets from the complexity defaults, capped by the run's own budgets."""
    given = phase.budgets
    run = spec.budgets
    defaults = config.budgets.get(phase.complexity)
    default_tokens = min(defaults.tokens, run.tokens) if defaults else run.tokens
    default_cost = min(defaults.cost_usd, run.cost_usd) if defaults else run.cost_usd
    filled = PhaseBudgets(
        tokens=given.tokens if given.tokens is not None else default_tokens,
        cost_usd=given.cost_usd if given.cost_usd is not None else default_cost,
        max_attempts=given.max_attempts
        if given.max_attempts is not None
        else run.max_attempts_per_phase,
    )
    unset = [name for name, value in given if value is None]
    if not unset:
        return filled, "phase"
    origin = f"{phase.complexity} defaults capped by the run"
    return filled, origin if len(unset) == 3 else f"phase, rest from {origin}"


def normalize_plan(
    spec: AutopackRunSpec,
    *,
    scan: RepoScan,
    config: PlanningConfig,
    test_command: str | None,
    planner: PlannerFn | None = None,
) -> NormalizedPlan:
    """Normalize the run's plan into grounded phases. Raises PlanUnusableError if impossible."""
    collected = _collect(spec, config=config, planner=planner)
    warnings = collected.warnings
    phases: list[PhaseDefinition] = []
    provenance: list[PhaseProvenance] = []
    for phase, origin, line in collected.phases:
        texts = [phase.title, phase.goal, *phase.acceptance_criteria]
        deliverables = list(phase.deliverables)
        deliverables_source = "plan" if deliverables else "none"
        if not deliverables and origin != "phases":
            deliverables = paths_in_text(texts)
            deliverables_source = "mentioned in the text" if deliverables else "none"
        if not deliverables and origin != "phases" and phase.scope.allowed_paths:
            deliverables = list(phase.scope.allowed_paths)
            deliverables_source = "the phase's paths"
            warnings.append(
                f"phase {phase.title!r}: no deliverables named; using its paths "
                f"{', '.join(deliverables)}"
            )
        scope = infer_scope(
            texts=texts,
            deliverables=deliverables,
            explicit_paths=phase.scope.allowed_paths,
            scan=scan,
            stopwords=config.scope.stopwords,
            min_confidence=config.scope.min_confidence,
            max_keyword_paths=config.scope.max_keyword_paths,
        )
        budgets, budget_source = _budgets(phase, spec, config)
        grounded = phase.model_copy(
            update={
                "deliverables": deliverables,
                "scope": Scope(
                    allowed_paths=list(scope.allowed_paths),
                    read_only_context=list(phase.scope.read_only_context),
                ),
                "budgets": budgets,
            }
        )
        validation_source = (
            "phase"
            if phase.validation
            else (f"toolchain tests: {test_command}" if test_command else "none")
        )
        phases.append(grounded)
        provenance.append(
            PhaseProvenance(
                origin=origin,
                scope=scope,
                deliverables=deliverables_source,
                validation=validation_source,
                budgets=budget_source,
                line=line,
            )
        )
    if scan.truncated:
        warnings.append(
            f"the repository scan stopped after {len(scan.files)} files; scope inference "
            "may miss paths (raise scan limits in config/planning.yaml)"
        )
    return NormalizedPlan(
        phases=phases,
        provenance=provenance,
        source=collected.source,
        model_calls=collected.calls,
        source_reason=collected.reason,
        test_command=test_command,
        warnings=warnings,
    )
