"""The one composition root: a run, its options and its sinks become a ready :class:`Session`.

``autopack run`` and the in-cluster runner both call :func:`open_session`; they differ only in
the options they pass (a cassette or a model profile, the work directory, what earlier
processes already did) and the sinks behind ``emit``. Everything else — the git workspace,
the test gates, the routed and budgeted models, the edit applier, context selection, the
planner, mitigations, the Doctor, the health budget and intention memory — is assembled here
once, so the two entry points cannot drift.
"""

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from autopack import events, toolchains
from autopack import sandbox as sandboxing
from autopack.agents import planning as planning_agent
from autopack.agents.contexting import ContextSelector
from autopack.api import AutopackRun, FailureCategory, PhaseDefinition
from autopack.api.conditions import Reason
from autopack.edits import BlockEditor
from autopack.engine.doctoring import Doctor
from autopack.engine.ports import AttemptFailed, RunStopped
from autopack.engine.running import Recovery
from autopack.engine.session import Session
from autopack.engine.steps import RunContext
from autopack.events import RunOutcome, Spend, Stop
from autopack.events.scrubbing import scrubbed
from autopack.forge import describe_run, forge_for
from autopack.gates import CommandGates
from autopack.hardening.health import RunHealth
from autopack.hardening.mitigator import Mitigator
from autopack.llm import errors, tokens
from autopack.llm.pricing import load_prices
from autopack.llm.routed import RoutedModels, default_factory, sdk_factory
from autopack.llm.routing import ModelEntry, load_models_config
from autopack.llm.scripted import Cassette, CassetteRecorder, RecordingModel, ScriptedModel
from autopack.llm.types import CallRecord, Model, Prompt, RetryWait, RouteNote
from autopack.memory.run import RunMemory
from autopack.planning import NormalizedPlan, PlannerFn, PlanUnusableError, scan_repository
from autopack.toolchains import SuiteCommand
from autopack.workspace import GitWorkspace, credentials_from_environment, display_url


def utcnow() -> datetime:
    """The engine's clock."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class SessionOptions:
    """What an entry point decides about a session; everything else is the run's spec."""

    repo_url: str
    workdir: Path
    cassette: Path | Cassette | None = None
    record: Path | None = None
    profile: str | None = None
    use_memory: bool = True
    previous_attempts: Mapping[int, int] = field(default_factory=dict)
    notes: Callable[[], list[str]] = list
    spent: tuple[int, Decimal] = (0, Decimal(0))
    """Tokens and dollars the run spent before this session (its ledger): budgets are per run."""
    spent_by_phase: Mapping[int, tuple[int, Decimal]] = field(default_factory=dict)
    """The same for each phase (by index): a phase's own budgets count its earlier spend too."""
    before_model_call: Callable[[], None] | None = None
    """Called before every provider request: the runner refuses the request there when the
    spend of earlier calls could not be recorded (``errors.LedgerUnavailableError``)."""
    sandbox: sandboxing.SandboxMode = "auto"
    sandbox_socket: Path | None = None
    """In a runner pod: the sandbox container's socket; commands run there, never here."""
    now: Callable[[], datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep
    """How the model layer waits between retries (tests pass a virtual clock's)."""
    clock: Callable[[], float] = time.monotonic
    """The model layer's monotonic clock (circuit-breaker cooldowns, deadlines)."""


@dataclass
class RoutedCalls:
    """The Models port over the routed model layer: its errors become the loop's control flow.

    A budget that would be exceeded stops the run; an outage (every route failed after its
    retries) fails the attempt, which the health budget bounds; any other provider error
    (authentication, an invalid request, a cassette that ran out) stops the run.
    """

    routed: RoutedModels

    def ask(
        self,
        *,
        role: str,
        phase: PhaseDefinition | None,
        phase_index: int | None,
        attempt: int,
        failures: int,
        prompt: Prompt,
        max_tokens: int,
    ) -> str:
        """Make the call (its prompt scrubbed of secrets) and return the answer's text."""
        try:
            completion = self.routed.complete(
                role=role,
                phase=phase,
                phase_index=phase_index,
                attempt=attempt,
                failures=failures,
                prompt=scrubbed(prompt),
                max_tokens=max_tokens,
            )
        except errors.BudgetExceededError as exc:
            raise RunStopped(Stop(Reason.BUDGET_EXCEEDED, str(exc))) from None
        except errors.LedgerUnavailableError as exc:
            raise RunStopped(Stop(Reason.INTERNAL_ERROR, str(exc))) from None
        except errors.ProviderUnavailableError as exc:
            raise AttemptFailed.of(FailureCategory.PROVIDER, str(exc)) from None
        except errors.LlmError as exc:
            raise RunStopped(Stop(Reason.PROVIDER_ERROR, str(exc))) from None
        return completion.text

    def model_for(self, *, role: str, phase: PhaseDefinition, failures: int) -> str:
        """Name the model the next call for ``role`` would use."""
        return self.routed.model_for(role=role, phase=phase, failures=failures)


def open_session(
    run: AutopackRun,
    *,
    run_id: str,
    options: SessionOptions,
    emit: Callable[[events.RunEvent], None],
) -> Session:
    """Clone (or refresh) the workspace and assemble every part of a session."""
    now = options.now
    workspace = GitWorkspace.clone(
        options.repo_url,
        ref=run.spec.repo.ref,
        dest=options.workdir / run.name,
        branch=run.push_branch,
        credentials=credentials_from_environment(),
        run_id=run_id,
    )
    checkout = scan_repository(workspace.root, max_files=200_000, time_limit_seconds=5.0)
    files = list(checkout.files)
    suite = toolchains.choose_suite_command(
        toolchains.detect(workspace.root, files), run.spec.toolchain
    )
    sandbox: sandboxing.Sandbox = (
        sandboxing.RemoteSandbox(
            workspace.root,
            socket_path=options.sandbox_socket,
            env_names=run.spec.toolchain.env,
            network=run.spec.toolchain.network,
        )
        if options.sandbox_socket is not None
        else sandboxing.choose(
            options.sandbox,
            workspace=workspace.root,
            env_names=run.spec.toolchain.env,
            network=run.spec.toolchain.network,
        )
    )
    gates = CommandGates(
        workspace.root,
        suite=suite or SuiteCommand("false"),
        sandbox=sandbox,
        # Context budgets count real tokens. The tokenizer takes ~0.2 s of CPU holding the
        # GIL: loaded from here it stalled the clone and this setup (~150 ms); it loads while
        # the baseline tests run instead, when this process only waits for them.
        alongside_baseline=tokens.warm_up,
    )

    spend = Spend()

    def record(call: CallRecord) -> None:
        spend.add(call)
        emit(events.ModelCalled(run=run.name, at=now(), call=call))

    def notice(said: RetryWait | RouteNote) -> None:
        emit(events.ProviderNotice(run=run.name, at=now(), message=said.message))

    scripted = options.cassette is not None
    models_config = load_models_config()
    routed = RoutedModels(
        config=models_config,
        prices=load_prices(),
        profile="scripted" if scripted else (options.profile or run.spec.models.profile),
        run=run.name,
        run_tokens=run.spec.budgets.tokens,
        run_cost=Decimal(str(run.spec.budgets.cost_usd)),
        record=record,
        overrides=None if scripted else run.spec.models.chains,
        factory=model_factory(
            cassette=options.cassette,
            record=options.record,
            real=sdk_factory(models_config.timeouts),
        ),
        on_wait=notice,
        on_note=notice,
        spent_tokens=options.spent[0],
        spent_cost=options.spent[1],
        spent_by_phase=options.spent_by_phase,
        before_call=options.before_model_call,
        sleep=options.sleep,
        clock=options.clock,
    )
    models = RoutedCalls(routed)
    doctor = Doctor(models=models, notes=options.notes)
    budgets = run.spec.budgets
    max_failures = (
        budgets.max_failures_per_run
        if "max_failures_per_run" in budgets.model_fields_set
        else doctor.config.health.max_failures
    )
    ctx = RunContext(
        run=run.name,
        workspace=workspace,
        models=models,
        editor=BlockEditor(workspace.root, run=run),
        context=ContextSelector(workspace.root),
        gates=gates,
        emit=emit,
        now=now,
        intention=run.spec.intention,
        notes=options.notes,
    )

    def memory(plan: NormalizedPlan) -> RunMemory | None:
        if not options.use_memory:
            return None
        return RunMemory(
            run_id=run_id,
            spec=run.spec,
            phases=plan.phases,
            local_path=options.workdir / ".memory" / run.name,
        )

    return Session(
        run=run,
        run_id=run_id,
        repo_url=display_url(options.repo_url),
        ctx=ctx,
        recovery=Recovery(
            health=RunHealth(max_failures=max_failures, settings=doctor.config.health),
            mitigations=Mitigator(root=workspace.root, gates=gates, config=doctor.config),
            doctor=doctor,
        ),
        test_command=suite.command if suite else None,
        planner=model_planner(models, workspace.root),
        memory=memory,
        previous_attempts=options.previous_attempts,
        sandbox=sandbox.description,
        checkout=checkout,
        close=_closing(sandbox.close, routed.close),
        deliver=_delivery(run, workspace=workspace, spend=spend, options=options),
    )


def _delivery(
    run: AutopackRun, *, workspace: GitWorkspace, spend: Spend, options: SessionOptions
) -> Callable[[RunOutcome], str | None] | None:
    """Opens or updates the run's pull request, when ``spec.repo.pullRequest`` asks for one."""
    wanted = run.spec.repo.pull_request
    if wanted is None:
        return None

    def deliver(outcome: RunOutcome) -> str | None:
        forge = forge_for(wanted, repo_url=options.repo_url, token=workspace.token)
        titles = [phase.title for phase in run.spec.phases] or [run.name]
        before_tokens, before_cost = options.spent
        total = Spend(
            input_tokens=spend.input_tokens,
            cache_read_tokens=spend.cache_read_tokens,
            cache_write_tokens=spend.cache_write_tokens,
            output_tokens=spend.output_tokens,
            cost_usd=spend.cost_usd + float(before_cost),
            calls=spend.calls,
        )
        title, body = describe_run(
            run=run.name,
            outcome=outcome,
            titles=titles,
            spend=total,
            budget_tokens=run.spec.budgets.tokens,
            budget_cost=run.spec.budgets.cost_usd,
            link=wanted.link,
        )
        if before_tokens:
            body += f"\n\n(earlier runners of this run spent {before_tokens:,} tokens more)"
        request = forge.open_or_update(
            head=run.push_branch,
            base=wanted.base or run.spec.repo.ref,
            title=title,
            body=body,
            draft=wanted.draft,
        )
        return request.url

    return deliver


def _closing(*closers: Callable[[], None]) -> Callable[[], None]:
    """One function that closes everything a session opened."""

    def close() -> None:
        for closer in closers:
            closer()

    return close


def model_factory(
    *,
    cassette: Path | Cassette | None,
    record: Path | None,
    real: Callable[[ModelEntry, str], Model] = default_factory,
) -> Callable[[ModelEntry, str], Model]:
    """Scripted models from a cassette, real ones, or real ones recorded into a cassette."""
    if cassette is not None:
        tape = cassette if isinstance(cassette, Cassette) else Cassette.load(cassette)

        def scripted(entry: ModelEntry, role: str) -> Model:
            del entry
            return ScriptedModel(tape, role=role)

        return scripted
    if record is None:
        return real
    recorder = CassetteRecorder(record)

    def recording(entry: ModelEntry, role: str) -> Model:
        return RecordingModel(real(entry, role), recorder=recorder, role=role)

    return recording


def model_planner(models: RoutedCalls, root: Path) -> PlannerFn:
    """Return the plan-normalization hook that asks the Planner role through ``models``."""

    def plan(text: str) -> tuple[list[dict[str, Any]], int]:
        files = list(scan_repository(root, max_files=2000, time_limit_seconds=2.0).files)

        def ask(messages: list[tuple[str, str]]) -> str:
            return models.ask(
                role="planner",
                phase=None,
                phase_index=None,
                attempt=0,
                failures=0,
                prompt=Prompt.plain(planning_agent.SYSTEM_PROMPT, messages),
                max_tokens=4096,
            )

        try:
            return planning_agent.plan_with_model(ask, plan_text=text, repository_files=files)
        except planning_agent.PlannerError as exc:
            raise PlanUnusableError(str(exc)) from None

    return plan
