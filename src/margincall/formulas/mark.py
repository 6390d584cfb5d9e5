"""Mark-price formulas: Binance's three-way median and BitMEX's fair price (readable, float).

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


def ewma_basis(samples: Sequence[float], span_seconds: float, sample_seconds: float = 1.0) -> float:
    """Exponential moving average of basis samples (Hyperliquid: 150 s EMA of mid − oracle).

    Each new sample x updates ``ema += alpha·(x − ema)`` with alpha = 1 − exp(−dt/span); the
    first sample seeds the average. Our convention: the venue does not publish its alpha.

    Example:
        >>> round(ewma_basis([1.0, 1.0, 1.0], span_seconds=150), 12)
        1.0
    """
    if span_seconds <= 0 or sample_seconds <= 0:
        raise InvalidInputError("span_seconds", span_seconds, "positive span and sample times")
    if not samples:
        raise InvalidInputError("samples", list(samples), "at least one sample")
    alpha = 1.0 - math.exp(-sample_seconds / span_seconds)
    ema = float(samples[0])
    for x in samples[1:]:
        ema += alpha * (float(x) - ema)
    return ema
