"""The HTML pages: each calls the JSON API's handler and renders its answer with a template.

So a page never shows anything the API does not say. The note form is the one POST; it
redirects back to the run page (and is refused unless notes are enabled).
"""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from autopack.dashboard import api, charts, schemas

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
router = APIRouter(include_in_schema=False)


def money(value: Decimal | float | None) -> str:
    """Dollars with four decimals (cents hide the cost of small calls)."""
    return "-" if value is None else f"${Decimal(value):,.4f}"


def tokens(value: int | None) -> str:
    """A token count with thousands separators."""
    return "-" if value is None else f"{value:,}"


def age(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago ``value`` was, in the largest sensible unit (like kubectl's AGE)."""
    if value is None:
        return "-"
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def stamp(value: datetime | None) -> str:
    """An ISO timestamp in UTC, to the second."""
    if value is None:
        return "-"
    moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def percent(value: float) -> str:
    """A share as a percentage."""
    return f"{value * 100:.1f}%"


TEMPLATES.env.filters.update(money=money, tokens=tokens, age=age, stamp=stamp, percent=percent)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` with the dashboard's settings in the context."""
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {"config": request.app.state.config, **context},
        status_code=status_code,
    )


@router.get("/", response_class=HTMLResponse)
def runs_page(
    request: Request,
    *,
    state: Annotated[str, Query(max_length=32)] = "",
    namespace: Annotated[str, Query(max_length=253)] = "",
    repository: Annotated[str, Query(max_length=2048)] = "",
    limit: Annotated[int, Query(ge=1, le=api.MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    """Runs, newest first, with filters; the table refreshes itself from the API."""
    with request.app.state.store.session() as session:
        page = api.list_runs(
            session,
            request.app.state.live,
            state=state,
            namespace=namespace,
            repository=repository,
            limit=limit,
            offset=offset,
        )
    filters = {"state": state, "namespace": namespace, "repository": repository}
    query = {key: value for key, value in filters.items() if value}

    def page_link(to: int) -> str:
        return "?" + urlencode({**query, "limit": limit, "offset": max(to, 0)})

    return render(
        request,
        "runs.html",
        page=page,
        filters=filters,
        api_query=urlencode({**query, "limit": limit, "offset": offset}),
        previous=page_link(offset - limit) if offset else None,
        following=page_link(offset + limit) if offset + limit < page.total else None,
    )


@router.get("/runs/{run_ref}", response_class=HTMLResponse)
def run_page(request: Request, run_ref: str) -> HTMLResponse:
    """One run: phases, attempts, tests, calls, timeline and notes."""
    with request.app.state.store.session() as session:
        detail = api.get_run(run_ref, session, request.app.state.config, request.app.state.live)
    return render(request, "run.html", detail=detail, title=detail.run.name)


@router.post("/runs/{run_ref}/notes")
def note_form(
    request: Request,
    run_ref: str,
    text: Annotated[str, Form(max_length=4000)],
    author: Annotated[str, Form(max_length=253)] = "",
) -> RedirectResponse:
    """The run page's note form: record the note, then show the run again."""
    _refuse_cross_site(request)
    with request.app.state.store.session() as session:
        note = api.write_note(
            session, config=request.app.state.config, run_ref=run_ref, text=text, author=author
        )
        run_id = note.run_id
    return RedirectResponse(url=f"/runs/{run_id}#notes", status_code=303)


def _refuse_cross_site(request: Request) -> None:
    """Refuse a form posted from another site (the form is the dashboard's one write)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise HTTPException(status_code=403, detail="notes can only be posted from this dashboard")
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise HTTPException(status_code=403, detail="notes can only be posted from this dashboard")


@router.get("/usage", response_class=HTMLResponse)
def usage_page(
    request: Request,
    period: schemas.Period = "day",
    days: Annotated[int, Query(ge=0, le=3660)] = 0,
) -> HTMLResponse:
    """Tokens and cost over time, by provider, model and role."""
    with request.app.state.store.session() as session:
        report = api.get_usage(session, period=period, days=days)
    categories = [row.key for row in report.by_period]
    token_chart = _token_chart(f"Tokens per {period}", report.by_period)
    providers = [row.key for row in report.by_provider]
    cost = {(row.period, row.provider): float(row.cost_usd) for row in report.cost_by_provider}
    cost_chart = charts.stacked_bars(
        label=f"Cost per {period} by provider (USD)",
        categories=categories,
        series=[
            charts.Series(provider, [cost.get((key, provider), 0.0) for key in categories])
            for provider in providers
        ],
        unit="$",
    )
    return render(
        request,
        "usage.html",
        report=report,
        days=days,
        token_chart=token_chart,
        cost_chart=cost_chart,
        group_charts={
            "provider": _token_chart("Tokens by provider", report.by_provider),
            "model": _token_chart("Tokens by model", report.by_model),
            "role": _token_chart("Tokens by role", report.by_role),
        },
    )


TOKEN_KINDS = (
    ("input", "input_tokens"),
    ("cache read", "cache_read_tokens"),
    ("cache write", "cache_write_tokens"),
    ("output", "output_tokens"),
)


def _token_chart(label: str, rows: list[schemas.UsageRow]) -> Markup:
    """Tokens of each row, stacked by kind."""
    return charts.stacked_bars(
        label=label,
        categories=[row.key for row in rows],
        series=[
            charts.Series(name, [float(getattr(row.usage, field)) for row in rows])
            for name, field in TOKEN_KINDS
        ],
    )


@router.get("/models", response_class=HTMLResponse)
def models_page(
    request: Request, profile: Annotated[str | None, Query(max_length=100)] = None
) -> HTMLResponse:
    """The routing table of a profile, with prices."""
    view = api.get_models(request.app.state.config, profile=profile)
    return render(request, "models.html", view=view)


@router.get("/hardening", response_class=HTMLResponse)
def hardening_page(request: Request) -> HTMLResponse:
    """Failures by signature, mitigations' success and Doctor calls avoided."""
    with request.app.state.store.session() as session:
        view = api.get_hardening(session)
    return render(request, "hardening.html", view=view)
