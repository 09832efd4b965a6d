"""Check a normalized plan before any money is spent: errors stop the run, warnings are kept.

Each problem names the phase (position and title) and the field, and says what to do, so an
unusable plan ends the run ``Failed`` with reason ``PlanInvalid`` and a message a person can act
on, instead of failing expensively half-way through.
"""

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal

from autopack.api import AutopackRunSpec, PhaseDefinition
from autopack.planning.normalizing import NormalizedPlan
from autopack.planning.scanning import RepoScan
from autopack.planning.scoping import deliverable_path

Severity = Literal["error", "warning"]

LOW_SCOPE_CONFIDENCE = 0.5


@dataclass(frozen=True)
class PreflightIssue:
    """One problem with one phase (or the whole plan when ``index`` is None)."""

    severity: Severity
    index: int | None
    title: str
    field: str
    message: str

    def __str__(self) -> str:
        """Format as ``phase N 'Title': field: message``."""
        where = "plan" if self.index is None else f"phase {self.index} {self.title!r}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


@dataclass
class PreflightReport:
    """All problems found; the plan is usable when there are no errors."""

    issues: list[PreflightIssue] = field(default_factory=list)

    @property
    def errors(self) -> list[PreflightIssue]:
        """Problems that stop the run."""
        return [issue for issue in self.issues if issue.severity == "error"]

    @property
    def warnings(self) -> list[PreflightIssue]:
        """Problems recorded on the run."""
        return [issue for issue in self.issues if issue.severity == "warning"]

    @property
    def ok(self) -> bool:
        """Whether the plan may run."""
        return not self.errors


class PlanInvalidError(ValueError):
    """Preflight found errors; the message lists each, one per line."""

    def __init__(self, report: PreflightReport) -> None:
        """Keep the report; the message is every error on its own line."""
        super().__init__("\n".join(str(issue) for issue in report.errors))
        self.report = report


def outside_repository(path: str) -> str | None:
    """Return why ``path`` is not a path inside the repository, or None if it is."""
    if not path.strip():
        return "is empty"
    if path.startswith(("/", "~")) or PurePosixPath(path).is_absolute() or ":\\" in path:
        return "is absolute; use a path relative to the repository root"
    depth = 0
    for part in PurePosixPath(path).parts:
        depth += -1 if part == ".." else (0 if part == "." else 1)
        if depth < 0:
            return "leaves the repository through '..'"
    if path == ".git" or path.startswith(".git/") or "/.git/" in f"/{path}":
        return "is inside .git/, which is never editable"
    return None


class _Checker:
    def __init__(self, report: PreflightReport, index: int, phase: PhaseDefinition) -> None:
        self.report = report
        self.index = index
        self.title = phase.title

    def error(self, field_name: str, message: str) -> None:
        self.report.issues.append(
            PreflightIssue("error", self.index, self.title, field_name, message)
        )

    def warn(self, field_name: str, message: str) -> None:
        self.report.issues.append(
            PreflightIssue("warning", self.index, self.title, field_name, message)
        )


def _check_paths(check: _Checker, phase: PhaseDefinition, scan: RepoScan) -> None:
    for field_name, paths in (
        ("scope.allowedPaths", phase.scope.allowed_paths),
        ("scope.readOnlyContext", phase.scope.read_only_context),
        ("deliverables", [deliverable_path(d) for d in phase.deliverables]),
    ):
        for path in paths:
            problem = outside_repository(path)
            if problem:
                check.error(field_name, f"{path!r} {problem}")
            elif field_name == "scope.readOnlyContext" and not (
                scan.exists(path) or scan.is_dir(path)
            ):
                check.warn(field_name, f"{path!r} does not exist in the repository")


def _check_budgets(check: _Checker, phase: PhaseDefinition, spec: AutopackRunSpec) -> None:
    run = spec.budgets
    budgets = phase.budgets
    if budgets.tokens is not None and budgets.tokens > run.tokens:
        check.error(
            "budgets.tokens",
            f"{budgets.tokens:,} exceeds the run's budget of {run.tokens:,} tokens; lower it "
            "or raise spec.budgets.tokens",
        )
    if budgets.cost_usd is not None and budgets.cost_usd > run.cost_usd:
        check.error(
            "budgets.costUSD",
            f"${budgets.cost_usd:.2f} exceeds the run's budget of ${run.cost_usd:.2f}; lower it "
            "or raise spec.budgets.costUSD",
        )
    if budgets.max_attempts is not None and budgets.max_attempts > run.max_attempts_per_phase:
        check.error(
            "budgets.maxAttempts",
            f"{budgets.max_attempts} exceeds the run's maxAttemptsPerPhase "
            f"({run.max_attempts_per_phase})",
        )


def _check_dependencies(check: _Checker, phases: list[PhaseDefinition], index: int) -> None:
    position = {str(i): i for i in range(len(phases))}
    position.update({p.id: i for i, p in enumerate(phases) if p.id})
    for dependency in phases[index].depends_on:
        target = position.get(dependency)
        if target is None:
            check.error("dependsOn", f"{dependency!r} names no phase of this plan")
        elif target >= index:
            check.error(
                "dependsOn",
                f"{dependency!r} is phase {target}, which does not run before this one; "
                "reorder the phases",
            )


def preflight(plan: NormalizedPlan, *, spec: AutopackRunSpec, scan: RepoScan) -> PreflightReport:
    """Check every phase of ``plan``; return errors and warnings (never raises)."""
    report = PreflightReport()
    if not plan.phases:
        report.issues.append(PreflightIssue("error", None, "", "phases", "the plan has no phases"))
    for warning in plan.warnings:
        report.issues.append(PreflightIssue("warning", None, "", "", warning))
    for index, (phase, origin) in enumerate(zip(plan.phases, plan.provenance, strict=True)):
        check = _Checker(report, index, phase)
        if not phase.goal.strip():
            check.error("goal", "is empty; say what the phase must achieve")
        if not phase.deliverables:
            check.error(
                "deliverables",
                "none given; name at least one file or directory the phase must produce",
            )
        if not phase.scope.allowed_paths:
            check.error(
                "scope.allowedPaths",
                "none given and none could be inferred from deliverables or wording; "
                "name the paths the phase may change",
            )
        elif origin.scope.confidence < LOW_SCOPE_CONFIDENCE:
            check.warn(
                "scope.allowedPaths",
                f"inferred with low confidence ({origin.scope.confidence:.2f}) from "
                f"{origin.scope.sources}; check it or name the paths",
            )
        _check_paths(check, phase, scan)
        if not phase.validation and not plan.test_command:
            check.error(
                "validation",
                "no validation command and no test command detected for the repository; "
                "add validation commands or spec.toolchain.test",
            )
        _check_budgets(check, phase, spec)
        _check_dependencies(check, plan.phases, index)
    return report
