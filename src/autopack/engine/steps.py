"""The steps of one attempt: ask the Builder, apply, run the gates, audit, check drift, commit.

Each step emits its event and either returns what the next step needs or raises
:class:`~autopack.engine.ports.AttemptFailed` with feedback for the next attempt. The order
and the retries are the loop's (:mod:`autopack.engine.attempts`); nothing here loops across
attempts or decides recovery.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from autopack import events
from autopack.agents import auditing, building
from autopack.api import FailureCategory, PhaseDefinition
from autopack.edits import ApplyOutcome, Edit, ParsedEdits
from autopack.engine.ports import AttemptFailed, Context, Editor, Gates, Memory, Models, Workspace
from autopack.llm.types import Prompt
from autopack.workspace import PENDING_TRAILER, PHASE_TRAILER

BUILDER_MAX_TOKENS = 8_192
AUDITOR_MAX_TOKENS = 1_024
MAX_CONTINUATIONS = 3
MAX_STORED_DIFF = 200_000  # characters of the reviewed diff kept in the store


@dataclass
class RunContext:
    """Everything the steps share across the phases of one run."""

    run: str
    workspace: Workspace
    models: Models
    editor: Editor
    context: Context
    gates: Gates
    emit: Callable[[events.RunEvent], None]
    now: Callable[[], datetime]
    memory: Memory | None = None
    intention: str = ""
    notes: Callable[[], list[str]] = list
    context_tokens: int = 24_000


@dataclass
class AttemptSteps:
    """The steps of the attempts at one phase (``phase`` changes when it is replanned)."""

    ctx: RunContext
    index: int
    phase: PhaseDefinition
    failures: int = 0

    def _ask(self, *, role: str, attempt: int, prompt: Prompt) -> str:
        return self.ctx.models.ask(
            role=role,
            phase=self.phase,
            phase_index=self.index,
            attempt=attempt,
            failures=self.failures,
            prompt=prompt,
            max_tokens=BUILDER_MAX_TOKENS if role == "builder" else AUDITOR_MAX_TOKENS,
        )

    def intention(self) -> str:
        """What prompts say about the project's intention and the people's notes."""
        memory = self.ctx.memory
        text = memory.recall(self.phase) if memory is not None else self.ctx.intention
        notes = self.ctx.notes()
        if notes:
            text += "\n\nNotes from the people running this project (follow them):\n"
            text += "\n".join(f"- {note}" for note in notes)
        return text

    def build(self, attempt: int, feedback: tuple[str, ...]) -> ParsedEdits:
        """Ask the Builder; continue truncated answers and re-ask once on malformed output."""
        editor = self.ctx.editor
        budget = self.ctx.context_tokens
        # The phase's own context does not depend on the attempt, so it stays cached; files
        # the last failure names come after the last cache breakpoint.
        context = self.ctx.context.render(phase=self.phase, feedback=[], budget_tokens=budget)
        related = self.ctx.context.render_related(
            phase=self.phase, feedback=list(feedback), budget_tokens=budget // 4
        )
        prompt = building.build_prompt(
            edit_format=editor.format_instructions(),
            phase=self.phase,
            context=context,
            feedback=list(feedback),
            intention=self.intention(),
            extra_context=related,
        )
        text = self._ask(role="builder", attempt=attempt, prompt=prompt)
        parsed = editor.parse(text)
        collected: list[Edit] = list(parsed.edits)
        reasked = False
        continuations = 0
        while (parsed.error and not reasked and not parsed.truncated_path) or (
            parsed.truncated_path and continuations < MAX_CONTINUATIONS
        ):
            if parsed.truncated_path:
                continuations += 1
                follow_up = building.continuation_prompt(parsed.truncated_path)
            else:
                reasked = True
                follow_up = building.reask_prompt(parsed.error or "")
            prompt = prompt.then([("assistant", text), ("user", follow_up)])
            text = self._ask(role="builder", attempt=attempt, prompt=prompt)
            parsed = editor.parse(text)
            collected += parsed.edits
        malformed = FailureCategory.MALFORMED
        if parsed.error and not collected:
            raise AttemptFailed.of(
                malformed,
                f"unparseable Builder output: {parsed.error}",
                f"Your edit blocks could not be parsed: {parsed.error}",
            )
        if parsed.truncated_path:
            raise AttemptFailed.of(
                malformed,
                f"output still truncated in {parsed.truncated_path}",
                f"Your answer was cut off in {parsed.truncated_path}; keep it shorter.",
            )
        if not collected:
            raise AttemptFailed.of(
                malformed,
                "the Builder proposed no edits",
                "You proposed no edits; the phase needs changes to its deliverables.",
            )
        return ParsedEdits(edits=tuple(collected))

    def apply(self, attempt: int, parsed: ParsedEdits, *, approved: bool) -> ApplyOutcome:
        """Apply inside the scope; refused edits fail the attempt (nothing was written)."""
        outcome = self.ctx.editor.apply(parsed, phase=self.phase, approved=approved)
        self.ctx.emit(
            events.EditsApplied(
                run=self.ctx.run,
                at=self.ctx.now(),
                index=self.index,
                attempt=attempt,
                outcome=outcome,
            )
        )
        if outcome.refusals:
            raise AttemptFailed.of(FailureCategory.APPLY, outcome.refusals[0], *outcome.refusals)
        return outcome

    def gate(self, attempt: int) -> str:
        """Tests against the baseline, then the phase's validation commands."""
        gates = self.ctx.gates
        outcome = gates.tests()
        self.ctx.emit(
            events.TestsRan(
                run=self.ctx.run,
                at=self.ctx.now(),
                index=self.index,
                attempt=attempt,
                outcome=outcome,
            )
        )
        if outcome.blocked:
            details = [f"New test failure: {test}" for test in outcome.new_failures[:20]]
            if outcome.collection_errors:
                details.append("The tests could not be collected (syntax or import error).")
            if outcome.log_excerpt:
                details.append(f"Test output (end):\n{outcome.log_excerpt[-3000:]}")
            raise AttemptFailed.of(
                FailureCategory.CI, outcome.summary or "new test failures", *details
            )
        failed_commands = gates.validation(list(self.phase.validation))
        if failed_commands:
            raise AttemptFailed.of(FailureCategory.VALIDATION, failed_commands[0], *failed_commands)
        return outcome.summary or f"{outcome.passed} passed, {outcome.failed} failed"

    def deliverables(self) -> None:
        """Every deliverable exists (checked on the governed change alone)."""
        missing = self.ctx.gates.deliverables(list(self.phase.deliverables))
        if missing:
            raise AttemptFailed.of(FailureCategory.DELIVERABLES, missing[0], *missing)

    def keep_only(self, attempt: int, accepted: Mapping[str, bytes | None]) -> tuple[str, ...]:
        """Take back whatever the commands changed besides the governed edits; report it."""
        discarded = tuple(self.ctx.workspace.discard_side_effects(accepted))
        if discarded:
            self.ctx.emit(
                events.ChangesDiscarded(
                    run=self.ctx.run,
                    at=self.ctx.now(),
                    index=self.index,
                    attempt=attempt,
                    paths=discarded,
                )
            )
        return discarded

    def audit(self, attempt: int, *, savepoint: str, tests: str) -> None:
        """The Auditor reviews the diff; one re-ask when its answer has no readable verdict."""
        diff = self.ctx.workspace.diff(savepoint)
        self.ctx.emit(
            events.DiffReviewed(
                run=self.ctx.run,
                at=self.ctx.now(),
                index=self.index,
                attempt=attempt,
                diff=diff[:MAX_STORED_DIFF],
            )
        )
        prompt = auditing.build_audit_layout(
            phase=self.phase,
            diff=diff,
            test_summary=tests,
            intention=self.intention(),
        )
        text = self._ask(role="auditor", attempt=attempt, prompt=prompt)
        try:
            result = auditing.parse_audit(text)
        except auditing.AuditParseError as exc:
            prompt = prompt.then([("assistant", text), ("user", str(exc))])
            text = self._ask(role="auditor", attempt=attempt, prompt=prompt)
            try:
                result = auditing.parse_audit(text)
            except auditing.AuditParseError:
                raise AttemptFailed.of(
                    FailureCategory.AUDIT,
                    "the Auditor's answer had no verdict",
                    "The review could not be read; keep the change minimal and clear.",
                ) from None
        self.ctx.emit(
            events.AuditDone(
                run=self.ctx.run,
                at=self.ctx.now(),
                index=self.index,
                attempt=attempt,
                result=result,
            )
        )
        if not result.approved:
            raise AttemptFailed.of(
                FailureCategory.AUDIT,
                f"changes requested: {result.summary}",
                *(f"Auditor: {reason}" for reason in result.reasons),
            )

    def drift(self, attempt: int, *, savepoint: str) -> None:
        """Judge the change against the project's intention (skipped without memory)."""
        memory = self.ctx.memory
        if memory is None:
            return
        diff = self.ctx.workspace.diff(savepoint).splitlines()
        files = sorted({line[6:] for line in diff if line.startswith("+++ b/")})
        added = "\n".join(line[1:] for line in diff if line.startswith("+") and line[:3] != "+++")
        summary = f"Changed files: {', '.join(files)}\n{added[:1500]}"
        outcome = memory.check(index=self.index, phase=self.phase, summary=summary)
        if outcome is None:
            return
        self.ctx.emit(
            events.DriftChecked(
                run=self.ctx.run,
                at=self.ctx.now(),
                index=self.index,
                attempt=attempt,
                outcome=outcome,
            )
        )
        if outcome.blocks:
            raise AttemptFailed.of(
                FailureCategory.DRIFT,
                f"goal drift: {outcome.message}",
                f"The change drifts from the project's intention: {outcome.message}",
            )

    def commit(self, *, pending: bool) -> str:
        """Commit the phase (or its change pending approval) and push the work branch."""
        trailer = PENDING_TRAILER if pending else PHASE_TRAILER
        message = (
            f"autopack: phase {self.index} {self.phase.title}\n\n{self.phase.goal}\n\n"
            f"{trailer}: {self.index}"
        )
        commit = self.ctx.workspace.commit(message)
        self.ctx.workspace.push()
        return commit
