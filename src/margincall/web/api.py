"""The dashboard's JSON API (``/api/...``); the pages use nothing else. FastAPI publishes its
OpenAPI schema at ``/openapi.json``.

Every name (run, data file, job) is checked against a strict pattern and resolved inside its
root folder; run sizes and shocks are bounded by the request models; at most ``--max-sims``
simulations run at once (429 beyond that).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from email.utils import formatdate
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from margincall import __version__
from margincall.sim.scenario import PRESETS
from margincall.web.jobs import Full, Taken
from margincall.web.safety import NAME_PATTERN
from margincall.web.stressmaps import MAX_MAP_ACCOUNTS, cascade_json, map_json

router = APIRouter(prefix="/api")

MAX_HOURS = 24.0
MAX_ACCOUNTS = 200_000
MAX_SEED = 2**31 - 1
JOB_PATTERN = r"^[0-9a-f]{12}$"

Preset = Literal["calm", "flash-crash", "feb-2026"]
RunName = Annotated[str, Path(pattern=NAME_PATTERN, max_length=80, description="a run folder name")]
Seed = Annotated[int, Query(ge=0, le=MAX_SEED, description="seed of the start state")]


class NewRun(BaseModel):
    """A simulation to start from a preset with a few bounded changes."""

    model_config = ConfigDict(extra="forbid")

    preset: Preset = Field(description="the preset scenario")
    hours: float = Field(1.5, gt=0, le=MAX_HOURS, description="simulated hours")
    accounts: int = Field(2000, ge=100, le=MAX_ACCOUNTS, description="leveraged accounts")
    seed: int = Field(1, ge=0, le=MAX_SEED, description="seed of every random draw")
    name: str | None = Field(
        None, pattern=NAME_PATTERN, max_length=80, description="run folder name (default: made up)"
    )


def _state(request: Request) -> Any:
    return request.app.state.dash


@router.get("/info", summary="Server version, folders and limits")
def info(request: Request) -> dict[str, Any]:
    d = _state(request)
    return {
        "version": __version__,
        "runs_folder": str(d.runs.root),
        "data_folder": str(d.data.root) if d.data.root else None,
        "max_sims": d.jobs.max_sims,
        "running_sims": d.jobs.running(),
        "limits": {"hours": MAX_HOURS, "accounts": [100, MAX_ACCOUNTS], "seed": [0, MAX_SEED]},
    }


@router.get("/presets", summary="The preset scenarios a new run can start from")
def presets() -> list[dict[str, Any]]:
    from margincall.sim.scenario import load_scenario

    out = []
    for name in PRESETS:
        sc = load_scenario(name)
        out.append(
            {
                "name": name,
                "description": sc.description,
                "hours": sc.run.hours,
                "accounts": sc.run.accounts,
                "start_price": sc.market.start_price,
                "open_interest_usd": sc.market.open_interest_usd,
            }
        )
    return out


@router.get("/runs", summary="The run folders under --runs with their headline figures")
def runs(request: Request) -> list[dict[str, Any]]:
    d = _state(request)
    rows = []
    for name in d.runs.names():
        try:
            rows.append(d.runs.headline(name))
        except HTTPException:
            continue  # a run folder being replaced or unreadable: left out of the list
    return sorted(rows, key=lambda r: r["modified"], reverse=True)


@router.get(
    "/runs/{name}",
    summary="One run: its summary and, of a market run, its venues and their instruments",
)
def run(request: Request, name: RunName) -> dict[str, Any]:
    d = _state(request)
    return {
        "name": name,
        "headline": d.runs.headline(name),
        "summary": d.runs.summary(name),
        "pairs": d.runs.pairs(name),
    }


@router.get(
    "/runs/{name}/report",
    summary="A monitor folder's report.md as plain text, read afresh (watch mode rewrites it); "
    "304 when If-None-Match names its current ETag",
    response_class=PlainTextResponse,
    responses={304: {"description": "the report has not changed"}},
)
def run_report(request: Request, name: RunName) -> Response:
    text, modified = _state(request).runs.report_text(name)
    tag = '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'
    headers = {
        "Cache-Control": "no-store",
        "ETag": tag,
        "Last-Modified": formatdate(modified, usegmt=True),
    }
    if tag in (x.strip() for x in request.headers.get("if-none-match", "").split(",")):
        return Response(status_code=304, headers=headers)
    return PlainTextResponse(text, headers=headers)


PairName = Annotated[
    str | None,
    Query(max_length=64, description="a market run's venue or instrument (BTCUSDT or BTC)"),
]


@router.get(
    "/runs/{name}/series",
    summary="A run's bars (ts in epoch ms, USD) and ADL events; of a market run, one venue's "
    "instrument (venue, symbol; default the first venue, BTC)",
)
def run_series(
    request: Request, name: RunName, venue: PairName = None, symbol: PairName = None
) -> dict[str, Any]:
    d = _state(request)
    return d.runs.series(name, venue, symbol)


def _names(body: NewRun) -> Iterator[str]:
    """The run name asked for, or made-up ones to try in turn."""
    if body.name is not None:
        yield body.name
        return
    base = f"{body.preset}-s{body.seed}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    yield base
    yield from (f"{base}-{i}" for i in range(2, 1000))


@router.post(
    "/runs",
    status_code=202,
    summary="Start a simulation (429 when --max-sims are already running)",
    responses={409: {"description": "the run name exists"}, 429: {"description": "sims full"}},
)
def start_run(request: Request, body: NewRun) -> dict[str, Any]:
    from margincall.sim.scenario import load_scenario

    d = _state(request)
    sc = load_scenario(body.preset).with_overrides(hours=body.hours, accounts=body.accounts)
    try:
        job = d.jobs.start(_names(body), body.preset, sc.model_dump(mode="json"), body.seed)
    except Taken as exc:
        raise HTTPException(409, str(exc)) from None
    except Full as exc:
        raise HTTPException(429, str(exc)) from None
    return job.as_dict()


@router.get("/jobs", summary="Simulations started by this server, newest first")
def jobs(request: Request) -> list[dict[str, Any]]:
    return [j.as_dict() for j in _state(request).jobs.all()]


@router.get("/jobs/{job_id}", summary="One simulation's state and progress")
def job(
    request: Request, job_id: Annotated[str, Path(pattern=JOB_PATTERN, max_length=12)]
) -> dict[str, Any]:
    j = _state(request).jobs.get(job_id)
    if j is None:
        raise HTTPException(404, f"no job {job_id!r}")
    return j.as_dict()


RunQuery = Annotated[
    str | None, Query(pattern=NAME_PATTERN, max_length=80, description="a run folder name")
]
PresetQuery = Annotated[Preset | None, Query(description="a preset's start state")]
AccountsQuery = Annotated[
    int | None,
    Query(ge=100, le=MAX_MAP_ACCOUNTS, description="accounts of a preset's start state"),
]


@router.get("/stress/map", summary="The liquidation map of a run's or a preset's start state")
def stress_map(
    request: Request,
    run: RunQuery = None,
    preset: PresetQuery = None,
    seed: Seed = 1,
    accounts: AccountsQuery = None,
) -> dict[str, Any]:
    return map_json(_state(request).maps.load(run, preset, seed, accounts))


@router.get("/stress/cascade", summary="The estimated cascade of one shock on that map")
def stress_cascade(
    request: Request,
    shock: Annotated[float, Query(ge=-0.5, le=0.5, description="signed fraction, -0.05 = -5%")],
    run: RunQuery = None,
    preset: PresetQuery = None,
    seed: Seed = 1,
    accounts: AccountsQuery = None,
    depth_scale: Annotated[float, Query(ge=0.1, le=10, description="depth multiplier")] = 1.0,
    refill: Annotated[
        float, Query(ge=0, le=1, description="share of consumed depth restored before each round")
    ] = 0.0,
) -> dict[str, Any]:
    loaded = _state(request).maps.load(run, preset, seed, accounts)
    return cascade_json(loaded, shock, depth_scale, refill)


@router.get("/data", summary="The market-data files under --data")
def data_files(request: Request) -> list[dict[str, Any]]:
    return _state(request).data.names()


@router.get("/monitor/{name}", summary="The market report of one data file under --data")
def monitor(
    request: Request,
    name: Annotated[str, Path(pattern=NAME_PATTERN, max_length=80, description="a data file")],
) -> dict[str, Any]:
    return _state(request).data.report(name)
