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
from enum import Enum
from typing import Any, assert_never

from pydantic import BaseModel
from sqlalchemy.orm import Session

from autopack import events
from autopack.api import PhaseState, RunPhase
from autopack.llm.types import CallRecord
from autopack.store import Store, StoreUnavailableError, models, records

logger = logging.getLogger(__name__)


def _jsonable(value: Any) -> Any:  # noqa: PLR0911 - one return per kind of value
    """An event's fields as JSON: dataclasses nested, enums as values, times as ISO text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    return value


def _event_data(event: events.RunEvent) -> dict[str, Any]:
    data = _jsonable(event)
    for key in ("run", "at", "phases", "diff"):
        data.pop(key, None)
    return dict(data)


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
        self.pending: deque[events.RunEvent] = deque()
        self.available = True
        self.last_error: str | None = None

    def emit(self, event: events.RunEvent) -> None:
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

    def _write(self, session: Session, event: events.RunEvent) -> None:
        phase_id = self._apply(session, event)
        records.record_event(
            session,
            run_id=self.run_id,
            phase_id=phase_id,
            type=type(event).__name__,
            data=_event_data(event),
            now=event.at,
        )

    def _apply(self, session: Session, event: events.RunEvent) -> int | None:  # noqa: PLR0911, PLR0912, PLR0915 - one case per event
        """Update the rows ``event`` concerns; return the phase row it belongs to."""
        match event:
            case events.RunStarted():
                if self.run_row is not None:
                    records.upsert_run(session, run_id=self.run_id, **self.run_row)
                if session.get(models.Run, self.run_id) is None:
                    raise LookupError(f"run {self.run_id} must be created before it starts")
                records.close_unfinished_attempts(session, run_id=self.run_id, now=event.at)
                records.set_run_state(session, run_id=self.run_id, state="Running", now=event.at)
                return None
            case events.PlanReady():
                for index, definition in enumerate(event.phases):
                    records.upsert_phase(
                        session,
                        run_id=self.run_id,
                        index=index,
                        title=definition.title,
                        definition=definition.to_api(),
                    )
                return None
            case events.PhaseStarted():
                phase = self._phase(session, event.index)
                phase.state = PhaseState.BUILDING
                phase.started_at = phase.started_at or event.at
                return phase.id
            case events.PhaseAlreadyComplete():
                phase = self._phase(session, event.index)
                phase.state = PhaseState.COMPLETE
                phase.commit = event.commit
                return phase.id
            case events.AttemptStarted():
                phase = self._phase(session, event.index)
                attempt = records.upsert_attempt(session, phase_id=phase.id, number=event.attempt)
                attempt.model = event.model
                attempt.escalation = event.escalation
                attempt.started_at = event.at
                phase.attempts_made = max(phase.attempts_made, event.attempt)
                phase.model = event.model
                return phase.id
            case events.EditsApplied():
                phase = self._phase(session, event.index)
                attempt = records.upsert_attempt(session, phase_id=phase.id, number=event.attempt)
                attempt.diff_files = len(event.outcome.files)
                attempt.diff_additions = event.outcome.additions
                attempt.diff_deletions = event.outcome.deletions
                return phase.id
            case events.TestsRan():
                return self._tests(session, event)
            case events.DiffReviewed():
                phase = self._phase(session, event.index)
                attempt = records.upsert_attempt(session, phase_id=phase.id, number=event.attempt)
                attempt.details = {**attempt.details, "diff": event.diff}
                return phase.id
            case events.AttemptFinished():
                return self._attempt_finished(session, event)
            case events.PhaseFinished():
                phase = self._phase(session, event.index)
                result = event.result
                phase.state = result.state
                phase.commit = result.commit
                phase.failure_signature = result.failure
                phase.attempts_made = max(phase.attempts_made, result.attempts)
                if result.state != PhaseState.AWAITING_APPROVAL:
                    phase.finished_at = event.at
                return phase.id
            case events.ModelCalled():
                return self._model_called(session, event.call, at=event.at)
            case events.RunFinished():
                outcome = event.outcome
                records.refresh_usage_totals(session, run_id=self.run_id)
                records.set_run_state(
                    session,
                    run_id=self.run_id,
                    state=outcome.state,
                    reason=outcome.reason,
                    message=outcome.message,
                    result_commit=outcome.commit,
                    now=event.at,
                    finished=outcome.state != RunPhase.AWAITING_APPROVAL,
                )
                return None
            case events.ProviderNotice():
                return None if event.index is None else self._phase(session, event.index).id
            case (
                events.AuditDone()
                | events.ChangesDiscarded()
                | events.DriftChecked()
                | events.ApprovalNeeded()
                | events.PhaseReplanned()
            ):
                return self._phase(session, event.index).id
            case _:
                assert_never(event)

    def _tests(self, session: Session, event: events.TestsRan) -> int | None:
        phase_id = None if event.index is None else self._phase(session, event.index).id
        attempt_id = None
        if phase_id is not None and event.attempt is not None:
            attempt_id = records.upsert_attempt(session, phase_id=phase_id, number=event.attempt).id
        outcome = event.outcome
        session.add(
            models.CiResult(
                run_id=self.run_id,
                phase_id=phase_id,
                attempt_id=attempt_id,
                kind="baseline" if event.index is None else "attempt",
                command=outcome.command,
                passed=outcome.passed,
                failed=outcome.failed,
                skipped=outcome.skipped,
                collection_errors=outcome.collection_errors,
                new_failures=list(outcome.new_failures),
                duration_seconds=outcome.duration_seconds,
                log_excerpt=outcome.log_excerpt or None,
            )
        )
        return phase_id

    def _attempt_finished(self, session: Session, event: events.AttemptFinished) -> int:
        phase = self._phase(session, event.index)
        attempt = records.upsert_attempt(session, phase_id=phase.id, number=event.attempt)
        result = event.result
        attempt.outcome = result.outcome
        failure = result.failure
        if failure is not None:
            attempt.failure_category = failure.category
            attempt.failure_signature = failure.signature.text[:1024]
            attempt.failure_detail = "\n".join(result.next_feedback or failure.feedback)[:8000]
        elif result.stop is not None:
            attempt.failure_category = "stopped"
            attempt.failure_signature = f"{result.stop.reason}: {result.stop.message}"[:1024]
        attempt.mitigation = result.mitigation
        attempt.doctor_decision = (result.doctor_decision or "")[:64] or None
        if result.discarded:
            attempt.details = {**attempt.details, "discarded": list(result.discarded)}
        attempt.finished_at = event.at
        return phase.id

    def _model_called(self, session: Session, call: CallRecord, *, at: datetime) -> int | None:
        phase = None if call.phase_index is None else self._phase(session, call.phase_index)
        attempt = (
            records.upsert_attempt(session, phase_id=phase.id, number=call.attempt)
            if phase is not None and call.attempt
            else None
        )
        usage = call.usage
        session.add(
            models.LlmCall(
                run_id=self.run_id,
                phase_id=phase.id if phase else None,
                attempt_id=attempt.id if attempt else None,
                role=call.role,
                provider=call.provider,
                model=call.model,
                input_tokens=usage.input_tokens if usage else None,
                output_tokens=usage.output_tokens if usage else None,
                cache_read_tokens=usage.cache_read_tokens if usage else None,
                cache_write_tokens=usage.cache_write_tokens if usage else None,
                cost_usd=Decimal(str(call.cost_usd)),
                pricing_version=call.pricing_version,
                latency_ms=call.latency_ms,
                outcome=call.outcome,
                stop_reason=call.stop_reason,
                error_type=call.error_type,
                error_message=call.error_message,
                status_code=call.status_code,
                created_at=at,
            )
        )
        return phase.id if phase else None
