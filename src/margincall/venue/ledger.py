"""Compiled bookkeeping shared by every venue kernel: events, fills, transfers, the index.

Every change of money goes through a function here, in pairs, so the ledger identity holds
after every event: sum(wallet + iso_margin) + fees collected - sum(cost) == net deposits.
(Open PnL sums to -sum(cost) at any common price because long and short sizes are equal.)

Each function takes the venue state (:class:`~margincall.venue.state.VenueState`) and writes
its events at the event cursor ``meta[OUT_N]``, into room the entry kernel reserved.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from margincall.events.schema import MAKER, TAKER, EventKind
from margincall.venue import liq_index
from margincall.venue.accounts import (
    EXISTS,
    FEES,
    ISOLATED,
    LAST,
    MARK,
    OUT_N,
    PORTFOLIO,
    ROUND,
    SEQ,
    TS,
    UNCOVERED,
    Accounts,
)
from margincall.venue.margin_int import (
    PPM,
    initial_margin_micros,
    liquidation_key,
    mul_div_ceil,
    mul_div_floor,
)
from margincall.venue.params import INSTRUMENT, K

INSURANCE_FUND = 0
"""Account id of the insurance fund (and, for Hyperliquid, the backstop liquidator vault)."""

K_DEPOSITED = int(EventKind.DEPOSITED)
# kinds a kernel passes to another as numpy integers: numba compiles a called kernel once per
# combination of Python constants (literals) it is given, once for any int64
K_FILLED = np.int64(EventKind.ORDER_FILLED)
K_LIQUIDATED = np.int64(EventKind.POSITION_LIQUIDATED)
NO_ORDER = np.int64(-1)
NO_FEE = np.int64(0)
K_IF_PAID = int(EventKind.INSURANCE_FUND_PAID)
K_UNCOVERED = int(EventKind.BANKRUPTCY_UNCOVERED)


@njit(cache=True, inline="always")
def event(s, kind, account, price, qty, amount) -> int:
    """Append one event at the event cursor; returns its row.

    Stamped with the time, the next sequence number, the instrument and the liquidation round
    (``meta[ROUND]``); notional ``qty * price * k``; no reason, side, liquidity, counterparty or
    order: a caller that has them sets them on the row (:func:`set_parties`).
    """
    # indexing the array per field is far faster in numba than writing through a record view
    out = s.out
    meta = s.meta
    j = meta[OUT_N]
    meta[OUT_N] = j + 1
    out[j]["ts_ns"] = meta[TS]
    out[j]["seq"] = meta[SEQ]
    meta[SEQ] += 1
    out[j]["kind"] = kind
    out[j]["reason"] = 0
    out[j]["instrument"] = s.params[INSTRUMENT]
    out[j]["side"] = 0
    out[j]["liquidity"] = 0
    out[j]["round"] = meta[ROUND]
    out[j]["account"] = account
    out[j]["counterparty"] = -1
    out[j]["order_id"] = -1
    out[j]["price"] = price
    out[j]["qty"] = qty
    out[j]["notional"] = qty * price * s.params[K]
    out[j]["amount"] = amount
    return j


@njit(cache=True, inline="always")
def set_parties(s, j, side, counterparty, order_id) -> None:
    """The side, the other account and the order of event ``j``."""
    s.out[j]["side"] = side
    s.out[j]["counterparty"] = counterparty
    s.out[j]["order_id"] = order_id


@njit(cache=True, inline="always")
def fund_money(acc: Accounts) -> int:
    """Money the insurance fund can pay: its wallet, plus what the other instruments sharing
    its fund lend it (``rest`` of row 0; portfolio venues only, see
    :mod:`margincall.venue.portfolio_funds`)."""
    return acc.wallet[INSURANCE_FUND] + acc.rest[INSURANCE_FUND]


@njit(cache=True, inline="always")
def collateral(acc: Accounts, a: int) -> int:
    """Money backing account ``a``'s position: the isolated margin or the whole wallet (for the
    leg of a portfolio, its wallet plus what the rest of the portfolio lends it)."""
    f = acc.flags[a]
    if f & ISOLATED:
        return acc.iso_margin[a]
    if f & PORTFOLIO:
        return acc.wallet[a] + acc.rest[a]
    return acc.wallet[a]


@njit(cache=True, inline="always")
def add_collateral(acc: Accounts, a: int, amount: int) -> None:
    if acc.flags[a] & ISOLATED:
        acc.iso_margin[a] += amount
    else:
        acc.wallet[a] += amount


@njit(cache=True, inline="always")
def fee_micros(notional: int, ppm: int) -> int:
    """A fee at ``ppm`` of a notional; charges round up, rebates (negative rates) round down."""
    if ppm >= 0:
        return mul_div_ceil(notional, ppm, PPM)
    return -mul_div_floor(notional, -ppm, PPM)


@njit(cache=True, inline="always")
def apply_fill(acc: Accounts, a: int, dq: int, price: int, k: int, fee: int) -> int:
    """Change account ``a``'s position by ``dq`` lots at ``price``; returns realised PnL.

    Realised PnL and the fee go to the account's collateral; the fee's counterpart is booked by
    the caller. Closing removes entry cost in proportion, so ``wallet - cost`` changes by
    exactly the cash of the trade (the ledger identity). Isolated accounts move initial margin
    from the wallet when they grow and get it back when they are flat.
    """
    p = acc.pos[a]
    q = abs(dq)
    s = 1 if dq > 0 else -1
    realized = 0
    opened = q
    if p != 0 and (p > 0) != (dq > 0):
        closing = min(q, abs(p))
        c = acc.cost[a]
        ap = abs(p)
        # floor(c * closing / |p|) without overflow: c = (c // |p|) * |p| + c % |p|
        removed = (c // ap) * closing + ((c % ap) * closing) // ap
        cash = -s * closing * price * k
        realized = cash - removed
        acc.cost[a] -= removed
        acc.pos[a] += s * closing
        opened = q - closing
    if opened > 0:
        acc.cost[a] += s * opened * price * k
        acc.pos[a] += s * opened
    add_collateral(acc, a, realized - fee)
    if acc.flags[a] & ISOLATED:
        if opened > 0:
            lev = max(1, acc.leverage[a])
            im = initial_margin_micros(opened * price * k, (PPM + lev - 1) // lev)
            move = min(im, max(acc.wallet[a], 0))
            acc.wallet[a] -= move
            acc.iso_margin[a] += move
        if acc.pos[a] == 0 and acc.iso_margin[a] > 0:
            acc.wallet[a] += acc.iso_margin[a]
            acc.iso_margin[a] = 0
    return realized


@njit(cache=True, inline="always")
def reindex(s, a: int) -> None:
    """Put account ``a`` back in the liquidation index under its current key (a portfolio
    account is handed on to the portfolio instead, which keys all its legs)."""
    acc = s.acc
    if acc.flags[a] & PORTFOLIO:
        liq_index.defer(s.idx, acc.flags, a)
        return
    p = acc.pos[a]
    if p == 0 or a == INSURANCE_FUND or not (acc.flags[a] & EXISTS):
        liq_index.remove(s.idx, a)
        return
    t = s.tiers
    key = liquidation_key(
        collateral(acc, a), p, acc.cost[a], s.params[K], t.floor, t.mmr_ppm, t.cum
    )
    liq_index.insert(s.idx, a, 1 if p > 0 else -1, key)


@njit(cache=True, inline="always")
def party(account, kind) -> tuple:
    """A side of a trade that no order made and that pays no fee (takeovers, ADL, block
    trades), for :func:`trade`."""
    return (np.int64(account), NO_ORDER, NO_FEE, np.int64(kind))


@njit(cache=True, inline="always")
def trade(s, taker, maker, side, price, qty) -> None:
    """Book one trade of ``qty`` lots at ``price`` between two accounts, the taker on ``side``;
    one event per side (taker first), both reindexed. Two events of room.

    ``taker`` and ``maker`` are ``(account, order_id, fee, event kind)``: the kind may be
    ORDER_FILLED, POSITION_LIQUIDATED, BACKSTOP_TAKEOVER or ADL_EXECUTED, the fee what that
    account pays (negative for a rebate), booked to the venue (``meta[FEES]``).
    """
    t, t_order, t_fee, t_kind = taker
    m, m_order, m_fee, m_kind = maker
    k = s.params[K]
    # each step as a loop over the two sides, taker first: one inlined copy of each helper
    # (numba's inlining costs compile time per copy, and more than linearly in its size)
    sides = (
        (t, side, t_fee, t_kind, m, t_order, TAKER),
        (m, -side, m_fee, m_kind, t, m_order, MAKER),
    )
    for a, sd, fee, _, _, _, _ in sides:
        apply_fill(s.acc, a, sd * qty, price, k, fee)
    s.meta[FEES] += t_fee + m_fee
    s.meta[LAST] = price
    for a, sd, fee, kind, other, order, liquidity in sides:
        j = event(s, kind, a, price, qty, fee)
        set_parties(s, j, sd, other, order)
        s.out[j]["liquidity"] = liquidity
    for a in (t, m):
        reindex(s, a)


@njit(cache=True, inline="always")
def transfer(s, kind, payer, payee, amount) -> None:
    """Move collateral between two accounts at the mark (fund payouts, liquidation fees); one
    event, about the payee."""
    add_collateral(s.acc, payer, -amount)
    add_collateral(s.acc, payee, amount)
    j = event(s, kind, payee, s.meta[MARK], 0, amount)
    s.out[j]["counterparty"] = payer


@njit(cache=True, inline="always")
def cover_loss(s, a) -> None:
    """A flat account left below zero is paid up by the fund, or its loss is recorded (at most
    two events). A portfolio account's loss is the portfolio's to cover, over all its legs."""
    acc = s.acc
    if acc.pos[a] != 0 or acc.flags[a] & PORTFOLIO:
        return
    c = collateral(acc, a)
    if c >= 0:
        return
    f = INSURANCE_FUND
    pay = min(-c, max(fund_money(acc), 0))
    if pay > 0:
        transfer(s, K_IF_PAID, f, a, pay)
    left = -collateral(acc, a)
    if left > 0:
        s.meta[UNCOVERED] += left
        event(s, K_UNCOVERED, a, s.meta[MARK], 0, left)
