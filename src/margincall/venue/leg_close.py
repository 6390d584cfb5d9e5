"""Kernels the portfolio calls on one instrument: key a portfolio's legs, close one leg.

The portfolio (:mod:`margincall.venue.portfolio`) decides for the whole account; these kernels
act on one instrument's state for it. Before each call the portfolio sets the leg's ``rest``
(what the rest of the account lends it, see :mod:`margincall.venue.portfolio_margin`), so the
instrument's own single-position formulas (liquidation key, bankruptcy price, fee cap, takeover
check) give the account-level answer: with ``rest`` set to the leg's budget, the key is the
price at which the leg has used it up; with ``rest`` set to the leg's share of the account's
equity (rule R4), the bankruptcy price is the leg's R4 bankruptcy price.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from margincall.venue import liq_index
from margincall.venue.accounts import MARK, PORTFOLIO
from margincall.venue.band import band_limit_ticks
from margincall.venue.ledger import collateral
from margincall.venue.liquidation import (
    IOC,
    _bankruptcy_price,
    _charge_fee,
    _forced,
    _takeover,
    _waterfall,
    _waterfall_room,
    excess_of,
    trigger,
)
from margincall.venue.margin_int import PPM, liquidation_key, mul_div_ceil
from margincall.venue.params import BAND_PPM, LIQ_FEE_PPM, K
from margincall.venue.pointers import no_refcount

# numpy integers, not Python ones: numba compiles a callee once per combination of literal
# constants it is passed, once for any int64
CLOSE_IOC = np.int64(
    0
)  # a full-size IOC at the leg's bankruptcy price, a fee, the fund takes the rest
CLOSE_TAKEOVER = np.int64(1)  # the fund takes the whole leg at its bankruptcy price
CLOSE_MARKET = np.int64(2)  # a market order inside the price band (size given), nothing else
CLOSE_WATERFALL = np.int64(
    3
)  # the instrument's own single-position waterfall (one-leg accounts, dYdX)


@njit(cache=True, inline="always")
def key_leg(s, a) -> None:
    """Put portfolio leg ``a`` (its ``rest`` set to its budget) in the index, at least one tick
    past the mark: the account was just found safe at it. A flat leg leaves the index."""
    acc = s.acc
    if not acc.flags[a] & PORTFOLIO:  # an isolated leg: its instrument keys it
        return
    p = acc.pos[a]
    if p == 0:
        if s.idx.side[a] != 0:
            liq_index.remove(s.idx, a)
        return
    t = s.tiers
    mark = s.meta[MARK]
    key = liquidation_key(
        collateral(acc, a), p, acc.cost[a], s.params[K], t.floor, t.mmr_ppm, t.cum
    )
    key = min(key, mark - 1) if p > 0 else max(key, mark + 1)
    liq_index.insert(s.idx, a, 1 if p > 0 else -1, key)


@no_refcount
def close_leg(s, a, how, size) -> bool:
    """Close account ``a``'s leg on this instrument the way ``how`` says (one of ``CLOSE_*``;
    ``size``: the market order's lots for ``CLOSE_MARKET``), into room the caller reserved
    (:func:`close_room`), with no reference counting. Returns True when the leg must be
    deleveraged: then its forced orders and fees are done and the caller finishes with
    :func:`~margincall.venue.liquidation._deleverage_rest` (which makes its own room)."""
    acc = s.acc
    p = acc.pos[a]
    if p == 0:
        return False
    mark = s.meta[MARK]
    if how == CLOSE_WATERFALL:
        return _waterfall(s, a, excess_of(s, a, mark))
    trigger(s, a, excess_of(s, a, mark))
    if how == CLOSE_IOC:
        filled, ticklots = _forced(s, a, abs(p), _bankruptcy_price(s, a), IOC)
        if filled > 0:
            _charge_fee(s, a, mul_div_ceil(ticklots * s.params[K], s.params[LIQ_FEE_PPM], PPM))
        return acc.pos[a] != 0 and _takeover(s, a)
    if how == CLOSE_TAKEOVER:
        return _takeover(s, a)
    side = -1 if p > 0 else 1
    _forced(s, a, min(size, abs(p)), band_limit_ticks(mark, s.params[BAND_PPM], side), IOC)
    return False


@njit(cache=True, inline="always")
def close_room(s) -> tuple[int, int]:
    """``(events, book records)`` one :func:`close_leg` may write at most (ADL aside: it makes
    its own room)."""
    events, records = _waterfall_room(s)
    return events + 1, records
