"""What to watch, more levels: the ETF holders' cost basis and the window's swing lows, each with
the estimated cascade if it breaks (the estimate of :mod:`margincall.monitor.watch`: the
market-data liquidation map and depth curve, :func:`margincall.estimate.cascade.cascade`).

- **ETF cost basis**: the flow-weighted cost basis of the bars' symbol's spot ETFs
  (:mod:`~margincall.monitor.etf`, when ``--etf-flows`` and ``--closes`` give it).
- **Swing lows**: bars whose low is the lowest of the :data:`SWING_BARS` bars before and after
  them (so the last :data:`SWING_BARS` bars cannot be one yet), below the price; the
  :data:`MAX_SWINGS` nearest to the price, one per price.
- **Breaks**: a level below the price breaks when the price trades :data:`~.watch.BREAK_PCT`
  below it (longs are liquidated: ``liquidated_usd`` is the long side); a level above breaks
  when it trades that far above it (a squeeze: the short side). ``runaway``: the cascade ends
  beyond the map's farthest liquidation level of that side (every position of the side on the
  map is liquidated; the final price is then the estimate's bound, not a forecast).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from margincall.monitor.metrics import one_row
from margincall.monitor.watch import BREAK_PCT

SWING_BARS = 24
MAX_SWINGS = 3


def swing_lows(m: pl.DataFrame, price: float) -> list[dict[str, Any]]:
    """The swing lows below ``price``, nearest first (module docstring)."""
    lows = m["low"].to_numpy().astype(np.float64)
    k, found = SWING_BARS, {}
    for i in range(k, len(lows) - k):
        x = lows[i]
        if np.isfinite(x) and x < price and x == np.nanmin(lows[i - k : i + k + 1]):
            found.setdefault(float(x), i)
    nearest = sorted(found.items(), key=lambda kv: -kv[0])[:MAX_SWINGS]
    return [{"kind": "swing low", "price": p, **one_row(m, i)} for p, i in nearest]


def watch_levels(
    m: pl.DataFrame, lmap: Any, symbol: str, daily: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The ETF cost basis and the swing lows, each with its distance and cascade."""
    price = float(lmap.price)
    items: list[dict[str, Any]] = []
    etf = ((daily or {}).get("etf_flows") or {}).get(symbol)
    holdings = (etf or {}).get("holdings")
    if holdings and holdings.get("cost_basis"):
        items.append(
            {
                "kind": f"{symbol} ETF cost basis (flow-weighted)",
                "price": float(holdings["cost_basis"]),
                "from": holdings["from"],
            }
        )
    items += swing_lows(m, price)
    for item in items:
        item["distance_pct"] = item["price"] / price - 1.0
        item["cascade"] = _break(lmap, m, item["price"], price)
    return items


def _break(lmap: Any, m: pl.DataFrame, level: float, price: float) -> dict[str, Any]:
    from margincall.estimate.cascade import cascade
    from margincall.estimate.impact import market_depth_curve

    below = level < price
    shock = level * (1.0 - BREAK_PCT if below else 1.0 + BREAK_PCT) / price - 1.0
    res = cascade(lmap, market_depth_curve(m), shock)
    side = lmap.long_liq if below else lmap.short_liq
    last = float(side[-1]) if len(side) else None  # the farthest liquidation level
    runaway = last is not None and (res.price < last if below else res.price > last)
    return {
        "side": "long" if below else "short",
        "shock": shock,
        "shock_price": price * (1.0 + shock),
        "final_price": res.price,
        "final_move": res.move,
        "liquidated_usd": res.long_usd if below else res.short_usd,
        "rounds": res.rounds,
        "converged": res.converged,
        "runaway": bool(runaway),
        "last_level": last,
    }
