"""The mark price on integers: the one home of the rule the engine marks positions with.

Prices in ticks, the funding rate in ppb, time in nanoseconds, on Python ints (the fair-price
product passes 2**63, so these are not compiled). Same rules as the readable formulas of
:mod:`margincall.formulas.mark`, which ``tests/formulas/test_mark.py`` holds them against:

- ``oracle`` (dYdX): the index (oracle) price.
- ``fair`` (BitMEX): index x (1 + funding rate x time to funding / interval), floored.
- ``median`` (Binance): the median of that price (P1), index + the moving average of the book
  mid's basis over the last `BASIS_WINDOW` samples (P2), and the last trade.
- ``hyperliquid`` (Hyperliquid's robust price index): the median of A = oracle + the 150 s EMA
  of (book mid - oracle), B = the median of best bid, best ask and last trade, and C = the
  weighted median of other venues' perp mids, handed in from outside (none: the 30 s EMA of B
  instead). :func:`hyperliquid_mark_step` is the rule; its EMAs are :func:`ema_step`.

Example:
    >>> fair_price_ticks(100_000, 100_000, 0, 8 * 3600 * 10**9)  # 0.01% a whole interval ahead
    100010
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, localcontext
from functools import lru_cache
from typing import NamedTuple

PPB = 1_000_000_000
BASIS_WINDOW = 30
"""Samples in Binance's moving average of (mid - index): 30 one-second samples."""
SECOND_NS = 1_000_000_000
HL_BASIS_EMA_NS = 150 * SECOND_NS
"""Hyperliquid's EMA of (mid - oracle): 150 seconds (docs: trading/robust-price-indices)."""
HL_BOOK_EMA_NS = 30 * SECOND_NS
"""Hyperliquid's EMA of the book median, the third input when there are no perp mids: 30 s."""
DECAY_ONE = 10**18
"""Fixed-point one of an EMA's decay factor exp(-t / window)."""


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


# ---- Hyperliquid's mark: time-weighted EMAs and the median of three -------------------------


class Ema(NamedTuple):
    """A time-weighted EMA on integers: ``num / den`` is the average, ``last_ns`` the time of its
    latest sample (``den`` 0: no sample yet). ``num`` is in ticks x nanoseconds, ``den`` in
    nanoseconds."""

    num: int = 0
    den: int = 0
    last_ns: int = 0


@lru_cache(maxsize=64)
def decay_fixed(t_ns: int, window_ns: int) -> int:
    """``exp(-t / window)`` in units of `DECAY_ONE`, floored: exact and the same on every machine
    (decimal's ``exp`` is correctly rounded at 40 digits; the steps repeat, hence the cache).

    Example:
        >>> decay_fixed(5 * SECOND_NS, HL_BASIS_EMA_NS)  # exp(-1/30)
        967216100482005902
    """
    with localcontext() as ctx:
        ctx.prec = 40
        return int((Decimal(-t_ns) / Decimal(window_ns)).exp() * DECAY_ONE)


def ema_step(ema: Ema, sample: int, now_ns: int, window_ns: int) -> Ema:
    """Hyperliquid's documented EMA update for ``sample`` at ``t`` since the previous one::

        num -> num x exp(-t / window) + sample x t;  den -> den x exp(-t / window) + t

    on integers (both decayed terms floored; the decay from :func:`decay_fixed`). Two
    conventions of ours, where the docs say nothing (Hyperliquid samples every 3 s or so): an
    empty EMA takes its first sample as if it had held for a whole window (``den`` = window, the
    steady state of a constant input), and a sample weighs at most one window (``t`` capped for
    its weight, not for the decay), so after a gap longer than the window the EMA starts again
    from that sample instead of one sample outweighing the next ones for ln(t / window)
    windows. A second sample at the same time (``t`` 0) changes nothing.

    Example:
        >>> e = ema_step(Ema(), 60, 0, HL_BASIS_EMA_NS)
        >>> ema_ticks(ema_step(e, 30, 5 * SECOND_NS, HL_BASIS_EMA_NS))  # 59.02...: floored
        59
    """
    if ema.den == 0:
        return Ema(sample * window_ns, window_ns, now_ns)
    t = now_ns - ema.last_ns
    d = decay_fixed(t, window_ns)
    w = min(t, window_ns)
    return Ema(ema.num * d // DECAY_ONE + sample * w, ema.den * d // DECAY_ONE + w, now_ns)


def ema_ticks(ema: Ema) -> int:
    """The EMA's value, floored to a whole tick (0 before its first sample)."""
    return ema.num // ema.den if ema.den else 0


def book_median_ticks(bid: int, ask: int, last: int, oracle: int) -> int:
    """Hyperliquid's B: the median of best bid, best ask and last trade, of those that exist
    (0 = missing): two give their floored mean, none the oracle.

    Example:
        >>> book_median_ticks(100_050, 100_070, 100_060, 100_000), book_median_ticks(0, 7, 4, 1)
        (100060, 5)
    """
    have = [p for p in (bid, ask, last) if p > 0]
    if len(have) == 3:
        return median3_ticks(*have)
    if len(have) == 2:
        return (have[0] + have[1]) // 2
    return have[0] if have else oracle


def weighted_median_ticks(ticks: Sequence[int], weights: Sequence[int]) -> int:
    """The LOWER weighted median: the smallest price whose weight at or below it is at least
    half the total. Prices of 0 (none) and weights of 0 are left out; nothing left gives 0.

    Example:
        >>> weighted_median_ticks([101, 100, 103], [3, 2, 2]), weighted_median_ticks([1, 2], [1, 1])
        (101, 1)
    """
    pairs = sorted((p, w) for p, w in zip(ticks, weights, strict=True) if p > 0 and w > 0)
    total = sum(w for _, w in pairs)
    seen = 0
    for p, w in pairs:
        seen += w
        if 2 * seen >= total:
            return p
    return 0


class HyperliquidMarkState(NamedTuple):
    """One instrument's EMAs for Hyperliquid's mark: of (mid - oracle) and of B."""

    basis: Ema = Ema()
    book: Ema = Ema()


def hyperliquid_mark_step(
    state: HyperliquidMarkState,
    oracle: int,
    bid: int,
    ask: int,
    last: int,
    perp_mid: int,
    now_ns: int,
) -> tuple[int, HyperliquidMarkState]:
    """One mark update: the EMAs take this update's samples, then the mark is
    ``median(A, B, C)`` with A = oracle + the basis EMA (floored), B = :func:`book_median_ticks`,
    C = ``perp_mid`` (other venues' weighted median perp mid; 0 = none: the 30 s EMA of B
    instead). Without a bid or an ask there is no mid: the basis EMA keeps its value (0 before
    any sample), so an empty book with no trade marks at the oracle.

    Example:
        >>> hyperliquid_mark_step(HyperliquidMarkState(), 100_000, 0, 0, 0, 0, 0)[0]
        100000
    """
    basis = state.basis
    if bid > 0 and ask > 0:
        basis = ema_step(basis, mid_basis_ticks(bid, ask, oracle), now_ns, HL_BASIS_EMA_NS)
    b = book_median_ticks(bid, ask, last, oracle)
    book = ema_step(state.book, b, now_ns, HL_BOOK_EMA_NS)
    third = perp_mid if perp_mid > 0 else ema_ticks(book)
    return median3_ticks(oracle + ema_ticks(basis), b, third), HyperliquidMarkState(basis, book)
