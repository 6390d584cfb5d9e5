"""The order book's order slots, price levels and account lists (see
:mod:`margincall.venue.book`).

Hot helpers take the few arrays they touch, not the whole ``BookState``: numba
reference-counts every array of a tuple argument on each call, with atomic instructions.
"""

from __future__ import annotations

from numba import njit

from margincall.venue.book_state import (
    _K_CANCELLED,
    _M_BEST_ASK,
    _M_BEST_BID,
    _M_CAPACITY,
    _M_FREE_HEAD,
    _M_MAX_TICK,
    _M_MIN_TICK,
    _M_RESTING,
    _M_RESTING_SIDE,
    _SLOT_MASK,
    A_HEAD,
    A_TAIL,
    BLOCK,
    L_BLOCK,
    L_HEAD,
    L_LOTS,
    L_TAIL,
    O_ACCT,
    O_ANEXT,
    O_APREV,
    O_ID,
    O_LEAVES,
    O_NEXT,
    O_PREV,
    O_PRICE,
    _put,
)
from margincall.venue.pointers import no_refcount


@njit(cache=True)
def _slot_of(meta, orders, order_id):
    """Slot of a resting order, or -1 if the id is not live."""
    if order_id <= 0:
        return -1
    slot = order_id & _SLOT_MASK
    if slot >= meta[_M_CAPACITY]:
        return -1
    if orders[slot, O_ID] != order_id:
        return -1
    return slot


@njit(cache=True, inline="always")
def _add_sums(bl, sl, btl, stl, account, si, price, lots):
    """Add ``lots`` (may be negative) at ``price`` to the open sums of ``account``.

    ``bl, sl, btl, stl``: the book's ``open_buy_lots, open_sell_lots, open_buy_ticklots,
    open_sell_ticklots``.
    """
    if si == 0:
        bl[account] += lots
        btl[account] += lots * price
    else:
        sl[account] += lots
        stl[account] += lots * price


@njit(cache=True, inline="always")
def _level_append(orders, levels, slot, si, li):
    tail = levels[si, li, L_TAIL]
    orders[slot, O_PREV] = tail
    orders[slot, O_NEXT] = -1
    if tail >= 0:
        orders[tail, O_NEXT] = slot
    else:
        levels[si, li, L_HEAD] = slot
        levels[si, li - (li & (BLOCK - 1)), L_BLOCK] += 1
    levels[si, li, L_TAIL] = slot


@njit(cache=True, inline="always")
def _level_unlink(orders, levels, slot, si, li):
    p = orders[slot, O_PREV]
    nx = orders[slot, O_NEXT]
    if p >= 0:
        orders[p, O_NEXT] = nx
    else:
        levels[si, li, L_HEAD] = nx
    if nx >= 0:
        orders[nx, O_PREV] = p
    else:
        levels[si, li, L_TAIL] = p
    if p < 0 and nx < 0:
        levels[si, li - (li & (BLOCK - 1)), L_BLOCK] -= 1


@no_refcount
def _rescan_best(meta, levels, si, from_price):
    """Best price of side ``si`` searching away from the spread starting at ``from_price``.

    Blocks of 64 ticks with no order are skipped by their count, so a wide gap between
    levels (a thin book in a crash) costs a block per 64 ticks, not a look at every tick.
    """
    mn = meta[_M_MIN_TICK]
    if meta[_M_RESTING_SIDE + si] == 0:  # nothing rests on this side: no scan to the window's end
        meta[_M_BEST_BID if si == 0 else _M_BEST_ASK] = 0
        return
    if si == 0:
        i = from_price - mn
        while i >= 0:
            b = i - (i & (BLOCK - 1))
            if levels[0, b, L_BLOCK] == 0:
                i = b - 1
                continue
            while i >= b:
                if levels[0, i, L_HEAD] >= 0:
                    meta[_M_BEST_BID] = mn + i
                    return
                i -= 1
        meta[_M_BEST_BID] = 0
    else:
        n = meta[_M_MAX_TICK] - mn + 1
        i = from_price - mn
        while i < n:
            b = i - (i & (BLOCK - 1))
            if levels[1, b, L_BLOCK] == 0:
                i = b + BLOCK
                continue
            end = min(b + BLOCK, n)
            while i < end:
                if levels[1, i, L_HEAD] >= 0:
                    meta[_M_BEST_ASK] = mn + i
                    return
                i += 1
        meta[_M_BEST_ASK] = 0


@njit(cache=True, inline="always")
def _remove(meta, orders, levels, accounts, slot):
    """Take a resting order off its level and account list and free its slot.

    Updates level lots by its leaves but not the account sums (the caller does, it has the
    arrays) and does not rescan the best price. Returns ``(account, side_index, price, leaves)``.
    """
    acct_si = orders[slot, O_ACCT]
    a = acct_si >> 1
    si = acct_si & 1
    price = orders[slot, O_PRICE]
    li = price - meta[_M_MIN_TICK]
    leaves = orders[slot, O_LEAVES]
    _level_unlink(orders, levels, slot, si, li)
    levels[si, li, L_LOTS] -= leaves
    p = orders[slot, O_APREV]
    nx = orders[slot, O_ANEXT]
    if p >= 0:
        orders[p, O_ANEXT] = nx
    else:
        accounts[a, A_HEAD] = nx
    if nx >= 0:
        orders[nx, O_APREV] = p
    else:
        accounts[a, A_TAIL] = p
    orders[slot, O_LEAVES] = 0
    orders[slot, O_ID] = -1
    orders[slot, O_NEXT] = meta[_M_FREE_HEAD]
    meta[_M_FREE_HEAD] = slot
    meta[_M_RESTING] -= 1
    meta[_M_RESTING_SIDE + si] -= 1
    return a, si, price, leaves


@njit(cache=True, inline="always")
def _cancel_slot_into(book, slot, reason, out, n_out):
    """Cancel the resting order in ``slot``: record (in reserved room), removal, sums and best
    price. Returns ``n_out + 1``."""
    meta = book.meta
    orders = book.orders
    levels = book.levels
    bl, sl = book.open_buy_lots, book.open_sell_lots
    btl, stl = book.open_buy_ticklots, book.open_sell_ticklots
    oid = orders[slot, O_ID]
    a, si, price, leaves = _remove(meta, orders, levels, book.accounts, slot)
    _add_sums(bl, sl, btl, stl, a, si, price, -leaves)
    _put(out, n_out, _K_CANCELLED, reason, oid, a, 1 - 2 * si, price, leaves, 0)
    if levels[si, price - meta[_M_MIN_TICK], L_HEAD] < 0:
        if si == 0:
            if meta[_M_BEST_BID] == price:
                _rescan_best(meta, levels, si, price)  # si, not a constant: one version
        elif meta[_M_BEST_ASK] == price:
            _rescan_best(meta, levels, si, price)
    return n_out + 1


@no_refcount
def account_orders(book, account):
    """How many orders of ``account`` rest in the book."""
    k = 0
    slot = book.accounts[account, A_HEAD]
    while slot >= 0:
        k += 1
        slot = book.orders[slot, O_ANEXT]
    return k


@no_refcount
def cancel_account_into(book, account, out, n_out):
    orders = book.orders
    slot = book.accounts[account, A_HEAD]
    while slot >= 0:
        nxt = orders[slot, O_ANEXT]
        n_out = _cancel_slot_into(book, slot, 0, out, n_out)
        slot = nxt
    return n_out
