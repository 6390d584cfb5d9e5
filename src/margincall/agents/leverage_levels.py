"""Leverage levels from market data: open-interest increases placed at the prices where they
happened, split over leverage buckets, removed when crossed or closed (the model behind the
estimator's market map, :mod:`margincall.estimate.market_map`, and the simulator's populations
built from a panel, :mod:`margincall.agents.panel_population`).

Model (every assumption is a field of :class:`MarketMapParams` and is written into a map's
``assumptions``):

1. **New positions.** The open interest at the open of hour ``t+1`` minus that at the open of
   hour ``t`` is the change ``dOI_t`` during hour ``t``. When it is positive, ``dOI_t`` dollars of
   new *leveraged* notional are mapped: each new contract has a leveraged side and a
   counterparty assumed hedged or low-leverage (market makers, basis traders), which is not
   mapped. So one dollar of new open interest adds one dollar to the map, in total over sides,
   and the mapped total never exceeds the open interest added.
2. **Entry prices.** The new notional is spread evenly over ``points`` entry prices
   ``typical + spread * x * (high - low) / 2`` with ``x`` evenly spaced in ``[-1, 1]`` and
   ``typical = (high + low + close) / 3``, clipped to ``[low, high]``; ``spread = 0`` puts
   everything at the typical price, ``spread = 1`` spreads it over the whole range.
3. **Long/short split.** The long share is ``r / (1 + r)`` where the file gives a long/short
   account ratio ``r``; otherwise it comes from the funding rate known at the hour's open:
   ``1 / (1 + exp(-(funding - funding_neutral) / funding_scale))``. Positive funding above the
   neutral rate (Binance's 0.01% per 8 h interest component) means longs pay, so more longs.
4. **Leverage.** Each side's notional is split over leverage buckets ``leverage`` with
   ``weights`` (defaults: a two-cohort mixture after ``cascade-models.md`` §3.4: a "capital"
   cohort holding 60% of the notional at 2-5x and a "retail" cohort holding 40% at 10-100x).
5. **Liquidation price** (isolated, linear USDT-margined perp, ``cascade-models.md`` §0):
   long ``entry * (1 - 1/L) / (1 - mmr)``, short ``entry * (1 + 1/L) / (1 + mmr)``; ``mmr``
   defaults to 0.5%, Binance BTCUSDT's tier for positions of $50k-$250k.
6. **Removal by crossing.** A level created in hour ``t`` can be crossed from hour ``t+1`` on
   (the order of prices inside an hour is unknown, so a position is never liquidated in the hour
   it opened). A long level is liquidated in the first later hour whose low is at or below it, a
   short level in the first whose high is at or above it; it then leaves the map.
7. **Removal by closing.** When open interest falls, every surviving level loses the same
   fraction ``-dOI_t / OI_t`` (closes are spread pro-rata over the whole market, mapped or not);
   every hour every level also loses ``decay`` (churn: positions closed and replaced while the
   open interest is flat). Order at the end of hour ``t``: crossing, closing, decay, new levels.
8. **Gaps.** A missing hour is not filled: the open-interest change across it is assigned to the
   row before the gap and its unknown prices cannot cross anything.

The map at hour ``u`` is the state at the open of ``u``: every level created in hours before
``u`` and not crossed before ``u``. It uses only rows ``0 .. u-1`` and the open interest at the
open of ``u``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numba
import numpy as np
import polars as pl

from margincall.core import libm
from margincall.core.errors import InvalidInputError


@dataclass(frozen=True)
class MarketMapParams:
    """Assumptions of the market-data map (see the module docstring for their meaning)."""

    leverage: tuple[float, ...] = (2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0)
    weights: tuple[float, ...] = (0.20, 0.15, 0.25, 0.15, 0.12, 0.08, 0.05)
    mmr: float = 0.005
    spread: float = 1.0
    points: int = 5
    decay: float = 0.0
    funding_neutral: float = 0.0001
    funding_scale: float = 0.0001

    def __post_init__(self) -> None:
        if len(self.leverage) != len(self.weights) or not self.leverage:
            raise InvalidInputError(
                "weights", self.weights, f"{len(self.leverage)} weights, one per leverage bucket"
            )
        if any(not (1.0 < lev <= 1000.0) for lev in self.leverage):
            raise InvalidInputError("leverage", self.leverage, "leverages in (1, 1000]")
        if any(w < 0 for w in self.weights) or not np.isclose(sum(self.weights), 1.0):
            raise InvalidInputError("weights", self.weights, "non-negative weights summing to 1")
        if not (0.0 <= self.mmr < 1.0 / max(self.leverage)):
            raise InvalidInputError("mmr", self.mmr, f"in [0, {1 / max(self.leverage):g})")
        if not (0.0 <= self.spread <= 1.0):
            raise InvalidInputError("spread", self.spread, "a fraction of the range in [0, 1]")
        if self.points < 1:
            raise InvalidInputError("points", self.points, "at least 1 entry price per hour")
        if not (0.0 <= self.decay < 1.0):
            raise InvalidInputError("decay", self.decay, "a fraction per hour in [0, 1)")
        if self.funding_scale <= 0:
            raise InvalidInputError("funding_scale", self.funding_scale, "a positive rate")

    def assumptions(self) -> dict[str, Any]:
        d = asdict(self)
        d["leverage"] = list(self.leverage)
        d["weights"] = list(self.weights)
        d["model"] = (
            "OI increases mapped at the hour's prices, split long/short by the long/short "
            "ratio or funding, over leverage buckets; liquidation price entry*(1-1/L)/(1-mmr) "
            "(long), entry*(1+1/L)/(1+mmr) (short); removed when crossed by a later hour's "
            "low/high, pro-rata when OI falls, and by decay per hour"
        )
        return d

    def with_weights(self, weights: tuple[float, ...]) -> MarketMapParams:
        return replace(self, weights=tuple(float(w) for w in weights))


@dataclass(frozen=True)
class MarketLevels:
    """Every level of the market map, per side, with shape ``(hours, points, buckets)``.

    ``*_unit`` is the notional of a level per unit weight of its bucket (USD at creation);
    ``*_cross`` the hour in which it is crossed (``hours`` if never); ``log_keep`` the
    cumulative log of the fraction kept through closes and decay, so that a level created in
    hour ``t`` holds ``unit * weight * exp(log_keep[u] - log_keep[t + 1])`` at the open of
    hour ``u``.
    """

    params: MarketMapParams
    ts: np.ndarray  # datetime64[us], the panel's hours
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    entry: np.ndarray  # (hours, points): entry prices of each hour's new notional, USD
    long_liq: np.ndarray
    long_unit: np.ndarray
    long_cross: np.ndarray
    short_liq: np.ndarray
    short_unit: np.ndarray
    short_cross: np.ndarray
    log_keep: np.ndarray  # (hours + 1,)

    @property
    def hours(self) -> int:
        return len(self.ts)

    def held(self, side: str, u: int) -> tuple[np.ndarray, np.ndarray]:
        """Prices and USD notional of the non-empty ``side`` levels alive at the open of ``u``."""
        liq = self._side(side)[0]
        alive, usd = self._alive(side, u)
        return liq[alive], usd[alive]

    def positions(self, side: str, u: int) -> dict[str, np.ndarray]:
        """The levels of :meth:`held` as positions: ``entry`` price (USD), ``leverage`` (x),
        ``liq`` (liquidation price, USD) and ``notional`` (USD), one row per level."""
        liq = self._side(side)[0]
        alive, usd = self._alive(side, u)
        lev = np.broadcast_to(np.asarray(self.params.leverage)[None, None, :], liq.shape)
        entry = np.broadcast_to(self.entry[:, :, None], liq.shape)
        return {"entry": entry[alive], "leverage": lev[alive], "liq": liq[alive],
                "notional": usd[alive]}  # fmt: skip

    def _alive(self, side: str, u: int) -> tuple[np.ndarray, np.ndarray]:
        """Which ``side`` levels are alive and non-empty at the open of ``u``, and every
        level's USD notional then."""
        liq, unit, cross = self._side(side)
        t = np.arange(self.hours)[:, None, None]
        alive = (t < u) & (cross >= u)
        w = np.asarray(self.params.weights)[None, None, :]
        keep = libm.exp(self.log_keep[u] - self.log_keep[np.minimum(t + 1, self.hours)])
        usd = np.broadcast_to(unit * w * keep, liq.shape)
        alive &= usd > 0  # hours without new open interest leave empty levels out
        return alive, usd

    def crossed_by_bucket(self, side: str) -> np.ndarray:
        """USD liquidated per hour per bucket at unit weight: shape ``(hours, buckets)``."""
        liq, unit, cross = self._side(side)
        n, _, b = liq.shape
        t = np.broadcast_to(np.arange(n)[:, None, None], liq.shape)
        hit = cross < n
        keep = libm.exp(self.log_keep[cross[hit]] - self.log_keep[t[hit] + 1])
        bucket = np.broadcast_to(np.arange(b)[None, None, :], liq.shape)[hit]
        out = np.zeros((n, b))
        np.add.at(out, (cross[hit], bucket), unit[hit] * keep)
        return out

    def _side(self, side: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if side == "long":
            return self.long_liq, self.long_unit, self.long_cross
        if side == "short":
            return self.short_liq, self.short_unit, self.short_cross
        raise InvalidInputError("side", side, "'long' or 'short'")


def long_share(panel: pl.DataFrame, params: MarketMapParams) -> np.ndarray:
    """Share of each hour's new leveraged notional that is long (see the module docstring)."""
    ratio = panel["long_short_ratio"].fill_nan(None).to_numpy().astype(np.float64)
    funding = panel["funding"].fill_nan(None).fill_null(params.funding_neutral).to_numpy()
    z = np.clip((funding - params.funding_neutral) / params.funding_scale, -50.0, 50.0)
    share = 1.0 / (1.0 + libm.exp(-z))
    given = np.isfinite(ratio) & (ratio >= 0)
    share[given] = ratio[given] / (1.0 + ratio[given])
    return share


def entry_prices(panel: pl.DataFrame, params: MarketMapParams) -> np.ndarray:
    """Entry prices of each hour's new notional, shape ``(hours, points)``."""
    high, low, close = (panel[c].to_numpy() for c in ("high", "low", "close"))
    typical = (high + low + close) / 3.0
    x = np.linspace(-1.0, 1.0, params.points) if params.points > 1 else np.zeros(1)
    p = typical[:, None] + params.spread * x[None, :] * (high - low)[:, None] / 2.0
    return np.clip(p, low[:, None], high[:, None])


@numba.njit(cache=True)
def _first_crossing(liq: np.ndarray, path: np.ndarray, long_side: bool) -> np.ndarray:
    """For levels ``liq[t, k, b]`` the first hour ``u > t`` whose low (long) is at or below the
    level, or whose high (short) is at or above it; ``hours`` when none is."""
    n, k, b = liq.shape
    out = np.full(liq.shape, n, np.int64)
    for t in range(n):
        for i in range(k):
            for j in range(b):
                level = liq[t, i, j]
                for u in range(t + 1, n):
                    if (path[u] <= level) if long_side else (path[u] >= level):
                        out[t, i, j] = u
                        break
    return out


def build_levels(panel: pl.DataFrame, params: MarketMapParams | None = None) -> MarketLevels:
    """Every level of the market map of ``panel`` (a :func:`read_panel` frame)."""
    params = params or MarketMapParams()
    n = panel.height
    oi = panel["oi_usd"].to_numpy()
    d_oi = np.zeros(n)
    d_oi[:-1] = np.diff(oi)  # the last hour's change is not known (no next open)
    added = np.maximum(d_oi, 0.0)
    closed = np.where(oi > 0, np.maximum(-d_oi, 0.0) / np.where(oi > 0, oi, 1.0), 0.0)
    keep = np.clip(1.0 - closed, 1e-300, 1.0) * (1.0 - params.decay)
    log_keep = np.concatenate(([0.0], np.cumsum(libm.log(keep))))

    lev = np.asarray(params.leverage)[None, None, :]
    entries = entry_prices(panel, params)
    entry = entries[:, :, None]
    share = long_share(panel, params)[:, None, None]
    per_point = (added / params.points)[:, None, None] * np.ones_like(lev)
    long_liq = entry * (1.0 - 1.0 / lev) / (1.0 - params.mmr)
    short_liq = entry * (1.0 + 1.0 / lev) / (1.0 + params.mmr)
    shape = (n, params.points, len(params.leverage))
    long_liq, short_liq = (
        np.broadcast_to(long_liq, shape).copy(),
        np.broadcast_to(short_liq, shape).copy(),
    )
    low, high = panel["low"].to_numpy(), panel["high"].to_numpy()
    return MarketLevels(
        params=params,
        ts=panel["ts"].dt.replace_time_zone(None).to_numpy(),
        open=panel["open"].to_numpy(),
        high=high,
        low=low,
        close=panel["close"].to_numpy(),
        entry=entries,
        long_liq=long_liq,
        long_unit=np.broadcast_to(per_point * share, shape).copy(),
        long_cross=_first_crossing(long_liq, low, True),
        short_liq=short_liq,
        short_unit=np.broadcast_to(per_point * (1.0 - share), shape).copy(),
        short_cross=_first_crossing(short_liq, high, False),
        log_keep=log_keep,
    )
