"""A run from start to end: plan, preflight, phases, and the final word to every sink.

Both entry points get a :class:`Session` from :mod:`autopack.engine.wiring` and call
:meth:`Session.start`, optionally :meth:`Session.normalize` (the runner creates Phase objects
from the plan), and :meth:`Session.execute`. ``execute`` always ends with ``RunFinished``: an
unusable plan ends the run ``Failed`` with reason ``PlanInvalid``; a stop ends it with the
stop's reason; any unexpected exception ends it with ``InternalError`` and a one-line message.
"""

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from autopack import events
from autopack.api import AutopackRun, RunPhase
from autopack.api.conditions import Reason
from autopack.engine.ports import AttemptFailed, Memory, RunStopped, one_line
from autopack.engine.running import Recovery, execute_phases
from autopack.engine.steps import RunContext
from autopack.events import RunOutcome
from autopack.planning import (
    NormalizedPlan,
    PlanInvalidError,
    PlannerFn,
    PlanningConfig,
    PlanUnusableError,
    RepoScan,
    load_planning_config,
    normalize_plan,
    preflight,
    scan_repository,
)

log = logging.getLogger(__name__)


def _within_bounds(scan: RepoScan, config: PlanningConfig) -> bool:
    """Whether a scan under the planning bounds would list what ``scan`` did.

    It would when ``scan`` was complete and stayed within them: nothing runs in the checkout
    between the clone and the plan.
    """
    return (
        not scan.truncated
        and len(scan.files) <= config.scan.max_files
        and scan.elapsed_seconds <= config.scan.time_limit_seconds
    )


MemoryFactory = Callable[[NormalizedPlan], Memory | None]


@dataclass
class Session:
    """One execution of one run."""

    run: AutopackRun
    run_id: str
    repo_url: str
    ctx: RunContext
    recovery: Recovery
    test_command: str | None = None
    planner: PlannerFn | None = None
    memory: MemoryFactory | None = None
    previous_attempts: Mapping[int, int] = field(default_factory=dict)
    sandbox: str = "none"
    checkout: RepoScan | None = None
    """The checkout's files as cloned; planning uses them instead of listing them again."""
    close: Callable[[], None] = lambda: None
    deliver: Callable[[RunOutcome], str | None] | None = None
    """Offers a finished run's result for review (a pull request); returns its URL."""
    plan: NormalizedPlan | None = None
    warnings: list[str] = field(default_factory=list)

    def _emit(self, event: events.RunEvent) -> None:
        self.ctx.emit(event)

    def start(self) -> None:
        """Announce the run (how many phases it had already completed)."""
        self._emit(
            events.RunStarted(
                run=self.run.name,
                at=self.ctx.now(),
                run_id=self.run_id,
                repo_url=self.repo_url,
                base_ref=self.run.spec.repo.ref,
                branch=self.run.push_branch,
                resumed_phases=len(self.ctx.workspace.completed_phases()),
                sandbox=self.sandbox,
            )
        )

    def normalize(self) -> NormalizedPlan:
        """Normalize and preflight the plan; raise PlanInvalidError / PlanUnusableError."""
        if self.plan is not None:
            return self.plan
        config = load_planning_config()
        scan = self.checkout
        if scan is None or not _within_bounds(scan, config):
            scan = scan_repository(
                self.ctx.workspace.root,
                max_files=config.scan.max_files,
                time_limit_seconds=config.scan.time_limit_seconds,
            )
        plan = normalize_plan(
            self.run.spec,
            scan=scan,
            config=config,
            test_command=self.test_command,
            planner=self.planner,
        )
        report = preflight(plan, spec=self.run.spec, scan=scan)
        if not report.ok:
            raise PlanInvalidError(report)
        self.warnings = [str(issue) for issue in report.warnings]
        self._emit(
            events.PlanReady(
                run=self.run.name,
                at=self.ctx.now(),
                source=plan.source,
                model_calls=plan.model_calls,
                phases=tuple(plan.phases),
                warnings=tuple(self.warnings),
            )
        )
        self.plan = plan
        return plan

    def execute(
        self,
        *,
        approved: Collection[int] = (),
        on_plan: Callable[[NormalizedPlan], None] | None = None,
    ) -> RunOutcome:
        """Plan (if not done) and run the phases; always ends with RunFinished.

        ``on_plan`` sees the plan before the first phase (the runner creates Phase objects).
        """
        try:
            outcome = self._execute(approved, on_plan)
        except (PlanInvalidError, PlanUnusableError) as exc:
            outcome = RunOutcome(RunPhase.FAILED, Reason.PLAN_INVALID, str(exc))
        except RunStopped as stopped:
            outcome = RunOutcome.stopped(stopped.stop, commit=None, results={}, baseline="")
        except AttemptFailed as failed:  # the planner's provider was unavailable
            outcome = RunOutcome(RunPhase.FAILED, Reason.PROVIDER_ERROR, failed.failure.summary)
        except Exception as exc:  # the run must end with a state and a reason, whatever broke
            log.exception("the run failed unexpectedly")
            outcome = RunOutcome(RunPhase.FAILED, Reason.INTERNAL_ERROR, one_line(exc))
        finally:
            self.close()
        if self.deliver is not None and outcome.state != RunPhase.FAILED:
            outcome = self._delivered(outcome)
        return self.finish(outcome)

    def _delivered(self, outcome: RunOutcome) -> RunOutcome:
        """The outcome with its pull request; a forge that refuses is said, never fatal."""
        assert self.deliver is not None  # noqa: S101 - checked by the caller
        try:
            outcome.pull_request = self.deliver(outcome)
        except Exception as exc:  # the work is pushed; only the review request failed
            log.warning("the pull request was not opened: %s", exc)
            outcome.message += f" (pull request not opened: {one_line(exc)})"
        return outcome

    def _execute(
        self, approved: Collection[int], on_plan: Callable[[NormalizedPlan], None] | None
    ) -> RunOutcome:
        plan = self.normalize()
        if on_plan is not None:
            on_plan(plan)
        self.ctx.memory = self.memory(plan) if self.memory is not None else None
        try:
            return execute_phases(
                self.ctx,
                phases=plan.phases,
                recovery=self.recovery,
                approved=approved,
                previous_attempts=self.previous_attempts,
            )
        finally:
            if self.ctx.memory is not None:
                self.ctx.memory.close()

    def finish(self, outcome: RunOutcome) -> RunOutcome:
        """Tell every sink how the run ended."""
        doctor = self.recovery.doctor
        self._emit(
            events.RunFinished(
                run=self.run.name,
                at=self.ctx.now(),
                outcome=outcome,
                branch=self.run.push_branch,
                doctor_calls=doctor.calls_in_run if doctor else 0,
                doctor_calls_avoided=doctor.avoided if doctor else 0,
                doctor_tokens_avoided=(
                    doctor.avoided * doctor.config.doctor.typical_tokens if doctor else 0
                ),
            )
        )
        return outcome
