"""The Kubernetes status sink: engine events become coalesced patches of the Phases' status.

The operator aggregates the Phases into the run's status; this sink keeps each Phase's state,
attempts, model, usage, test delta, audit verdict, diff size, commit and failure current
without a write per event: a phase's start and end are written at once; progress (usage, the
attempt, tests, review) is merged and written at most every ``interval`` seconds, with the next
immediate write, or by a timer once the interval has passed (so progress made before a long
model call or test run is not held back). Only small summaries go into status (etcd limits
objects to 1 MB); details go to the store. When the Phases are the run's only ledger (no store,
or a store that is down and queues the calls) each phase also holds a reservation
(:mod:`autopack.runner.reserving`), written with its start or with the first call the store
could not take: usage within it waits for the next progress write, usage past it is written at
once, so a runner that dies never leaves less counted than it spent. A relaunched runner starts each
Phase's usage from what earlier runners recorded there (``spent``), so the Phase and the run's
aggregate keep counting every call once instead of restarting from this runner's own. The
planner's calls (free-form notes, before the Phases exist) go to the first Phase's
``planUsage`` with its first write. A
phase's end is also announced on the run as an event (PhaseCompleted, PhaseFailed) once its
status is written: the runner knows first, and the operator then posts no event per phase.
"""

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol, assert_never

from autopack import events
from autopack.api import PhaseState, constants
from autopack.events import AttemptOutcome, Spend
from autopack.llm import errors
from autopack.llm.types import CallRecord
from autopack.runner.reserving import Amount, Ledger

logger = logging.getLogger(__name__)

Patcher = Callable[[str, str, dict[str, Any]], None]
Announcer = Callable[[str, str, str], None]
"""Post an event on the run: (type, reason, message)."""

PHASE_EVENTS = {
    PhaseState.COMPLETE: ("Normal", "PhaseCompleted"),
    PhaseState.FAILED: ("Warning", "PhaseFailed"),
}

PROGRESS_INTERVAL = 30.0
"""Least seconds between two progress writes of one Phase."""


class Cancellable(Protocol):
    """A scheduled call that can be called off."""

    def cancel(self) -> None:
        """Call it off (no effect once it ran)."""


Scheduler = Callable[[float, Callable[[], None]], Cancellable]
"""Call the function after that many seconds, in the background."""


def thread_timer(seconds: float, function: Callable[[], None]) -> Cancellable:
    """Run ``function`` in a daemon thread after ``seconds``."""
    timer = threading.Timer(seconds, function)
    timer.daemon = True
    timer.start()
    return timer


def _time(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class KubernetesStatusSink:
    """Patches ``Phase`` status for the phase-level events of one run."""

    def __init__(
        self,
        *,
        namespace: str,
        run_name: str,
        patch: Patcher,
        interval: float = PROGRESS_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        schedule: Scheduler = thread_timer,
        spent: Mapping[int, Spend] | None = None,
        announce: Announcer | None = None,
        budget: Amount | None = None,
        unrecorded: Mapping[int, Amount] | None = None,
        planned: Spend | None = None,
        durable: Callable[[], bool] | None = None,
    ) -> None:
        """Patch Phases of ``run_name`` in ``namespace`` with ``patch(namespace, name, status)``.

        ``spent``: each Phase's usage as earlier runners of the run recorded it, by index;
        ``announce``: posts a phase's end as an event on the run; ``budget``: the run's budgets
        when the Phases are its only ledger (each phase then holds a reservation), with what
        earlier runners left ``unrecorded`` beyond their usage; ``planned``: the planner's usage
        as earlier runners recorded it (on the first Phase); ``durable``: whether another ledger
        (the store) holds every call so far; phases hold reservations only while it does not.
        """
        self.namespace = namespace
        self.run_name = run_name
        self.patch = patch
        self.interval = interval
        self.clock = clock
        self.schedule = schedule
        self.announce = announce
        self.spend: dict[int, Spend] = {index: replace(s) for index, s in (spent or {}).items()}
        self.planning = replace(planned) if planned is not None else Spend()
        self.durable = durable or (lambda: False)
        self._planning_written = True
        self._phases_exist = False
        self.ledger = (
            None
            if budget is None
            else Ledger(
                budget=budget, usage=self.spend, planning=self.planning, unrecorded=unrecorded
            )
        )
        self.pending: dict[int, dict[str, Any]] = {}
        self.written: dict[int, float] = {}
        self.writes = 0
        self._timers: dict[int, Cancellable] = {}
        self._owed: set[int] = set()  # phases whose usage past the reservation is not written
        # Held while writing: a timer's write and the engine's never interleave or reorder.
        self._lock = threading.RLock()

    def emit(self, event: events.RunEvent) -> None:
        """Merge the event's status into its phase; write now, or once the interval has passed."""
        with self._lock:
            update = self._status(event)
            if update is None:
                return
            index, status, now = update
            self.pending.setdefault(index, {}).update(status)
            wait = self.written.get(index, float("-inf")) + self.interval - self.clock()
            if now or wait <= 0:
                self.flush(index)
            elif index not in self._timers:
                self._timers[index] = self.schedule(wait, lambda: self._due(index))
        if isinstance(event, events.PhaseFinished):
            self._announce(event)

    def _announce(self, event: events.PhaseFinished) -> None:
        """Post the phase's end on the run (an API error costs the event, never the run)."""
        kind = PHASE_EVENTS.get(event.result.state)
        if kind is None or self.announce is None:
            return
        failure = f": {event.result.failure}" if event.result.failure else ""
        message = f"phase {event.index} {event.title!r} is {event.result.state}{failure}"
        try:
            self.announce(*kind, message)
        except Exception as exc:
            logger.warning("cannot post the end of phase %s: %s", event.index, exc)

    def _due(self, index: int) -> None:
        """A timer's write of what is still pending (an API error waits for the next write)."""
        with self._lock:
            self._timers.pop(index, None)
            try:
                self.flush(index)
            except Exception as exc:
                logger.warning("cannot write the status of phase %s yet: %s", index, exc)

    def settle(self) -> None:
        """Before a model request: write usage past a reservation that could not be written.

        Raises :class:`errors.LedgerUnavailableError` when it still cannot be written, so the
        request is not made: a runner that stopped then would leave spend nobody counts.
        """
        with self._lock:
            for index in sorted(self._owed):
                self.pending.setdefault(index, {})["usage"] = _usage(
                    self.spend.setdefault(index, Spend())
                )
                try:
                    self.flush(index)
                except Exception as exc:
                    raise errors.LedgerUnavailableError(
                        f"the usage of phase {index} cannot be written to its Phase ({exc}); "
                        "no model call is made until it can"
                    ) from None

    def flush(self, index: int | None = None) -> None:
        """Write what is pending (for one phase, or all)."""
        with self._lock:
            for phase in [index] if index is not None else list(self.pending):
                timer = self._timers.pop(phase, None)
                if timer is not None:
                    timer.cancel()
                held = self.pending.pop(phase, None)
                if not held:
                    continue
                status = held
                if self.ledger is not None:
                    status = {**status, "ledger": self.ledger.status(phase)}
                planning = phase == 0 and not self._planning_written
                if planning:
                    status = {**status, "planUsage": _usage(self.planning)}
                name = constants.phase_object_name(self.run_name, phase)
                try:
                    self.patch(self.namespace, name, status)
                except Exception:
                    # Kept for the next write (anything merged meanwhile is newer).
                    self.pending[phase] = {**held, **self.pending.get(phase, {})}
                    raise
                self.written[phase] = self.clock()
                self._owed.discard(phase)
                self.writes += 1
                if self.ledger is not None:
                    self.ledger.wrote(phase)
                if planning:
                    self._planning_written = True

    def _status(self, event: events.RunEvent) -> tuple[int, dict[str, Any], bool] | None:  # noqa: PLR0911, PLR0912 - one case per event
        """(phase index, status fields, write now?) for ``event``; None for run-level events."""
        match event:
            case events.PhaseStarted():
                started = {
                    "state": PhaseState.BUILDING,
                    "startedAt": _time(event.at),
                    "failure": None,
                }
                if self.ledger is not None and not self.durable():
                    self.ledger.reserve(event.index)
                    self._owed.add(event.index)  # calls wait until the reservation is written
                return event.index, started, True
            case events.PhaseAlreadyComplete():
                return event.index, {"state": PhaseState.COMPLETE, "commit": event.commit}, True
            case events.AttemptStarted():
                progress = {
                    "state": PhaseState.BUILDING,
                    "attempts": event.attempt,
                    "model": event.model,
                }
                return event.index, progress, False
            case events.ModelCalled():
                return self._called(event.call)
            case events.EditsApplied():
                applied = event.outcome
                diff = {
                    "files": len(applied.files),
                    "additions": applied.additions,
                    "deletions": applied.deletions,
                }
                return event.index, {"state": PhaseState.VALIDATING, "diff": diff}, False
            case events.TestsRan():
                if event.index is None:
                    return None
                tests = event.outcome
                ci = {
                    "passed": tests.passed,
                    "failed": tests.failed,
                    "newFailures": list(tests.new_failures[:50]),
                    "baselineFailures": tests.baseline_failures,
                }
                state = PhaseState.VALIDATING if tests.blocked else PhaseState.AUDITING
                return event.index, {"state": state, "ci": ci}, False
            case events.DriftChecked():
                judged = event.outcome
                drift = {
                    "score": judged.score,
                    "threshold": judged.threshold,
                    "verdict": judged.verdict,
                    "provider": judged.provider,
                    "lexical": judged.lexical,
                }
                return event.index, {"drift": drift}, False
            case events.AuditDone():
                audit = {"verdict": event.result.verdict, "summary": event.result.summary[:4000]}
                return event.index, {"audit": audit}, False
            case events.AttemptFinished():
                failure = event.result.failure
                if event.result.outcome != AttemptOutcome.FAILED or failure is None:
                    return None
                summary = {
                    "signature": str(failure.signature)[:1024],
                    "mitigation": event.result.mitigation or "",
                }
                return event.index, {"failure": summary}, False
            case events.PhaseFinished():
                result = event.result
                status: dict[str, Any] = {
                    "state": result.state,
                    "commit": result.commit,
                    "attempts": result.attempts,
                }
                if result.state != PhaseState.AWAITING_APPROVAL:
                    status["finishedAt"] = _time(event.at)
                if result.failure:
                    status["failure"] = {"signature": result.failure[:1024], "mitigation": ""}
                if self.ledger is not None:
                    self.ledger.release(event.index)
                return event.index, status, True
            case events.PlanReady():
                if self.ledger is not None:
                    self.ledger.plan(event.phases)
                return None
            case (
                events.RunStarted()
                | events.ProviderNotice()
                | events.ChangesDiscarded()
                | events.DiffReviewed()
                | events.ApprovalNeeded()
                | events.PhaseReplanned()
            ):
                return None
            case events.RunFinished():
                self._finish()
                return None
            case _:
                assert_never(event)

    def _called(self, call: CallRecord) -> tuple[int, dict[str, Any], bool] | None:
        """A call's usage: on its phase, written now if it is past the phase's reservation."""
        index = call.phase_index
        if index is None:  # the planner's: written on the first Phase with its next write
            self.planning.add(call)
            self._planning_written = False
            return None
        spend = self.spend.setdefault(index, Spend())
        spend.add(call)
        uncovered = self.ledger is not None and not self.durable() and self.ledger.uncovered(index)
        if uncovered and self.ledger is not None:
            self.ledger.reserve(index)  # written with the usage, now
            self._owed.add(index)
        return index, {"usage": _usage(spend)}, uncovered

    def _finish(self) -> None:
        """Write what is pending; a phase the run left mid-way gives up its reservation."""
        if self.ledger is not None:
            for index in self.ledger.open():
                self.ledger.release(index)
                self.pending.setdefault(index, {})["ledger"] = {}  # flush writes the ledger
        if self._phases_exist and not self._planning_written:  # the run ended before phase 0
            self.pending.setdefault(0, {})["planUsage"] = {}  # flush writes the usage
        self.flush()

    def phases_created(self) -> None:
        """The Phases exist: the planner's usage may go to the first one at the run's end."""
        self._phases_exist = True


def _usage(spend: Spend) -> dict[str, Any]:
    return {
        "inputTokens": spend.input_tokens,
        "cacheReadTokens": spend.cache_read_tokens,
        "cacheWriteTokens": spend.cache_write_tokens,
        "outputTokens": spend.output_tokens,
        "costUSD": round(spend.cost_usd, 6),
        "llmCalls": spend.calls,
    }
