"""Plan normalization: structured phases, tagged markdown or notes become grounded phases.

``normalize_plan`` turns a run's plan into phases grounded in the scanned repository (scope,
validation, budgets, with provenance); ``preflight`` checks them before anything is spent.
"""

from autopack.planning.config import PlanningConfig, load_planning_config
from autopack.planning.markdown import MarkdownPlan, parse_markdown_plan
from autopack.planning.normalizing import (
    NormalizedPlan,
    PhaseProvenance,
    PlannerFn,
    PlanUnusableError,
    normalize_plan,
)
from autopack.planning.preflight import PlanInvalidError, PreflightReport, preflight
from autopack.planning.scanning import RepoScan, scan_repository
from autopack.planning.scoping import ScopeEvidence, ScopeInference, infer_scope

__all__ = [
    "MarkdownPlan",
    "NormalizedPlan",
    "PhaseProvenance",
    "PlanInvalidError",
    "PlanUnusableError",
    "PlannerFn",
    "PlanningConfig",
    "PreflightReport",
    "RepoScan",
    "ScopeEvidence",
    "ScopeInference",
    "infer_scope",
    "load_planning_config",
    "normalize_plan",
    "parse_markdown_plan",
    "preflight",
    "scan_repository",
]
