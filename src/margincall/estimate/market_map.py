"""The liquidation map estimated from market data, as heatmap vendors build theirs, documented.

The model (new positions from open-interest increases at the hour's prices, the long/short split,
leverage buckets, the liquidation price, removal by crossing and by closing, gaps) is
:mod:`margincall.agents.leverage_levels`, shared with the simulator's populations built from a
panel; every assumption is a field of :class:`MarketMapParams` and is written into the map's
``assumptions``. This module turns those levels into maps: the map at an hour
(:func:`map_at`), from a file (:func:`map_from_file`) and the heatmap over hours.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numba
import numpy as np
import polars as pl

from margincall.agents.leverage_levels import MarketLevels, MarketMapParams, build_levels
from margincall.core.errors import InvalidInputError
from margincall.estimate.maps import LiquidationMap
from margincall.sources.panel import read_panel


def _hour_index(levels: MarketLevels, at: int | str | datetime | None) -> int:
    """``at`` as the hour ``u`` whose open the map describes; ``None`` is after the last row."""
    n = levels.hours
    if at is None:
        return n
    if isinstance(at, (int, np.integer)) and not isinstance(at, bool):
        if not 0 <= at <= n:
            raise InvalidInputError("at", at, f"an hour index in [0, {n}]")
        return int(at)
    try:
        when = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
    except ValueError:
        raise InvalidInputError("at", at, "an hour index or an ISO 8601 time") from None
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    stamp = np.datetime64(when, "us")
    u = int(np.searchsorted(levels.ts, stamp, side="left"))
    if u >= n or levels.ts[u] != stamp:
        raise InvalidInputError(
            "at", str(at), f"an hour of the file, {levels.ts[0]} to {levels.ts[-1]} (UTC)"
        )
    return u


def map_at(levels: MarketLevels, at: int | str | datetime | None = None) -> LiquidationMap:
    """The market map at the open of hour ``at`` (index, ISO time or datetime in UTC; ``None``:
    after the last row, priced at its close)."""
    u = _hour_index(levels, at)
    price = float(levels.close[-1] if u == levels.hours else levels.open[u])
    ll, lu = levels.held("long", u)
    sl, su = levels.held("short", u)
    when = "end" if u == levels.hours else str(levels.ts[u])
    return LiquidationMap.from_levels(
        price,
        ll,
        lu,
        sl,
        su,
        source=f"market data, estimated at {when}",
        assumptions=levels.params.assumptions() | {"hour_index": u},
    )


def map_from_file(
    path: str | Path,
    at: int | str | datetime | None = None,
    params: MarketMapParams | None = None,
) -> LiquidationMap:
    """The estimated liquidation map of a market-data file (:func:`read_panel` formats).

    Example:
        >>> m = map_from_file("../shared/data/btc_1h_liquidations_oi_funding_2025-12_2026-02.csv")
        >>> m.long_total_micros > 0
        True
    """
    return map_from_panel(read_panel(path), path, at, params)


def map_from_panel(
    panel: pl.DataFrame,
    path: str | Path,
    at: int | str | datetime | None = None,
    params: MarketMapParams | None = None,
) -> LiquidationMap:
    """:func:`map_from_file` on a panel already read from ``path``."""
    m = map_at(build_levels(panel, params), at)
    return LiquidationMap.from_levels(
        m.price,
        m.long_liq,
        m.long_micros,
        m.short_liq,
        m.short_micros,
        source=f"{Path(path).name}: {m.source}",
        assumptions=m.assumptions | {"data": str(path)},
    )


def heatmap(
    levels: MarketLevels, edges: np.ndarray | None = None, bins: int = 200
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Long and short notional (USD) by hour and liquidation-price bin, and the bin edges.

    Row ``u`` is the map at the open of hour ``u`` (shape ``(hours, bins)`` per side). The
    default edges span 0.8 x the lowest low to 1.2 x the highest high; levels outside the edges
    are left out of the picture (they stay in the map).
    """
    if edges is None:
        lo = 0.8 * float(levels.low.min())
        hi = 1.2 * float(levels.high.max())
        edges = np.linspace(lo, hi, bins + 1)
    edges = np.asarray(edges, np.float64)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise InvalidInputError("edges", edges.shape, "increasing bin edges, at least 2")
    w = np.asarray(levels.params.weights)
    out = []
    for liq, unit, cross in (
        (levels.long_liq, levels.long_unit, levels.long_cross),
        (levels.short_liq, levels.short_unit, levels.short_cross),
    ):
        grid = np.zeros((levels.hours, len(edges) - 1))
        _fill_heatmap(liq, unit * w[None, None, :], cross, levels.log_keep, edges, grid)
        out.append(grid)
    return out[0], out[1], edges


@numba.njit(cache=True)
def _fill_heatmap(liq, usd, cross, log_keep, edges, grid):
    n, k, b = liq.shape
    nb = len(edges) - 1
    for t in range(n):
        for i in range(k):
            for j in range(b):
                if usd[t, i, j] <= 0.0:
                    continue
                col = np.searchsorted(edges, liq[t, i, j], side="right") - 1
                if col < 0 or col >= nb:
                    continue
                last = min(cross[t, i, j], n - 1)
                for u in range(t + 1, last + 1):
                    grid[u, col] += usd[t, i, j] * np.exp(log_keep[u] - log_keep[t + 1])
