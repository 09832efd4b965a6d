"""The console sink: live progress of a local run (phase, attempt, state, tokens, cost, time).

On a terminal a live status line is kept at the bottom while each notable event prints one
line above it; in a pipe or CI log only the lines are printed, so logs stay readable.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.text import Text

from autopack import events


@dataclass
class _Progress:
    phase: str = "-"
    attempt: int = 0
    state: str = "starting"
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    started: float = field(default_factory=time.monotonic)


class ConsoleSink:
    """Prints a run's progress to a rich console."""

    def __init__(self, console: Console, *, live: bool | None = None) -> None:
        """Print to ``console``; ``live`` defaults to whether it is a terminal."""
        self.console = console
        self.progress = _Progress()
        use_live = console.is_terminal if live is None else live
        self._live: Live | None = (
            Live(self._status(), console=console, transient=True, auto_refresh=False)
            if use_live
            else None
        )

    def _status(self) -> Text:
        p = self.progress
        elapsed = time.monotonic() - p.started
        return Text.from_markup(
            f"[bold]{escape(p.phase)}[/] attempt {p.attempt} · {p.state} · "
            f"{p.input_tokens + p.output_tokens:,} tokens · ${p.cost_usd:.4f} · "
            f"{p.calls} calls · {elapsed:.0f}s"
        )

    def _line(self, text: str) -> None:
        self.console.print(text, soft_wrap=True)

    def emit(self, event: events.Event) -> None:
        """Update the status line and print a line for notable events."""
        if self._live is not None and not self._live.is_started:
            self._live.start()
        self._update(event)
        formatter = _LINES.get(type(event))
        line = formatter(event) if formatter is not None else None
        if line:
            self._line(line)
        if isinstance(event, events.RunFinished):
            self.close()
        elif self._live is not None:
            self._live.update(self._status(), refresh=True)

    def _update(self, event: events.Event) -> None:
        p = self.progress
        if isinstance(event, events.PhaseStarted):
            p.phase, p.attempt, p.state = f"{event.index} {event.title}", 0, "building"
        elif isinstance(event, events.AttemptStarted):
            p.attempt, p.state = event.attempt, f"building with {event.model}"
        elif isinstance(event, events.ModelCalled):
            p.input_tokens += event.input_tokens or 0
            p.output_tokens += event.output_tokens or 0
            p.cost_usd += event.cost_usd
            p.calls += 1
        elif isinstance(event, events.EditsApplied):
            p.state = "validating"
        elif isinstance(event, events.AuditDone):
            p.state = "audited"

    def close(self) -> None:
        """Stop the live line if it is still shown."""
        if self._live is not None and self._live.is_started:
            self._live.stop()


def _run_started(event: events.RunStarted) -> str:
    resumed = f", resuming after {event.resumed_phases} done" if event.resumed_phases else ""
    return (
        f"[bold]run {escape(event.run)}[/]: {escape(event.repo_url)}@{escape(event.base_ref)} "
        f"-> {escape(event.branch)}{resumed}"
    )


def _plan_ready(event: events.PlanReady) -> str:
    calls = "no model call" if event.model_calls == 0 else f"{event.model_calls} model calls"
    lines = [f"plan: {len(event.titles)} phases from {event.source} ({calls})"]
    lines += [f"[yellow]warning:[/] {escape(warning)}" for warning in event.warnings]
    return "\n".join(lines)


def _edits(event: events.EditsApplied) -> str:
    refused = f", {len(event.refusals)} refused" if event.refusals else ""
    return (
        f"  attempt {event.attempt}: edited {len(event.files)} files "
        f"(+{event.additions} -{event.deletions}){refused}"
    )


def _tests(event: events.TestsRan) -> str:
    label = "baseline" if event.attempt is None else f"  attempt {event.attempt}"
    new = f", new failures: {', '.join(event.new_failures[:3])}" if event.new_failures else ""
    return f"{label} tests: {event.passed} passed, {event.failed} failed{escape(new)}"


def _attempt_finished(event: events.AttemptFinished) -> str | None:
    if event.outcome != "failed":
        return None
    return f"  attempt {event.attempt} failed: {escape(event.signature or event.category or '')}"


def _phase_finished(event: events.PhaseFinished) -> str:
    colour = {"Complete": "green", "Failed": "red"}.get(event.state, "yellow")
    commit = f" ({event.commit[:10]})" if event.commit else ""
    return f"[{colour}]phase {event.index} {event.state}[/]{commit}"


def _run_finished(event: events.RunFinished) -> str:
    return (
        f"Doctor calls: {event.doctor_calls}; avoided by deterministic mitigations: "
        f"{event.doctor_calls_avoided} (about {event.doctor_tokens_avoided:,} tokens)"
    )


_LINES: dict[type[events.Event], Callable[[Any], str | None]] = {
    events.RunFinished: _run_finished,
    events.RunStarted: _run_started,
    events.PlanReady: _plan_ready,
    events.PhaseStarted: lambda e: f"[bold]phase {e.index}[/] {escape(e.title)}",
    events.EditsApplied: _edits,
    events.TestsRan: _tests,
    events.AuditDone: lambda e: f"  attempt {e.attempt}: auditor {e.verdict}",
    events.AttemptFinished: _attempt_finished,
    events.ApprovalNeeded: lambda e: (
        f"[yellow]phase {e.index} needs approval:[/] {escape(e.reason)}"
    ),
    events.PhaseFinished: _phase_finished,
    events.DriftChecked: lambda e: (
        f"  attempt {e.attempt}: drift check {e.verdict} (score {e.score:.2f}, threshold "
        f"{e.threshold:.2f}, {escape(e.provider)}{', lexical' if e.lexical else ''})"
    ),
}
