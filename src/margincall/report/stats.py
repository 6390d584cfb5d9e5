"""Statistics of a run: the stylized-fact estimators and the run summary.

The estimators are pure functions on numpy arrays with exact, textbook definitions (population
moments, the ACF normalised by the lag-0 sum as statsmodels' ``acf`` does by default), so a test
can check them by hand. :func:`summarize` builds the JSON-ready summary of one run from its event
log and its candles.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from margincall.events.schema import TAKER, EventKind
from margincall.report.candles import FORCED_CLOSE_KINDS, taker_mask

_NS = 1_000_000_000
_HOUR_NS = 3600 * _NS


def log_returns(close: np.ndarray) -> np.ndarray:
    """``log(close[t]) - log(close[t - 1])`` for ``t = 1 .. n - 1`` (empty when ``n < 2``).

    NaN closes give NaN returns and non-positive closes give non-finite ones; callers drop
    those (see :func:`finite`).
    """
    close = np.asarray(close, dtype=np.float64)
    if close.size < 2:
        return np.empty(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.diff(np.log(close))


def finite(x: np.ndarray) -> np.ndarray:
    """The finite values of ``x`` as float64, in order."""
    x = np.asarray(x, dtype=np.float64)
    return x[np.isfinite(x)]


def excess_kurtosis(x: np.ndarray) -> float:
    """Population excess kurtosis ``m4 / m2**2 - 3``, ``mk = mean((x - mean(x))**k)``.

    The same as ``scipy.stats.kurtosis(x, fisher=True, bias=True)``: 0 for a normal sample in the
    limit, positive for fat tails. NaN for an empty or constant sample.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return math.nan
    d = x - x.mean()
    m2 = float(np.mean(d * d))
    if m2 == 0.0:
        return math.nan
    return float(np.mean(d**4)) / (m2 * m2) - 3.0


def acf(x: np.ndarray, lag: int) -> float:
    """Sample autocorrelation at ``lag``: ``sum_t d[t] d[t + lag] / sum_t d[t]**2``.

    ``d = x - mean(x)`` with the mean of the whole series, and the numerator sums the
    ``n - lag`` available products with no small-sample correction, as statsmodels'
    ``acf(x, adjusted=False)`` does. 1 at lag 0; NaN when ``lag >= n`` or the series is constant.
    """
    if int(lag) != lag or lag < 0:
        raise ValueError(f"lag={lag!r}: expected a non-negative integer")
    lag = int(lag)
    x = np.asarray(x, dtype=np.float64)
    if lag >= x.size:
        return math.nan
    d = x - x.mean()
    denom = float(np.dot(d, d))
    if denom == 0.0:
        return math.nan
    return float(np.dot(d[: x.size - lag], d[lag:])) / denom


def abs_return_acf_mean(returns: np.ndarray, lags: Iterable[int] = range(1, 11)) -> float:
    """Mean of ``acf(|returns|, k)`` over ``lags``: volatility clustering in one number.

    Positive and slowly decaying in real markets, near 0 for independent returns. NaN when
    ``lags`` is empty or any lag's ACF is NaN (series too short or constant).
    """
    magnitude = np.abs(np.asarray(returns, dtype=np.float64))
    values = [acf(magnitude, k) for k in lags]
    return float(np.mean(values)) if values else math.nan


def fano_factor(counts: np.ndarray) -> float:
    """Variance over mean of event counts per bin (population variance).

    1 for a Poisson process, above 1 when events cluster in time (cascades). NaN for no bins or
    a zero mean.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.size == 0:
        return math.nan
    mean = float(counts.mean())
    if mean == 0.0:
        return math.nan
    return float(counts.var()) / mean


def summarize(events: np.ndarray, candles_df: pl.DataFrame, meta: Mapping[str, Any]) -> dict:
    """The summary of one run, as plain JSON-ready values (NaN becomes ``None``).

    Prices, funding and the stylized facts come from ``candles_df`` (the output of
    :func:`margincall.report.candles.candles`, expected with 1-minute bars; the ``_1m`` facts use
    its bars whatever their width). Everything else is exact, from ``events``:

    - forced closes are the taker side (``liquidity == 2``) of ``POSITION_LIQUIDATED``,
      ``BACKSTOP_TAKEOVER`` and ``ADL_EXECUTED``; a sell closes a long.
    - ``largest_usd`` is the largest forced-close notional of one account at one ``ts_ns``: a
      venue runs a whole cascade (all its rounds) at one simulated instant, so this is one
      liquidation of one account, wherever its position went (book, fund, ADL). Venues that
      liquidate in slices at later times (dYdX per block, Hyperliquid) count each time apart.
    - ``peak_hour_usd`` is the largest forced-close notional in one UTC clock hour.
    - open interest and the insurance fund are their first, last (and lowest) snapshot values.
    - ``liquidation_fano_1m`` counts ``LIQUIDATION_TRIGGERED`` events per candle bar, empty
      bars included; the returns skip non-finite values (bars before any price).

    ``meta`` is read only for ``freq_s`` (bar width, seconds) when ``candles_df`` has a single
    row; otherwise the width comes from the ``ts`` column. The caller adds the run's identity
    (scenario, seed, invariants, digest, wall time).
    """
    kind = events["kind"]
    forced = taker_mask(events, FORCED_CLOSE_KINDS)
    triggered = kind == EventKind.LIQUIDATION_TRIGGERED
    adl = (kind == EventKind.ADL_EXECUTED) & (events["liquidity"] == TAKER)
    close = candles_df["close"].to_numpy()
    returns = finite(log_returns(close))
    summary = {
        "price": _price(candles_df),
        "liquidations": _liquidations(events, forced, triggered),
        "open_interest_usd": _first_last(events, EventKind.OPEN_INTEREST_SNAPSHOT, "notional"),
        "insurance_fund_usd": _first_last(events, EventKind.INSURANCE_FUND_SNAPSHOT, "amount"),
        "adl": {
            "events": int(adl.sum()),
            "notional_usd": int(events["notional"][adl].sum()) / 1e6,
        },
        "funding_rate": {
            "min": _nan_reduce(np.nanmin, candles_df["funding_rate"].to_numpy()),
            "max": _nan_reduce(np.nanmax, candles_df["funding_rate"].to_numpy()),
        },
        "stylized_facts": {
            "excess_kurtosis_1m": excess_kurtosis(returns),
            "abs_return_acf_1_10": abs_return_acf_mean(returns),
            "return_acf_1": acf(returns, 1),
            "liquidation_fano_1m": fano_factor(
                _counts_per_bar(events, triggered, candles_df, meta)
            ),
        },
    }
    return _plain(summary)


def _price(candles_df: pl.DataFrame) -> dict:
    """Start (first open), lowest low and its bar, highest high and end (last close)."""
    if candles_df.height == 0:
        return {"start": None, "min": None, "max": None, "end": None, "min_ts": None}
    low = candles_df["low"].to_numpy()
    min_ts = None
    if np.isfinite(low).any():
        when = candles_df["ts"][int(np.nanargmin(low))]
        min_ts = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "start": candles_df["open"][0],
        "min": _nan_reduce(np.nanmin, low),
        "max": _nan_reduce(np.nanmax, candles_df["high"].to_numpy()),
        "end": candles_df["close"][-1],
        "min_ts": min_ts,
    }


def _liquidations(events: np.ndarray, forced: np.ndarray, triggered: np.ndarray) -> dict:
    """Forced-close totals by side, liquidated accounts, largest liquidation and peak hour."""
    side = events["side"][forced]
    notional = events["notional"][forced]
    long_micro = int(notional[side == -1].sum())
    short_micro = int(notional[side == 1].sum())
    largest = peak = 0
    if notional.size:
        by_account = pl.DataFrame(
            {"account": events["account"][forced], "ts": events["ts_ns"][forced], "n": notional}
        )
        per_liquidation = by_account.group_by("account", "ts").agg(pl.col("n").sum())
        largest = int(per_liquidation["n"].to_numpy().max())
        hours = (
            by_account.with_columns(pl.col("ts") // _HOUR_NS).group_by("ts").agg(pl.col("n").sum())
        )
        peak = int(hours["n"].to_numpy().max())
    return {
        "long_usd": long_micro / 1e6,
        "short_usd": short_micro / 1e6,
        "total_usd": (long_micro + short_micro) / 1e6,
        "accounts": int(np.unique(events["account"][triggered]).size),
        "events": int(triggered.sum()),
        "largest_usd": largest / 1e6,
        "peak_hour_usd": peak / 1e6,
    }


def _first_last(events: np.ndarray, kind: EventKind, column: str) -> dict:
    """First and last (by ``seq``) snapshot value in USD; ``min`` too for the insurance fund."""
    mask = events["kind"] == kind
    values = events[column][mask]
    out: dict[str, float | None] = {"start": None, "end": None}
    if kind == EventKind.INSURANCE_FUND_SNAPSHOT:
        out["min"] = None
    if values.size:
        order = np.argsort(events["seq"][mask], kind="stable")
        out["start"] = int(values[order[0]]) / 1e6
        out["end"] = int(values[order[-1]]) / 1e6
        if "min" in out:
            out["min"] = int(values.min()) / 1e6
    return out


def _counts_per_bar(
    events: np.ndarray, mask: np.ndarray, candles_df: pl.DataFrame, meta: Mapping[str, Any]
) -> np.ndarray:
    """Events selected by ``mask`` per candle bar (same binning as the candles), zeros kept."""
    n = candles_df.height
    if n == 0:
        return np.empty(0)
    starts = candles_df["ts"].dt.epoch("ns").to_numpy()
    freq_ns = int(starts[1] - starts[0]) if n > 1 else int(meta.get("freq_s", 60)) * _NS
    ts = events["ts_ns"][mask]
    ts = ts[(ts >= starts[0]) & (ts <= starts[0] + n * freq_ns)]
    bins = np.minimum((ts - starts[0]) // freq_ns, n - 1)
    return np.bincount(bins, minlength=n)


def _nan_reduce(reduce: Any, values: np.ndarray) -> float:
    """``reduce`` over the non-NaN values, NaN when there is none."""
    values = np.asarray(values, dtype=np.float64)
    return float(reduce(values)) if np.isfinite(values).any() else math.nan


def _plain(value: Any) -> Any:
    """Numpy scalars to Python ones and non-finite floats to ``None``, recursively."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, datetime):
        return value.isoformat()
    return value
