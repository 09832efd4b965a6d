"""The JSON API, version 1: what the pages render and what scripts and other tools read.

Everything is a GET over the store except adding a note, which answers 403 unless the
dashboard was started with notes enabled. The OpenAPI description is at
``/api/v1/openapi.json`` (FastAPI's browsable docs load from a CDN, so they are off).
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from autopack.dashboard import (
    hardening,
    rundetail,
    runlist,
    schemas,
    timeline,
    usage,
)
from autopack.dashboard import routes as routing_table
from autopack.dashboard.config import DashboardConfig
from autopack.dashboard.live import LiveStatus
from autopack.store import Store, models, records

PREFIX = "/api/v1"
MAX_PAGE = 500

router = APIRouter(prefix=PREFIX, tags=["v1"])


def store_session(request: Request) -> Iterator[Session]:
    """One store session per request."""
    store: Store = request.app.state.store
    with store.session() as session:
        yield session


def dashboard_config(request: Request) -> DashboardConfig:
    """The running dashboard's settings."""
    config: DashboardConfig = request.app.state.config
    return config


def live_status(request: Request) -> LiveStatus | None:
    """The cluster's live run status, when the dashboard reads it."""
    live: LiveStatus | None = request.app.state.live
    return live


SessionDep = Annotated[Session, Depends(store_session)]
LiveDep = Annotated[LiveStatus | None, Depends(live_status)]
ConfigDep = Annotated[DashboardConfig, Depends(dashboard_config)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page size.")]
Offset = Annotated[int, Query(ge=0, description="Rows to skip.")]


def _run_or_404(session: Session, run_ref: str) -> models.Run:
    run = rundetail.find_run(session, run_ref)
    if run is None:
        raise HTTPException(status_code=404, detail=f"no run with id or name {run_ref!r}")
    return run


@router.get("/runs", response_model=schemas.RunPage)
def list_runs(
    session: SessionDep,
    live: LiveDep,
    *,
    state: Annotated[str, Query(max_length=32)] = "",
    namespace: Annotated[str, Query(max_length=253)] = "",
    repository: Annotated[str, Query(max_length=2048)] = "",
    limit: Limit = 50,
    offset: Offset = 0,
) -> schemas.RunPage:
    """Runs, newest first, filtered by state, namespace and repository (as the store has it)."""
    page = runlist.list_runs(
        session,
        run_filter=runlist.RunFilter(state=state, namespace=namespace, repository=repository),
        limit=limit,
        offset=offset,
    )
    if live is None:
        return page
    return page.model_copy(update={"items": live.overlay(page.items)})


@router.get("/runs/{run_ref}", response_model=schemas.RunDetail)
def get_run(
    run_ref: str, session: SessionDep, config: ConfigDep, live: LiveDep
) -> schemas.RunDetail:
    """One run (by id, or by name for the newest run so named): phases, attempts, calls."""
    detail = rundetail.run_detail(
        session,
        _run_or_404(session, run_ref),
        notes_enabled=config.allow_notes,
        timeline_limit=config.timeline_limit,
    )
    if live is None:
        return detail
    return detail.model_copy(update={"run": live.overlay([detail.run])[0]})


@router.get("/runs/{run_ref}/events", response_model=list[schemas.EventView])
def list_events(
    run_ref: str, session: SessionDep, limit: Limit = 100, offset: Offset = 0
) -> list[schemas.EventView]:
    """A run's events in the order they happened."""
    run = _run_or_404(session, run_ref)
    index_of = {phase.id: phase.index for phase in run.phases}
    rows = session.scalars(
        select(models.Event)
        .where(models.Event.run_id == run.id)
        .order_by(models.Event.id)
        .limit(limit)
        .offset(offset)
    ).all()
    return [timeline.event_view(event, index_of) for event in rows]


@router.get("/runs/{run_ref}/notes", response_model=list[schemas.NoteView])
def list_notes(run_ref: str, session: SessionDep) -> list[schemas.NoteView]:
    """A run's notes, oldest first."""
    run = _run_or_404(session, run_ref)
    return [rundetail.note_view(note) for note in records.notes_for_run(session, run_id=run.id)]


@router.post("/runs/{run_ref}/notes", response_model=schemas.NoteView, status_code=201)
def add_note(
    run_ref: str, note: schemas.NoteIn, session: SessionDep, config: ConfigDep
) -> schemas.NoteView:
    """Add a note to a run (only when the dashboard runs with notes enabled)."""
    return rundetail.note_view(
        write_note(session, config=config, run_ref=run_ref, text=note.text, author=note.author)
    )


def write_note(
    session: Session, *, config: DashboardConfig, run_ref: str, text: str, author: str
) -> models.Note:
    """Record a note from the dashboard; 403 when notes are off, 422 when the text is unusable."""
    if not config.allow_notes:
        raise HTTPException(
            status_code=403,
            detail="notes are disabled on this dashboard; start it with --allow-notes "
            "(chart: dashboard.allowNotes=true) or use `autopack note`",
        )
    run = _run_or_404(session, run_ref)
    try:
        return records.add_note(
            session, run_id=run.id, text=text, author=author or "dashboard", source="dashboard"
        )
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None


@router.get("/usage", response_model=schemas.UsageReport)
def get_usage(
    session: SessionDep,
    period: schemas.Period = "day",
    days: Annotated[int, Query(ge=0, le=3660, description="Window in days; 0: all.")] = 0,
) -> schemas.UsageReport:
    """Tokens and cost by period, provider, model and role."""
    since = datetime.now(UTC) - timedelta(days=days) if days else None
    return usage.usage_report(
        session,
        period=period,
        since=since,
        cached_in_input=routing_table.models_with_cache_in_input(),
    )


@router.get("/models", response_model=schemas.ModelsView)
def get_models(
    config: ConfigDep, profile: Annotated[str | None, Query(max_length=100)] = None
) -> schemas.ModelsView:
    """A profile's model chains per role and complexity, with prices."""
    try:
        return routing_table.models_view(profile or config.models_profile)
    except KeyError as exc:
        raise HTTPException(status_code=404, detail=str(exc.args[0])) from None


@router.get("/hardening", response_model=schemas.HardeningView)
def get_hardening(session: SessionDep) -> schemas.HardeningView:
    """Failures by signature, mitigations' success, Doctor calls avoided."""
    return hardening.hardening_view(session)
