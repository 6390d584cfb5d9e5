"""The *Assets* section: one row per symbol from its daily closes.

Per symbol, as of the report day D (the symbol's row dated D, or its latest before D; ``date``
says which):

- ``price``; ``change_24h``, ``change_7d``: against the row dated 1 and 7 days before that row
  (null when absent); ``change_ytd``: against the last close of the previous year;
- ``drawdown``: the close against the highest close of the window (:data:`~.daily.WINDOW_DAYS`
  days), with that high's date;
- ``rsi_14``: Wilder's RSI(14) of the daily closes (:func:`~.indicators.rsi`, over every row to
  D); ``cmf_20``: Chaikin money flow over 20 days (:func:`~.indicators.cmf`) where the source
  gives high, low and volume on the last 20 rows, else null ("n/a");
- ``beta_30d``: ``cov(r, r_BTC) / var(r_BTC)`` of the daily log returns over the last
  :data:`BETA_DAYS` days that both series have (null without BTC closes).

``mean_rsi`` is the mean of the symbols' RSI; ``ranked`` lists the symbols by their 7-day
change, the largest fall first.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from margincall.monitor.daily import Series, cite, last_on_or_before, row_on, window
from margincall.monitor.indicators import CMF_PERIOD, RSI_PERIOD, cmf, rsi

BETA_DAYS = 30


def assets_section(closes: dict[str, Series], day: date) -> dict[str, Any]:
    """The Assets figures (module docstring)."""
    btc = closes.get("BTC")
    rows = [_asset(sym, s, btc, day) for sym, s in closes.items()]
    rsis = [r["rsi_14"] for r in rows if r["rsi_14"] is not None]
    ranked = sorted(
        (r for r in rows if r["change_7d"] is not None), key=lambda r: r["change_7d"]["pct"]
    )
    return {
        "symbols": rows,
        "mean_rsi": float(np.mean(rsis)) if rsis else None,
        "ranked_by_7d_fall": [r["symbol"] for r in ranked],
    }


def _asset(sym: str, s: Series, btc: Series | None, day: date) -> dict[str, Any]:
    f = s.frame
    now = last_on_or_before(f, day)
    d = now["date"][0]
    price = float(now["close"][0])
    prev_year = last_on_or_before(f, date(d.year - 1, 12, 31))
    w = window(f, d)
    high = w.filter(pl.col("close") == w["close"].max()).head(1)
    close = f["close"].to_numpy()
    out: dict[str, Any] = {
        "symbol": sym,
        "date": str(d),
        "price": price,
        "from": cite(s, now),
        "change_24h": _change(s, now, row_on(f, d - timedelta(days=1))),
        "change_7d": _change(s, now, row_on(f, d - timedelta(days=7))),
        "change_ytd": _change(s, now, prev_year),
        "drawdown": {
            "pct": price / float(high["close"][0]) - 1.0,
            "high": float(high["close"][0]),
            "high_date": str(high["date"][0]),
            "from": cite(s, w),
        },
        "rsi_14": float(rsi(close)[-1]) if len(close) > RSI_PERIOD else None,
        "cmf_20": _cmf(f),
        "beta_30d": None,
    }
    if btc is not None:
        out["beta_30d"] = 1.0 if btc is s else _beta(f, btc.frame)
    return out


def _change(s: Series, now: pl.DataFrame, then: pl.DataFrame) -> dict[str, Any] | None:
    if then.height == 0:
        return None
    a = float(then["close"][0])
    return {
        "pct": float(now["close"][0]) / a - 1.0,
        "then": a,
        "then_date": str(then["date"][0]),
        "from": cite(s, pl.concat([then, now])),
    }


def _cmf(f: pl.DataFrame) -> float | None:
    tail = f.tail(CMF_PERIOD)
    cols = ("high", "low", "close", "volume")
    if tail.height < CMF_PERIOD or any(tail[c].null_count() for c in cols):
        return None
    v = cmf(*(tail[c].to_numpy() for c in cols))[-1]
    return float(v) if np.isfinite(v) else None


def _beta(f: pl.DataFrame, btc: pl.DataFrame) -> float | None:
    j = (
        f.select("date", pl.col("close").log().diff().alias("r"))
        .join(btc.select("date", pl.col("close").log().diff().alias("b")), on="date")
        .drop_nulls()
        .tail(BETA_DAYS)
    )
    if j.height < BETA_DAYS:
        return None
    r, b = j["r"].to_numpy(), j["b"].to_numpy()
    var = float(np.var(b, ddof=1))
    return float(np.cov(r, b, ddof=1)[0, 1] / var) if var > 0 else None
