"""Price-time-priority limit order book, compiled with numba.

Why it looks like this:

* The state is a ``NamedTuple`` of flat numpy arrays (``BookState``) rather than a jitclass so the
  engine's own ``@njit`` kernels can take it as an argument, functions cache to disk
  (``cache=True``) and snapshots are plain arrays. Mutable scalars (best bid/ask, free-list head,
  id counter, ...) live in the ``meta`` int64 array.
* Orders live in a fixed-capacity pool with a LIFO free list, so the hot path never allocates.
  Price levels are dense arrays over the tick window ``[min_tick, max_tick]``: a price maps to
  its level by one subtraction, each level is a FIFO doubly-linked queue (O(1) append, O(1)
  cancel from the middle) and keeps its total lots, so depth and FOK checks do not walk orders.
  Best bid/ask are kept and only rescanned when the best level empties.
* Every resting order is also on its account's doubly-linked list (in id order, i.e. oldest
  first), so ``cancel_account`` is O(that account's orders), and each account keeps exact
  integer open sums (lots and price*lots per side) that margin checks read in O(1).
* Functions append event records to an ``out`` array and return ``(out, n_out)``; ``out`` is
  replaced by a bigger copy when full, so callers always rebind it. Their ``*_into`` cores
  write into room the caller reserved (:func:`reserve`, :func:`submit_room`) and return only
  numbers, so they compile without numba's reference counting (``pointers.no_refcount``).
* numba reference-counts every array passed into a compiled call with atomic instructions; the
  batch kernel therefore works on unmanaged ``carray`` views of the state and of ``out``
  (same numba types, so the kernels are shared), which more than doubles its throughput. Order
  rows are 64 bytes (``orders[slot]``), so touching an order costs one cache line.

Semantics the rest of the engine relies on (the pure-Python oracle of the tests,
``tests/oracles/reference_book.py``, is the executable spec and produces identical records and ids):

* **Order ids** are ``seq << 32 | slot``: ``seq`` counts accepted orders from 1 (so ids are
  positive, unique for the book's life and increase with submission order) and ``slot`` is the
  pool slot the order rests in, or ``NO_SLOT`` (``0xFFFFFFFF``) for IOC/FOK orders, which never
  rest. An id is live iff ``orders[slot, O_ID] == id``, so ids of filled, cancelled or expired orders are
  recognised as unknown. GTC/post-only orders take their slot (lowest-index-first LIFO free
  list, slots freed in the order orders leave the book, the taker's own unused slot last) when
  accepted, before matching.
* **BOOK_FULL**: a GTC/post-only order is rejected, book unchanged, when the pool has no free
  slot at submission, even if it would have filled completely. IOC/FOK never need a slot.
* **Validation order**: size, price, price band, account, then post-only cross, FOK
  fillability, then pool capacity. Bad ``side``/``tif``/``stp`` codes are programming errors and
  raise ``ValueError``.
* **STP** (self-trade prevention) applies when the taker meets a resting order of its own
  account (``STP_NONE`` lets them trade): ``STP_EXPIRE_TAKER`` stops matching and expires the
  taker's remainder (ORDER_EXPIRED, reason SELF_TRADE; a GTC remainder does not rest);
  ``STP_EXPIRE_MAKER`` cancels that resting order (ORDER_CANCELLED, reason SELF_TRADE, record
  about the maker) and keeps matching; ``STP_EXPIRE_BOTH`` does both. A FOK counts only the lots
  it could really take under its STP mode.
* **Records**: ACCEPTED precedes the fills; one FILLED per trade (taker's id/account/side,
  maker's price, traded lots, maker id/account, ``leaves`` = taker's remaining); an IOC/FOK
  remainder ends with ORDER_EXPIRED (qty = size removed). Rejections of ``submit`` carry
  ``order_id = -1`` and the submitted fields. Amend: 0 < new < leaves keeps priority, new > leaves
  moves to the back of the level, new == leaves is rejected AMEND_NOT_SMALLER; checks are size,
  then unknown order, then equality.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from margincall.venue.book_queries import (
    best_ask,
    best_bid,
    best_prices,
    depth_lots,
    depth_ticklots,
    level_lots,
    resting_count,
    walk,
)
from margincall.venue.book_slots import (
    _add_sums,
    _cancel_slot_into,
    _level_append,
    _level_unlink,
    _remove,
    _rescan_best,
    _slot_of,
    account_orders,
    cancel_account_into,
)
from margincall.venue.book_state import (
    _K_ACCEPTED,
    _K_AMENDED,
    _K_EXPIRED,
    _K_FILLED,
    _K_REJECTED,
    _M_BEST_ASK,
    _M_BEST_BID,
    _M_FREE_HEAD,
    _M_MAX_TICK,
    _M_MIN_TICK,
    _M_N_ACCOUNTS,
    _M_NEXT_SEQ,
    _M_RESTING,
    _M_RESTING_SIDE,
    _R_AMEND_NOT_SMALLER,
    _R_BOOK_FULL,
    _R_FOK_NOT_FILLABLE,
    _R_NON_POSITIVE_PRICE,
    _R_NON_POSITIVE_SIZE,
    _R_OUTSIDE_PRICE_BAND,
    _R_POST_ONLY_WOULD_CROSS,
    _R_SELF_TRADE,
    _R_UNKNOWN_ACCOUNT,
    _R_UNKNOWN_ORDER,
    A_HEAD,
    A_TAIL,
    BOOK_EVENT_DTYPE,
    L_HEAD,
    L_LOTS,
    L_TAIL,
    MESSAGE_DTYPE,
    NO_SLOT,
    O_ACCT,
    O_ANEXT,
    O_APREV,
    O_ID,
    O_LEAVES,
    O_NEXT,
    O_PRICE,
    OP_AMEND,
    OP_CANCEL,
    OP_CANCEL_ACCOUNT,
    OP_SUBMIT,
    STP_EXPIRE_BOTH,
    STP_EXPIRE_MAKER,
    STP_EXPIRE_TAKER,
    STP_NONE,
    TIF_FOK,
    TIF_GTC,
    TIF_IOC,
    TIF_POST_ONLY,
    BookState,
    _emit,
    _put,
    _put_maker,
    _unmanaged_book,
    new_book,
    reserve,
)
from margincall.venue.pointers import borrow, no_refcount

__all__ = [
    "BOOK_EVENT_DTYPE",
    "L_HEAD",
    "L_LOTS",
    "MESSAGE_DTYPE",
    "NO_SLOT",
    "OP_AMEND",
    "OP_CANCEL",
    "OP_CANCEL_ACCOUNT",
    "OP_SUBMIT",
    "O_ACCT",
    "O_ID",
    "O_LEAVES",
    "O_NEXT",
    "O_PRICE",
    "STP_EXPIRE_BOTH",
    "STP_EXPIRE_MAKER",
    "STP_EXPIRE_TAKER",
    "STP_NONE",
    "TIF_FOK",
    "TIF_GTC",
    "TIF_IOC",
    "TIF_POST_ONLY",
    "BookState",
    "account_orders",
    "amend",
    "best_ask",
    "best_bid",
    "best_prices",
    "cancel",
    "cancel_account",
    "cancel_account_into",
    "depth_lots",
    "depth_ticklots",
    "level_lots",
    "new_book",
    "process_messages",
    "reserve",
    "resting_count",
    "submit",
    "submit_into",
    "submit_room",
    "walk",
]


@njit(cache=True)
def _fillable(book, account, side, price, qty, stp):
    """Lots a taker could really take (respecting STP), stopping once ``qty`` is reached."""
    meta = book.meta
    orders = book.orders
    levels = book.levels
    mn = meta[_M_MIN_TICK]
    total = 0
    if side == 1:
        osi = 1
        p = meta[_M_BEST_ASK]
        end = min(price, meta[_M_MAX_TICK])
        step = 1
    else:
        osi = 0
        p = meta[_M_BEST_BID]
        end = max(price, mn)
        step = -1
    if p == 0:
        return 0
    while (p <= end) if step == 1 else (p >= end):
        li = p - mn
        if stp == STP_NONE:
            total += levels[osi, li, L_LOTS]
            if total >= qty:
                return total
        else:
            m = levels[osi, li, L_HEAD]
            while m >= 0:
                if orders[m, O_ACCT] >> 1 == account:
                    if stp != STP_EXPIRE_MAKER:
                        return total
                else:
                    total += orders[m, O_LEAVES]
                    if total >= qty:
                        return total
                m = orders[m, O_NEXT]
        p += step
    return total


# public kernels


@no_refcount
def submit_room(book):
    """Records one submit can write at most: acceptance or rejection, a fill or a self-trade
    cancel per resting order, the last partial fill, the expiry."""
    return book.meta[_M_RESTING] + 3


@njit(cache=True)
def submit(book, account, side, price, qty, tif, stp, out, n_out):
    """Submit an order; returns ``(order_id, out, n_out)`` (order_id -1 if rejected)."""
    out = reserve(out, n_out, submit_room(book))
    oid, n_out = submit_into(book, account, side, price, qty, tif, stp, out, n_out)
    return oid, out, n_out


@no_refcount
def submit_into(book, account, side, price, qty, tif, stp, out, n_out):
    """:func:`submit` into room the caller reserved (:func:`submit_room`); returns
    ``(order_id, n_out)``."""
    meta = book.meta
    if side != 1 and side != -1:
        raise ValueError("side must be +1 or -1")
    if tif < 0 or tif > 3:
        raise ValueError("tif must be TIF_GTC, TIF_IOC, TIF_FOK or TIF_POST_ONLY")
    if stp < 0 or stp > 3:
        raise ValueError("stp must be one of the STP_* constants")
    rests = tif in (TIF_GTC, TIF_POST_ONLY)
    reason = 0
    if qty <= 0:
        reason = _R_NON_POSITIVE_SIZE
    elif price <= 0:
        reason = _R_NON_POSITIVE_PRICE
    elif price < meta[_M_MIN_TICK] or price > meta[_M_MAX_TICK]:
        reason = _R_OUTSIDE_PRICE_BAND
    elif account < 0 or account >= meta[_M_N_ACCOUNTS]:
        reason = _R_UNKNOWN_ACCOUNT
    elif tif == TIF_POST_ONLY:
        if side == 1:
            if meta[_M_BEST_ASK] != 0 and price >= meta[_M_BEST_ASK]:
                reason = _R_POST_ONLY_WOULD_CROSS
        elif meta[_M_BEST_BID] != 0 and price <= meta[_M_BEST_BID]:
            reason = _R_POST_ONLY_WOULD_CROSS
    elif tif == TIF_FOK and _fillable(book, account, side, price, qty, stp) < qty:
        reason = _R_FOK_NOT_FILLABLE
    if reason == 0 and rests and meta[_M_FREE_HEAD] < 0:
        reason = _R_BOOK_FULL
    if reason != 0:
        _put(out, n_out, _K_REJECTED, reason, -1, account, side, price, qty, 0)
        return -1, n_out + 1

    orders = book.orders
    levels = book.levels
    accounts = book.accounts
    bl, sl = book.open_buy_lots, book.open_sell_lots
    btl, stl = book.open_buy_ticklots, book.open_sell_ticklots
    seq = meta[_M_NEXT_SEQ]
    meta[_M_NEXT_SEQ] = seq + 1
    if rests:
        slot = meta[_M_FREE_HEAD]
        meta[_M_FREE_HEAD] = orders[slot, O_NEXT]
        oid = (seq << 32) | slot
    else:
        slot = -1
        oid = (seq << 32) | NO_SLOT
    _put(out, n_out, _K_ACCEPTED, 0, oid, account, side, price, qty, qty)
    n_out += 1

    mn = meta[_M_MIN_TICK]
    remaining = qty
    stp_stop = False
    osi = 1 if side == 1 else 0
    while remaining > 0:
        if side == 1:
            best = meta[_M_BEST_ASK]
            if best == 0 or best > price:
                break
        else:
            best = meta[_M_BEST_BID]
            if best == 0 or best < price:
                break
        li = best - mn
        m = levels[osi, li, L_HEAD]
        while m >= 0 and remaining > 0:
            nxt = orders[m, O_NEXT]
            macct = orders[m, O_ACCT] >> 1
            if stp != STP_NONE and macct == account:
                if stp != STP_EXPIRE_TAKER:
                    n_out = _cancel_slot_into(book, m, _R_SELF_TRADE, out, n_out)
                if stp != STP_EXPIRE_MAKER:
                    stp_stop = True
                    break
                m = nxt
                continue
            mleaves = orders[m, O_LEAVES]
            trade = remaining if remaining < mleaves else mleaves
            remaining -= trade
            _put(out, n_out, _K_FILLED, 0, oid, account, side, best, trade, remaining)
            _put_maker(out, n_out, orders[m, O_ID], macct)
            n_out += 1
            if trade == mleaves:
                _remove(meta, orders, levels, accounts, m)
            else:
                orders[m, O_LEAVES] = mleaves - trade
                levels[osi, li, L_LOTS] -= trade
            _add_sums(bl, sl, btl, stl, macct, osi, best, -trade)
            m = nxt
        if levels[osi, li, L_HEAD] < 0:
            _rescan_best(meta, levels, osi, best)
        if stp_stop:
            break

    if remaining > 0:
        if not rests or stp_stop:
            _put(
                out,
                n_out,
                _K_EXPIRED,
                _R_SELF_TRADE if stp_stop else 0,
                oid,
                account,
                side,
                price,
                remaining,
                0,
            )
            n_out += 1
            if slot >= 0:
                orders[slot, O_NEXT] = meta[_M_FREE_HEAD]
                meta[_M_FREE_HEAD] = slot
        else:
            si = 1 - osi
            li = price - mn
            orders[slot, O_ID] = oid
            orders[slot, O_PRICE] = price
            orders[slot, O_LEAVES] = remaining
            orders[slot, O_ACCT] = (account << 1) | si
            _level_append(orders, levels, slot, si, li)
            levels[si, li, L_LOTS] += remaining
            _add_sums(bl, sl, btl, stl, account, si, price, remaining)
            tail = accounts[account, A_TAIL]
            orders[slot, O_APREV] = tail
            orders[slot, O_ANEXT] = -1
            if tail >= 0:
                orders[tail, O_ANEXT] = slot
            else:
                accounts[account, A_HEAD] = slot
            accounts[account, A_TAIL] = slot
            meta[_M_RESTING] += 1
            meta[_M_RESTING_SIDE + si] += 1
            if si == 0:
                if meta[_M_BEST_BID] == 0 or price > meta[_M_BEST_BID]:
                    meta[_M_BEST_BID] = price
            elif meta[_M_BEST_ASK] == 0 or price < meta[_M_BEST_ASK]:
                meta[_M_BEST_ASK] = price
    elif slot >= 0:
        orders[slot, O_NEXT] = meta[_M_FREE_HEAD]
        meta[_M_FREE_HEAD] = slot
    return oid, n_out


@njit(cache=True)
def cancel(book, order_id, out, n_out):
    """Cancel a resting order; an unknown or finished id is rejected UNKNOWN_ORDER."""
    slot = _slot_of(book.meta, book.orders, order_id)
    if slot < 0:
        return _emit(out, n_out, _K_REJECTED, _R_UNKNOWN_ORDER, order_id, -1, 0, 0, 0, 0)
    out = reserve(out, n_out, 1)
    return out, _cancel_slot_into(book, slot, 0, out, n_out)


@njit(cache=True)
def amend(book, order_id, new_qty, out, n_out):
    """Change the size of a resting order (down keeps priority, up goes to the back)."""
    orders = book.orders
    slot = _slot_of(book.meta, orders, order_id)
    reason = 0
    if new_qty <= 0:
        reason = _R_NON_POSITIVE_SIZE
    elif slot < 0:
        reason = _R_UNKNOWN_ORDER
    elif new_qty == orders[slot, O_LEAVES]:
        reason = _R_AMEND_NOT_SMALLER
    if reason != 0:
        if slot < 0:
            return _emit(out, n_out, _K_REJECTED, reason, order_id, -1, 0, 0, new_qty, 0)
        return _emit(
            out,
            n_out,
            _K_REJECTED,
            reason,
            order_id,
            orders[slot, O_ACCT] >> 1,
            1 - 2 * (orders[slot, O_ACCT] & 1),
            orders[slot, O_PRICE],
            new_qty,
            orders[slot, O_LEAVES],
        )
    levels = book.levels
    bl, sl = book.open_buy_lots, book.open_sell_lots
    btl, stl = book.open_buy_ticklots, book.open_sell_ticklots
    a = orders[slot, O_ACCT] >> 1
    si = orders[slot, O_ACCT] & 1
    price = orders[slot, O_PRICE]
    li = price - book.meta[_M_MIN_TICK]
    delta = new_qty - orders[slot, O_LEAVES]
    if delta > 0 and levels[si, li, L_TAIL] != slot:
        _level_unlink(orders, levels, slot, si, li)
        _level_append(orders, levels, slot, si, li)
    orders[slot, O_LEAVES] = new_qty
    levels[si, li, L_LOTS] += delta
    _add_sums(bl, sl, btl, stl, a, si, price, delta)
    return _emit(out, n_out, _K_AMENDED, 0, order_id, a, 1 - 2 * si, price, new_qty, new_qty)


@njit(cache=True)
def cancel_account(book, account, out, n_out):
    """Cancel every resting order of ``account``, oldest first (rejects an unknown account)."""
    if account < 0 or account >= book.meta[_M_N_ACCOUNTS]:
        return _emit(out, n_out, _K_REJECTED, _R_UNKNOWN_ACCOUNT, -1, account, 0, 0, 0, 0)
    out = reserve(out, n_out, account_orders(book, account))
    return out, cancel_account_into(book, account, out, n_out)


@njit(cache=True)
def process_messages(book, msgs, out, n_out):
    """Apply a batch of ``MESSAGE_DTYPE`` messages in order; returns ``(out, n_out)``.

    Cancel/amend target ``order_id``, unless ``ref >= 0``: then the target is the id returned
    to the earlier submit message number ``ref`` of this batch (-1, hence UNKNOWN_ORDER, if
    that message was rejected, was not a submit, or is not earlier).
    """
    n = msgs.shape[0]
    ids = np.empty(n, np.int64)
    book = _unmanaged_book(book)
    # `out` too is used through an unmanaged view; `managed` keeps the array that owns it
    # (the caller's, or the latest one a kernel grew) alive and is what we return
    managed = out
    out = borrow(managed)
    for i in range(n):
        if out.shape[0] - n_out < 64:  # kernels may grow it: take over the grown array
            managed = reserve(out, n_out, 64)
            out = borrow(managed)
        op = msgs[i]["op"]
        ids[i] = -1
        if op == OP_SUBMIT:
            oid, out, n_out = submit(
                book,
                np.int64(msgs[i]["account"]),
                np.int64(msgs[i]["side"]),
                np.int64(msgs[i]["price"]),
                np.int64(msgs[i]["qty"]),
                np.int64(msgs[i]["tif"]),
                np.int64(msgs[i]["stp"]),
                out,
                n_out,
            )
            ids[i] = oid
        elif op == OP_CANCEL or op == OP_AMEND:  # noqa: SIM109
            ref = msgs[i]["ref"]
            target = np.int64(msgs[i]["order_id"])
            if ref >= 0:
                target = ids[ref] if ref < i else np.int64(-1)
            if op == OP_CANCEL:
                out, n_out = cancel(book, target, out, n_out)
            else:
                out, n_out = amend(book, target, np.int64(msgs[i]["qty"]), out, n_out)
        elif op == OP_CANCEL_ACCOUNT:
            out, n_out = cancel_account(book, np.int64(msgs[i]["account"]), out, n_out)
        else:
            raise ValueError("unknown message op")
        if out.shape[0] != managed.shape[0]:  # a kernel grew `out` (more than 64 records)
            managed = out
            out = borrow(managed)
    return managed, n_out
