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
  replaced by a doubled copy when full, so callers always rebind it.

Semantics the rest of the engine relies on (the pure-Python :mod:`reference_book` is the
executable spec and produces identical records and ids):

* **Order ids** are ``seq << 32 | slot``: ``seq`` counts accepted orders from 1 (so ids are
  positive, unique for the book's life and increase with submission order) and ``slot`` is the
  pool slot the order rests in, or ``NO_SLOT`` (``0xFFFFFFFF``) for IOC/FOK orders, which never
  rest. An id is live iff ``o_id[slot] == id``, so ids of filled, cancelled or expired orders are
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

from typing import NamedTuple

import numpy as np
from numba import njit

from margincall.core.errors import InvalidInputError
from margincall.events.schema import EventKind, RejectReason

__all__ = [
    "BOOK_EVENT_DTYPE",
    "MESSAGE_DTYPE",
    "NO_SLOT",
    "OP_AMEND",
    "OP_CANCEL",
    "OP_CANCEL_ACCOUNT",
    "OP_SUBMIT",
    "STP_EXPIRE_BOTH",
    "STP_EXPIRE_MAKER",
    "STP_EXPIRE_TAKER",
    "STP_NONE",
    "TIF_FOK",
    "TIF_GTC",
    "TIF_IOC",
    "TIF_POST_ONLY",
    "BookState",
    "OrderBook",
    "amend",
    "best_ask",
    "best_bid",
    "cancel",
    "cancel_account",
    "check_invariants",
    "depth_lots",
    "level_lots",
    "new_book",
    "process_messages",
    "resting_count",
    "submit",
    "walk",
]

BOOK_EVENT_DTYPE = np.dtype(
    [
        ("kind", "<i2"),  # EventKind
        ("reason", "<i2"),  # RejectReason or 0
        ("order_id", "<i8"),  # order the record is about (taker for fills), -1 if rejected
        ("account", "<i8"),
        ("side", "<i1"),
        ("price", "<i8"),  # ticks; the maker's price for fills
        ("qty", "<i8"),  # lots: traded, cancelled, expired, new size, or submitted
        ("maker_order_id", "<i8"),  # fills only, else -1
        ("maker_account", "<i8"),  # fills only, else -1
        ("leaves", "<i8"),  # remaining size of the order the record is about, after it
    ]
)
"""One record per book event; see the module docstring for the meaning per kind."""

MESSAGE_DTYPE = np.dtype(
    [
        ("op", "<i1"),  # OP_SUBMIT, OP_CANCEL, OP_AMEND, OP_CANCEL_ACCOUNT
        ("account", "<i8"),
        ("side", "<i1"),
        ("price", "<i8"),
        ("qty", "<i8"),  # submit size, or the new size of an amend
        ("tif", "<i1"),
        ("stp", "<i1"),
        ("order_id", "<i8"),  # target of cancel/amend when ref < 0
        ("ref", "<i8"),  # >= 0: target is the id returned to message number `ref` of the batch
    ]
)
"""Batch message for :func:`process_messages`."""

TIF_GTC = 0
TIF_IOC = 1
TIF_FOK = 2
TIF_POST_ONLY = 3

STP_NONE = 0
STP_EXPIRE_TAKER = 1
STP_EXPIRE_MAKER = 2
STP_EXPIRE_BOTH = 3

OP_SUBMIT = 0
OP_CANCEL = 1
OP_AMEND = 2
OP_CANCEL_ACCOUNT = 3

NO_SLOT = 0xFFFFFFFF
"""Slot part of the id of an IOC/FOK order (it never rests)."""

_SLOT_MASK = 0xFFFFFFFF
_MAX_CAPACITY = 0xFFFFFFFE

# numba freezes module globals as compile-time constants: keep them plain ints.
_K_ACCEPTED = int(EventKind.ORDER_ACCEPTED)
_K_REJECTED = int(EventKind.ORDER_REJECTED)
_K_FILLED = int(EventKind.ORDER_FILLED)
_K_CANCELLED = int(EventKind.ORDER_CANCELLED)
_K_EXPIRED = int(EventKind.ORDER_EXPIRED)
_K_AMENDED = int(EventKind.ORDER_AMENDED)

_R_NON_POSITIVE_SIZE = int(RejectReason.NON_POSITIVE_SIZE)
_R_NON_POSITIVE_PRICE = int(RejectReason.NON_POSITIVE_PRICE)
_R_OUTSIDE_PRICE_BAND = int(RejectReason.OUTSIDE_PRICE_BAND)
_R_UNKNOWN_ACCOUNT = int(RejectReason.UNKNOWN_ACCOUNT)
_R_POST_ONLY_WOULD_CROSS = int(RejectReason.POST_ONLY_WOULD_CROSS)
_R_FOK_NOT_FILLABLE = int(RejectReason.FOK_NOT_FILLABLE)
_R_BOOK_FULL = int(RejectReason.BOOK_FULL)
_R_UNKNOWN_ORDER = int(RejectReason.UNKNOWN_ORDER)
_R_AMEND_NOT_SMALLER = int(RejectReason.AMEND_NOT_SMALLER)
_R_SELF_TRADE = int(RejectReason.SELF_TRADE)

# meta slots
_M_MIN_TICK = 0
_M_MAX_TICK = 1
_M_CAPACITY = 2
_M_N_ACCOUNTS = 3
_M_BEST_BID = 4
_M_BEST_ASK = 5
_M_FREE_HEAD = 6
_M_RESTING = 7
_M_NEXT_SEQ = 8
_META_LEN = 9


class BookState(NamedTuple):
    """All book state as flat arrays (pool index = slot, level index = price - min_tick).

    Level arrays have shape ``(2, n_ticks)``: row 0 bids, row 1 asks. Links are slot numbers,
    -1 for none. ``o_id[slot]`` is -1 for a free slot.
    """

    meta: np.ndarray  # int64[_META_LEN]
    o_id: np.ndarray  # int64[capacity]
    o_price: np.ndarray  # int64[capacity]
    o_leaves: np.ndarray  # int64[capacity]
    o_account: np.ndarray  # int64[capacity]
    o_side: np.ndarray  # int64[capacity]
    o_prev: np.ndarray  # int32[capacity], level queue (free list uses o_next)
    o_next: np.ndarray  # int32[capacity]
    o_aprev: np.ndarray  # int32[capacity], account list
    o_anext: np.ndarray  # int32[capacity]
    lvl_head: np.ndarray  # int32[2, n_ticks]
    lvl_tail: np.ndarray  # int32[2, n_ticks]
    lvl_lots: np.ndarray  # int64[2, n_ticks]
    acct_head: np.ndarray  # int32[n_accounts]
    acct_tail: np.ndarray  # int32[n_accounts]
    open_buy_lots: np.ndarray  # int64[n_accounts]
    open_sell_lots: np.ndarray  # int64[n_accounts]
    open_buy_ticklots: np.ndarray  # int64[n_accounts], sum of price * leaves
    open_sell_ticklots: np.ndarray  # int64[n_accounts]


def new_book(min_tick: int, max_tick: int, order_capacity: int, n_accounts: int) -> BookState:
    """An empty book for prices in ``[min_tick, max_tick]`` ticks holding up to
    ``order_capacity`` resting orders of accounts ``0 .. n_accounts - 1``."""
    min_tick, max_tick = int(min_tick), int(max_tick)
    order_capacity, n_accounts = int(order_capacity), int(n_accounts)
    if min_tick < 1:
        raise InvalidInputError("min_tick", min_tick, "an integer >= 1")
    if max_tick < min_tick:
        raise InvalidInputError("max_tick", max_tick, f"an integer >= min_tick ({min_tick})")
    if not 1 <= order_capacity <= _MAX_CAPACITY:
        raise InvalidInputError("order_capacity", order_capacity, f"1 .. {_MAX_CAPACITY}")
    if n_accounts < 1:
        raise InvalidInputError("n_accounts", n_accounts, "an integer >= 1")
    n_ticks = max_tick - min_tick + 1
    meta = np.zeros(_META_LEN, np.int64)
    meta[_M_MIN_TICK] = min_tick
    meta[_M_MAX_TICK] = max_tick
    meta[_M_CAPACITY] = order_capacity
    meta[_M_N_ACCOUNTS] = n_accounts
    meta[_M_FREE_HEAD] = 0
    meta[_M_NEXT_SEQ] = 1
    o_next = np.arange(1, order_capacity + 1, dtype=np.int32)
    o_next[-1] = -1
    return BookState(
        meta=meta,
        o_id=np.full(order_capacity, -1, np.int64),
        o_price=np.zeros(order_capacity, np.int64),
        o_leaves=np.zeros(order_capacity, np.int64),
        o_account=np.zeros(order_capacity, np.int64),
        o_side=np.zeros(order_capacity, np.int64),
        o_prev=np.full(order_capacity, -1, np.int32),
        o_next=o_next,
        o_aprev=np.full(order_capacity, -1, np.int32),
        o_anext=np.full(order_capacity, -1, np.int32),
        lvl_head=np.full((2, n_ticks), -1, np.int32),
        lvl_tail=np.full((2, n_ticks), -1, np.int32),
        lvl_lots=np.zeros((2, n_ticks), np.int64),
        acct_head=np.full(n_accounts, -1, np.int32),
        acct_tail=np.full(n_accounts, -1, np.int32),
        open_buy_lots=np.zeros(n_accounts, np.int64),
        open_sell_lots=np.zeros(n_accounts, np.int64),
        open_buy_ticklots=np.zeros(n_accounts, np.int64),
        open_sell_ticklots=np.zeros(n_accounts, np.int64),
    )


# ---------------------------------------------------------------------------------------------
# internals


@njit(cache=True)
def _grow(out, n):
    new = np.empty(max(64, 2 * out.shape[0]), dtype=BOOK_EVENT_DTYPE)
    new[:n] = out[:n]
    return new


@njit(cache=True)
def _emit(out, n, kind, reason, order_id, account, side, price, qty, maker_id, maker_acct, leaves):
    if n >= out.shape[0]:
        out = _grow(out, n)
    r = out[n]
    r.kind = kind
    r.reason = reason
    r.order_id = order_id
    r.account = account
    r.side = side
    r.price = price
    r.qty = qty
    r.maker_order_id = maker_id
    r.maker_account = maker_acct
    r.leaves = leaves
    return out, n + 1


@njit(cache=True)
def _slot_of(book, order_id):
    """Slot of a resting order, or -1 if the id is not live."""
    if order_id <= 0:
        return -1
    slot = order_id & _SLOT_MASK
    if slot >= book.meta[_M_CAPACITY]:
        return -1
    if book.o_id[slot] != order_id:
        return -1
    return slot


@njit(cache=True)
def _add_sums(book, slot, lots):
    """Add ``lots`` (may be negative) of the order in ``slot`` to its account's open sums."""
    a = book.o_account[slot]
    if book.o_side[slot] == 1:
        book.open_buy_lots[a] += lots
        book.open_buy_ticklots[a] += lots * book.o_price[slot]
    else:
        book.open_sell_lots[a] += lots
        book.open_sell_ticklots[a] += lots * book.o_price[slot]


@njit(cache=True)
def _level_append(book, slot, si, li):
    tail = book.lvl_tail[si, li]
    book.o_prev[slot] = tail
    book.o_next[slot] = -1
    if tail >= 0:
        book.o_next[tail] = slot
    else:
        book.lvl_head[si, li] = slot
    book.lvl_tail[si, li] = slot


@njit(cache=True)
def _level_unlink(book, slot, si, li):
    p = book.o_prev[slot]
    nx = book.o_next[slot]
    if p >= 0:
        book.o_next[p] = nx
    else:
        book.lvl_head[si, li] = nx
    if nx >= 0:
        book.o_prev[nx] = p
    else:
        book.lvl_tail[si, li] = p


@njit(cache=True)
def _rescan_best(book, si, from_price):
    """Best price of side ``si`` searching away from the spread starting at ``from_price``."""
    mn = book.meta[_M_MIN_TICK]
    mx = book.meta[_M_MAX_TICK]
    head = book.lvl_head
    if si == 0:
        p = from_price
        while p >= mn:
            if head[0, p - mn] >= 0:
                book.meta[_M_BEST_BID] = p
                return
            p -= 1
        book.meta[_M_BEST_BID] = 0
    else:
        p = from_price
        while p <= mx:
            if head[1, p - mn] >= 0:
                book.meta[_M_BEST_ASK] = p
                return
            p += 1
        book.meta[_M_BEST_ASK] = 0


@njit(cache=True)
def _free_slot(book, slot):
    book.o_id[slot] = -1
    book.o_next[slot] = book.meta[_M_FREE_HEAD]
    book.meta[_M_FREE_HEAD] = slot


@njit(cache=True)
def _remove(book, slot):
    """Take a resting order off its level and account list and free its slot.

    Updates level lots and account sums by its leaves. Does not rescan the best price.
    """
    side = book.o_side[slot]
    si = 0 if side == 1 else 1
    li = book.o_price[slot] - book.meta[_M_MIN_TICK]
    leaves = book.o_leaves[slot]
    _level_unlink(book, slot, si, li)
    book.lvl_lots[si, li] -= leaves
    _add_sums(book, slot, -leaves)
    a = book.o_account[slot]
    p = book.o_aprev[slot]
    nx = book.o_anext[slot]
    if p >= 0:
        book.o_anext[p] = nx
    else:
        book.acct_head[a] = nx
    if nx >= 0:
        book.o_aprev[nx] = p
    else:
        book.acct_tail[a] = p
    book.o_leaves[slot] = 0
    book.meta[_M_RESTING] -= 1
    _free_slot(book, slot)


@njit(cache=True)
def _remove_and_rescan(book, slot):
    side = book.o_side[slot]
    price = book.o_price[slot]
    si = 0 if side == 1 else 1
    _remove(book, slot)
    if book.lvl_head[si, price - book.meta[_M_MIN_TICK]] < 0:
        if si == 0 and book.meta[_M_BEST_BID] == price:
            _rescan_best(book, 0, price)
        elif si == 1 and book.meta[_M_BEST_ASK] == price:
            _rescan_best(book, 1, price)


@njit(cache=True)
def _fillable(book, account, side, price, qty, stp):
    """Lots a taker could really take (respecting STP), stopping once ``qty`` is reached."""
    mn = book.meta[_M_MIN_TICK]
    total = 0
    if side == 1:
        osi = 1
        p = book.meta[_M_BEST_ASK]
        if p == 0:
            return 0
        end = min(price, book.meta[_M_MAX_TICK])
        step = 1
    else:
        osi = 0
        p = book.meta[_M_BEST_BID]
        if p == 0:
            return 0
        end = max(price, mn)
        step = -1
    while (p <= end) if step == 1 else (p >= end):
        li = p - mn
        if stp == STP_NONE:
            total += book.lvl_lots[osi, li]
            if total >= qty:
                return total
        else:
            m = book.lvl_head[osi, li]
            while m >= 0:
                if book.o_account[m] == account:
                    if stp != STP_EXPIRE_MAKER:
                        return total
                else:
                    total += book.o_leaves[m]
                    if total >= qty:
                        return total
                m = book.o_next[m]
        p += step
    return total


# ---------------------------------------------------------------------------------------------
# public kernels


@njit(cache=True)
def best_bid(book):
    """Best bid in ticks, 0 if there is no bid."""
    return book.meta[_M_BEST_BID]


@njit(cache=True)
def best_ask(book):
    """Best ask in ticks, 0 if there is no ask."""
    return book.meta[_M_BEST_ASK]


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
    return book.lvl_lots[0 if side == 1 else 1, price - mn]


@njit(cache=True)
def depth_lots(book, side, best_price, worst_price):
    """Resting lots on ``side`` at prices between the two bounds, inclusive (any order)."""
    mn = book.meta[_M_MIN_TICK]
    lo = max(min(best_price, worst_price), mn)
    hi = min(max(best_price, worst_price), book.meta[_M_MAX_TICK])
    si = 0 if side == 1 else 1
    total = 0
    for p in range(lo, hi + 1):
        total += book.lvl_lots[si, p - mn]
    return total


@njit(cache=True)
def walk(book, taker_side, qty, limit_price):
    """``(filled_lots, ticklots)`` a taker of ``qty`` could fill up to ``limit_price``.

    Read-only; ignores STP. ``ticklots`` is the sum of price * lots over the fills.
    """
    mn = book.meta[_M_MIN_TICK]
    filled = 0
    ticklots = 0
    if qty <= 0:
        return filled, ticklots
    if taker_side == 1:
        p = book.meta[_M_BEST_ASK]
        if p == 0:
            return filled, ticklots
        end = min(limit_price, book.meta[_M_MAX_TICK])
        while p <= end and filled < qty:
            take = min(book.lvl_lots[1, p - mn], qty - filled)
            filled += take
            ticklots += take * p
            p += 1
    else:
        p = book.meta[_M_BEST_BID]
        if p == 0:
            return filled, ticklots
        end = max(limit_price, mn)
        while p >= end and filled < qty:
            take = min(book.lvl_lots[0, p - mn], qty - filled)
            filled += take
            ticklots += take * p
            p -= 1
    return filled, ticklots


@njit(cache=True)
def submit(book, account, side, price, qty, tif, stp, out, n_out):
    """Submit an order; returns ``(order_id, out, n_out)`` (order_id -1 if rejected)."""
    meta = book.meta
    if side != 1 and side != -1:
        raise ValueError("side must be +1 or -1")
    if tif < 0 or tif > 3:
        raise ValueError("tif must be TIF_GTC, TIF_IOC, TIF_FOK or TIF_POST_ONLY")
    if stp < 0 or stp > 3:
        raise ValueError("stp must be one of the STP_* constants")
    rests = tif == TIF_GTC or tif == TIF_POST_ONLY
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
    elif tif == TIF_FOK:
        if _fillable(book, account, side, price, qty, stp) < qty:
            reason = _R_FOK_NOT_FILLABLE
    if reason == 0 and rests and meta[_M_FREE_HEAD] < 0:
        reason = _R_BOOK_FULL
    if reason != 0:
        out, n_out = _emit(
            out, n_out, _K_REJECTED, reason, -1, account, side, price, qty, -1, -1, 0
        )
        return -1, out, n_out

    seq = meta[_M_NEXT_SEQ]
    meta[_M_NEXT_SEQ] = seq + 1
    if rests:
        slot = meta[_M_FREE_HEAD]
        meta[_M_FREE_HEAD] = book.o_next[slot]
        oid = (seq << 32) | slot
    else:
        slot = -1
        oid = (seq << 32) | NO_SLOT
    out, n_out = _emit(out, n_out, _K_ACCEPTED, 0, oid, account, side, price, qty, -1, -1, qty)

    mn = meta[_M_MIN_TICK]
    remaining = qty
    stp_stop = False
    osi = 1 if side == 1 else 0
    lvl_head = book.lvl_head
    lvl_lots = book.lvl_lots
    o_next = book.o_next
    o_leaves = book.o_leaves
    o_account = book.o_account
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
        m = lvl_head[osi, li]
        while m >= 0 and remaining > 0:
            nxt = o_next[m]
            macct = o_account[m]
            if stp != STP_NONE and macct == account:
                if stp != STP_EXPIRE_TAKER:
                    out, n_out = _emit(
                        out,
                        n_out,
                        _K_CANCELLED,
                        _R_SELF_TRADE,
                        book.o_id[m],
                        macct,
                        -side,
                        best,
                        o_leaves[m],
                        -1,
                        -1,
                        0,
                    )
                    _remove(book, m)
                if stp != STP_EXPIRE_MAKER:
                    stp_stop = True
                    break
                m = nxt
                continue
            mleaves = o_leaves[m]
            trade = remaining if remaining < mleaves else mleaves
            remaining -= trade
            out, n_out = _emit(
                out,
                n_out,
                _K_FILLED,
                0,
                oid,
                account,
                side,
                best,
                trade,
                book.o_id[m],
                macct,
                remaining,
            )
            if trade == mleaves:
                _remove(book, m)
            else:
                o_leaves[m] = mleaves - trade
                lvl_lots[osi, li] -= trade
                _add_sums(book, m, -trade)
            m = nxt
        if lvl_head[osi, li] < 0:
            _rescan_best(book, osi, best)
        if stp_stop:
            break

    if remaining > 0:
        if not rests or stp_stop:
            out, n_out = _emit(
                out,
                n_out,
                _K_EXPIRED,
                _R_SELF_TRADE if stp_stop else 0,
                oid,
                account,
                side,
                price,
                remaining,
                -1,
                -1,
                0,
            )
            if slot >= 0:
                _free_slot(book, slot)
        else:
            si = 0 if side == 1 else 1
            li = price - mn
            book.o_id[slot] = oid
            book.o_price[slot] = price
            book.o_leaves[slot] = remaining
            book.o_account[slot] = account
            book.o_side[slot] = side
            _level_append(book, slot, si, li)
            lvl_lots[si, li] += remaining
            _add_sums(book, slot, remaining)
            tail = book.acct_tail[account]
            book.o_aprev[slot] = tail
            book.o_anext[slot] = -1
            if tail >= 0:
                book.o_anext[tail] = slot
            else:
                book.acct_head[account] = slot
            book.acct_tail[account] = slot
            meta[_M_RESTING] += 1
            if side == 1:
                if meta[_M_BEST_BID] == 0 or price > meta[_M_BEST_BID]:
                    meta[_M_BEST_BID] = price
            elif meta[_M_BEST_ASK] == 0 or price < meta[_M_BEST_ASK]:
                meta[_M_BEST_ASK] = price
    elif slot >= 0:
        _free_slot(book, slot)
    return oid, out, n_out


@njit(cache=True)
def cancel(book, order_id, out, n_out):
    """Cancel a resting order; an unknown or finished id is rejected UNKNOWN_ORDER."""
    slot = _slot_of(book, order_id)
    if slot < 0:
        return _emit(out, n_out, _K_REJECTED, _R_UNKNOWN_ORDER, order_id, -1, 0, 0, 0, -1, -1, 0)
    out, n_out = _emit(
        out,
        n_out,
        _K_CANCELLED,
        0,
        order_id,
        book.o_account[slot],
        book.o_side[slot],
        book.o_price[slot],
        book.o_leaves[slot],
        -1,
        -1,
        0,
    )
    _remove_and_rescan(book, slot)
    return out, n_out


@njit(cache=True)
def amend(book, order_id, new_qty, out, n_out):
    """Change the size of a resting order (down keeps priority, up goes to the back)."""
    slot = _slot_of(book, order_id)
    reason = 0
    if new_qty <= 0:
        reason = _R_NON_POSITIVE_SIZE
    elif slot < 0:
        reason = _R_UNKNOWN_ORDER
    elif new_qty == book.o_leaves[slot]:
        reason = _R_AMEND_NOT_SMALLER
    if reason != 0:
        if slot < 0:
            return _emit(out, n_out, _K_REJECTED, reason, order_id, -1, 0, 0, new_qty, -1, -1, 0)
        return _emit(
            out,
            n_out,
            _K_REJECTED,
            reason,
            order_id,
            book.o_account[slot],
            book.o_side[slot],
            book.o_price[slot],
            new_qty,
            -1,
            -1,
            book.o_leaves[slot],
        )
    side = book.o_side[slot]
    si = 0 if side == 1 else 1
    li = book.o_price[slot] - book.meta[_M_MIN_TICK]
    delta = new_qty - book.o_leaves[slot]
    if delta > 0 and book.lvl_tail[si, li] != slot:
        _level_unlink(book, slot, si, li)
        _level_append(book, slot, si, li)
    book.o_leaves[slot] = new_qty
    book.lvl_lots[si, li] += delta
    _add_sums(book, slot, delta)
    return _emit(
        out,
        n_out,
        _K_AMENDED,
        0,
        order_id,
        book.o_account[slot],
        side,
        book.o_price[slot],
        new_qty,
        -1,
        -1,
        new_qty,
    )


@njit(cache=True)
def cancel_account(book, account, out, n_out):
    """Cancel every resting order of ``account``, oldest first (rejects an unknown account)."""
    if account < 0 or account >= book.meta[_M_N_ACCOUNTS]:
        return _emit(out, n_out, _K_REJECTED, _R_UNKNOWN_ACCOUNT, -1, account, 0, 0, 0, -1, -1, 0)
    slot = book.acct_head[account]
    while slot >= 0:
        nxt = book.o_anext[slot]
        out, n_out = _emit(
            out,
            n_out,
            _K_CANCELLED,
            0,
            book.o_id[slot],
            account,
            book.o_side[slot],
            book.o_price[slot],
            book.o_leaves[slot],
            -1,
            -1,
            0,
        )
        _remove_and_rescan(book, slot)
        slot = nxt
    return out, n_out


@njit(cache=True)
def process_messages(book, msgs, out, n_out):
    """Apply a batch of ``MESSAGE_DTYPE`` messages in order; returns ``(out, n_out)``.

    Cancel/amend target ``order_id``, unless ``ref >= 0``: then the target is the id returned
    to the earlier submit message number ``ref`` of this batch (-1, hence UNKNOWN_ORDER, if
    that message was rejected, was not a submit, or is not earlier).
    """
    n = msgs.shape[0]
    ids = np.empty(n, np.int64)
    for i in range(n):
        m = msgs[i]
        op = m.op
        ids[i] = -1
        if op == OP_SUBMIT:
            oid, out, n_out = submit(
                book,
                np.int64(m.account),
                np.int64(m.side),
                np.int64(m.price),
                np.int64(m.qty),
                np.int64(m.tif),
                np.int64(m.stp),
                out,
                n_out,
            )
            ids[i] = oid
        elif op == OP_CANCEL or op == OP_AMEND:
            ref = m.ref
            if ref >= 0:
                target = ids[ref] if ref < i else np.int64(-1)
            else:
                target = np.int64(m.order_id)
            if op == OP_CANCEL:
                out, n_out = cancel(book, target, out, n_out)
            else:
                out, n_out = amend(book, target, np.int64(m.qty), out, n_out)
        elif op == OP_CANCEL_ACCOUNT:
            out, n_out = cancel_account(book, np.int64(m.account), out, n_out)
        else:
            raise ValueError("unknown message op")
    return out, n_out


# ---------------------------------------------------------------------------------------------
# Python side


def check_invariants(book: BookState) -> None:
    """Recount the whole book from its links and raise ``InvariantViolation`` on any mismatch.

    Slow (Python loops); meant for tests and debug runs.
    """
    from margincall.core.errors import InvariantViolation

    meta = book.meta
    mn = int(meta[_M_MIN_TICK])
    n_acc = int(meta[_M_N_ACCOUNTS])
    seen: set[int] = set()
    sums = np.zeros((4, n_acc), np.int64)
    for si, side in ((0, 1), (1, -1)):
        best = 0
        for li in np.flatnonzero(book.lvl_head[si] >= 0):
            price = mn + int(li)
            if best == 0 or (side == 1 and price > best) or (side == -1 and price < best):
                best = price
            slot, prev, total = int(book.lvl_head[si, li]), -1, 0
            while slot >= 0:
                if slot in seen or int(book.o_prev[slot]) != prev:
                    raise InvariantViolation(f"broken level queue at price {price}")
                if book.o_price[slot] != price or book.o_side[slot] != side:
                    raise InvariantViolation(f"order in slot {slot} on the wrong level")
                if book.o_leaves[slot] <= 0 or _SLOT_MASK & int(book.o_id[slot]) != slot:
                    raise InvariantViolation(f"bad order in slot {slot}")
                seen.add(slot)
                total += int(book.o_leaves[slot])
                a = int(book.o_account[slot])
                k = 0 if side == 1 else 1
                sums[k, a] += book.o_leaves[slot]
                sums[k + 2, a] += book.o_leaves[slot] * price
                prev, slot = slot, int(book.o_next[slot])
            if int(book.lvl_tail[si, li]) != prev or total != int(book.lvl_lots[si, li]):
                raise InvariantViolation(f"level {price} tail or lots mismatch")
        if np.any(book.lvl_lots[si][book.lvl_head[si] < 0] != 0):
            raise InvariantViolation("empty level with lots")
        if best != int(meta[_M_BEST_BID if si == 0 else _M_BEST_ASK]):
            raise InvariantViolation(f"best price of side {side} is stale")
    bb, ba = int(meta[_M_BEST_BID]), int(meta[_M_BEST_ASK])
    if bb and ba and bb >= ba:
        raise InvariantViolation(f"crossed book at rest: bid {bb} >= ask {ba}")
    if len(seen) != int(meta[_M_RESTING]):
        raise InvariantViolation("resting count mismatch")
    listed = 0
    for a in range(n_acc):
        slot, prev, last_id = int(book.acct_head[a]), -1, -1
        while slot >= 0:
            if slot not in seen or int(book.o_account[slot]) != a:
                raise InvariantViolation(f"account {a} list holds a foreign order")
            if int(book.o_aprev[slot]) != prev or int(book.o_id[slot]) <= last_id:
                raise InvariantViolation(f"account {a} list out of order")
            listed += 1
            last_id = int(book.o_id[slot])
            prev, slot = slot, int(book.o_anext[slot])
        if int(book.acct_tail[a]) != prev:
            raise InvariantViolation(f"account {a} list tail mismatch")
    if listed != len(seen):
        raise InvariantViolation("account lists do not cover the book")
    kept = np.stack(
        [book.open_buy_lots, book.open_sell_lots, book.open_buy_ticklots, book.open_sell_ticklots]
    )
    if not np.array_equal(kept, sums):
        raise InvariantViolation("per-account open sums differ from a recount")
    free = 0
    slot = int(meta[_M_FREE_HEAD])
    while slot >= 0:
        free += 1
        if book.o_id[slot] != -1 or free > book.o_id.shape[0]:
            raise InvariantViolation("free list corrupt")
        slot = int(book.o_next[slot])
    if free + len(seen) != int(meta[_M_CAPACITY]):
        raise InvariantViolation("slots leaked")


Level = tuple[int, list[tuple[int, int, int]]]


class OrderBook:
    """Python wrapper around a :class:`BookState` for tests, tools and snapshots.

    Every mutating method returns the records it produced as a fresh ``BOOK_EVENT_DTYPE`` array.
    """

    def __init__(self, min_tick: int, max_tick: int, order_capacity: int, n_accounts: int):
        self.state = new_book(min_tick, max_tick, order_capacity, n_accounts)
        self._out = np.empty(64, BOOK_EVENT_DTYPE)

    def _take(self, out: np.ndarray, n: int) -> np.ndarray:
        self._out = out
        return out[:n].copy()

    def submit(
        self,
        account: int,
        side: int,
        price: int,
        qty: int,
        tif: int = TIF_GTC,
        stp: int = STP_NONE,
    ) -> tuple[int, np.ndarray]:
        """Submit an order; returns ``(order_id or -1, records)``."""
        if side not in (1, -1):
            raise InvalidInputError("side", side, "+1 (buy) or -1 (sell)")
        if tif not in (TIF_GTC, TIF_IOC, TIF_FOK, TIF_POST_ONLY):
            raise InvalidInputError("tif", tif, "one of TIF_GTC, TIF_IOC, TIF_FOK, TIF_POST_ONLY")
        if stp not in (STP_NONE, STP_EXPIRE_TAKER, STP_EXPIRE_MAKER, STP_EXPIRE_BOTH):
            raise InvalidInputError("stp", stp, "one of the STP_* constants")
        oid, out, n = submit(
            self.state,
            int(account),
            int(side),
            int(price),
            int(qty),
            int(tif),
            int(stp),
            self._out,
            0,
        )
        return int(oid), self._take(out, n)

    def cancel(self, order_id: int) -> np.ndarray:
        """Cancel a resting order."""
        return self._take(*cancel(self.state, int(order_id), self._out, 0))

    def amend(self, order_id: int, new_qty: int) -> np.ndarray:
        """Change the size of a resting order."""
        return self._take(*amend(self.state, int(order_id), int(new_qty), self._out, 0))

    def cancel_account(self, account: int) -> np.ndarray:
        """Cancel all resting orders of an account, oldest first."""
        return self._take(*cancel_account(self.state, int(account), self._out, 0))

    def process_messages(self, msgs: np.ndarray) -> np.ndarray:
        """Apply a ``MESSAGE_DTYPE`` batch; returns all records."""
        return self._take(*process_messages(self.state, msgs, self._out, 0))

    def best_bid(self) -> int:
        """Best bid, 0 if none."""
        return int(self.state.meta[_M_BEST_BID])

    def best_ask(self) -> int:
        """Best ask, 0 if none."""
        return int(self.state.meta[_M_BEST_ASK])

    def resting_count(self) -> int:
        """Number of resting orders."""
        return int(self.state.meta[_M_RESTING])

    def level_lots(self, side: int, price: int) -> int:
        """Resting lots at one price."""
        return int(level_lots(self.state, int(side), int(price)))

    def depth_lots(self, side: int, best_price: int, worst_price: int) -> int:
        """Resting lots between two prices inclusive."""
        return int(depth_lots(self.state, int(side), int(best_price), int(worst_price)))

    def walk(self, taker_side: int, qty: int, limit_price: int) -> tuple[int, int]:
        """``(filled_lots, ticklots)`` a taker could fill, without changing the book."""
        f, t = walk(self.state, int(taker_side), int(qty), int(limit_price))
        return int(f), int(t)

    def open_sums(self, account: int) -> tuple[int, int, int, int]:
        """``(buy_lots, sell_lots, buy_ticklots, sell_ticklots)`` resting for an account."""
        s = self.state
        return (
            int(s.open_buy_lots[account]),
            int(s.open_sell_lots[account]),
            int(s.open_buy_ticklots[account]),
            int(s.open_sell_ticklots[account]),
        )

    def levels(self, side: int) -> list[Level]:
        """``[(price, [(order_id, account, leaves), ...]), ...]`` best price first, FIFO."""
        s = self.state
        si = 0 if side == 1 else 1
        mn = int(s.meta[_M_MIN_TICK])
        idx = np.flatnonzero(s.lvl_head[si] >= 0)
        if si == 0:
            idx = idx[::-1]
        result: list[Level] = []
        for li in idx:
            orders = []
            slot = int(s.lvl_head[si, li])
            while slot >= 0:
                orders.append((int(s.o_id[slot]), int(s.o_account[slot]), int(s.o_leaves[slot])))
                slot = int(s.o_next[slot])
            result.append((mn + int(li), orders))
        return result

    def check_invariants(self) -> None:
        """Raise ``InvariantViolation`` if the internal structure is inconsistent."""
        check_invariants(self.state)
