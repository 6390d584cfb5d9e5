"""A portfolio account's margin in integers: equity, maintenance, budgets and R4 shares.

One account-level inequality serves every rulebook (portfolio-margin.md R1): equity
``E = settlement cash + collateral value + sum of the legs' wallets and open PnL`` against the
sum of the legs' tiered maintenance ``MM``; breached when ``E < MM`` (``<=`` where the
rulebook's equality liquidates, R2). Money is in micro-dollars of the settlement asset, prices
in each instrument's ticks. A leg's wallet books the leg's own cash flows (realised PnL, fees,
funding); the account's cash and collateral are the portfolio's (:class:`PortfolioState`).

Between two evaluations the liquidation index watches the account through its legs' keys: the
margin excess ``X = E - MM`` is split into budgets, one per leg in proportion to its notional,
and each leg is keyed at the price where it alone has lost its budget. While every leg's mark
stays short of its key the account cannot be breached (each leg's excess is monotone in its
mark, so each has lost less than its budget, and the budgets sum to at most ``X``); when a key
is reached the account is evaluated exactly again. A leg moving alone is keyed again a few times
as the others' budgets come back to it, and found at its exact breaching tick, never late.

``legs`` is a tuple of the instruments' :class:`~margincall.venue.state.VenueState`, the first
``pf.meta[N_LEGS]`` of them used (see :data:`MAX_INSTRUMENTS`); account ``a`` is row ``a`` of
each.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from margincall.venue.accounts import MARK, PORTFOLIO
from margincall.venue.margin_int import PPM, maintenance_micros, mul_div_floor
from margincall.venue.params import K
from margincall.venue.pointers import borrow, no_refcount

# portfolio-wide integers (PortfolioState.meta)
OUT_N = 0  # events written into the shared event buffer
SEQ = 1  # next event sequence number of the venue's one log
DESK = 2  # settlement cash the venue paid for collateral it converted (<= 0)
UNCOVERED = 3  # losses no one covered, micro-dollars
N_PENDING = 4  # accounts waiting for the next block
N_DONE = 5  # accounts liquidated in this block
STRICT = 6  # 1: breached when E < MM; 0: when E <= MM
POLICY = 7  # the rulebook's liquidation policy (margincall.venue.params.POLICY_*)
N_LEGS = 8  # instruments of the venue: the first entries of ``legs``
EVALUATIONS = 9  # accounts evaluated so far (a statistic)
AT_N = 10  # the account whose procedure waits for ADL: its open legs at the start
AT_PAYER = 11  # and the leg whose fund pays its final loss
META_SIZE = 12

MAX_INSTRUMENTS = 4
"""``legs`` always holds this many states (the last instrument's repeated after the venue's
own), so the kernels compile once whatever the venue's number of instruments."""

DONE = 1  # account flags: liquidated in this block
PENDING = 2  # breached after its liquidation: evaluated again at the next block


class PortfolioState(NamedTuple):
    """The account-level part of a portfolio venue."""

    cash: np.ndarray  # int64 per account: settlement-asset cash outside the legs, micro-dollars
    coll: np.ndarray  # int64 [account, asset]: collateral held, micro-units
    price: np.ndarray  # int64 per asset: micro-dollars per unit
    tier_floor: np.ndarray  # int64 [asset, tier]: micro-units where each ratio tier starts
    tier_ppm: np.ndarray  # int64 [asset, tier]: the tier's collateral ratio (1 - haircut)
    tier_cum: np.ndarray  # int64 [asset, tier]: micro-units, value = units * ratio + cum
    buffer_ppm: np.ndarray  # int64 per asset: taken off the price when the venue converts it
    converted: np.ndarray  # int64 per asset: micro-units the venue took in conversions
    meta: np.ndarray  # int64[META_SIZE]: the slots above
    flags: np.ndarray  # int8 per account: DONE, PENDING
    vol: np.ndarray  # float64 per instrument: its recent move per block, weighting the budgets
    pending: np.ndarray  # int64: the PENDING accounts, meta[N_PENDING] of them
    done: np.ndarray  # int64: the DONE accounts, meta[N_DONE] of them
    fund_group: np.ndarray  # int64 per instrument: its insurance fund (the first member's index)


@njit(cache=True, inline="always")
def cross_pos(s, a) -> int:
    """Account ``a``'s position in state ``s`` if it is a cross leg; 0 for an isolated one (it
    is margined alone, by its instrument)."""
    acc = s.acc
    return acc.pos[a] if acc.flags[a] & PORTFOLIO else 0


@njit(cache=True)
def borrow_portfolio(pf: PortfolioState) -> PortfolioState:
    """Borrowed views of every array of the portfolio state (for one entry kernel; see
    :mod:`margincall.venue.state`)."""
    return PortfolioState(
        borrow(pf.cash),
        borrow(pf.coll),
        borrow(pf.price),
        borrow(pf.tier_floor),
        borrow(pf.tier_ppm),
        borrow(pf.tier_cum),
        borrow(pf.buffer_ppm),
        borrow(pf.converted),
        borrow(pf.meta),
        borrow(pf.flags),
        borrow(pf.vol),
        borrow(pf.pending),
        borrow(pf.done),
        borrow(pf.fund_group),
    )


@njit(cache=True, inline="always")
def leg_terms(s, a) -> tuple[int, int, int, int, int]:
    """``(position, open PnL, maintenance, wallet, notional)`` of account ``a``'s cross leg in
    state ``s`` (all 0 for an isolated leg: it never counts in the account's cross margin)."""
    acc = s.acc
    if not acc.flags[a] & PORTFOLIO:
        return 0, 0, 0, 0, 0
    p = acc.pos[a]
    if p == 0:
        return 0, 0, 0, acc.wallet[a], 0
    mark = s.meta[MARK]
    k = s.params[K]
    notional = abs(p) * mark * k
    t = s.tiers
    mm = maintenance_micros(notional, t.floor, t.mmr_ppm, t.cum)
    return p, p * mark * k - acc.cost[a], mm, acc.wallet[a], notional


@njit(cache=True, inline="always")
def _asset_value(pf, c, units) -> int:
    floors = pf.tier_floor[c]
    t = 0
    for i in range(1, floors.shape[0]):
        if units >= floors[i]:
            t = i
    counted = mul_div_floor(units, pf.tier_ppm[c, t], PPM) + pf.tier_cum[c, t]
    return mul_div_floor(counted, pf.price[c], PPM)


@njit(cache=True)
def asset_value(pf, c, units) -> int:
    """The value of ``units`` micro-units of collateral asset ``c`` at its price, its ratio
    tiers applied as slices (``units * r_k + cum_k`` in the tier that holds it), rounded
    down."""
    return _asset_value(pf, c, units)


@njit(cache=True, inline="always")
def collateral_value(pf, a) -> int:
    """The account's collateral other than the settlement asset (:func:`asset_value`)."""
    v = 0
    for c in range(pf.price.shape[0]):
        units = pf.coll[a, c]
        if units > 0:
            v += _asset_value(pf, c, units)
    return v


@njit(cache=True, inline="always")
def _terms_of(legs, pf, j, a) -> tuple[int, int, int, int, int]:
    """:func:`leg_terms` of leg ``j``, zeros past the venue's instruments."""
    if j < pf.meta[N_LEGS]:
        return leg_terms(legs[j], a)
    return 0, 0, 0, 0, 0


@njit(cache=True, inline="always")
def account_legs(legs, pf, a):
    """``(figures, terms)`` of account ``a``: its :func:`account` figures and every leg's
    :func:`leg_terms` (one tuple per entry of ``legs``), each leg's row read once; a visit
    evaluates and keys the account from them."""
    terms = (
        _terms_of(legs, pf, 0, a),
        _terms_of(legs, pf, 1, a),
        _terms_of(legs, pf, 2, a),
        _terms_of(legs, pf, 3, a),
    )  # MAX_INSTRUMENTS entries
    equity = pf.cash[a] + collateral_value(pf, a)
    mm = 0
    gross = 0.0
    n = 0
    for j in range(pf.meta[N_LEGS]):
        _, upnl, m, wallet, notional = terms[j]
        equity += wallet + upnl
        mm += m
        gross += notional * pf.vol[j]
        n += notional > 0
    return (equity, mm, gross, n), terms


@no_refcount
def account(legs, pf, a) -> tuple[int, int, float, int]:
    """``(equity, maintenance, exposure, open legs)`` of account ``a``; ``exposure`` is the sum of
    its legs' notionals weighted by their instruments' recent moves (the budgets' divisor)."""
    figures, _ = account_legs(legs, pf, a)
    return figures


@njit(cache=True)
def account_margin(legs, pf, a) -> tuple[int, int]:
    """``(equity, maintenance)`` of account ``a``, for Python."""
    e, m, _, _ = account(legs, pf, a)
    return e, m


@njit(cache=True, inline="always")
def breached(pf, equity, mm, n) -> bool:
    """Whether an account with these figures must be liquidated (never one with no position)."""
    if n == 0:
        return False
    return equity < mm if pf.meta[STRICT] else equity <= mm


@njit(cache=True, inline="always")
def budget_rest(excess, exposure, upnl, mm, wallet, weight) -> int:
    """A leg's ``rest`` for watching: its budget (its ``weight`` in the account's ``exposure``
    of the excess, rounded down so the budgets sum to at most the excess) less its own excess
    and wallet, so that the leg's own formulas see exactly its budget as margin to lose.

    The weights are notional times the instrument's recent move: legs that move together use
    their budgets up together, and the account is evaluated again when its excess is spent,
    not when its fastest leg has spent an equal share."""
    budget = 0
    if excess > 0 and exposure > 0:
        budget = max(int(excess * (weight / exposure) * (1.0 - 1e-12)) - 1, 0)
    return budget - (upnl - mm) - wallet


@njit(cache=True, inline="always")
def r4_rest(equity, mm_total, upnl, mm, wallet) -> int:
    """A leg's ``rest`` for closing it: its share of the equity by maintenance (rule R4), so
    its own bankruptcy price is ``mark - side * E * (MM_i / MMtot) / Q``."""
    share = equity
    if mm_total > 0:
        share = int(np.floor(equity * (mm / mm_total)))
    return share - upnl - wallet


@njit(cache=True, inline="always")
def exact_rest(equity, mm_total, upnl, mm, wallet) -> int:
    """A leg's ``rest`` with the other legs and the collateral as they are: its own formulas
    then answer for the whole account while only its mark moves."""
    return equity - upnl - wallet - (mm_total - mm)


@no_refcount
def lend_for_orders(legs, pf, ids, j) -> None:
    """Set each account's leg ``j`` ``rest`` so that the instrument's own order check is the
    account's: equity less the other legs' initial margin (at the mark and the leg's
    leverage)."""
    for i in range(ids.shape[0]):
        a = ids[i]
        e, _, _, _ = account(legs, pf, a)
        others = 0
        for m in range(pf.meta[N_LEGS]):
            if m != j:
                others += _initial_margin(legs[m], a)
        _, upnl, _, wallet, _ = leg_terms(legs[j], a)
        legs[j].acc.rest[a] = e - others - upnl - wallet


@njit(cache=True, inline="always")
def _initial_margin(s, a) -> int:
    acc = s.acc
    lev = max(1, acc.leverage[a])
    notional = abs(cross_pos(s, a)) * s.meta[MARK] * s.params[K]
    return -(-notional // lev)
