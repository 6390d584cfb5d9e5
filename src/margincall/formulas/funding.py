"""Funding: premium index, funding rate, payments (the readable float formulas).

Sign convention: a positive rate means longs pay shorts. Payments are *cash flows to the
account*: negative when the account pays.

Float formulas (Binance, Hyperliquid, BitMEX share the clamped form)::

    premium  P_i = [max(0, impact_bid − index) − max(0, index − impact_ask)] / index
    average  P   = Σ i·P_i / Σ i            (later samples weigh more)
    rate     F   = [P + clamp(I − P, −c, +c)] / (8/N), then clamp(F, −cap, +cap)

The engine's integer versions (rates in parts per billion, payments in micro-dollars) are in
:mod:`margincall.venue.funding`; ``tests/formulas/test_funding.py`` holds one against the other.

Example:
    >>> round(funding_rate(0.0003), 10)  # clamp inactive: I − P = −0.0002
    0.0001
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from margincall.core.errors import InvalidInputError


def _clamp(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


def premium_index(impact_bid: float, impact_ask: float, index: float) -> float:
    """One premium sample (Binance): [max(0, IB − index) − max(0, index − IA)] / index.

    Example:
        >>> premium_index(101.0, 102.0, 100.0)
        0.01
    """
    if not index > 0:
        raise InvalidInputError("index", index, "a positive price")
    return (max(0.0, impact_bid - index) - max(0.0, index - impact_ask)) / index


def weighted_average_premium(samples: Sequence[float]) -> float:
    """Time-weighted average of premium samples, weight i for the i-th (1-based) sample.

    Example:
        >>> weighted_average_premium([0.0, 0.003])  # (1·0 + 2·0.003) / 3
        0.002
    """
    n = len(samples)
    if n == 0:
        raise InvalidInputError("samples", [], "at least one premium sample")
    return math.fsum((i + 1) * p for i, p in enumerate(samples)) / (n * (n + 1) / 2)


def funding_rate(
    premium: float,
    interest: float = 0.0001,
    clamp: float = 0.0005,
    interval_hours: int = 8,
    cap: float | None = None,
) -> float:
    """Funding rate per interval: [P + clamp(I − P, −c, +c)] / (8/N), then ±cap.

    ``interest`` and ``clamp`` are per 8 h; N = ``interval_hours``. ``cap`` bounds the result.

    Example:
        >>> round(funding_rate(0.002, interval_hours=4), 10)  # (0.002 − 0.0005) / 2
        0.00075
    """
    if interval_hours <= 0:
        raise InvalidInputError("interval_hours", interval_hours, "a positive number of hours")
    if clamp < 0:
        raise InvalidInputError("clamp", clamp, "a non-negative rate")
    f = (premium + _clamp(interest - premium, -clamp, clamp)) * interval_hours / 8
    if cap is not None:
        if cap <= 0:
            raise InvalidInputError("cap", cap, "a positive rate or None")
        f = _clamp(f, -cap, cap)
    return f


def hyperliquid_hourly_rate(
    premium: float, interest: float = 0.0001, clamp: float = 0.0005, cap: float = 0.04
) -> float:
    """Hyperliquid hourly rate: the 8 h clamped formula divided by 8, capped at 4% per hour."""
    return funding_rate(premium, interest, clamp, interval_hours=1, cap=cap)


def dydx_funding_rate(
    premium_samples: Sequence[float],
    default_ppm: int = 100,
    clamp_factor_ppm: int = 6_000_000,
    imf_ppm: int = 20_000,
    mmf_ppm: int = 12_000,
    removed_tail_ratio_ppm: int = 0,
) -> float:
    """dYdX v4 8-hour funding rate from one funding-tick epoch of premium samples.

    Trimmed mean of the samples (``floor(n·ratio/1e6)`` removed at each end of the sorted list;
    the chain's ``RemovedTailSampleRatioPpm`` is 0, a plain mean), plus ``default_ppm``, clamped
    to ±clamp_factor·(IMF − MMF). The hourly payment is this rate / 8.

    Example:
        >>> dydx_funding_rate([0.1])  # clamp 6 × (2% − 1.2%) = 4.8%
        0.048
    """
    if not premium_samples:
        raise InvalidInputError("premium_samples", [], "at least one sample")
    if not 0 <= removed_tail_ratio_ppm < 500_000:
        raise InvalidInputError("removed_tail_ratio_ppm", removed_tail_ratio_ppm, "in [0, 5e5)")
    s = sorted(premium_samples)
    k = len(s) * removed_tail_ratio_ppm // 1_000_000
    kept = s[k : len(s) - k]
    mean = math.fsum(kept) / len(kept)
    bound = clamp_factor_ppm * (imf_ppm - mmf_ppm) / 1e12
    return _clamp(mean + default_ppm / 1e6, -bound, bound)


def funding_payment(side: int, qty: float, mark_price: float, rate: float) -> float:
    """Cash flow to a position at a funding time: −side·qty·mark·rate (negative = pays).

    Example:
        >>> funding_payment(+1, 2.0, 50_000.0, 0.0001)  # a long pays when the rate is positive
        -10.0
    """
    if side not in (1, -1):
        raise InvalidInputError("side", side, "+1 (long) or -1 (short)")
    if qty < 0:
        raise InvalidInputError("qty", qty, "a non-negative size")
    return -side * qty * mark_price * rate


def _impact(levels: Sequence[tuple[float, float]], notional: float) -> float:
    left, qty = notional, 0.0
    for price, size in levels:
        take = min(size * price, left)
        qty += take / price
        left -= take
        if left <= notional * 1e-12:
            return notional / qty
    return math.nan


def impact_prices(
    bids: Sequence[tuple[float, float]], asks: Sequence[tuple[float, float]], notional: float
) -> tuple[float, float]:
    """Average fill prices of selling (bid) and buying (ask) ``notional`` quote currency.

    ``bids`` and ``asks`` are (price, qty) levels, best first. A side too thin to fill the
    notional gives nan.

    Example:
        >>> impact_prices([(100.0, 1.0), (99.0, 5.0)], [(101.0, 0.5)], 199.0)
        (99.5, nan)
    """
    if not notional > 0:
        raise InvalidInputError("notional", notional, "a positive amount")
    return _impact(bids, notional), _impact(asks, notional)
