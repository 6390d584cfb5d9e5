"""Read-only queries of the order book: best prices, resting lots, depth, impact walks."""

from __future__ import annotations

from numba import njit

from margincall.venue.book_state import (
    _M_BEST_ASK,
    _M_BEST_BID,
    _M_MAX_TICK,
    _M_MIN_TICK,
    _M_RESTING,
    BLOCK,
    L_BLOCK,
    L_LOTS,
    BookState,
)


@njit(cache=True)
def best_bid(book):
    """Best bid in ticks, 0 if there is no bid."""
    return book.meta[_M_BEST_BID]


@njit(cache=True)
def best_ask(book):
    """Best ask in ticks, 0 if there is no ask."""
    return book.meta[_M_BEST_ASK]


def best_prices(book: BookState) -> tuple[int, int]:
    """``(best bid, best ask)`` in ticks (0 for none), read from Python without a kernel call."""
    return int(book.meta[_M_BEST_BID]), int(book.meta[_M_BEST_ASK])


@njit(cache=True)
def resting_count(book):
    """Number of resting orders."""
    return book.meta[_M_RESTING]


@njit(cache=True)
def level_lots(book, side, price):
    """Resting lots on ``side`` (+1 bids, -1 asks) at ``price`` (0 outside the window)."""
    mn = book.meta[_M_MIN_TICK]
    if price < mn or price > book.meta[_M_MAX_TICK]:
        return 0
    return book.levels[0 if side == 1 else 1, price - mn, L_LOTS]


@njit(cache=True)
def depth_ticklots(book, side, best_price, worst_price):
    """Sum of price x lots resting on ``side`` between the two bounds, inclusive (any order)."""
    return _depth(book, side, best_price, worst_price, True)


@njit(cache=True)
def depth_lots(book, side, best_price, worst_price):
    """Resting lots on ``side`` at prices between the two bounds, inclusive (any order)."""
    return _depth(book, side, best_price, worst_price, False)


@njit(cache=True, inline="always")
def _depth(book, side, best_price, worst_price, times_price):
    # blocks of 64 ticks with no order are skipped by their count
    mn = book.meta[_M_MIN_TICK]
    lo = max(min(best_price, worst_price), mn) - mn
    hi = min(max(best_price, worst_price), book.meta[_M_MAX_TICK]) - mn
    si = 0 if side == 1 else 1
    levels = book.levels
    total = 0
    i = lo
    while i <= hi:
        b = i - (i & (BLOCK - 1))
        if levels[si, b, L_BLOCK] == 0:
            i = b + BLOCK
            continue
        end = min(b + BLOCK - 1, hi)
        while i <= end:
            total += levels[si, i, L_LOTS] * (mn + i) if times_price else levels[si, i, L_LOTS]
            i += 1
    return total


@njit(cache=True)
def walk(book, taker_side, qty, limit_price):
    """``(filled_lots, ticklots)`` a taker of ``qty`` could fill up to ``limit_price``.

    Read-only; ignores STP. ``ticklots`` is the sum of price * lots over the fills.
    """
    meta = book.meta
    levels = book.levels
    mn = meta[_M_MIN_TICK]
    filled = 0
    ticklots = 0
    if qty <= 0:
        return filled, ticklots
    if taker_side == 1:
        p = meta[_M_BEST_ASK]
        if p == 0:
            return filled, ticklots
        end = min(limit_price, meta[_M_MAX_TICK])
        while p <= end and filled < qty:
            take = min(levels[1, p - mn, L_LOTS], qty - filled)
            filled += take
            ticklots += take * p
            p += 1
    else:
        p = meta[_M_BEST_BID]
        if p == 0:
            return filled, ticklots
        end = max(limit_price, mn)
        while p >= end and filled < qty:
            take = min(levels[0, p - mn, L_LOTS], qty - filled)
            filled += take
            ticklots += take * p
            p -= 1
    return filled, ticklots
