"""A run from start to end: plan, preflight, phases, and the final word to every sink.

Both entry points use this: ``autopack run`` (local workspace, SQLite, console) and the
in-pod runner (Phase objects, PostgreSQL, Kubernetes status). They differ only in the ports
and sinks they pass in. An unusable plan ends the run ``Failed`` with reason ``PlanInvalid``
and a message naming each problem; nothing is spent on it.
"""

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from autopack.api import AutopackRun
from autopack import events
from autopack.engine.doctoring import Doctor
from autopack.hardening.mitigator import Mitigator
from autopack.engine.attempts import PhaseContext
from autopack.engine.ports import Editor, EngineStop, Gates, Models, Workspace
from autopack.memory.run import RunMemory
from autopack.engine.running import RunOutcome, execute_phases
from autopack.hardening.registry import HealthSettings
from autopack.planning import (
    NormalizedPlan,
    PlanInvalidError,
    PlannerFn,
    PlanUnusableError,
    load_planning_config,
    normalize_plan,
    preflight,
    scan_repository,
)


@dataclass
class Ports:
    """The concrete workspace, models, editor and gates of one run."""

    workspace: Workspace
    models: Models
    editor: Editor
    gates: Gates
    test_command: str | None
    planner: PlannerFn | None = None


@dataclass
class Session:
    """One execution of one run."""

    run: AutopackRun
    run_id: str
    ports: Ports
    emit: Callable[[events.Event], None]
    now: Callable[[], datetime]
    intention: str = ""
    repo_url: str = ""
    memory_path: Path | None = None
    use_memory: bool = True
    doctor: Doctor | None = None
    plan: NormalizedPlan | None = None
    warnings: list[str] = field(default_factory=list)

    def _event(self, event_type: type[events.Event], **fields: object) -> None:
        self.emit(event_type(run=self.run.name, at=self.now(), **fields))

    def start(self, *, resumed_phases: int = 0) -> None:
        """Announce the run."""
        self._event(
            events.RunStarted,
            run_id=self.run_id,
            repo_url=self.repo_url or self.run.spec.repo.url,
            base_ref=self.run.spec.repo.ref,
            branch=self.run.push_branch,
            resumed_phases=resumed_phases,
        )

    def normalize(self) -> NormalizedPlan:
        """Normalize and preflight the plan; raise PlanInvalidError / PlanUnusableError."""
        config = load_planning_config()
        scan = scan_repository(
            self.ports.workspace.root,
            max_files=config.scan.max_files,
            time_limit_seconds=config.scan.time_limit_seconds,
        )
        plan = normalize_plan(
            self.run.spec,
            scan=scan,
            config=config,
            test_command=self.ports.test_command,
            planner=self.ports.planner,
        )
        report = preflight(plan, spec=self.run.spec, scan=scan)
        if not report.ok:
            raise PlanInvalidError(report)
        self.warnings = [str(issue) for issue in report.warnings]
        self._event(
            events.PlanReady,
            source=plan.source,
            model_calls=plan.model_calls,
            titles=tuple(p.title for p in plan.phases),
            definitions=tuple(p.to_api() for p in plan.phases),
            warnings=tuple(self.warnings),
        )
        self.plan = plan
        return plan

    def finish(self, outcome: RunOutcome) -> RunOutcome:
        """Tell every sink how the run ended."""
        self._event(
            events.RunFinished,
            state=outcome.state,
            reason=outcome.reason,
            message=outcome.message,
            branch=self.run.push_branch,
            commit=outcome.commit,
            doctor_calls=self.doctor.calls_in_run if self.doctor else 0,
            doctor_calls_avoided=self.doctor.avoided if self.doctor else 0,
            doctor_tokens_avoided=(
                self.doctor.avoided * self.doctor.config.doctor.typical_tokens if self.doctor else 0
            ),
        )
        return outcome

    def _max_failures(self) -> int:
        """The run's own cap when its spec sets one, else the hardening configuration's."""
        budgets = self.run.spec.budgets
        if "max_failures_per_run" in budgets.model_fields_set or self.doctor is None:
            return budgets.max_failures_per_run
        return self.doctor.config.health.max_failures

    def execute(
        self, *, approved: Collection[int] = (), max_failures: int | None = None
    ) -> RunOutcome:
        """Plan (if not done) and run the phases; always ends with RunFinished."""
        try:
            plan = self.plan or self.normalize()
        except (PlanInvalidError, PlanUnusableError) as exc:
            return self.finish(RunOutcome("Failed", "PlanInvalid", f"PlanInvalid: {exc}"))
        except EngineStop as stop:
            return self.finish(RunOutcome("Failed", stop.reason, stop.message))
        memory = (
            RunMemory(
                run_id=self.run_id,
                spec=self.run.spec,
                phases=plan.phases,
                local_path=self.memory_path,
            )
            if self.use_memory
            else None
        )
        context = PhaseContext(
            run=self.run.name,
            workspace=self.ports.workspace,
            models=self.ports.models,
            editor=self.ports.editor,
            gates=self.ports.gates,
            emit=self.emit,
            now=self.now,
            intention=self.intention,
            max_failures_per_run=max_failures or self._max_failures(),
            memory=memory,
            mitigator=Mitigator(root=self.ports.workspace.root, gates=self.ports.gates),
            doctor=self.doctor,
            health=self.doctor.config.health if self.doctor else HealthSettings(),
        )
        try:
            outcome = execute_phases(context, phases=plan.phases, approved=approved)
        finally:
            if memory is not None:
                memory.close()
        return self.finish(outcome)
