"""The mark price on integers: the one home of the rule the engine marks positions with.

Prices in ticks, the funding rate in ppb, time in nanoseconds, on Python ints (the fair-price
product passes 2**63, so these are not compiled). Same rules as the readable formulas of
:mod:`margincall.formulas.mark`, which ``tests/formulas/test_mark.py`` holds them against:

- ``oracle`` (dYdX, Hyperliquid): the index (oracle) price.
- ``fair`` (BitMEX): index x (1 + funding rate x time to funding / interval), floored.
- ``median`` (Binance): the median of that price (P1), index + the moving average of the book
  mid's basis over the last `BASIS_WINDOW` samples (P2), and the last trade.

Example:
    >>> fair_price_ticks(100_000, 100_000, 0, 8 * 3600 * 10**9)  # 0.01% a whole interval ahead
    100010
"""

from __future__ import annotations

from collections.abc import Sequence

PPB = 1_000_000_000
BASIS_WINDOW = 30
"""Samples in Binance's moving average of (mid - index): 30 one-second samples."""


def median3_ticks(a: int, b: int, c: int) -> int:
    """Median of three integer tick prices (uses only min/max, so numba can compile it)."""
    return max(min(a, b), min(max(a, b), c))


def fair_price_ticks(index: int, rate_ppb: int, ts_ns: int, interval_ns: int) -> int:
    """``index x (1 + rate x time left to the next funding / interval)``, floored."""
    left = interval_ns - ts_ns % interval_ns
    return index + (index * rate_ppb * left) // (interval_ns * PPB)


def mid_basis_ticks(bid: int, ask: int, index: int) -> int:
    """One basis sample: the book's mid (floored) minus the index."""
    return (bid + ask) // 2 - index


def basis_price_ticks(index: int, samples: Sequence[int]) -> int:
    """Binance's P2: index + the floored mean of the last `BASIS_WINDOW` basis samples (none:
    the index)."""
    window = samples[-BASIS_WINDOW:]
    return index + (sum(window) // len(window) if len(window) else 0)


def binance_mark_ticks(p1: int, p2: int, last: int, index: int) -> int:
    """Binance's mark: median(P1, P2, the last trade), the index standing in for a last trade
    before the first (``last`` 0)."""
    return median3_ticks(p1, p2, last or index)
