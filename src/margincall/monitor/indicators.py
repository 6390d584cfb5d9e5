"""Market indicators on bars in the canonical schema (:mod:`margincall.monitor.schema`).

Everything is computed over the rows in the order given (one row = one bar), not over clock
time: a gap in the data is not filled (:func:`margincall.monitor.checks.check_bars` reports it).
Only past and current rows enter a value (no look-ahead), so a value at row ``t`` does not
change when rows after ``t`` are added.

Warm-up convention (the first rows are null, matching TA-Lib's lookback; row numbers 0-based):

========== ============================================ ================ ==================
column     definition                                   first value at   TA-Lib equivalent
========== ============================================ ================ ==================
rsi_14     Wilder RSI: seed = mean gain / loss of the   row 14           ``RSI(close, 14)``
           first 14 changes, then ``avg = (avg * 13 +
           x) / 14``; 100 * gain / (gain + loss), 0
           when both are 0
macd       EMA12 - EMA26 of close, both EMAs seeded     row 25           ``MACD(close, 12,
           with the mean of the 12 / 26 closes ending                    26, 9)`` (TA-Lib
           at row 25 (TA-Lib seeds the fast EMA there                    shows it from
           too), k = 2 / (n + 1)                                         row 33)
macd_signal EMA9 of macd seeded with its first 9 values row 33           idem
macd_hist  macd - macd_signal                           row 33           idem
cmf_20     Chaikin money flow: sum over 20 bars of      row 19           ``(AD_t - AD_{t-20})
           ((c - l) - (h - c)) / (h - l) * volume                        / SUM(volume, 20)``
           (0 when h == l) / sum of volume; null
           without volume or when the volume sum is 0
========== ============================================ ================ ==================

Other columns of :func:`compute_indicators`: ``ret`` (simple return on the previous close),
``log_ret``, ``rv_24`` (realised volatility: sample standard deviation of the last 24 log
returns, per bar, first at row 24), ``rv_24_annual`` (``rv_24 * sqrt(bars per year)``, the bar
length taken as the most common time step), ``peak`` (highest ``high`` so far in the window),
``drawdown`` (``close / peak - 1``, <= 0), ``oi_change_usd`` (open interest minus the previous
row's), ``liq_total_usd``, ``liq_imbalance`` (``(long - short) / (long + short)`` in the bar,
null when both are 0 or absent). ``funding`` and ``long_short_ratio`` are passed through. A
table without ``high`` or ``low`` values (a close-only table, or a column left empty) has them
taken as the close: the bar's range is then unknown and counted as nil.

Windows over several bars (24 h liquidations by side, the largest hour, open-interest change)
are in :func:`liquidation_summary` and :func:`oi_change`.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from margincall.core.errors import InvalidInputError

RSI_PERIOD = 14
MACD_FAST, MACD_SLOW, MACD_SIGNAL = 12, 26, 9
CMF_PERIOD = 20
RV_WINDOW = 24

RSI_LOOKBACK = RSI_PERIOD
MACD_LOOKBACK = MACD_SLOW - 1
SIGNAL_LOOKBACK = MACD_SLOW - 1 + MACD_SIGNAL - 1
CMF_LOOKBACK = CMF_PERIOD - 1
MIN_ROWS = SIGNAL_LOOKBACK + 1
"""Rows needed by :func:`compute_indicators` (the MACD signal's first value is at row 33)."""

_YEAR_S = 365.0 * 86_400.0


def _need(values: np.ndarray, rows: int, what: str) -> None:
    if len(values) < rows:
        raise InvalidInputError(
            f"{what}: rows", len(values), f"at least {rows} rows (bars) for {what}"
        )
    if not np.isfinite(values).all():
        row = int(np.flatnonzero(~np.isfinite(values))[0])
        raise InvalidInputError(f"{what}: row {row}", values[row], "a finite number (no null)")


def rsi(close: np.ndarray, period: int = RSI_PERIOD) -> np.ndarray:
    """Wilder's RSI; NaN for the first ``period`` rows. Needs ``period + 1`` rows."""
    c = np.asarray(close, np.float64)
    _need(c, period + 1, f"RSI({period})")
    d = np.diff(c)
    gain, loss = np.maximum(d, 0.0), np.maximum(-d, 0.0)
    out = np.full(len(c), np.nan)
    g = gain[:period].sum() / period
    lo = loss[:period].sum() / period
    out[period] = _rsi_value(g, lo)
    for i in range(period, len(d)):
        g = (g * (period - 1) + gain[i]) / period
        lo = (lo * (period - 1) + loss[i]) / period
        out[i + 1] = _rsi_value(g, lo)
    return out


def _rsi_value(g: float, lo: float) -> float:
    s = g + lo
    return 0.0 if s == 0.0 else 100.0 * g / s


def _ema_from(x: np.ndarray, period: int, first: int) -> np.ndarray:
    """EMA with k = 2 / (period + 1), seeded at row ``first`` with the mean of the ``period``
    values ending there; NaN before."""
    k = 2.0 / (period + 1)
    out = np.full(len(x), np.nan)
    prev = x[first - period + 1 : first + 1].sum() / period
    out[first] = prev
    for i in range(first + 1, len(x)):
        prev = (x[i] - prev) * k + prev
        out[i] = prev
    return out


def macd(
    close: np.ndarray, fast: int = MACD_FAST, slow: int = MACD_SLOW, signal: int = MACD_SIGNAL
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(macd, signal, hist)``, TA-Lib's convention (see the module docstring). Needs
    ``slow + signal - 1`` rows (34 for 12, 26, 9)."""
    if not 0 < fast < slow or signal < 1:
        raise InvalidInputError(
            "macd periods", (fast, slow, signal), "0 < fast < slow, signal >= 1"
        )
    c = np.asarray(close, np.float64)
    _need(c, slow + signal - 1, f"MACD({fast},{slow},{signal})")
    start = slow - 1
    line = _ema_from(c, fast, start) - _ema_from(c, slow, start)
    sig = np.full(len(c), np.nan)
    sig[start:] = _ema_from(line[start:], signal, signal - 1)
    return line, sig, line - sig


def cmf(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    period: int = CMF_PERIOD,
) -> np.ndarray:
    """Chaikin money flow over ``period`` bars; NaN for the first ``period - 1`` rows and where
    the window's volume is 0. Needs ``period`` rows."""
    h, lo, c, v = (np.asarray(a, np.float64) for a in (high, low, close, volume))
    for name, a in (("high", h), ("low", lo), ("close", c), ("volume", v)):
        _need(a, period, f"CMF({period}) {name}")
    rng = h - lo
    mfm = np.divide((c - lo) - (h - c), rng, out=np.zeros_like(c), where=rng > 0)
    mfv = mfm * v
    kernel = np.ones(period)
    num = np.convolve(mfv, kernel, "valid")
    den = np.convolve(v, kernel, "valid")
    out = np.full(len(c), np.nan)
    out[period - 1 :] = np.divide(num, den, out=np.full_like(num, np.nan), where=den != 0)
    return out


def _bars_per_year(ts: pl.Series) -> float | None:
    d = ts.diff().dt.total_microseconds().drop_nulls()
    d = d.filter(d > 0)
    if d.len() == 0:
        return None
    return _YEAR_S / (float(d.mode().sort()[0]) / 1e6)


def compute_indicators(bars: pl.DataFrame) -> pl.DataFrame:
    """``bars`` with the indicator columns of the module docstring appended.

    Raises:
        InvalidInputError: fewer than :data:`MIN_ROWS` rows (says how many are needed), or a
            null / non-finite close, high or low.
    """
    if bars.height < MIN_ROWS:
        raise InvalidInputError(
            "bars: rows",
            bars.height,
            f"at least {MIN_ROWS} rows for the indicators (MACD signal {MACD_FAST},{MACD_SLOW},"
            f"{MACD_SIGNAL} needs {MIN_ROWS}; RSI {RSI_PERIOD} needs {RSI_PERIOD + 1}; "
            f"CMF {CMF_PERIOD} needs {CMF_PERIOD})",
        )
    bars = bars.with_columns(
        pl.col("close").alias(name) for name in ("high", "low") if bars[name].is_null().all()
    )
    c = bars["close"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    h = bars["high"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    lo = bars["low"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    line, sig, hist = macd(c)
    vol = bars["volume"] if "volume" in bars.columns else None
    if vol is not None and vol.null_count() == 0:
        flow = cmf(h, lo, c, vol.cast(pl.Float64).to_numpy())
    else:
        flow = np.full(len(c), np.nan)
    log_ret = np.concatenate([[np.nan], np.diff(np.log(c))])
    per_year = _bars_per_year(bars["ts"])
    out = bars.with_columns(
        pl.Series("ret", np.concatenate([[np.nan], c[1:] / c[:-1] - 1.0])),
        pl.Series("log_ret", log_ret),
        pl.Series("rsi_14", rsi(c)),
        pl.Series("macd", line),
        pl.Series("macd_signal", sig),
        pl.Series("macd_hist", hist),
        pl.Series("cmf_20", flow),
        pl.Series("peak", np.maximum.accumulate(h)),
    ).with_columns(
        pl.col(n).fill_nan(None)
        for n in ("ret", "log_ret", "macd", "macd_signal", "macd_hist", "rsi_14", "cmf_20")
    )
    rv = pl.col("log_ret").rolling_std(RV_WINDOW, min_samples=RV_WINDOW)
    liq_l, liq_s = pl.col("liq_long_usd"), pl.col("liq_short_usd")
    total = liq_l + liq_s
    return out.with_columns(
        rv.alias("rv_24"),
        (rv * (per_year**0.5 if per_year else None)).alias("rv_24_annual"),
        (pl.col("close") / pl.col("peak") - 1.0).alias("drawdown"),
        pl.col("oi_usd").diff().alias("oi_change_usd"),
        total.alias("liq_total_usd"),
        pl.when(total > 0).then((liq_l - liq_s) / total).alias("liq_imbalance"),
    )


def _window(bars: pl.DataFrame, hours: float, at: datetime | None) -> pl.DataFrame:
    end = bars["ts"].max() if at is None else at
    lo = end - timedelta(hours=hours)
    return bars.filter((pl.col("ts") > lo) & (pl.col("ts") <= end))


def liquidation_summary(
    bars: pl.DataFrame, hours: float = 24, at: datetime | None = None
) -> dict[str, object]:
    """Liquidations by side over the bars whose start ``ts`` is in ``(at - hours, at]``
    (``at`` defaults to the last bar), with the long share, the imbalance
    ``(long - short) / (long + short)`` and the largest bar (its ``ts``, long, short, total).
    Values are ``None`` when the source has no liquidation data."""
    w = _window(bars, hours, at)
    if w.height == 0 or w["liq_long_usd"].null_count() == w.height:
        return {
            "bars": w.height,
            "long_usd": None,
            "short_usd": None,
            "total_usd": None,
            "long_share": None,
            "imbalance": None,
            "largest": None,
        }
    split = liquidation_split(
        w["liq_long_usd"].fill_null(0).to_numpy(), w["liq_short_usd"].fill_null(0).to_numpy()
    )
    largest = split.pop("largest")
    row = largest.pop("row")
    return {"bars": w.height, **split, "largest": {"ts": w["ts"][row], **largest}}


def liquidation_split(long_usd: np.ndarray, short_usd: np.ndarray) -> dict[str, Any]:
    """Liquidations by side over some bars (no missing values): exact sums (``math.fsum``), the
    total, the long share and the imbalance ``(long - short) / (long + short)`` (``None`` when
    the total is 0), and the largest bar: its position ``row`` in the arrays, long, short, total."""
    lsum, ssum = math.fsum(long_usd.tolist()), math.fsum(short_usd.tolist())
    total = math.fsum([lsum, ssum])
    big = int(np.argmax(long_usd + short_usd))
    return {
        "long_usd": lsum,
        "short_usd": ssum,
        "total_usd": total,
        "long_share": lsum / total if total > 0 else None,
        "imbalance": (lsum - ssum) / total if total > 0 else None,
        "largest": {
            "row": big,
            "long_usd": float(long_usd[big]),
            "short_usd": float(short_usd[big]),
            "total_usd": float(long_usd[big] + short_usd[big]),
        },
    }


def oi_change(
    bars: pl.DataFrame, hours: float = 24, at: datetime | None = None
) -> dict[str, object]:
    """Open-interest change from the first to the last bar with ``ts`` in ``(at - hours, at]``:
    ``start_usd``, ``end_usd``, ``change_usd``, ``change_pct`` (``None`` without open interest).
    Open interest is the value at each bar's open, as in the bar schema."""
    w = _window(bars, hours, at).filter(pl.col("oi_usd").is_not_null())
    if w.height == 0:
        return {"start_usd": None, "end_usd": None, "change_usd": None, "change_pct": None}
    a, b = float(w["oi_usd"][0]), float(w["oi_usd"][-1])
    return {
        "start_usd": a,
        "end_usd": b,
        "change_usd": b - a,
        "change_pct": (b / a - 1.0) if a > 0 else None,
    }
