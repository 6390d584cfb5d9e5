"""Compiled bookkeeping shared by every venue kernel: events, fills, transfers, the index.

Every change of money goes through a function here, in pairs, so the ledger identity holds
after every event: sum(wallet + iso_margin) + fees collected - sum(cost) == net deposits.
(Open PnL sums to -sum(cost) at any common price because long and short sizes are equal.)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from margincall.events.schema import EventKind
from margincall.venue import liq_index
from margincall.venue.accounts import (
    EXISTS,
    FEES,
    ISOLATED,
    LAST,
    MARK,
    SEQ,
    TS,
    UNCOVERED,
    Accounts,
)
from margincall.venue.book import reserve
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
K_FILLED = int(EventKind.ORDER_FILLED)
K_LIQUIDATED = int(EventKind.POSITION_LIQUIDATED)
K_IF_PAID = int(EventKind.INSURANCE_FUND_PAID)
K_UNCOVERED = int(EventKind.BANKRUPTCY_UNCOVERED)


class Tiers(NamedTuple):
    """Margin tiers as integer arrays (floor and cum in micro-dollars, rate in ppm)."""

    floor: np.ndarray
    mmr_ppm: np.ndarray
    cum: np.ndarray
    imr_ppm: np.ndarray


@njit(cache=True, inline="always")
def emit(
    out,
    n,
    meta,
    params,
    kind,
    reason,
    side,
    liquidity,
    rnd,
    account,
    counterparty,
    order_id,
    price,
    qty,
    notional,
    amount,
):
    """Append one event, stamping the time and the next sequence number."""
    if n == out.shape[0]:
        out = reserve(out, n, 1)
    write_event(
        out,
        n,
        meta,
        params,
        kind,
        reason,
        side,
        liquidity,
        rnd,
        account,
        counterparty,
        order_id,
        price,
        qty,
        notional,
        amount,
    )
    return out, n + 1


@njit(cache=True, inline="always")
def write_event(
    out,
    n,
    meta,
    params,
    kind,
    reason,
    side,
    liquidity,
    rnd,
    account,
    counterparty,
    order_id,
    price,
    qty,
    notional,
    amount,
):
    """:func:`emit` into room the caller reserved (``out[n]`` exists)."""
    # indexing the array per field is far faster in numba than writing through a record view
    out[n]["ts_ns"] = meta[TS]
    out[n]["seq"] = meta[SEQ]
    meta[SEQ] += 1
    out[n]["kind"] = kind
    out[n]["reason"] = reason
    out[n]["instrument"] = params[INSTRUMENT]
    out[n]["side"] = side
    out[n]["liquidity"] = liquidity
    out[n]["round"] = rnd
    out[n]["account"] = account
    out[n]["counterparty"] = counterparty
    out[n]["order_id"] = order_id
    out[n]["price"] = price
    out[n]["qty"] = qty
    out[n]["notional"] = notional
    out[n]["amount"] = amount


@njit(cache=True, inline="always")
def collateral(acc: Accounts, a: int) -> int:
    """Money backing account ``a``'s position: the isolated margin or the whole wallet."""
    if acc.flags[a] & ISOLATED:
        return acc.iso_margin[a]
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
def apply_fill(acc: Accounts, a: int, dq: int, price: int, k: int, fee: int, tiers: Tiers) -> int:
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
def reindex(acc: Accounts, idx, a: int, params, tiers: Tiers) -> None:
    """Put account ``a`` back in the liquidation index under its current key."""
    p = acc.pos[a]
    if p == 0 or a == INSURANCE_FUND or not (acc.flags[a] & EXISTS):
        liq_index.remove(idx, a)
        return
    key = liquidation_key(
        collateral(acc, a), p, acc.cost[a], params[K], tiers.floor, tiers.mmr_ppm, tiers.cum
    )
    liq_index.insert(idx, a, 1 if p > 0 else -1, key)


@njit(cache=True)
def trade(
    acc,
    idx,
    meta,
    params,
    tiers,
    out,
    n,
    taker,
    maker,
    taker_side,
    price,
    qty,
    taker_fee,
    maker_fee,
    taker_kind,
    maker_kind,
    taker_order,
    maker_order,
    rnd,
):
    """Book one trade between two accounts, emit one event per side, reindex both.

    Fees go to the venue (``meta[FEES]``). Either kind may be ORDER_FILLED,
    POSITION_LIQUIDATED, BACKSTOP_TAKEOVER or ADL_EXECUTED; the ``amount`` of each event is the
    fee that account paid (negative for a rebate).
    """
    out = reserve(out, n, 2)
    n = trade_into(
        acc,
        idx,
        meta,
        params,
        tiers,
        out,
        n,
        taker,
        maker,
        taker_side,
        price,
        qty,
        taker_fee,
        maker_fee,
        taker_kind,
        maker_kind,
        taker_order,
        maker_order,
        rnd,
    )
    return out, n


@njit(cache=True, inline="always")
def trade_into(
    acc,
    idx,
    meta,
    params,
    tiers,
    out,
    n,
    taker,
    maker,
    taker_side,
    price,
    qty,
    taker_fee,
    maker_fee,
    taker_kind,
    maker_kind,
    taker_order,
    maker_order,
    rnd,
):
    """:func:`trade` into room for its two events the caller reserved; returns ``n + 2``."""
    k = params[K]
    notional = qty * price * k
    apply_fill(acc, taker, taker_side * qty, price, k, taker_fee, tiers)
    apply_fill(acc, maker, -taker_side * qty, price, k, maker_fee, tiers)
    meta[FEES] += taker_fee + maker_fee
    meta[LAST] = price
    write_event(
        out,
        n,
        meta,
        params,
        taker_kind,
        0,
        taker_side,
        2,
        rnd,
        taker,
        maker,
        taker_order,
        price,
        qty,
        notional,
        taker_fee,
    )
    write_event(
        out,
        n + 1,
        meta,
        params,
        maker_kind,
        0,
        -taker_side,
        1,
        rnd,
        maker,
        taker,
        maker_order,
        price,
        qty,
        notional,
        maker_fee,
    )
    reindex(acc, idx, taker, params, tiers)
    reindex(acc, idx, maker, params, tiers)
    return n + 2


@njit(cache=True, inline="always")
def transfer_into(acc, meta, params, out, n, kind, payer, payee, amount, rnd, price):
    """Move collateral between two accounts (fund payouts, liquidation fees, vault takeovers),
    into room for its event the caller reserved; returns ``n + 1``."""
    add_collateral(acc, payer, -amount)
    add_collateral(acc, payee, amount)
    write_event(out, n, meta, params, kind, 0, 0, 0, rnd, payee, payer, -1, price, 0, 0, amount)
    return n + 1


@njit(cache=True)
def cover_loss(acc, meta, params, out, n, a, rnd):
    """A flat account left below zero is paid up by the fund, or its loss is recorded."""
    out = reserve(out, n, 2)
    return out, cover_loss_into(acc, meta, params, out, n, a, rnd)


@njit(cache=True, inline="always")
def cover_loss_into(acc, meta, params, out, n, a, rnd):
    """:func:`cover_loss` into room for its two events the caller reserved; returns the new
    ``n``."""
    if acc.pos[a] != 0:
        return n
    c = collateral(acc, a)
    if c >= 0:
        return n
    f = INSURANCE_FUND
    pay = min(-c, max(acc.wallet[f], 0))
    if pay > 0:
        n = transfer_into(acc, meta, params, out, n, K_IF_PAID, f, a, pay, rnd, meta[MARK])
    left = -collateral(acc, a)
    if left > 0:
        meta[UNCOVERED] += left
        write_event(
            out, n, meta, params, K_UNCOVERED, 0, 0, 0, rnd, a, -1, -1, meta[MARK], 0, 0, left
        )
        n += 1
    return n
