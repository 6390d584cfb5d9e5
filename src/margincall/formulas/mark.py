"""Mark-price formulas: Binance's three-way median, BitMEX's fair price and Hyperliquid's median
of three (readable, float).

Pure functions. They return a float when every input is an int or float and a Decimal when any
input is a Decimal (computed exactly where the formula allows), so the same code checks a venue's
screen in floats or a golden value in decimals. The engine's integer version of the rule is
:mod:`margincall.venue.mark`; ``tests/formulas/test_mark.py`` holds one against the other.

Example:
    >>> binance_mark_price(100.0, 0.0001, 14_400, 28_800, 0.03, 100.02)
    100.02
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import TypeVar

from margincall.core.errors import InvalidInputError
from margincall.core.units import to_decimal

N = TypeVar("N", int, float, Decimal)


def median3(a: N, b: N, c: N) -> N:
    """The middle value of three (exact for ints and Decimals).

    Example:
        >>> median3(3, 1, 2)
        2
    """
    return max(min(a, b), min(max(a, b), c))


R = TypeVar("R", float, Decimal)


def _exact(values: tuple[float | Decimal, ...]) -> bool:
    return any(isinstance(v, Decimal) for v in values)


def _funding_basis_price(index: R, rate: R, seconds: R, interval: R) -> R:
    if interval <= 0:
        raise InvalidInputError("interval_seconds", interval, "a positive number of seconds")
    if not 0 <= seconds <= interval:
        raise InvalidInputError("seconds_to_funding", seconds, f"a time in [0, {interval}]")
    return index * (1 + rate * seconds / interval)


def _binance(index: R, rate: R, seconds: R, interval: R, basis_ma: R, last: R) -> R:
    return median3(_funding_basis_price(index, rate, seconds, interval), index + basis_ma, last)


def bitmex_fair_price(
    index: float | Decimal,
    funding_rate: float | Decimal,
    seconds_to_funding: float | Decimal,
    interval_seconds: float | Decimal,
) -> float | Decimal:
    """BitMEX perpetual fair price: index × (1 + funding rate × time to funding / interval).

    Example:
        >>> bitmex_fair_price(Decimal("50000"), Decimal("0.0003"), 14_400, 28_800)
        Decimal('50007.50000')
    """
    args = (index, funding_rate, seconds_to_funding, interval_seconds)
    if _exact(args):
        return _funding_basis_price(*(to_decimal(v) for v in args))
    return _funding_basis_price(*(float(v) for v in args))


def binance_mark_price(
    index: float | Decimal,
    last_funding_rate: float | Decimal,
    seconds_to_funding: float | Decimal,
    interval_seconds: float | Decimal,
    basis_ma: float | Decimal,
    last_price: float | Decimal,
) -> float | Decimal:
    """Binance USDⓈ-M mark price: median(P1, P2, last price).

    P1 = index × (1 + last funding rate × time to funding / interval); P2 = index + basis_ma,
    where ``basis_ma`` is the moving average of (mid − index), see `basis_moving_average`.

    Example:
        >>> round(binance_mark_price(100.0, 0.0001, 14_400, 28_800, 0.2, 99.0), 9)  # P1 wins
        100.005
    """
    args = (index, last_funding_rate, seconds_to_funding, interval_seconds, basis_ma, last_price)
    if _exact(args):
        return _binance(*(to_decimal(v) for v in args))
    return _binance(*(float(v) for v in args))


def basis_moving_average(
    mids: Sequence[float], indexes: Sequence[float], window: int | None = None
) -> float:
    """Simple moving average of (mid − index) over the last ``window`` samples (all if None).

    Binance's P2 uses a 30 s average of 1 s samples (since 2025-09-18): ``window=30``.

    Example:
        >>> basis_moving_average([101.0, 102.0, 103.0], [100.0, 100.0, 100.0], window=2)
        2.5
    """
    if len(mids) != len(indexes):
        raise InvalidInputError("indexes", len(indexes), f"{len(mids)} samples, one per mid")
    if window is not None and window <= 0:
        raise InvalidInputError("window", window, "a positive number of samples")
    pairs = list(zip(mids, indexes, strict=True))[-window if window else 0 :]
    if not pairs:
        raise InvalidInputError("mids", list(mids), "at least one sample")
    return math.fsum(m - i for m, i in pairs) / len(pairs)


# ---- Hyperliquid (trading/robust-price-indices) --------------------------------------------


def time_weighted_ema(samples: Sequence[tuple[float, float]], window_seconds: float) -> float:
    """Hyperliquid's EMA: for a sample x at t seconds since the previous one,
    ``num = num·exp(−t/window) + x·t`` and ``den = den·exp(−t/window) + t``; the EMA is num/den.

    ``samples`` are ``(t, x)`` pairs. Our conventions where the venue publishes none: the first
    seeds the average as if it had held for a whole window (den = window; its t is not used),
    and a sample's weight is at most one window (t capped for the weight, not the decay).

    Example:
        >>> round(time_weighted_ema([(0, 60.0), (5, 30.0)], 150), 6)  # 60 with 30 at 5/150.08
        59.000549
    """
    if window_seconds <= 0:
        raise InvalidInputError("window_seconds", window_seconds, "a positive number of seconds")
    if not samples:
        raise InvalidInputError("samples", list(samples), "at least one sample")
    num, den = float(samples[0][1]) * window_seconds, float(window_seconds)
    for t, x in samples[1:]:
        decay = math.exp(-t / window_seconds)
        w = min(t, window_seconds)
        num, den = num * decay + x * w, den * decay + w
    return num / den


def book_median(bid: float | None, ask: float | None, last: float | None, oracle: float) -> float:
    """Hyperliquid's book price: the median of best bid, best ask and last trade, of those that
    exist (None); the mean of two; the oracle when there is none.

    Example:
        >>> book_median(100_050.0, 100_070.0, None, 100_000.0)
        100060.0
    """
    have = sorted(float(p) for p in (bid, ask, last) if p is not None)
    if not have:
        return float(oracle)
    return have[1] if len(have) == 3 else math.fsum(have) / len(have)


def weighted_median(prices: Sequence[float], weights: Sequence[float]) -> float | None:
    """The lower weighted median: the smallest price whose weight at or below it is at least
    half the total (None when no weight is positive).

    Example:
        >>> weighted_median([70_010.0, 70_000.0, 70_050.0], [3, 2, 6])  # 2, 5, 11 of 11
        70050.0
    """
    if len(prices) != len(weights):
        raise InvalidInputError("weights", list(weights), f"{len(prices)} weights, one per price")
    pairs = sorted((float(p), w) for p, w in zip(prices, weights, strict=True) if w > 0)
    total, seen = math.fsum(w for _, w in pairs), 0.0
    for p, w in pairs:
        seen += w
        if 2 * seen >= total:
            return p
    return None


def hyperliquid_mark_price(oracle: N, basis_ema: N, book: N, perp_mid: N | None, book_ema: N) -> N:
    """Hyperliquid's mark: median(oracle + 150 s EMA of (mid − oracle), the book median, the
    weighted median of other venues' perp mids); with no perp mids the 30 s EMA of the book
    median takes the third place.

    Example:
        >>> hyperliquid_mark_price(100_000, 60, 100_060, None, 100_060)
        100060
    """
    third = book_ema if perp_mid is None else perp_mid
    return median3(oracle + basis_ema, book, third)
