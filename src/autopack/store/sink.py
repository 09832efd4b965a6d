"""The store sink: turns engine events into rows, and catches up after a database outage.

Every event is queued, then the queue is flushed in order inside one transaction per event.
If the database is unreachable the events stay queued, the run carries on, and the next
event that finds the database up writes the backlog first; ``flush()`` at the end of a run
tries once more. Writes are upserts keyed by natural keys, so repeating one is harmless.
"""

import dataclasses
import logging
from collections import deque
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from autopack import events
from autopack.store import Store, StoreUnavailableError, models, records

logger = logging.getLogger(__name__)


def _jsonable(event: events.Event) -> dict[str, Any]:
    data = dataclasses.asdict(event)
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in data.items()
        if key not in ("run", "at", "definitions")
    }


class StoreSink:
    """Records a run's events in the store (runs, phases, attempts, ci_results, events)."""

    def __init__(self, store: Store, *, run_id: str, run_row: dict[str, Any] | None = None) -> None:
        """Record events of the run with id ``run_id``.

        The run row must exist when the run starts, unless ``run_row`` (the arguments of
        :func:`records.upsert_run`) is given: then it is written with RunStarted, so a run that
        starts while the database is down still gets its row when the backlog is written.
        """
        self.store = store
        self.run_id = run_id
        self.run_row = run_row
        self.pending: deque[events.Event] = deque()
        self.available = True
        self.last_error: str | None = None

    def emit(self, event: events.Event) -> None:
        """Queue the event and write everything queued, oldest first."""
        self.pending.append(event)
        self.flush()

    def flush(self) -> bool:
        """Write queued events; return whether the queue is empty afterwards."""
        while self.pending:
            event = self.pending[0]
            try:
                with self.store.session() as session:
                    self._write(session, event)
            except StoreUnavailableError as exc:
                if self.available:
                    logger.warning(
                        "run store unavailable, %d event(s) queued: %s", len(self.pending), exc
                    )
                self.available = False
                self.last_error = str(exc)
                return False
            self.pending.popleft()
            self.available = True
        return True

    def _phase(self, session: Session, index: int) -> models.PhaseRecord:
        phase = records.find_phase(session, run_id=self.run_id, index=index)
        if phase is None:
            phase = records.upsert_phase(
                session, run_id=self.run_id, index=index, title=f"phase {index}", definition={}
            )
        return phase

    def _write(self, session: Session, event: events.Event) -> None:
        handler = getattr(self, f"_on_{type(event).__name__}", None)
        phase_id: int | None = handler(session, event) if handler is not None else None
        records.record_event(
            session,
            run_id=self.run_id,
            phase_id=phase_id,
            type=type(event).__name__,
            data=_jsonable(event),
            now=event.at,
        )

    def _on_RunStarted(self, session: Session, event: events.RunStarted) -> None:
        if self.run_row is not None:
            records.upsert_run(session, run_id=self.run_id, **self.run_row)
        if session.get(models.Run, self.run_id) is None:
            raise LookupError(f"run {self.run_id} must be created before it starts")
        records.set_run_state(session, run_id=self.run_id, state="Running", now=event.at)

    def _on_PlanReady(self, session: Session, event: events.PlanReady) -> None:
        definitions = event.definitions or tuple({} for _ in event.titles)
        for index, (title, definition) in enumerate(zip(event.titles, definitions, strict=True)):
            records.upsert_phase(
                session, run_id=self.run_id, index=index, title=title, definition=dict(definition)
            )

    def _on_PhaseStarted(self, session: Session, event: events.PhaseStarted) -> int:
        phase = self._phase(session, event.index)
        phase.state = "Building"
        phase.started_at = phase.started_at or event.at
        return phase.id

    def _on_AttemptStarted(self, session: Session, event: events.AttemptStarted) -> int:
        phase = self._phase(session, event.index)
        attempt = records.upsert_attempt(session, phase_id=phase.id, number=event.attempt)
        attempt.model = event.model
        attempt.escalation = event.escalation
        attempt.started_at = event.at
        phase.attempts_made = max(phase.attempts_made, event.attempt)
        phase.model = event.model
        return phase.id

    def _on_EditsApplied(self, session: Session, event: events.EditsApplied) -> int:
        phase = self._phase(session, event.index)
        attempt = records.upsert_attempt(session, phase_id=phase.id, number=event.attempt)
        attempt.diff_files = len(event.files)
        attempt.diff_additions = event.additions
        attempt.diff_deletions = event.deletions
        return phase.id

    def _on_TestsRan(self, session: Session, event: events.TestsRan) -> int | None:
        phase_id = None if event.index is None else self._phase(session, event.index).id
        attempt_id = None
        if phase_id is not None and event.attempt is not None:
            attempt_id = records.upsert_attempt(session, phase_id=phase_id, number=event.attempt).id
        session.add(
            models.CiResult(
                run_id=self.run_id,
                phase_id=phase_id,
                attempt_id=attempt_id,
                kind="baseline" if event.index is None else "attempt",
                command=event.command,
                passed=event.passed,
                failed=event.failed,
                skipped=event.skipped,
                collection_errors=event.collection_errors,
                new_failures=list(event.new_failures),
                duration_seconds=event.duration_seconds,
                log_excerpt=event.log_excerpt or None,
            )
        )
        return phase_id

    def _on_AttemptFinished(self, session: Session, event: events.AttemptFinished) -> int:
        phase = self._phase(session, event.index)
        attempt = records.upsert_attempt(session, phase_id=phase.id, number=event.attempt)
        attempt.outcome = event.outcome
        attempt.failure_category = event.category
        attempt.failure_signature = event.signature
        attempt.failure_detail = event.detail
        attempt.mitigation = event.mitigation
        attempt.doctor_decision = event.doctor_decision
        attempt.finished_at = event.at
        return phase.id

    def _on_PhaseFinished(self, session: Session, event: events.PhaseFinished) -> int:
        phase = self._phase(session, event.index)
        phase.state = event.state
        phase.commit = event.commit
        phase.failure_signature = event.failure
        phase.attempts_made = event.attempts
        if event.state != "AwaitingApproval":
            phase.finished_at = event.at
        return phase.id

    def _on_ModelCalled(self, session: Session, event: events.ModelCalled) -> int | None:
        phase = None if event.index is None else self._phase(session, event.index)
        attempt = (
            records.upsert_attempt(session, phase_id=phase.id, number=event.attempt)
            if phase is not None and event.attempt
            else None
        )
        session.add(
            models.LlmCall(
                run_id=self.run_id,
                phase_id=phase.id if phase else None,
                attempt_id=attempt.id if attempt else None,
                role=event.role,
                provider=event.provider,
                model=event.model,
                input_tokens=event.input_tokens,
                output_tokens=event.output_tokens,
                cache_read_tokens=event.cache_read_tokens,
                cache_write_tokens=event.cache_write_tokens,
                cost_usd=Decimal(str(event.cost_usd)),
                pricing_version=event.pricing_version,
                latency_ms=event.latency_ms,
                outcome=event.outcome,
                stop_reason=event.stop_reason,
                created_at=event.at,
            )
        )
        return phase.id if phase else None

    def _on_RunFinished(self, session: Session, event: events.RunFinished) -> None:
        records.refresh_usage_totals(session, run_id=self.run_id)
        records.set_run_state(
            session,
            run_id=self.run_id,
            state=event.state,
            reason=event.reason,
            message=event.message,
            result_commit=event.commit,
            now=event.at,
            finished=event.state in ("Succeeded", "Failed"),
        )
