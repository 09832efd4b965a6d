"""One phase, attempt by attempt: build, apply inside scope, gate, audit, commit — or retry.

Each attempt starts from a savepoint and either ends in a commit that completes the phase or
is rolled back, with everything that blocked it (refused edits, new test failures, failed
commands, missing deliverables, the Auditor's reasons) fed into the next attempt's prompt.
Attempts are bounded by the phase budget; what a failure leads to (mitigation, Doctor,
replanning, the health budget) is :mod:`autopack.engine.recovering`.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from autopack.agents import auditing, building
from autopack.api import PhaseDefinition
from autopack import events
from autopack.engine.doctoring import Doctor
from autopack.hardening.mitigator import Mitigator
from autopack.engine.ports import (
    PENDING_TRAILER,
    PHASE_TRAILER,
    ApplyOutcome,
    Editor,
    Gates,
    Memory,
    Models,
    ParsedEdits,
    PhaseResult,
    ProviderOutage,
    Workspace,
)
from autopack.engine.recovering import Failure, Treatment, check_health, mitigate, stop_as_decided
from autopack.hardening.registry import HealthSettings
from autopack.hardening.signatures import FailureSignature, signature

BUILDER_MAX_TOKENS = 8_192
AUDITOR_MAX_TOKENS = 1_024
MAX_CONTINUATIONS = 3


@dataclass
class PhaseContext:
    """Everything a phase needs, shared across phases of a run."""

    run: str
    workspace: Workspace
    models: Models
    editor: Editor
    gates: Gates
    emit: Callable[[events.Event], None]
    now: Callable[[], datetime]
    intention: str = ""
    context_tokens: int = 24_000
    failures_in_run: list[str] = field(default_factory=list)
    max_failures_per_run: int = 25
    memory: Memory | None = None
    mitigator: Mitigator | None = None
    doctor: Doctor | None = None
    health: HealthSettings = field(default_factory=HealthSettings)


class PhaseRunner:
    """Runs the attempts of one phase."""

    def __init__(self, ctx: PhaseContext, *, index: int, phase: PhaseDefinition) -> None:
        """Prepare to run ``phase`` (position ``index``)."""
        self.ctx = ctx
        self.index = index
        self.phase = phase
        self.failures = 0
        self.treatment = Treatment(ctx.doctor, index)

    def _emit(self, event_type: type[events.Event], **fields: object) -> None:
        self.ctx.emit(event_type(run=self.ctx.run, at=self.ctx.now(), **fields))

    def _call(
        self,
        *,
        role: str,
        attempt: int,
        system: str,
        messages: list[tuple[str, str]],
        max_tokens: int,
    ) -> str:
        reply = self.ctx.models.complete(
            role=role,
            phase=self.phase,
            phase_index=self.index,
            attempt=attempt,
            failures=self.failures,
            system=system,
            messages=messages,
            max_tokens=max_tokens,
        )
        return reply.text

    def _build(self, attempt: int, feedback: list[str]) -> ParsedEdits | Failure:
        """Ask the Builder; continue truncated answers and re-ask once on malformed output."""
        editor = self.ctx.editor
        system = building.build_system_prompt(edit_format=editor.format_instructions())
        context = editor.context(
            phase=self.phase, feedback=feedback, budget_tokens=self.ctx.context_tokens
        )
        user = building.build_user_prompt(
            phase=self.phase, context=context, feedback=feedback, intention=self._intention()
        )
        messages = [("user", user)]
        text = self._call(
            role="builder",
            attempt=attempt,
            system=system,
            messages=messages,
            max_tokens=BUILDER_MAX_TOKENS,
        )
        parsed = editor.parse(text)
        reasked = False
        continuations = 0
        collected = list(parsed.edits)
        while True:
            if parsed.error and not reasked and not parsed.truncated_path:
                reasked = True
                messages += [("assistant", text), ("user", building.reask_prompt(parsed.error))]
            elif parsed.truncated_path and continuations < MAX_CONTINUATIONS:
                continuations += 1
                messages += [
                    ("assistant", text),
                    ("user", building.continuation_prompt(parsed.truncated_path)),
                ]
            else:
                break
            text = self._call(
                role="builder",
                attempt=attempt,
                system=system,
                messages=messages,
                max_tokens=BUILDER_MAX_TOKENS,
            )
            parsed = editor.parse(text)
            collected += list(parsed.edits)
        if parsed.error and not collected:
            return Failure(
                "malformed",
                f"unparseable Builder output: {parsed.error}",
                [f"Your edit blocks could not be parsed: {parsed.error}"],
            )
        if parsed.truncated_path:
            return Failure(
                "malformed",
                f"output still truncated in {parsed.truncated_path}",
                [f"Your answer was cut off in {parsed.truncated_path}; keep it shorter."],
            )
        if not collected:
            return Failure(
                "malformed",
                "the Builder proposed no edits",
                ["You proposed no edits; the phase needs changes to its deliverables."],
            )
        return ParsedEdits(edits=tuple(collected))

    def _gate(self, attempt: int) -> Failure | None:
        gates = self.ctx.gates
        outcome = gates.tests()
        self._emit(
            events.TestsRan,
            index=self.index,
            attempt=attempt,
            command=outcome.command,
            passed=outcome.passed,
            failed=outcome.failed,
            skipped=outcome.skipped,
            collection_errors=outcome.collection_errors,
            new_failures=outcome.new_failures,
            flaky=outcome.flaky,
            blocked=outcome.blocked,
            duration_seconds=outcome.duration_seconds,
            log_excerpt=outcome.log_excerpt,
        )
        if outcome.blocked:
            details = [f"New test failure: {test}" for test in outcome.new_failures[:20]]
            if outcome.collection_errors:
                details.append("The tests could not be collected (syntax or import error).")
            if outcome.log_excerpt:
                details.append(f"Test output (end):\n{outcome.log_excerpt[-3000:]}")
            return Failure("ci", outcome.summary or "new test failures", details)
        failed_commands = gates.validation(list(self.phase.validation))
        if failed_commands:
            return Failure("validation", failed_commands[0], failed_commands)
        missing = gates.deliverables(list(self.phase.deliverables))
        if missing:
            return Failure("deliverables", missing[0], missing)
        self._tests_summary = outcome.summary or f"{outcome.passed} passed, {outcome.failed} failed"
        return None

    def _audit(self, attempt: int, savepoint: str) -> Failure | None:
        system, user = auditing.build_audit_prompt(
            phase=self.phase,
            diff=self.ctx.workspace.diff(savepoint),
            test_summary=self._tests_summary,
            intention=self._intention(),
        )
        messages = [("user", user)]
        text = self._call(
            role="auditor",
            attempt=attempt,
            system=system,
            messages=messages,
            max_tokens=AUDITOR_MAX_TOKENS,
        )
        try:
            result = auditing.parse_audit(text)
        except auditing.AuditParseError as exc:
            messages += [("assistant", text), ("user", str(exc))]
            text = self._call(
                role="auditor",
                attempt=attempt,
                system=system,
                messages=messages,
                max_tokens=AUDITOR_MAX_TOKENS,
            )
            try:
                result = auditing.parse_audit(text)
            except auditing.AuditParseError:
                return Failure(
                    "audit",
                    "the Auditor's answer had no verdict",
                    ["The review could not be read; keep the change minimal and clear."],
                )
        self._emit(
            events.AuditDone,
            index=self.index,
            attempt=attempt,
            verdict=result.verdict,
            summary=result.summary,
        )
        if result.approved:
            return None
        return Failure(
            "audit",
            f"changes requested: {result.summary}",
            [f"Auditor: {reason}" for reason in result.reasons],
        )

    def _intention(self) -> str:
        memory = self.ctx.memory
        return memory.recall(self.phase) if memory is not None else self.ctx.intention

    def _drift(self, attempt: int, savepoint: str) -> Failure | None:
        memory = self.ctx.memory
        if memory is None:
            return None
        diff = self.ctx.workspace.diff(savepoint)
        files = sorted({line[6:] for line in diff.splitlines() if line.startswith("+++ b/")})
        added = "\n".join(
            line[1:]
            for line in diff.splitlines()
            if line.startswith("+") and not line.startswith("+++")
        )
        summary = f"Changed files: {', '.join(files)}\n{added[:1500]}"
        outcome = memory.check(index=self.index, phase=self.phase, summary=summary)
        if outcome is None:
            return None
        self._emit(
            events.DriftChecked,
            index=self.index,
            attempt=attempt,
            score=outcome.score,
            threshold=outcome.threshold,
            verdict=outcome.verdict,
            provider=outcome.provider,
            lexical=outcome.lexical,
            blocks=outcome.blocks,
            message=outcome.message,
        )
        if outcome.blocks:
            return Failure(
                "drift",
                f"goal drift: {outcome.message}",
                [f"The change drifts from the project's intention: {outcome.message}"],
            )
        return None

    def _commit(self, *, pending: bool) -> str:
        trailer = PENDING_TRAILER if pending else PHASE_TRAILER
        message = (
            f"autopack: phase {self.index} {self.phase.title}\n\n{self.phase.goal}\n\n"
            f"{trailer}: {self.index}"
        )
        commit = self.ctx.workspace.commit(message)
        self.ctx.workspace.push()
        return commit

    def _replanned(self, revised: PhaseDefinition, reason: str) -> None:
        self.phase = revised
        self._emit(events.PhaseReplanned, index=self.index, goal=revised.goal, reason=reason)

    def _fail(self, attempt: int, failure: Failure, savepoint: str) -> None:
        self.ctx.workspace.rollback(savepoint)
        self.failures += 1
        normalized = signature(failure.category, failure.summary)
        self.ctx.failures_in_run.append(str(normalized))
        mitigation = mitigate(
            self.ctx.mitigator,
            self.ctx.workspace,
            failure,
            phase=self.phase,
            index=self.index,
        )
        decision = None
        if mitigation is not None and not mitigation.endswith("(not applied)"):
            if self.ctx.doctor is not None:
                self.ctx.doctor.avoided += 1
        else:
            decision = self.treatment.treat(
                self.phase,
                attempt=attempt,
                failure=failure,
                normalized=normalized,
                replan=self._replanned,
            )
        self._emit(
            events.AttemptFinished,
            index=self.index,
            attempt=attempt,
            outcome="failed",
            category=failure.category,
            signature=normalized.text[:1024],
            detail="\n".join(failure.feedback)[:8000],
            mitigation=mitigation,
            doctor_decision=decision,
        )
        self._check_health(normalized)

    def _check_health(self, normalized: FailureSignature) -> None:
        check_health(
            self.ctx.failures_in_run,
            max_failures=self.ctx.max_failures_per_run,
            health=self.ctx.health,
            last=normalized,
        )
        if self.treatment.fatal is not None:
            raise stop_as_decided(self.treatment.fatal, self.ctx.workspace)

    def _provider_failed(self, attempt: int, outage: ProviderOutage, savepoint: str) -> None:
        """Record an attempt lost to a provider outage; only the health budget bounds these."""
        self.ctx.workspace.rollback(savepoint)
        normalized = signature("provider", outage.message)
        self.ctx.failures_in_run.append(str(normalized))
        self._emit(
            events.AttemptFinished,
            index=self.index,
            attempt=attempt,
            outcome="failed",
            category="provider",
            signature=normalized.text[:1024],
            detail=outage.message[:8000],
        )
        self._check_health(normalized)

    def _apply(self, attempt: int, parsed: ParsedEdits, *, approved: bool) -> ApplyOutcome:
        outcome = self.ctx.editor.apply(parsed, phase=self.phase, approved=approved)
        self._emit(
            events.EditsApplied,
            index=self.index,
            attempt=attempt,
            files=outcome.files,
            additions=outcome.additions,
            deletions=outcome.deletions,
            refusals=outcome.refusals,
        )
        return outcome

    def run(self, *, approved: bool = False, resume_pending: bool = False) -> PhaseResult:
        """Run attempts until the phase completes, fails, or waits for approval."""
        self._emit(events.PhaseStarted, index=self.index, title=self.phase.title)
        if self.ctx.mitigator is not None:
            self.ctx.mitigator.new_phase()
        self._tests_summary = ""
        feedback: list[str] = []
        budget = self.phase.budgets.max_attempts or 1
        attempt = 0
        last: Failure | None = None
        previous_model: str | None = None
        while attempt < budget and self.treatment.skip_reason is None:
            attempt += 1
            model = self.ctx.models.model_for(
                role="builder", phase=self.phase, failures=self.failures
            )
            escalation = (
                f"builder {previous_model} -> {model} after {self.failures} failures"
                if previous_model is not None and model != previous_model
                else None
            )
            previous_model = model
            self._emit(
                events.AttemptStarted,
                index=self.index,
                attempt=attempt,
                model=model,
                escalation=escalation,
            )
            if resume_pending:
                # The approved change waits as the branch's last commit: reopen it and gate it.
                self.ctx.workspace.reopen_pending()
            savepoint = self.ctx.workspace.head()
            try:
                result = self._attempt(
                    attempt, feedback, savepoint, approved=approved, reopened=resume_pending
                )
            except ProviderOutage as outage:
                # Not the phase's fault: it costs no attempt; the health budget bounds outages.
                budget += 1
                self._provider_failed(attempt, outage, savepoint)
                continue
            finally:
                resume_pending = False
            if isinstance(result, PhaseResult):
                return result
            last = result
            self._fail(attempt, result, savepoint)
            feedback = result.feedback
        return self._unfinished(attempt, last)

    def _attempt(
        self, attempt: int, feedback: list[str], savepoint: str, *, approved: bool, reopened: bool
    ) -> PhaseResult | Failure:
        """One attempt from ``savepoint``: a finished phase, or the failure that stopped it."""
        if not reopened:
            built = self._build(attempt, feedback)
            if isinstance(built, Failure):
                return built
            outcome = self._apply(attempt, built, approved=approved)
            if outcome.refusals:
                return Failure("apply", outcome.refusals[0], list(outcome.refusals))
            if outcome.approval_reason and not approved:
                return self._await_approval(attempt, outcome.approval_reason)
        failure = (
            self._gate(attempt)
            or self._audit(attempt, savepoint)
            or self._drift(attempt, savepoint)
        )
        if failure is not None:
            return failure
        commit = self._commit(pending=False)
        self._emit(events.AttemptFinished, index=self.index, attempt=attempt, outcome="passed")
        self._emit(
            events.PhaseFinished,
            index=self.index,
            title=self.phase.title,
            state="Complete",
            attempts=attempt,
            commit=commit,
        )
        return PhaseResult("Complete", attempt, commit=commit)

    def _await_approval(self, attempt: int, reason: str) -> PhaseResult:
        """Commit the change as pending and stop the phase until someone approves it."""
        commit = self._commit(pending=True)
        self._emit(events.ApprovalNeeded, index=self.index, reason=reason)
        self._emit(
            events.AttemptFinished, index=self.index, attempt=attempt, outcome="awaiting_approval"
        )
        self._emit(
            events.PhaseFinished,
            index=self.index,
            title=self.phase.title,
            state="AwaitingApproval",
            attempts=attempt,
            commit=commit,
        )
        return PhaseResult("AwaitingApproval", attempt, commit=commit, approval_reason=reason)

    def _unfinished(self, attempt: int, last: Failure | None) -> PhaseResult:
        """End a phase that the Doctor skipped or that ran out of attempts."""
        if self.treatment.skip_reason is not None:
            self._emit(
                events.PhaseFinished,
                index=self.index,
                title=self.phase.title,
                state="Skipped",
                attempts=attempt,
                failure=self.treatment.skip_reason[:1024],
            )
            return PhaseResult("Skipped", attempt, failure=self.treatment.skip_reason)
        failure = str(signature(last.category, last.summary)) if last else "no attempt was made"
        self._emit(
            events.PhaseFinished,
            index=self.index,
            title=self.phase.title,
            state="Failed",
            attempts=attempt,
            failure=failure[:1024],
        )
        return PhaseResult(
            "Failed", attempt, failure=failure, feedback=last.feedback if last else []
        )
