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
  :data:`BETA_DAYS` days that both series have (null without BTC closes);
- ``rsi_14_4h``, ``macd_hist_4h``: RSI(14) and the MACD(12,26,9) histogram of 4-hour bars
  resampled (:func:`~.resample.resample`) from the symbol's intraday bars (a kline closes file
  shorter than a day, or the bar sources for their symbol), complete 4-hour bars starting before
  D 24:00 UTC only; null without intraday bars or with too few of them. ``intraday_4h`` says
  how many bars and the last one's start.

``mean_rsi`` is the mean of the symbols' RSI; ``ranked`` lists the symbols by their 7-day
change, the largest fall first.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from margincall.core.errors import InvalidInputError
from margincall.monitor.daily import Series, cite, last_on_or_before, row_on, window
from margincall.monitor.indicators import (
    CMF_PERIOD,
    MACD_SIGNAL,
    MACD_SLOW,
    RSI_PERIOD,
    cmf,
    macd,
    rsi,
)
from margincall.monitor.metrics import iso
from margincall.monitor.resample import resample
from margincall.monitor.schema import conform

BETA_DAYS = 30


def assets_section(
    closes: dict[str, Series], day: date, intraday: dict[str, pl.DataFrame] | None = None
) -> dict[str, Any]:
    """The Assets figures (module docstring); ``intraday``: bars shorter than a day by symbol."""
    btc = closes.get("BTC")
    rows = [_asset(sym, s, btc, day) for sym, s in closes.items()]
    for r in rows:
        r |= four_hour(None if intraday is None else intraday.get(r["symbol"]), day)
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


def four_hour(bars: pl.DataFrame | None, day: date) -> dict[str, Any]:
    """4-hour RSI(14) and MACD histogram of ``bars`` up to ``day`` 24:00 UTC (module doc)."""
    out: dict[str, Any] = {"rsi_14_4h": None, "macd_hist_4h": None, "intraday_4h": None}
    if bars is None:
        return out
    end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    cut = conform(bars.filter(pl.col("ts") < end), "intraday bars")
    try:
        four = resample(cut, "4h").filter(pl.col("complete"))
    except InvalidInputError:
        return out  # bars of 4 hours or longer that do not divide 4 h
    close = four["close"].to_numpy()
    if len(close) > RSI_PERIOD:
        out["rsi_14_4h"] = float(rsi(close)[-1])
    if len(close) >= MACD_SLOW + MACD_SIGNAL - 1:
        out["macd_hist_4h"] = float(macd(close)[2][-1])
    if len(close):
        out["intraday_4h"] = {"bars": len(close), "last": iso(four["ts"][-1])}
    return out
