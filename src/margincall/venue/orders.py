"""Order entry on the venue: pre-trade checks, the book, and settlement of what it returns.

Checks that need the account (existence, reduce-only, initial margin, leverage limits) happen
here, before the book sees the order; checks of the order itself (size, price band, post-only,
FOK) happen in the book. A refused order changes nothing and leaves one ORDER_REJECTED event.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from margincall.events.schema import EventKind, RejectReason
from margincall.venue import book as bk
from margincall.venue.accounts import EXISTS, MARK, N_ACCOUNTS, Accounts
from margincall.venue.borrowed import borrow_state
from margincall.venue.ledger import (
    INSURANCE_FUND,
    collateral,
    cover_loss_into,
    emit,
    fee_micros,
    reindex,
    trade,
    trade_into,
    write_event,
)
from margincall.venue.margin_int import PPM, initial_margin_micros, tier_of
from margincall.venue.params import BAND_PPM, MAKER_FEE_PPM, MAX_TICK, MIN_TICK, K
from margincall.venue.pointers import no_refcount

K_FILLED = int(EventKind.ORDER_FILLED)
K_REJECTED = int(EventKind.ORDER_REJECTED)
R_UNKNOWN_ACCOUNT = int(RejectReason.UNKNOWN_ACCOUNT)
R_REDUCE_ONLY = int(RejectReason.REDUCE_ONLY_WOULD_INCREASE)
R_MARGIN = int(RejectReason.INSUFFICIENT_MARGIN)
R_MAX_LEVERAGE = int(RejectReason.MAX_LEVERAGE)


@njit(cache=True)
def settle_book(acc, idx, meta, params, tiers, out, n, bout, nb, taker_kind, taker_fee_ppm, rnd):
    """Turn the book's records into venue events, booking every trade.

    Returns ``(out, n, filled_lots, filled_ticklots)`` for the taker order.
    """
    out = bk.reserve(out, n, 2 * nb)
    n, filled, ticklots = settle_into(
        acc, idx, meta, params, tiers, out, n, bout, nb, taker_kind, taker_fee_ppm, rnd
    )
    return out, n, filled, ticklots


@njit(cache=True, inline="always")
def settle_into(acc, idx, meta, params, tiers, out, n, bout, nb, taker_kind, taker_fee_ppm, rnd):
    """:func:`settle_book` into room for two events per record the caller reserved; returns
    ``(n, filled_lots, filled_ticklots)``."""
    k = params[K]
    filled = 0
    ticklots = 0
    for i in range(nb):
        kind = bout[i]["kind"]
        if kind == K_FILLED:
            taker = bout[i]["account"]
            maker = bout[i]["maker_account"]
            qty = bout[i]["qty"]
            price = bout[i]["price"]
            notional = qty * price * k
            t_fee = 0 if taker == INSURANCE_FUND else fee_micros(notional, taker_fee_ppm)
            m_fee = 0 if maker == INSURANCE_FUND else fee_micros(notional, params[MAKER_FEE_PPM])
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
                bout[i]["side"],
                price,
                qty,
                t_fee,
                m_fee,
                taker_kind,
                K_FILLED,
                bout[i]["order_id"],
                bout[i]["maker_order_id"],
                rnd,
            )
            filled += qty
            ticklots += qty * price
        else:
            write_event(
                out,
                n,
                meta,
                params,
                kind,
                bout[i]["reason"],
                bout[i]["side"],
                0,
                rnd,
                bout[i]["account"],
                -1,
                bout[i]["order_id"],
                bout[i]["price"],
                bout[i]["qty"],
                bout[i]["qty"] * bout[i]["price"] * k,
                0,
            )
            n += 1
    return n, filled, ticklots


@njit(cache=True, inline="always")
def _reject_into(out, n, meta, params, account, side, price, qty, reason, amount):
    write_event(
        out,
        n,
        meta,
        params,
        K_REJECTED,
        reason,
        side,
        0,
        0,
        account,
        -1,
        -1,
        price,
        qty,
        qty * price * params[K],
        amount,
    )
    return n + 1


@njit(cache=True, inline="always")
def margin_shortfall(acc: Accounts, book, a, side, price, qty, mark, k, tiers) -> tuple:
    """Initial margin an order would need beyond the account's equity (0 if it fits).

    The worst case counts the position plus all open orders on the side that grows it, at the
    higher of the order price and the mark. Orders that do not grow the worst case need nothing
    (a reducing order is always allowed). Returns ``(shortfall, reason)``.
    """
    p = acc.pos[a]
    ob = book.open_buy_lots[a]
    os_ = book.open_sell_lots[a]
    long_before = max(0, p + ob)
    short_before = max(0, -(p - os_))
    if side > 0:
        long_after = long_before + qty
        short_after = short_before
    else:
        long_after = long_before
        short_after = short_before + qty
    worst_before = max(long_before, short_before)
    worst_after = max(long_after, short_after)
    if worst_after <= worst_before:
        return 0, 0
    ref = max(price, mark)
    notional = worst_after * ref * k
    lev = max(1, acc.leverage[a])
    imr = (PPM + lev - 1) // lev
    t = tier_of(notional, tiers.floor)
    if imr < tiers.imr_ppm[t]:
        return notional, R_MAX_LEVERAGE
    need = initial_margin_micros(notional, imr)
    equity = collateral(acc, a) + p * mark * k - acc.cost[a]
    if acc.flags[a] & 2:  # isolated: the free wallet can be moved in
        equity += acc.wallet[a]
    if equity >= need:
        return 0, 0
    return need - equity, R_MARGIN


@njit(cache=True, inline="always")
def _reserve_order(room, out, n, bout):
    """``(out, bout)`` with room for everything one order can write when one submit can write
    ``room`` book records (see :func:`_place_into`)."""
    if out.shape[0] - n < 2 * room + 2:
        out = bk.reserve(out, n, 2 * room + 2)
    if bout.shape[0] < room:
        bout = bk.reserve(bout, 0, room)
    return out, bout


@njit(cache=True, inline="always")
def _place_into(
    acc,
    idx,
    book,
    meta,
    params,
    tiers,
    out,
    n,
    bout,
    a,
    side,
    price,
    qty,
    tif,
    stp,
    reduce_only,
    taker_fee_ppm,
):
    """One order into room :func:`_reserve_order` made: the book's records (at most
    ``bk.submit_room``), two events per record, two for a loss the fund covers. Returns
    ``(order_id, n)``."""
    k = params[K]
    if a < 0 or a >= meta[N_ACCOUNTS] or not (acc.flags[a] & EXISTS):
        return -1, _reject_into(out, n, meta, params, a, side, price, qty, R_UNKNOWN_ACCOUNT, 0)
    if qty > 0 and price > 0:
        if reduce_only:
            p = acc.pos[a]
            if p == 0 or (p > 0) == (side > 0):
                return -1, _reject_into(out, n, meta, params, a, side, price, qty, R_REDUCE_ONLY, 0)
            qty = min(qty, abs(p))
        else:
            short, reason = margin_shortfall(acc, book, a, side, price, qty, meta[MARK], k, tiers)
            if short > 0:
                return -1, _reject_into(out, n, meta, params, a, side, price, qty, reason, short)
    oid, nb = bk.submit_into(book, a, side, price, qty, tif, stp, bout, 0)
    n, _, _ = settle_into(
        acc, idx, meta, params, tiers, out, n, bout, nb, K_FILLED, taker_fee_ppm, 0
    )
    if a != INSURANCE_FUND and acc.pos[a] == 0 and collateral(acc, a) < 0:
        # a close past bankruptcy (a stop in a gap): the fund covers it
        n = cover_loss_into(acc, meta, params, out, n, a, 0)
    return oid, n


@njit(cache=True)
def place_order(
    acc,
    idx,
    book,
    meta,
    params,
    tiers,
    out,
    n,
    bout,
    a,
    side,
    price,
    qty,
    tif,
    stp,
    reduce_only,
    taker_fee_ppm,
):
    """Check and submit one order; returns ``(order_id, out, n, bout)`` (id -1 when refused)."""
    acc, idx, book, meta, params, tiers = borrow_state(acc, idx, book, meta, params, tiers)
    out, bout = _reserve_order(bk.submit_room(book), out, n, bout)
    oid, n = _place_into(
        acc,
        idx,
        book,
        meta,
        params,
        tiers,
        out,
        n,
        bout,
        a,
        side,
        price,
        qty,
        tif,
        stp,
        reduce_only,
        taker_fee_ppm,
    )
    return oid, out, n, bout


@njit(cache=True)
def place_orders(
    acc,
    idx,
    book,
    meta,
    params,
    tiers,
    out,
    n,
    bout,
    cancels,
    accounts,
    sides,
    prices,
    lots,
    tifs,
    stp,
    reduce_only,
    taker_fee_ppm,
):
    """Every resting order of the accounts ``cancels`` cancelled (in order, settled), then the
    orders in sequence, each exactly as :func:`place_order`; a price of 0 is a market order
    (an IOC limited to the price band around the mark). Returns ``(order_ids, out, n, bout)``."""
    acc, idx, book, meta, params, tiers = borrow_state(acc, idx, book, meta, params, tiers)
    nb = 0
    for i in range(cancels.shape[0]):
        bout, nb = bk.cancel_account(book, cancels[i], bout, nb)
    out, n, _, _ = settle_book(
        acc, idx, meta, params, tiers, out, n, bout, nb, K_FILLED, taker_fee_ppm, 0
    )
    ids = np.full(accounts.shape[0], -1, np.int64)
    i = 0
    while True:
        i, n = _place_batch_into(
            acc,
            idx,
            book,
            meta,
            params,
            tiers,
            out,
            n,
            bout,
            ids,
            i,
            accounts,
            sides,
            prices,
            lots,
            tifs,
            stp,
            reduce_only,
            taker_fee_ppm,
        )
        if i == accounts.shape[0]:
            break
        out, bout = _reserve_order(bk.submit_room(book), out, n, bout)  # then go on
    return ids, out, n, bout


@no_refcount
def _place_batch_into(
    acc,
    idx,
    book,
    meta,
    params,
    tiers,
    out,
    n,
    bout,
    ids,
    start,
    accounts,
    sides,
    prices,
    lots,
    tifs,
    stp,
    reduce_only,
    taker_fee_ppm,
):
    """The orders of :func:`place_orders` from ``start`` on, their ids into ``ids``, while
    ``out`` and ``bout`` have the room the next one may need; returns ``(next order, n)``."""
    for i in range(start, accounts.shape[0]):
        room = bk.submit_room(book)
        if out.shape[0] - n < 2 * room + 2 or bout.shape[0] < room:
            return i, n
        price = prices[i]
        tif = tifs[i]
        if price == 0:
            mark = meta[MARK]
            band = (mark * params[BAND_PPM]) // PPM
            price = mark + band if sides[i] > 0 else mark - band
            price = min(max(price, params[MIN_TICK]), params[MAX_TICK])
            tif = bk.TIF_IOC
        ids[i], n = _place_into(
            acc,
            idx,
            book,
            meta,
            params,
            tiers,
            out,
            n,
            bout,
            accounts[i],
            sides[i],
            price,
            lots[i],
            tif,
            stp,
            reduce_only[i],
            taker_fee_ppm,
        )
    return accounts.shape[0], n


@njit(cache=True)
def bad_batch_column(sides, tifs, prices):
    """The first column of an order batch holding a value it may not: 0 ``sides`` (not +1 or
    -1), 1 ``tifs`` (not a TIF code 0..3), 2 ``prices`` (negative); -1 when none does."""
    for i in range(sides.shape[0]):
        if sides[i] != 1 and sides[i] != -1:
            return 0
    for i in range(tifs.shape[0]):
        if tifs[i] < 0 or tifs[i] > 3:
            return 1
    for i in range(prices.shape[0]):
        if prices[i] < 0:
            return 2
    return -1


@njit(cache=True)
def settle_book_entry(
    acc, idx, book, meta, params, tiers, out, n, bout, nb, taker_kind, taker_fee_ppm, rnd
):
    """:func:`settle_book` called from Python (on borrowed views of the state)."""
    acc, idx, book, meta, params, tiers = borrow_state(acc, idx, book, meta, params, tiers)
    return settle_book(
        acc, idx, meta, params, tiers, out, n, bout, nb, taker_kind, taker_fee_ppm, rnd
    )


@njit(cache=True)
def reindex_all(acc, idx, book, meta, params, tiers, n_acc):
    """Re-key every account with a position (after funding moved every balance)."""
    acc, idx, book, meta, params, tiers = borrow_state(acc, idx, book, meta, params, tiers)
    for a in range(n_acc):
        if acc.pos[a] != 0 or idx.side[a] != 0:
            reindex(acc, idx, a, params, tiers)


@njit(cache=True)
def block_trades(acc, idx, book, meta, params, tiers, out, n, accounts, lots, price, c):
    """Off-book trades of many accounts with one counterparty at one price, margin-checked.

    A refused trade leaves one ORDER_REJECTED event and changes nothing.
    """
    acc, idx, book, meta, params, tiers = borrow_state(acc, idx, book, meta, params, tiers)
    k = params[K]
    for i in range(accounts.shape[0]):
        a = accounts[i]
        side = 1 if lots[i] > 0 else -1
        q = abs(lots[i])
        s1, r1 = margin_shortfall(acc, book, a, side, price, q, meta[MARK], k, tiers)
        s2, r2 = margin_shortfall(acc, book, c, -side, price, q, meta[MARK], k, tiers)
        if s1 > 0 or s2 > 0:
            out, n = emit(
                out,
                n,
                meta,
                params,
                K_REJECTED,
                r1 if s1 > 0 else r2,
                side,
                0,
                0,
                a,
                c,
                -1,
                price,
                q,
                q * price * k,
                max(s1, s2),
            )
            continue
        out, n = trade(
            acc,
            idx,
            meta,
            params,
            tiers,
            out,
            n,
            a,
            c,
            side,
            price,
            q,
            0,
            0,
            K_FILLED,
            K_FILLED,
            -1,
            -1,
            0,
        )
    return out, n


@njit(cache=True)
def position_stats(pos, n):
    """``(open_interest_lots, accounts_long, accounts_short)`` over the first ``n`` accounts
    (account 0, the insurance fund, included: it holds positions it took over)."""
    oi = 0
    longs = 0
    shorts = 0
    for a in range(n):
        p = pos[a]
        if p > 0:
            oi += p
            longs += 1
        elif p < 0:
            shorts += 1
    return oi, longs, shorts
