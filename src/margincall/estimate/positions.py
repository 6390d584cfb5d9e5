"""Exact liquidation maps from a position snapshot, with the venue's own integer margin check.

A position's liquidation price is the first price, in ticks, at which the venue's check
(:func:`margincall.venue.margin_int.margin_excess` then ``is_breached``) says "liquidate": for a
long the highest tick that breaches, for a short the lowest. It is found per position by a
galloping then binary search from the float solution of the consistent tier (as the venue's
index key, :func:`~margincall.venue.margin_int.liquidation_key`, solves it), using the tiered maintenance margin of
the rulebook (notional x rate - cumulative amount, rounded up, the tier chosen by the notional
at the price being checked). The margin excess of a one-way position rises with the price for
a long and falls for a short, so the boundary is unique. Nothing is approximated: the map
reproduces the venue check tick for tick.

Assumptions, stated once:

* the price that is checked is the mark; a map says where the *mark* must go;
* collateral is frozen at the snapshot: no funding, fees or deposits before the breach;
* cross-margin accounts are backed by their whole wallet (one instrument per venue), isolated
  ones by their isolated margin;
* notional is valued at the liquidation price (|lots| x liquidation tick x micro-dollars per
  tick-lot), exactly, in integer micro-dollars;
* the insurance fund (account 0) is not a trader and is left out.

Two sources here: a :class:`~margincall.venue.engine.Venue` (:func:`map_from_venue`) and a user's
positions file (:func:`map_from_positions_file`, columns documented there); position arrays go
through :func:`map_from_arrays`. A scenario's or a run folder's start state is a venue built by
the simulator: :mod:`margincall.inputs.maps` builds it and hands it to :func:`map_from_venue`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

from margincall.core.errors import InvalidInputError
from margincall.estimate.maps import LiquidationMap
from margincall.venue.accounts import EXISTS, ISOLATED
from margincall.venue.margin_int import is_breached, margin_excess

NEVER = -1
"""Tick value of a position no price can liquidate (a 1x long that is never breached)."""


@njit(cache=True, inline="always")
def _breached(c, p, cost, x, k, floors, mmr, cum, strict):
    return is_breached(margin_excess(c, p, cost, x, k, floors, mmr, cum), strict)


@njit(cache=True, inline="always")
def _guess(c, p, cost, k, floors, cum, inv_long, inv_short):
    """A starting tick for the search: the float solution of the tier whose notional range
    holds it (any tier's when rounding leaves none). Only speed depends on it, not the result."""
    qk = abs(p) * k
    inv = 1.0 / qk
    n = floors.shape[0]
    best = 0.0
    for t in range(n):
        if p > 0:
            m = (cost - c - cum[t]) * inv * inv_long[t]
        else:
            m = (c - cost + cum[t]) * inv * inv_short[t]
        notional = qk * m
        hi = floors[t + 1] if t + 1 < n else 9.2e18
        if t == 0 or (notional >= floors[t] and notional < hi):
            best = m
    if not (best > 1.0):
        return 1
    if best > 4.0e18:
        return np.int64(4_000_000_000_000_000_000)
    return np.int64(best)


@njit(cache=True)
def _boundary(c, p, cost, k, floors, mmr, cum, strict, inv_long, inv_short):
    """The exact liquidation tick of one position (NEVER if no price in range breaches)."""
    q = abs(p)
    xmax = (1 << 61) // max(q * k, 1)  # no int64 overflow in lots x ticks x k
    g = _guess(c, p, cost, k, floors, cum, inv_long, inv_short)
    g = min(max(g, 1), xmax)
    if p > 0:  # breached for x <= L: L = the highest breaching tick
        if _breached(c, p, cost, g, k, floors, mmr, cum, strict):
            lo, step = g, 1
            hi = xmax + 1
            while lo + step <= xmax:
                if _breached(c, p, cost, lo + step, k, floors, mmr, cum, strict):
                    lo += step
                    step *= 2
                else:
                    hi = lo + step
                    break
        else:
            hi, step = g, 1
            lo = 0
            while hi - step >= 1:
                if _breached(c, p, cost, hi - step, k, floors, mmr, cum, strict):
                    lo = hi - step
                    break
                hi -= step
                step *= 2
            if lo == 0:
                if not _breached(c, p, cost, 1, k, floors, mmr, cum, strict):
                    return NEVER
                lo = 1
        while hi - lo > 1:  # lo breaches, hi does not
            mid = (lo + hi) // 2
            if _breached(c, p, cost, mid, k, floors, mmr, cum, strict):
                lo = mid
            else:
                hi = mid
        return lo
    # short: breached for x >= S: S = the lowest breaching tick
    if _breached(c, p, cost, g, k, floors, mmr, cum, strict):
        hi, step = g, 1
        lo = 0
        while hi - step >= 1:
            if not _breached(c, p, cost, hi - step, k, floors, mmr, cum, strict):
                lo = hi - step
                break
            hi -= step
            step *= 2
        if lo == 0:
            return 1
    else:
        lo, step = g, 1
        hi = 0
        while lo + step <= xmax:
            if _breached(c, p, cost, lo + step, k, floors, mmr, cum, strict):
                hi = lo + step
                break
            lo += step
            step *= 2
        if hi == 0:
            return NEVER
    while hi - lo > 1:  # lo does not breach, hi does
        mid = (lo + hi) // 2
        if _breached(c, p, cost, mid, k, floors, mmr, cum, strict):
            hi = mid
        else:
            lo = mid
    return hi


@njit(cache=True)
def liquidation_ticks_kernel(coll, pos, cost, k, floors, mmr, cum, strict):
    """Exact liquidation tick of each position (NEVER where none; 0-lot rows give NEVER)."""
    n = pos.shape[0]
    out = np.empty(n, np.int64)
    inv_long = 1.0 / (1.0 - mmr / 1e6)
    inv_short = 1.0 / (1.0 + mmr / 1e6)
    for i in range(n):
        if pos[i] == 0:
            out[i] = NEVER
        else:
            out[i] = _boundary(
                coll[i], pos[i], cost[i], k, floors, mmr, cum, strict, inv_long, inv_short
            )
    return out


@njit(cache=True)
def _ranges(ticks, pos):
    """Lowest and highest liquidation tick of each side: (long lo, long hi, short lo, short hi)."""
    big = np.int64(1) << 62
    llo, lhi, slo, shi = big, np.int64(-1), big, np.int64(-1)
    for i in range(ticks.shape[0]):
        t = ticks[i]
        if t <= 0:
            continue
        if pos[i] > 0:
            llo = min(llo, t)
            lhi = max(lhi, t)
        elif pos[i] < 0:
            slo = min(slo, t)
            shi = max(shi, t)
    return llo, lhi, slo, shi


@njit(cache=True)
def _dense(ticks, pos, k, sign, lo, hi):
    """Notional (micro-dollars at the liquidation tick) summed per tick of one side, ascending."""
    acc = np.zeros(hi - lo + 1, np.int64)
    for i in range(ticks.shape[0]):
        t = ticks[i]
        if t > 0 and pos[i] * sign > 0:
            acc[t - lo] += abs(pos[i]) * t * k
    m = 0
    for j in range(acc.shape[0]):
        if acc[j] != 0:
            m += 1
    tt = np.empty(m, np.int64)
    aa = np.empty(m, np.int64)
    m = 0
    for j in range(acc.shape[0]):
        if acc[j] != 0:
            tt[m] = lo + j
            aa[m] = acc[j]
            m += 1
    return tt, aa


DENSE_LIMIT = 50_000_000
"""Widest tick range aggregated densely; wider ranges (an outlier far away) are sorted."""


def _side_levels(ticks, pos, k, sign, lo, hi):
    if hi < 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    if hi - lo <= DENSE_LIMIT:
        return _dense(ticks, pos, k, sign, lo, hi)
    sel = (ticks > 0) & (pos * sign > 0)
    t = ticks[sel]
    micros = np.abs(pos[sel]) * t * k
    order = np.argsort(t, kind="stable")
    t, micros = t[order], micros[order]
    first = np.flatnonzero(np.concatenate(([True], t[1:] != t[:-1])))
    return t[first], np.add.reduceat(micros, first)


@dataclass(frozen=True)
class Rules:
    """What the margin check needs: micro-dollars per tick-lot, tiers, strictness, units."""

    k: int
    floors: np.ndarray
    mmr_ppm: np.ndarray
    cum: np.ndarray
    strict: bool
    tick_size: float
    lot_size: float
    rulebook: str
    symbol: str

    @classmethod
    def of_venue(cls, v) -> Rules:
        from margincall.venue import params as P

        return cls(
            int(v.k),
            v.tiers.floor,
            v.tiers.mmr_ppm,
            v.tiers.cum,
            bool(v.params[P.STRICT]),
            float(v.scale.tick_size),
            float(v.scale.lot_size),
            v.rulebook.name,
            v.instrument.symbol if hasattr(v.instrument, "symbol") else "",
        )

    @classmethod
    def of_rulebook(cls, rulebook: str = "binance", symbol: str = "BTCUSDT") -> Rules:
        from margincall.venue.engine import build_tiers
        from margincall.venue.instrument import load_rulebook

        rb = load_rulebook(rulebook)
        inst = rb.instrument(symbol)
        t = build_tiers(inst)
        return cls(
            int(inst.scale.micros_per_tick_lot),
            t.floor,
            t.mmr_ppm,
            t.cum,
            rb.liquidation["policy"] in ("dydx", "hyperliquid"),
            float(inst.scale.tick_size),
            float(inst.scale.lot_size),
            rb.name,
            symbol,
        )

    def describe(self) -> dict[str, Any]:
        return {
            "rulebook": self.rulebook,
            "symbol": self.symbol,
            "breach": "balance < maintenance" if self.strict else "balance <= maintenance",
            "margin_tiers": [
                {"floor_usd": int(f) / 1e6, "mmr": int(m) / 1e6}
                for f, m in zip(self.floors, self.mmr_ppm, strict=True)
            ],
        }


def liquidation_ticks(coll, pos, cost, rules: Rules) -> np.ndarray:
    """Exact liquidation tick of each position, with the rulebook's integer margin check.

    ``coll`` (collateral), ``cost`` (signed entry notional) in micro-dollars, ``pos`` in signed
    lots, all int64 arrays of one length. :data:`NEVER` where no price liquidates.
    """
    c, p, e = (np.ascontiguousarray(a, np.int64) for a in (coll, pos, cost))
    return liquidation_ticks_kernel(
        c, p, e, rules.k, rules.floors, rules.mmr_ppm, rules.cum, rules.strict
    )


def map_from_arrays(
    coll: np.ndarray,
    pos: np.ndarray,
    cost: np.ndarray,
    rules: Rules,
    price: float,
    *,
    source: str = "positions",
    assumptions: dict[str, Any] | None = None,
) -> LiquidationMap:
    """The exact map of these positions (see the module docstring), at reference ``price``."""
    pos = np.ascontiguousarray(pos, np.int64)
    ticks = liquidation_ticks(coll, pos, cost, rules)
    llo, lhi, slo, shi = _ranges(ticks, pos)
    lt, lm = _side_levels(ticks, pos, rules.k, 1, llo, lhi)
    st, sm = _side_levels(ticks, pos, rules.k, -1, slo, shi)
    never = int(np.count_nonzero((ticks == NEVER) & (pos != 0)))
    info = {
        "map": "exact: each position's first breaching tick under the rulebook's margin check",
        "positions": int(np.count_nonzero(pos)),
        "never_liquidated": never,
        "notional": "valued at the liquidation price",
        **rules.describe(),
        **(assumptions or {}),
    }
    tick = rules.tick_size
    return LiquidationMap(
        float(price),
        lt[::-1] * tick,
        np.ascontiguousarray(lm[::-1]),
        st * tick,
        sm,
        source,
        info,
    )


def venue_positions(v) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(account ids, collateral, pos, cost)`` of every account holding a position, the
    insurance fund excluded."""
    n = v.n_accounts
    pos = np.asarray(v.acc.pos[:n])
    ids = np.flatnonzero(pos != 0)
    ids = ids[ids != 0]
    flags = np.asarray(v.acc.flags[ids])
    ok = (flags & EXISTS) != 0
    ids = ids[ok]
    iso = (np.asarray(v.acc.flags[ids]) & ISOLATED) != 0
    coll = np.where(iso, np.asarray(v.acc.iso_margin[ids]), np.asarray(v.acc.wallet[ids]))
    return ids, coll.astype(np.int64), pos[ids].astype(np.int64), v.acc.cost[ids].astype(np.int64)


def account_liquidation_ticks(v) -> tuple[np.ndarray, np.ndarray]:
    """``(account ids, exact liquidation tick)`` of every account of venue ``v`` with a position."""
    ids, coll, pos, cost = venue_positions(v)
    return ids, liquidation_ticks(coll, pos, cost, Rules.of_venue(v))


def map_from_venue(v, *, source: str = "venue") -> LiquidationMap:
    """The exact map of every position in venue ``v``, at its mark price."""
    _ids, coll, pos, cost = venue_positions(v)
    rules = Rules.of_venue(v)
    price = v.mark_ticks * rules.tick_size
    return map_from_arrays(
        coll, pos, cost, rules, price, source=source, assumptions={"reference": "mark price"}
    )


# ---- a user's positions file --------------------------------------------------------------

POSITION_COLUMNS = {
    "side": "long or short (also buy/sell, 1/-1)",
    "qty": "position size in base units (BTC), > 0",
    "entry": "average entry price in USD, > 0",
    "wallet": "collateral backing the position in USD (isolated margin), >= 0",
    "leverage": "leverage at entry, collateral = qty x entry / leverage (when no wallet column)",
}
"""Columns of a positions file (CSV or Parquet): side, qty, entry, and wallet or leverage."""


def _read_table(path: Path):
    import polars as pl

    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pl.read_parquet(path)
        return pl.read_csv(path, infer_schema_length=10_000)
    except Exception as exc:  # polars raises many kinds
        raise InvalidInputError(
            "positions file", str(path), f"a readable CSV or Parquet file ({exc})"
        ) from None


def check_leverage(
    rulebook: str, symbol: str, notional_usd, margin_usd, field: str = "leverage"
) -> None:
    """Refuse a position whose leverage (notional / margin) is above the maximum of the
    rulebook's tier for its notional, naming that maximum and the margin it would need.
    Arrays or scalars; ``field`` may hold ``{row}`` (1-based) for the first refused row."""
    from margincall.venue.instrument import load_rulebook

    rb = load_rulebook(rulebook)
    inst = rb.instrument(symbol)
    notional = np.atleast_1d(np.asarray(notional_usd, np.float64))
    margin = np.atleast_1d(np.asarray(margin_usd, np.float64))
    floors = np.array([float(t.floor_usd) for t in inst.tiers])
    most = np.array([float(t.max_leverage) for t in inst.tiers])
    limit = most[np.searchsorted(floors, notional, side="right") - 1]
    over = np.flatnonzero(notional > margin * limit)
    if len(over):
        i = int(over[0])
        lev = round(notional[i] / margin[i], 2) if margin[i] > 0 else float("inf")
        raise InvalidInputError(
            field.format(row=i + 1),
            lev,
            f"at most {limit[i]:g}x, {rb.name}'s maximum for {symbol} at a notional of "
            f"{notional[i]:,.2f} USD (that needs at least {notional[i] / limit[i]:,.2f} USD of "
            "margin)",
        )


def map_from_positions_file(
    path: str | Path,
    *,
    rulebook: str = "binance",
    symbol: str = "BTCUSDT",
    price: float | None = None,
) -> LiquidationMap:
    """The exact map of a positions file under a rulebook's margin tiers.

    Columns (names case-insensitive): ``side``, ``qty``, ``entry``, and ``wallet`` or
    ``leverage`` (see :data:`POSITION_COLUMNS`). Each row is one isolated position; quantities
    are rounded to the instrument's lots and entries to its ticks. ``price`` is the reference
    price (default: the notional-weighted mean entry, recorded in the assumptions).
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError("positions file", str(path), "an existing CSV or Parquet file")
    df = _read_table(path)
    cols = {c.lower().strip(): c for c in df.columns}
    missing = [c for c in ("side", "qty", "entry") if c not in cols]
    if "wallet" not in cols and "leverage" not in cols:
        missing.append("wallet or leverage")
    if missing:
        raise InvalidInputError(
            "positions file columns",
            sorted(df.columns),
            f"columns side, qty, entry and wallet or leverage; missing: {', '.join(missing)}",
        )
    if df.height == 0:
        raise InvalidInputError("positions file", str(path), "at least one position row")
    rules = Rules.of_rulebook(rulebook, symbol)
    raw_side = df[cols["side"]].cast(str).str.to_lowercase().str.strip_chars().to_numpy()
    side = np.zeros(len(raw_side), np.int64)
    side[np.isin(raw_side, ["long", "buy", "1", "+1", "1.0"])] = 1
    side[np.isin(raw_side, ["short", "sell", "-1", "-1.0"])] = -1
    if (side == 0).any():
        i = int(np.flatnonzero(side == 0)[0])
        raise InvalidInputError(f"side (row {i + 1})", raw_side[i], "long or short")

    def num(name: str, lo: float, strict: bool) -> np.ndarray:
        try:
            a = df[cols[name]].cast(float).to_numpy().astype(np.float64)
        except Exception:
            raise InvalidInputError(name, "non-numeric values", "numbers") from None
        bad = ~np.isfinite(a) | ((a <= lo) if strict else (a < lo))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidInputError(
                f"{name} (row {i + 1})", a[i], f"a number {'>' if strict else '>='} {lo:g}"
            )
        return a

    qty, entry = num("qty", 0, True), num("entry", 0, True)
    lots = np.rint(qty / rules.lot_size).astype(np.int64)
    ticks = np.rint(entry / rules.tick_size).astype(np.int64)
    if (lots <= 0).any():
        i = int(np.flatnonzero(lots <= 0)[0])
        raise InvalidInputError(
            f"qty (row {i + 1})", qty[i], f"at least one lot ({rules.lot_size})"
        )
    value = lots * ticks * rules.k
    if "wallet" in cols:
        coll = np.rint(num("wallet", 0, False) * 1e6).astype(np.int64)
        how = "wallet column (USD)"
    else:
        lev = num("leverage", 0, True)
        coll = np.ceil(value / lev).astype(np.int64)
        how = "qty x entry / leverage"
    check_leverage(rulebook, symbol, value / 1e6, coll / 1e6, "leverage (row {row})")
    pos = side * lots
    ref = float(price) if price is not None else float((value * entry).sum() / value.sum())
    return map_from_arrays(
        coll,
        pos,
        side * value,
        rules,
        ref,
        source=f"positions file {path.name}",
        assumptions={
            "collateral": how,
            "margin_mode": "isolated, one position per row",
            "reference": "given price" if price is not None else "notional-weighted mean entry",
        },
    )
