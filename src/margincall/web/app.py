"""The dashboard application: the API router, the pages, the static files, plotly.js from the
installed plotly package (nothing from a CDN), error handlers that answer with a JSON message
and never a stack trace, and the request guards of :mod:`margincall.web.guard`."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from margincall import __version__
from margincall.core.errors import InvalidInputError
from margincall.web.api import RunName, router
from margincall.web.guard import LOCAL_NAMES, AllowedHosts, BodyLimit, Headers, HostCheck
from margincall.web.jobs import Jobs
from margincall.web.store import DataStore, RunStore
from margincall.web.stressmaps import StressMaps

STATIC = Path(__file__).parent / "static"


def plotly_js() -> Path:
    """plotly.min.js shipped inside the installed plotly package."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    if not path.is_file():  # pragma: no cover - a broken plotly install
        raise RuntimeError(f"plotly.min.js not found at {path}")
    return path


@dataclass
class Dashboard:
    """What the routes share: the stores, the map cache and the simulations."""

    runs: RunStore
    data: DataStore
    maps: StressMaps
    jobs: Jobs


def _error(status: int, message: str, **extra) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def create_app(
    runs: Path, data: Path | None = None, max_sims: int = 2, hosts: AllowedHosts | None = None
) -> FastAPI:
    """The dashboard over the run folders in ``runs`` and the data files in ``data``, answering
    requests whose Host header ``hosts`` allows (default: 127.0.0.1 and localhost, any port)."""
    runs = Path(runs)
    runs.mkdir(parents=True, exist_ok=True)
    store = RunStore(runs)
    dash = Dashboard(
        store, DataStore(Path(data) if data else None), StressMaps(store), Jobs(runs, max_sims)
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        dash.jobs.shutdown()

    app = FastAPI(
        title="margincall dashboard",
        version=__version__,
        description="Runs, replays, stress tests and market reports of margincall.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load from a CDN; the schema is at /openapi.json
        redoc_url=None,
    )
    app.state.dash = dash
    app.include_router(router)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors():
            loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "request"
            parts.append(f"{loc}: {e.get('msg', 'invalid')}")
        return _error(422, "invalid request: " + "; ".join(parts[:5]))

    @app.exception_handler(InvalidInputError)
    async def invalid_input(request: Request, exc: InvalidInputError) -> JSONResponse:
        return _error(400, str(exc))

    def page(file: str):
        def handler() -> FileResponse:
            return FileResponse(STATIC / file, media_type="text/html")

        return handler

    for path, file in (
        ("/", "index.html"),
        ("/stress", "stress.html"),
        ("/monitor", "monitor.html"),
    ):
        app.add_api_route(path, page(file), include_in_schema=False, methods=["GET"])

    @app.get("/runs/{name}", include_in_schema=False)
    def run_page(name: RunName) -> FileResponse:
        store.folder(name)
        return FileResponse(STATIC / "run.html", media_type="text/html")

    @app.get("/reports/{name}", include_in_schema=False)
    def report_page(name: RunName) -> FileResponse:
        store.file(name, "report.md")
        return FileResponse(STATIC / "watch.html", media_type="text/html")

    js = plotly_js()

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_file() -> FileResponse:
        return FileResponse(js, media_type="application/javascript")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(BodyLimit)  # the last added runs first: Headers, HostCheck, BodyLimit
    app.add_middleware(HostCheck, hosts=hosts or AllowedHosts())
    app.add_middleware(Headers)
    return app


def serve(
    host: str,
    port: int,
    runs: Path,
    data: Path | None,
    max_sims: int,
    allowed_hosts: Iterable[str] = (),
) -> None:
    """Run the dashboard with uvicorn until interrupted. Requests must name ``host``,
    127.0.0.1, localhost or one of ``allowed_hosts`` in their Host header."""
    import uvicorn

    if max_sims < 0:
        raise InvalidInputError("--max-sims", max_sims, "a number of simulations >= 0")
    if data is not None and not Path(data).is_dir():
        raise InvalidInputError("--data", str(data), "an existing folder")
    if Path(runs).exists() and not Path(runs).is_dir():
        raise InvalidInputError("--runs", str(runs), "a folder (or a path to create one at)")
    hosts = AllowedHosts([*LOCAL_NAMES, host, *allowed_hosts], port)
    app = create_app(runs, data, max_sims, hosts)
    uvicorn.run(app, host=host, port=port, log_level="info")


__all__ = ["HTTPException", "create_app", "serve"]
