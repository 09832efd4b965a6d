"""Compose a run on this machine: workspace clone, command gates, edit blocks, scripted models.

``autopack run`` calls :func:`open_local_session`; the in-pod runner uses the same pieces with
its own sinks. The Editor port lives here: it renders repository context within a budget and
applies edit blocks inside the phase's scope under the run's approval policy.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from autopack import toolchains
from autopack.agents import planning as planning_agent
from autopack.api import AutopackRun, PhaseDefinition
from autopack import edits, events
from autopack.agents.contexting import ContextSelector
from autopack.engine.doctoring import Doctor
from autopack.workspace.git import GitWorkspace, credentials_from_environment
from autopack.engine.ports import ApplyOutcome, ParsedEdits
from autopack.llm.routed import RoutedModels, default_factory
from autopack.engine.session import Ports, Session
from autopack.gates.commands import CommandGates
from autopack.llm.pricing import load_prices
from autopack.llm.routing import ModelEntry, load_models_config
from autopack.llm.scripted import Cassette, CassetteRecorder, RecordingModel, ScriptedModel
from autopack.llm.types import Model
from autopack.planning import PlannerFn, PlanUnusableError, scan_repository
from autopack.toolchains import SuiteCommand


def utcnow() -> datetime:
    """The engine's clock."""
    return datetime.now(UTC)


class BlockEditor:
    """The Editor port: edit blocks, scope-checked apply, bounded repository context."""

    def __init__(self, root: Path, *, run: AutopackRun) -> None:
        """Edit the checkout at ``root`` under ``run``'s approval settings."""
        self.root = root
        approval = run.spec.approval
        self.protected = (*editing.DEFAULT_PROTECTED, *approval.protected_paths)
        self.threshold = approval.deletion_threshold_lines if approval.policy == "risky" else None
        self.always = approval.policy == "always"
        self.selector = ContextSelector(root)

    def format_instructions(self) -> str:
        """The edit block format."""
        return editing.FORMAT_INSTRUCTIONS

    def parse(self, text: str) -> ParsedEdits:
        """Parse edit blocks."""
        return editing.parse_edits(text)

    def apply(self, edits: ParsedEdits, *, phase: PhaseDefinition, approved: bool) -> ApplyOutcome:
        """Apply inside the phase's allowed paths; approval lifts the deletion threshold."""
        return editing.apply_edits(
            self.root,
            edits,
            allowed=list(phase.scope.allowed_paths),
            protected=self.protected,
            deletion_threshold=None if approved else self.threshold,
            approve_every_change=self.always and not approved,
        )

    def context(self, *, phase: PhaseDefinition, feedback: list[str], budget_tokens: int) -> str:
        """The repository map, then the most relevant files whole, within the token budget."""
        return self.selector.render(phase=phase, feedback=feedback, budget_tokens=budget_tokens)


def open_local_session(
    run: AutopackRun,
    *,
    run_id: str,
    repo_url: str,
    workdir: Path,
    cassette: Path | Cassette | None,
    emit: Callable[[events.Event], None],
    now: Callable[[], datetime] = utcnow,
    profile: str | None = None,
    record: Path | None = None,
) -> Session:
    """Clone (or refresh) the workspace and assemble a session with the scripted provider."""
    workspace = GitWorkspace.clone(
        repo_url,
        ref=run.spec.repo.ref,
        dest=workdir / run.name,
        branch=run.push_branch,
        credentials=credentials_from_environment(),
    )
    files = list(scan_repository(workspace.root, max_files=200_000, time_limit_seconds=5.0).files)
    suite = toolchains.choose_suite_command(
        toolchains.detect(workspace.root, files), run.spec.toolchain
    )
    test_command = suite.command if suite else None
    gates = CommandGates(workspace.root, suite=suite or SuiteCommand("false"))
    models = RoutedModels(
        config=load_models_config(),
        prices=load_prices(),
        profile="scripted" if cassette is not None else (profile or run.spec.models.profile),
        run=run.name,
        run_tokens=run.spec.budgets.tokens,
        run_cost=Decimal(str(run.spec.budgets.cost_usd)),
        emit=emit,
        now=now,
        overrides=None if cassette is not None else run.spec.models.chains,
        factory=model_factory(cassette=cassette, record=record),
    )
    ports = Ports(
        workspace=workspace,
        models=models,
        editor=BlockEditor(workspace.root, run=run),
        gates=gates,
        test_command=test_command,
        planner=scripted_planner(models, workspace.root),
    )
    return Session(
        run=run,
        run_id=run_id,
        ports=ports,
        emit=emit,
        now=now,
        intention=run.spec.intention,
        repo_url=repo_url,
        memory_path=workdir / ".memory" / run.name,
        doctor=Doctor(models=models),
    )


def model_factory(
    *, cassette: Path | Cassette | None, record: Path | None
) -> Callable[[ModelEntry, str], Model]:
    """Scripted models from a cassette, real ones, or real ones recorded into a cassette."""
    if cassette is not None:
        tape = cassette if isinstance(cassette, Cassette) else Cassette.load(cassette)

        def scripted(entry: ModelEntry, role: str) -> Model:
            del entry
            return ScriptedModel(tape, role=role)

        return scripted
    if record is None:
        return default_factory
    recorder = CassetteRecorder(record)

    def recording(entry: ModelEntry, role: str) -> Model:
        return RecordingModel(default_factory(entry, role), recorder=recorder, role=role)

    return recording


def scripted_planner(models: RoutedModels, root: Path) -> PlannerFn:
    """Return the plan-normalization hook that asks the Planner role through ``models``."""

    def plan(text: str) -> tuple[list[dict[str, Any]], int]:
        files = list(scan_repository(root, max_files=2000, time_limit_seconds=2.0).files)

        def ask(messages: list[tuple[str, str]]) -> str:
            reply = models.complete(
                role="planner",
                phase=None,
                phase_index=None,
                attempt=0,
                failures=0,
                system=planning_agent.SYSTEM_PROMPT,
                messages=messages,
                max_tokens=4096,
            )
            return reply.text

        try:
            return planning_agent.plan_with_model(ask, plan_text=text, repository_files=files)
        except planning_agent.PlannerError as exc:
            raise PlanUnusableError(str(exc)) from None

    return plan
