"""Assemble the dashboard application: API, pages, static assets, error pages.

Everything the browser loads comes from this app (no CDN): clusters are often offline.
"""

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import HTTPException
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from autopack import __version__
from autopack.dashboard import api, pages
from autopack.dashboard.config import DashboardConfig
from autopack.dashboard.live import LiveStatus
from autopack.store import Store, StoreUnavailableError

STATIC_DIR = Path(__file__).parent / "static"

# Same-origin only, inline scripts forbidden: the pages load /static/*.js and nothing else.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(api.PREFIX) and "text/html" in request.headers.get(
        "accept", ""
    )


def create_app(
    store: Store, config: DashboardConfig | None = None, *, live: LiveStatus | None = None
) -> FastAPI:
    """The dashboard over ``store`` (opened by the caller; the app never migrates it).

    With ``live``, run states come from the cluster where it knows the run.
    """
    app = FastAPI(
        title="Autopack dashboard",
        version=__version__,
        description="Read-only view of Autopack runs, usage, routing and hardening.",
        openapi_url=f"{api.PREFIX}/openapi.json",
        # FastAPI's Swagger UI and ReDoc load from a CDN: off, the JSON description stays.
        docs_url=None,
        redoc_url=None,
    )
    app.state.store = store
    app.state.config = config or DashboardConfig()
    app.state.live = live
    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        store.ping()
        return {"status": "ok"}

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        response: Response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.exception_handler(StoreUnavailableError)
    async def store_unavailable(request: Request, exc: StoreUnavailableError) -> Response:
        return _error(request, status_code=503, message=str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(request, status_code=exc.status_code, message=str(exc.detail))

    return app


def _error(request: Request, *, status_code: int, message: str) -> Response:
    if _wants_html(request):
        response: HTMLResponse = pages.render(
            request, "error.html", status_code=status_code, message=message, title="Error"
        )
        return response
    return JSONResponse({"detail": message}, status_code=status_code)
