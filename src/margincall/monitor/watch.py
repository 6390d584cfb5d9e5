"""What to watch: the liquidation clusters above and below the price, support, and the cascade
if support breaks.

It uses the market-data liquidation map (:func:`margincall.estimate.market_map.build_levels`,
default assumptions, priced at the last close): liquidation notional in bins :data:`BIN_PCT` of
the price wide within :data:`WATCH_RANGE` of the price; the largest long bin below and the
largest short bin above are the clusters named. **Support** is the lowest low of the last 24 h
when it is at least :data:`MIN_SUPPORT_GAP` below the last close, else the top of the largest
long cluster. The **break** is a move to :data:`BREAK_PCT` below support, run through
:func:`margincall.estimate.cascade.cascade` with the market-data depth curve
(:func:`~margincall.estimate.impact.market_depth_curve`: beta 0.55, thinning 0.3, ±1% depth the
larger of $20M and the depth the bars up to ``at`` imply). Open interest missing in some rows
is carried forward (leading gaps take the first value).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from margincall.monitor.metrics import one_row, rows_span, window_24h

WATCH_RANGE = 0.10
"""Clusters are looked for within this fraction of the price, above and below."""
BIN_PCT = 0.005
"""Width of a cluster bin, as a fraction of the price (0.5%)."""
MIN_SUPPORT_GAP = 0.005
BREAK_PCT = 0.01
"""Support "breaks" when the price trades this fraction below it."""
DEPTH_SENSITIVITY = (2.0, 5.0, 10.0)
"""Depth multipliers of the cascade's sensitivity lines (x the default ±1% depth)."""


def panel_for_map(m: pl.DataFrame) -> pl.DataFrame | None:
    """The bars as a market-map panel (sorted, open interest carried forward), or None when
    the data has no open interest or price."""
    if m["oi_usd"].null_count() == m.height:
        return None
    p = m.select("ts", "open", "high", "low", "close", "oi_usd", "funding", "long_short_ratio")
    p = p.sort("ts").with_columns(pl.col("oi_usd").forward_fill().backward_fill())
    if p.select(pl.any_horizontal(pl.col("open", "high", "low", "close").is_null()).any()).item():
        return None
    return p


def watch(levels: Any, lmap: Any, m: pl.DataFrame, at: datetime) -> dict[str, Any]:
    """Clusters above and below the price and the cascade if support breaks."""
    price = lmap.price
    nb = round(WATCH_RANGE / BIN_PCT)
    edges = price * (1.0 + BIN_PCT * np.arange(-nb, nb + 1))
    long_usd, short_usd = lmap.histogram(edges)

    def clusters(usd: np.ndarray, idx: np.ndarray, side: str) -> list[dict[str, Any]]:
        order = idx[np.argsort(-usd[idx], kind="stable")]
        out = []
        for i in order[:3]:
            if usd[i] <= 0:
                break
            mid = (edges[i] + edges[i + 1]) / 2.0
            out.append(
                {
                    "side": side,
                    "price_low": float(edges[i]),
                    "price_high": float(edges[i + 1]),
                    "price_mid": float(mid),
                    "distance_pct": float(mid / price - 1.0),
                    "notional_usd": float(usd[i]),
                }
            )
        return out

    below = clusters(long_usd, np.arange(nb), "long")
    above = clusters(short_usd, np.arange(nb, 2 * nb), "short")

    win = window_24h(m, at)
    lows = m["low"].to_numpy()
    i = int(win[np.nanargmin(lows[win])])
    support: dict[str, Any] | None = None
    if lows[i] <= price * (1.0 - MIN_SUPPORT_GAP):
        support = {"price": float(lows[i]), "kind": "24 h swing low", **one_row(m, i)}
    elif below:
        support = {"price": below[0]["price_high"], "kind": "top of the largest long cluster"}
    result: dict[str, Any] = {
        "price": price,
        "map": {
            "source": lmap.source,
            "long_total_usd": lmap.long_total_micros / 1e6,
            "short_total_usd": lmap.short_total_micros / 1e6,
            "assumptions": lmap.assumptions,
            "from": rows_span(m, np.arange(m.height)),
        },
        "bin_pct": BIN_PCT,
        "range_pct": WATCH_RANGE,
        "clusters_below": below,
        "clusters_above": above,
        "support": support,
        "cascade": None,
    }
    if support is not None:
        result["cascade"] = _break(lmap, m, support["price"] * (1.0 - BREAK_PCT) / price - 1.0)
    return result


def _break(lmap: Any, m: pl.DataFrame, shock: float) -> dict[str, Any]:
    """The cascade of ``shock`` (support broken) on the map, with its sensitivity to depth."""
    from margincall.estimate.cascade import cascade
    from margincall.estimate.impact import NoImpact, market_depth_curve

    price = lmap.price
    model = market_depth_curve(m)
    res = cascade(lmap, model, shock)
    alone = cascade(lmap, NoImpact(), shock)
    lowest = float(lmap.long_liq[-1]) if len(lmap.long_liq) else None
    deeper = [
        {"depth_scale": k, **_brief(cascade(lmap, model, shock, depth_scale=k), lowest)}
        for k in DEPTH_SENSITIVITY
    ]
    return {
        "shock": shock,
        "shock_price": price * (1.0 + shock),
        "final_price": res.price,
        "final_move": res.move,
        "long_liquidated_usd": res.long_usd,
        "shock_alone_long_liquidated_usd": alone.long_usd,
        "rounds": res.rounds,
        "converged": res.converged,
        "runaway": bool(lowest is not None and res.price < lowest),
        "lowest_long_level": lowest,
        "impact": model.describe(),
        "depth_sensitivity": deeper,
        "assumptions": [
            f"support breaks: the price trades {BREAK_PCT:.0%} below support",
            "liquidation map estimated from market data (open-interest increases, "
            "leverage mix and liquidation formula in map.assumptions)",
            f"book depth D(delta) = ${model.d1_usd / 1e6:,.1f}M x (delta/1%)^"
            f"{model.beta:g} ({model.origin}), thinning as liquidations are sent, not "
            "refilled during the cascade",
            "only the long side is liquidated by a fall; no new positions open",
        ],
    }


def _brief(res: Any, lowest: float | None) -> dict[str, Any]:
    return {
        "runaway": bool(lowest is not None and res.price < lowest),
        "final_price": res.price,
        "final_move": res.move,
        "long_liquidated_usd": res.long_usd,
    }
