"""Order entry on the venue: pre-trade checks, the book, and settlement of what it returns.

Checks that need the account (existence, reduce-only, initial margin, leverage limits) happen
here, before the book sees the order; checks of the order itself (size, price band, post-only,
FOK) happen in the book. A refused order changes nothing and leaves one ORDER_REJECTED event.

The entry kernels (``place_order``, ``place_orders``, ``settle_records``, ``block_trades``,
``reindex_all``) take the venue state from Python, reserve room, borrow the state and return
the buffers (possibly grown); the others work in the room they were given.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from margincall.events.schema import EventKind, RejectReason
from margincall.venue import book as bk
from margincall.venue.accounts import BOOK_N, EXISTS, ISOLATED, MARK, N_ACCOUNTS, OUT_N
from margincall.venue.band import band_limit_ticks
from margincall.venue.ledger import (
    INSURANCE_FUND,
    K_FILLED,
    K_LIQUIDATED,
    collateral,
    cover_loss,
    event,
    fee_micros,
    party,
    reindex,
    set_parties,
    trade,
)
from margincall.venue.margin_int import PPM, initial_margin_micros, tier_of
from margincall.venue.params import BAND_PPM, MAKER_FEE_PPM, MAX_TICK, MIN_TICK, TAKER_FEE_PPM, K
from margincall.venue.pointers import no_refcount
from margincall.venue.state import borrow_state, make_room, with_buffers

K_REJECTED = int(EventKind.ORDER_REJECTED)
R_UNKNOWN_ACCOUNT = int(RejectReason.UNKNOWN_ACCOUNT)
R_REDUCE_ONLY = int(RejectReason.REDUCE_ONLY_WOULD_INCREASE)
R_MARGIN = int(RejectReason.INSUFFICIENT_MARGIN)
R_MAX_LEVERAGE = int(RejectReason.MAX_LEVERAGE)


@no_refcount
def settle(s, taker_kind):
    """Turn the book's waiting records (``meta[BOOK_N]``) into venue events, booking every
    trade; four events of room per record (a fill's two, and two for the fund's cover of a
    maker the fill leaves flat below zero). Returns ``(filled_lots, filled_ticklots)`` of the
    taker order.

    The taker pays the venue's taker fee, except on a liquidation's forced order
    (``taker_kind`` POSITION_LIQUIDATED) and the fund, which pay none.
    """
    k = s.params[K]
    bout = s.bout
    taker_fee_ppm = 0 if taker_kind == K_LIQUIDATED else s.params[TAKER_FEE_PPM]
    filled = 0
    ticklots = 0
    for i in range(s.meta[BOOK_N]):
        kind = bout[i]["kind"]
        qty = bout[i]["qty"]
        price = bout[i]["price"]
        if kind == K_FILLED:
            taker = bout[i]["account"]
            maker = bout[i]["maker_account"]
            notional = qty * price * k
            t_fee = 0 if taker == INSURANCE_FUND else fee_micros(notional, taker_fee_ppm)
            m_fee = 0 if maker == INSURANCE_FUND else fee_micros(notional, s.params[MAKER_FEE_PPM])
            trade(
                s,
                (taker, bout[i]["order_id"], t_fee, taker_kind),
                (maker, bout[i]["maker_order_id"], m_fee, K_FILLED),
                np.int64(bout[i]["side"]),
                price,
                qty,
            )
            if maker != INSURANCE_FUND and s.acc.pos[maker] == 0 and collateral(s.acc, maker) < 0:
                # a resting close filled past bankruptcy (the mark had not caught up)
                cover_loss(s, maker)
            filled += qty
            ticklots += qty * price
        else:
            j = event(s, kind, bout[i]["account"], price, qty, 0)
            s.out[j]["reason"] = bout[i]["reason"]
            set_parties(s, j, bout[i]["side"], -1, bout[i]["order_id"])
    s.meta[BOOK_N] = 0
    return filled, ticklots


@njit(cache=True, inline="always")
def _reject(s, a, side, price, qty, reason, amount) -> None:
    """One ORDER_REJECTED event."""
    j = event(s, K_REJECTED, a, price, qty, amount)
    s.out[j]["reason"] = reason
    s.out[j]["side"] = side


@njit(cache=True, inline="always")
def margin_shortfall(s, a, side, price, qty) -> tuple:
    """Initial margin an order would need beyond the account's equity (0 if it fits).

    The worst case counts the position plus all open orders on the side that grows it, at the
    higher of the order price and the mark. Orders that do not grow the worst case need nothing
    (a reducing order is always allowed). Returns ``(shortfall, reason)``.
    """
    acc = s.acc
    mark = s.meta[MARK]
    k = s.params[K]
    p = acc.pos[a]
    ob = s.book.open_buy_lots[a]
    os_ = s.book.open_sell_lots[a]
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
    t = tier_of(notional, s.tiers.floor)
    if imr < s.tiers.imr_ppm[t]:
        return notional, R_MAX_LEVERAGE
    need = initial_margin_micros(notional, imr)
    equity = collateral(acc, a) + p * mark * k - acc.cost[a]
    if acc.flags[a] & ISOLATED:  # the free wallet can be moved in
        equity += acc.wallet[a]
    if equity >= need:
        return 0, 0
    return need - equity, R_MARGIN


@njit(cache=True, inline="always")
def order_room(s) -> tuple[int, int]:
    """``(events, book records)`` one order can write at most: the book's records (at most
    ``bk.submit_room``), four events per record (:func:`settle`), two for a loss the fund
    covers."""
    room = bk.submit_room(s.book)
    return 4 * room + 2, room


@njit(cache=True, inline="always")
def _has_order_room(s) -> bool:
    events, records = order_room(s)
    return s.out.shape[0] - s.meta[OUT_N] >= events and s.bout.shape[0] >= records


@no_refcount
def place(s, a, side, price, qty, tif, stp, reduce_only):
    """One order into the room :func:`order_room` asks for; returns its id (-1 when refused)."""
    if a < 0 or a >= s.meta[N_ACCOUNTS] or not (s.acc.flags[a] & EXISTS):
        _reject(s, a, side, price, qty, R_UNKNOWN_ACCOUNT, 0)
        return -1
    if qty > 0 and price > 0:
        if reduce_only:
            p = s.acc.pos[a]
            if p == 0 or (p > 0) == (side > 0):
                _reject(s, a, side, price, qty, R_REDUCE_ONLY, 0)
                return -1
            qty = min(qty, abs(p))
        else:
            short, reason = margin_shortfall(s, a, side, price, qty)
            if short > 0:
                _reject(s, a, side, price, qty, reason, short)
                return -1
    oid, s.meta[BOOK_N] = bk.submit_into(
        s.book, a, side, price, qty, tif, stp, s.bout, s.meta[BOOK_N]
    )
    settle(s, K_FILLED)
    if a != INSURANCE_FUND and s.acc.pos[a] == 0 and collateral(s.acc, a) < 0:
        # a close past bankruptcy (a stop in a gap): the fund covers it
        cover_loss(s, a)
    return oid


@njit(cache=True)
def place_order(s, a, side, price, qty, tif, stp, reduce_only):
    """Check and submit one order; returns ``(order_id, out, bout)`` (id -1 when refused)."""
    events, records = order_room(s)
    s = borrow_state(make_room(s, events, records))
    oid = place(s, a, side, price, qty, tif, stp, reduce_only)
    return oid, s.out, s.bout


@njit(cache=True)
def place_orders(s, cancels, orders, stp):
    """Every resting order of the accounts ``cancels`` cancelled (in order, settled), then the
    orders in sequence, each exactly as :func:`place_order`; a price of 0 is a market order
    (an IOC limited to the price band around the mark). ``orders``: the arrays ``(accounts,
    sides, prices, lots, tifs, reduce_only)``. Returns ``(order_ids, out, bout)``."""
    s = borrow_state(s)
    book = s.book
    bout = s.bout
    nb = 0
    for i in range(cancels.shape[0]):
        bout, nb = bk.cancel_account(book, cancels[i], bout, nb)
    s = with_buffers(s, s.out, bout)
    s.meta[BOOK_N] = nb
    s = make_room(s, 2 * nb, 0)
    settle(s, K_FILLED)
    accounts = orders[0]
    ids = np.full(accounts.shape[0], -1, np.int64)
    nxt = np.int64(0)  # not the constant 0: _place_batch would compile a second time for it
    while nxt < accounts.shape[0]:
        events, records = order_room(s)
        s = make_room(s, events, records)
        nxt = _place_batch(s, ids, nxt, orders, stp)
    return ids, s.out, s.bout


@no_refcount
def _place_batch(s, ids, start, orders, stp):
    """The orders of :func:`place_orders` from ``start`` on, their ids into ``ids``, while the
    buffers have the room the next one may need; returns the next order."""
    accounts, sides, prices, lots, tifs, reduce_only = orders
    for i in range(start, accounts.shape[0]):
        if not _has_order_room(s):
            return i
        price = prices[i]
        tif = tifs[i]
        if price == 0:
            price = band_limit_ticks(s.meta[MARK], s.params[BAND_PPM], sides[i])
            price = min(max(price, s.params[MIN_TICK]), s.params[MAX_TICK])
            tif = bk.TIF_IOC
        ids[i] = place(s, accounts[i], sides[i], price, lots[i], tif, stp, reduce_only[i])
    return accounts.shape[0]


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
def settle_records(s):
    """:func:`settle` called from Python: the book records ``bout[:meta[BOOK_N]]`` that a book
    kernel wrote. Returns ``(out, bout)``."""
    s = borrow_state(make_room(s, 4 * s.meta[BOOK_N], 0))
    settle(s, K_FILLED)
    return s.out, s.bout


@njit(cache=True)
def reindex_all(s, n_acc):
    """Re-key every account with a position (after funding moved every balance)."""
    s = borrow_state(s)
    for a in range(n_acc):
        if s.acc.pos[a] != 0 or s.idx.side[a] != 0:
            reindex(s, a)


@njit(cache=True)
def block_trades(s, accounts, lots, price, c):
    """Off-book trades of many accounts with one counterparty at one price, margin-checked;
    returns ``(out, bout)``.

    A refused trade leaves one ORDER_REJECTED event and changes nothing.
    """
    s = borrow_state(make_room(s, 2 * accounts.shape[0], 0))
    for i in range(accounts.shape[0]):
        a = accounts[i]
        side = 1 if lots[i] > 0 else -1
        q = abs(lots[i])
        s1, r1 = margin_shortfall(s, a, side, price, q)
        s2, r2 = margin_shortfall(s, c, -side, price, q)
        if s1 > 0 or s2 > 0:
            j = event(s, K_REJECTED, a, price, q, max(s1, s2))
            s.out[j]["reason"] = r1 if s1 > 0 else r2
            set_parties(s, j, side, c, -1)
            continue
        trade(s, party(a, K_FILLED), party(c, K_FILLED), side, price, q)
    return s.out, s.bout


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
