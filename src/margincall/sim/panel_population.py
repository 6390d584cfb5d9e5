"""A population of one venue and instrument built from a market-data panel before the start.

:func:`population_from_panel` reads the panel (any :func:`margincall.sources.panel.read_panel`
format, e.g. the shared hourly BTC file in ``../shared/data``, read where it lies at run time and
never copied) and builds the positions of the market map at the start
(:mod:`margincall.agents.panel_population`). It uses the rows before the start and, of the
start hour's row, only the open interest at its open (the open interest at the start instant,
which closes the last hour's change): nothing the panel records at or after the start.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from margincall.agents.leverage_levels import MarketMapParams, build_levels
from margincall.agents.panel_population import population_from_levels
from margincall.core.errors import InvalidInputError
from margincall.sim.scenario import as_utc
from margincall.sources.panel import read_panel


def panel_before(panel: pl.DataFrame, start: datetime) -> pl.DataFrame:
    """The rows of ``panel`` before ``start``, and the start hour's row with only its open
    interest (every other value null or NaN)."""
    when = as_utc(start)
    before = panel.filter(pl.col("ts") < when)
    at = panel.filter(pl.col("ts") == when)
    if at.height != 1 or before.height == 0:
        first, last = (str(v) for v in (panel["ts"].min(), panel["ts"].max()))
        raise InvalidInputError(
            "start", when.isoformat(), f"an hour of the panel after its first ({first} to {last})"
        )
    blank = {c: pl.lit(float("nan")) for c in ("open", "high", "low", "close")}
    blank |= {c: pl.lit(None, pl.Float64) for c in at.columns if c not in (*blank, "ts", "oi_usd")}
    return pl.concat([before, at.with_columns(**blank).select(panel.columns)])


def panel_path(path: str | Path) -> Path:
    """``path`` as given when it exists (a relative one from the working directory), else a
    relative one from the checkout's root: the presets name ``../shared/data/...``, the data
    beside a clone, so they run from any folder (the readers name the file when it is in
    neither place)."""
    given = Path(path)
    if given.exists() or given.is_absolute():
        return given
    beside = Path(__file__).resolve().parents[3] / given
    return beside if beside.exists() else given


def population_from_panel(
    path: str | Path,
    start: datetime,
    params: MarketMapParams | None = None,
    accounts: int | None = None,
) -> dict[str, np.ndarray]:
    """The population arrays (:func:`~margincall.agents.panel_population.population_from_levels`)
    of the panel at ``path`` at the open of the hour ``start`` (UTC)."""
    cut = panel_before(read_panel(panel_path(path)), start)
    return population_from_levels(build_levels(cut, params), cut.height - 1, accounts)
