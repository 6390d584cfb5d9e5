"""The *Market* section: total crypto market capitalisation from the market-cap source.

Figures (``summary["market"]``), all from rows dated on or before the report day D:

- ``total_usd``: the row dated D (or the latest before it, ``date`` says which);
- ``change_24h`` / ``change_7d``: against the row dated one / seven days earlier (null when
  that row is absent), as dollars and fraction;
- ``since`` (with ``--since DAY``): against the row dated DAY (or the latest before), with the
  average daily drain ``(now - then) / days``;
- ``peak``: the highest total in the window (:data:`~.daily.WINDOW_DAYS` days to D), its date
  and the drawdown ``now / peak - 1``;
- ``btc_dominance`` = BTC cap / total; ``ex_btc_usd`` = total - BTC cap;
  ``ex_btc_eth_usd`` = total - BTC - ETH caps (null where the source gives no BTC/ETH).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl

from margincall.core.errors import InvalidInputError
from margincall.monitor.daily import Series, cite, last_on_or_before, row_on, window


def market_section(mc: Series, day: date, since: date | None) -> dict[str, Any]:
    """The Market figures (module docstring)."""
    f = mc.frame
    now = last_on_or_before(f, day)
    total = float(now["total_usd"][0])
    out: dict[str, Any] = {
        "date": str(now["date"][0]),
        "total_usd": total,
        "from": cite(mc, now),
    }
    for key, days in (("change_24h", 1), ("change_7d", 7)):
        out[key] = _change(mc, now, row_on(f, now["date"][0] - timedelta(days=days)))
    if since is not None:
        then = last_on_or_before(f, since)
        if then.height == 0 or since >= now["date"][0]:
            raise InvalidInputError(
                "--since",
                str(since),
                f"a day from {f['date'].min()} to before the report day {now['date'][0]}",
            )
        ch = _change(mc, now, then)
        days = (now["date"][0] - then["date"][0]).days
        out["since"] = ch | {
            "date": str(then["date"][0]),
            "days": days,
            "daily_drain_usd": ch["usd"] / days,
        }
    w = window(f, now["date"][0])
    peak = w.filter(pl.col("total_usd") == w["total_usd"].max()).head(1)
    out["peak"] = {
        "total_usd": float(peak["total_usd"][0]),
        "date": str(peak["date"][0]),
        "drawdown_pct": total / float(peak["total_usd"][0]) - 1.0,
        "from": cite(mc, w),
        "peak_from": cite(mc, peak),
    }
    btc, eth = now["btc_usd"][0], now["eth_usd"][0]
    out["btc_dominance"] = None if btc is None else btc / total
    out["btc_usd"] = btc
    out["eth_usd"] = eth
    out["ex_btc_usd"] = None if btc is None else total - btc
    out["ex_btc_eth_usd"] = None if btc is None or eth is None else total - btc - eth
    return out


def _change(mc: Series, now: pl.DataFrame, then: pl.DataFrame) -> dict[str, Any] | None:
    if then.height == 0:
        return None
    a, b = float(then["total_usd"][0]), float(now["total_usd"][0])
    return {
        "usd": b - a,
        "pct": b / a - 1.0,
        "then_usd": a,
        "then_date": str(then["date"][0]),
        "from": cite(mc, pl.concat([then, now])),
    }
