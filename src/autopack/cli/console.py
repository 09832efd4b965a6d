"""The console sink: live progress of a local run, and one true line per notable event.

On a terminal a live status line is kept at the bottom while each notable event prints one
line above it; in a pipe or CI log only the lines are printed, so logs stay readable. Lines
say what happened, no more: refused edits are not counted as edits; replans, escalations,
provider waits and fallbacks are printed.
"""

import time
from typing import assert_never

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from autopack import events
from autopack.api import PhaseState
from autopack.events import AttemptOutcome, Spend


class ConsoleSink:
    """Prints a run's progress to a rich console."""

    def __init__(self, console: Console, *, live: bool | None = None) -> None:
        """Print to ``console``; ``live`` defaults to whether it is a terminal."""
        self.console = console
        self.phase = "-"
        self.attempt = 0
        self.state = "starting"
        self.spend = Spend()
        self.started = time.monotonic()
        use_live = console.is_terminal if live is None else live
        self._live: Live | None = (
            Live(self._status(), console=console, transient=True, auto_refresh=False)
            if use_live
            else None
        )

    def _status(self) -> Text:
        elapsed = time.monotonic() - self.started
        return Text.from_markup(
            f"[bold]{escape(self.phase)}[/] attempt {self.attempt} · {self.state} · "
            f"{self.spend.tokens:,} tokens · ${self.spend.cost_usd:.4f} · "
            f"{self.spend.calls} calls · {elapsed:.0f}s"
        )

    def emit(self, event: events.RunEvent) -> None:
        """Update the status line and print a line for notable events."""
        if self._live is not None and not self._live.is_started:
            self._live.start()
        line = self._line(event)
        if line:
            self.console.print(line, soft_wrap=True)
        if isinstance(event, events.RunFinished):
            self.close()
        elif self._live is not None:
            self._live.update(self._status(), refresh=True)

    def _line(self, event: events.RunEvent) -> str | None:  # noqa: PLR0911, PLR0912 - one case per event
        match event:
            case events.RunStarted():
                resumed = (
                    f", resuming after {event.resumed_phases} done" if event.resumed_phases else ""
                )
                sandbox = f"\nsandbox: {escape(event.sandbox)}" if event.sandbox else ""
                return (
                    f"[bold]run {escape(event.run)}[/]: {escape(event.repo_url)}@"
                    f"{escape(event.base_ref)} -> {escape(event.branch)}{resumed}{sandbox}"
                )
            case events.PlanReady():
                calls = "no model call" if not event.model_calls else f"{event.model_calls} calls"
                lines = [f"plan: {len(event.phases)} phases from {event.source} ({calls})"]
                lines += [f"[yellow]warning:[/] {escape(w)}" for w in event.warnings]
                return "\n".join(lines)
            case events.PhaseStarted():
                self.phase, self.attempt, self.state = f"{event.index} {event.title}", 0, "building"
                return f"[bold]phase {event.index}[/] {escape(event.title)}"
            case events.PhaseAlreadyComplete():
                return f"phase {event.index} already complete ({event.commit[:10]})"
            case events.AttemptStarted():
                self.attempt, self.state = event.attempt, f"building with {event.model}"
                if event.escalation:
                    return f"  attempt {event.attempt}: escalating {escape(event.escalation)}"
                return None
            case events.ModelCalled():
                self.spend.add(event.call)
                return None
            case events.ProviderNotice():
                return f"  [yellow]{escape(event.message)}[/]"
            case events.EditsApplied():
                return _edits(event)
            case events.DiffReviewed():
                return None
            case events.ChangesDiscarded():
                shown = ", ".join(event.paths[:5]) + (" …" if len(event.paths) > 5 else "")
                return (
                    f"  [yellow]warning:[/] attempt {event.attempt}: the commands changed "
                    f"{len(event.paths)} path(s) outside the governed edits, not committed: "
                    f"{escape(shown)}"
                )
            case events.TestsRan():
                self.state = "audit" if not event.outcome.blocked else "tests failed"
                return _tests(event)
            case events.AuditDone():
                return f"  attempt {event.attempt}: auditor {event.result.verdict}"
            case events.DriftChecked():
                o = event.outcome
                lexical = ", lexical" if o.lexical else ""
                return (
                    f"  attempt {event.attempt}: drift check {o.verdict} (score {o.score:.2f}, "
                    f"threshold {o.threshold:.2f}, {escape(o.provider)}{lexical})"
                )
            case events.ApprovalNeeded():
                return f"[yellow]phase {event.index} needs approval:[/] {escape(event.reason)}"
            case events.AttemptFinished():
                return _attempt_finished(event)
            case events.PhaseReplanned():
                return f"  phase {event.index} replanned ({escape(event.reason)})"
            case events.PhaseFinished():
                return _phase_finished(event)
            case events.RunFinished():
                return (
                    f"Doctor calls: {event.doctor_calls}; avoided by deterministic mitigations: "
                    f"{event.doctor_calls_avoided} (about {event.doctor_tokens_avoided:,} tokens)"
                )
            case _:
                assert_never(event)

    def close(self) -> None:
        """Stop the live line if it is still shown."""
        if self._live is not None and self._live.is_started:
            self._live.stop()


def _edits(event: events.EditsApplied) -> str:
    outcome = event.outcome
    if outcome.refusals:
        return (
            f"  attempt {event.attempt}: edits refused, nothing applied ({len(outcome.refusals)})"
        )
    return (
        f"  attempt {event.attempt}: edited {len(outcome.files)} files "
        f"(+{outcome.additions} -{outcome.deletions})"
    )


def _tests(event: events.TestsRan) -> str:
    outcome = event.outcome
    label = "baseline" if event.attempt is None else f"  attempt {event.attempt}"
    new = f", new failures: {', '.join(outcome.new_failures[:3])}" if outcome.new_failures else ""
    return f"{label} tests: {outcome.passed} passed, {outcome.failed} failed{escape(new)}"


def _attempt_finished(event: events.AttemptFinished) -> str | None:
    result = event.result
    match result.outcome:
        case AttemptOutcome.FAILED if result.failure is not None:
            lines = [f"  attempt {event.attempt} failed: {escape(str(result.failure.signature))}"]
            if result.mitigation:
                lines.append(f"  mitigation: {escape(result.mitigation)}")
            if result.doctor_decision:
                lines.append(f"  Doctor: {escape(result.doctor_decision)}")
            return "\n".join(lines)
        case AttemptOutcome.STOPPED if result.stop is not None:
            stop = result.stop
            return f"  attempt {event.attempt} stopped: {stop.reason}: {escape(stop.message)}"
        case _:
            return None


def _phase_finished(event: events.PhaseFinished) -> str:
    result = event.result
    colour = {PhaseState.COMPLETE: "green", PhaseState.FAILED: "red"}.get(result.state, "yellow")
    commit = f" ({result.commit[:10]})" if result.commit else ""
    return f"[{colour}]phase {event.index} {result.state}[/]{commit}"
