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

Semantics the rest of the engine relies on (the pure-Python :mod:`reference_book` is the
executable spec and produces identical records and ids):

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

from typing import NamedTuple

import numpy as np
from numba import njit

from margincall.core.errors import InvalidInputError
from margincall.events.schema import EventKind, RejectReason
from margincall.venue.pointers import borrow, no_refcount

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
_M_RESTING_SIDE = 9  # resting orders on the bid side; the ask side is the next slot
_META_LEN = 11

# order pool columns (one 64-byte row per slot)
O_ID = 0  # order id, -1 when the slot is free
O_PRICE = 1
O_LEAVES = 2
O_ACCT = 3  # account << 1 | side index (0 bid, 1 ask)
O_PREV = 4  # level queue links (the free list uses O_NEXT)
O_NEXT = 5
O_APREV = 6  # account list links
O_ANEXT = 7
# level columns
L_HEAD = 0
L_TAIL = 1
L_LOTS = 2
L_BLOCK = 3  # at the first tick of each 64-tick block: how many of its levels hold orders
BLOCK = 64
# account columns
A_HEAD = 0
A_TAIL = 1


class BookState(NamedTuple):
    """All book state as numpy arrays; links are slot numbers, -1 for none.

    ``orders[slot]`` is one 64-byte row (columns ``O_*``) so touching an order costs one cache
    line; ``levels[side_index, price - min_tick]`` holds head, tail and lots (side index 0 bids,
    1 asks); ``accounts[a]`` the head and tail of account ``a``'s resting orders.
    """

    meta: np.ndarray  # int64[_META_LEN]
    orders: np.ndarray  # int64[capacity, 8]
    levels: np.ndarray  # int64[2, n_ticks, 4]
    accounts: np.ndarray  # int64[n_accounts, 2]
    open_buy_lots: np.ndarray  # int64[n_accounts], resting buy lots
    open_sell_lots: np.ndarray  # int64[n_accounts]
    open_buy_ticklots: np.ndarray  # int64[n_accounts], sum of price * leaves
    open_sell_ticklots: np.ndarray  # int64[n_accounts]


def _aligned_rows(n_rows: int, n_cols: int) -> np.ndarray:
    """A zeroed C-contiguous int64 ``(n_rows, n_cols)`` array whose rows start on 64 bytes."""
    buf = np.zeros(n_rows * n_cols + 8, np.int64)
    skip = (-buf.ctypes.data % 64) // 8
    return buf[skip : skip + n_rows * n_cols].reshape(n_rows, n_cols)


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
    orders = _aligned_rows(order_capacity, 8)
    orders[:, O_ID] = -1
    orders[:, O_PREV] = -1
    orders[:, O_NEXT] = np.arange(1, order_capacity + 1)
    orders[-1, O_NEXT] = -1
    orders[:, O_APREV:] = -1
    levels = np.zeros((2, n_ticks, 4), np.int64)
    levels[:, :, L_HEAD] = -1
    levels[:, :, L_TAIL] = -1
    return BookState(
        meta=meta,
        orders=orders,
        levels=levels,
        accounts=np.full((n_accounts, 2), -1, np.int64),
        open_buy_lots=np.zeros(n_accounts, np.int64),
        open_sell_lots=np.zeros(n_accounts, np.int64),
        open_buy_ticklots=np.zeros(n_accounts, np.int64),
        open_sell_ticklots=np.zeros(n_accounts, np.int64),
    )


# ---------------------------------------------------------------------------------------------
# internals. Hot helpers take the few arrays they touch, not the whole BookState: numba
# reference-counts every array of a tuple argument on each call, with atomic instructions.


@njit(cache=True)
def _unmanaged_book(book):
    """The same state through views that numba does not reference-count.

    Every array passed into a compiled call costs an atomic increment and decrement; a batch
    loop calling the kernels per message would spend a third of its time there. Views built
    with ``carray`` carry no reference count and have the same numba type, so the kernels are
    shared. Only valid while ``book`` itself is alive (for the duration of the calling kernel).
    """
    return BookState(
        borrow(book.meta),
        borrow(book.orders),
        borrow(book.levels),
        borrow(book.accounts),
        borrow(book.open_buy_lots),
        borrow(book.open_sell_lots),
        borrow(book.open_buy_ticklots),
        borrow(book.open_sell_ticklots),
    )


@njit(cache=True)
def reserve(out, n_out, k):
    """``out`` with room for ``k`` more records after the first ``n_out`` (a bigger copy of it
    when it has less): what a caller does before an ``*_into`` kernel, which never grows it."""
    if out.shape[0] - n_out >= k:
        return out
    new = np.empty(max(64, 2 * out.shape[0], n_out + k), dtype=out.dtype)
    new[:n_out] = out[:n_out]
    return new


@njit(cache=True, inline="always")
def _put(out, n, kind, reason, order_id, account, side, price, qty, maker_id, maker_acct, leaves):
    # one field at a time through the array: numba writes through a record view far slower
    out[n]["kind"] = kind
    out[n]["reason"] = reason
    out[n]["order_id"] = order_id
    out[n]["account"] = account
    out[n]["side"] = side
    out[n]["price"] = price
    out[n]["qty"] = qty
    out[n]["maker_order_id"] = maker_id
    out[n]["maker_account"] = maker_acct
    out[n]["leaves"] = leaves


@njit(cache=True)
def _emit(out, n, kind, reason, order_id, account, side, price, qty, maker_id, maker_acct, leaves):
    out = reserve(out, n, 1)
    _put(out, n, kind, reason, order_id, account, side, price, qty, maker_id, maker_acct, leaves)
    return out, n + 1


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
    _put(out, n_out, _K_CANCELLED, reason, oid, a, 1 - 2 * si, price, leaves, -1, -1, 0)
    if levels[si, price - meta[_M_MIN_TICK], L_HEAD] < 0:
        if si == 0:
            if meta[_M_BEST_BID] == price:
                _rescan_best(meta, levels, 0, price)
        elif meta[_M_BEST_ASK] == price:
            _rescan_best(meta, levels, 1, price)
    return n_out + 1


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
        _put(out, n_out, _K_REJECTED, reason, -1, account, side, price, qty, -1, -1, 0)
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
    _put(out, n_out, _K_ACCEPTED, 0, oid, account, side, price, qty, -1, -1, qty)
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
            _put(
                out,
                n_out,
                _K_FILLED,
                0,
                oid,
                account,
                side,
                best,
                trade,
                orders[m, O_ID],
                macct,
                remaining,
            )
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
                -1,
                -1,
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
        return _emit(out, n_out, _K_REJECTED, _R_UNKNOWN_ORDER, order_id, -1, 0, 0, 0, -1, -1, 0)
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
            return _emit(out, n_out, _K_REJECTED, reason, order_id, -1, 0, 0, new_qty, -1, -1, 0)
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
            -1,
            -1,
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
    return _emit(
        out, n_out, _K_AMENDED, 0, order_id, a, 1 - 2 * si, price, new_qty, -1, -1, new_qty
    )


@njit(cache=True)
def cancel_account(book, account, out, n_out):
    """Cancel every resting order of ``account``, oldest first (rejects an unknown account)."""
    if account < 0 or account >= book.meta[_M_N_ACCOUNTS]:
        return _emit(out, n_out, _K_REJECTED, _R_UNKNOWN_ACCOUNT, -1, account, 0, 0, 0, -1, -1, 0)
    out = reserve(out, n_out, account_orders(book, account))
    return out, _cancel_account_into(book, account, out, n_out)


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
def _cancel_account_into(book, account, out, n_out):
    orders = book.orders
    slot = book.accounts[account, A_HEAD]
    while slot >= 0:
        nxt = orders[slot, O_ANEXT]
        n_out = _cancel_slot_into(book, slot, 0, out, n_out)
        slot = nxt
    return n_out


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


# ---------------------------------------------------------------------------------------------
# Python side


def check_invariants(book: BookState) -> None:
    """Recount the whole book from its links and raise ``InvariantViolation`` on any mismatch.

    Slow (Python loops); meant for tests and debug runs.
    """
    from margincall.core.errors import InvariantViolation

    meta, orders, levels = book.meta, book.orders, book.levels
    mn = int(meta[_M_MIN_TICK])
    n_acc = int(meta[_M_N_ACCOUNTS])
    seen: set[int] = set()
    sums = np.zeros((4, n_acc), np.int64)
    for si in (0, 1):
        best = 0
        for li in np.flatnonzero(levels[si, :, L_HEAD] >= 0):
            price = mn + int(li)
            if best == 0 or (si == 0 and price > best) or (si == 1 and price < best):
                best = price
            slot, prev, total = int(levels[si, li, L_HEAD]), -1, 0
            while slot >= 0:
                row = [int(v) for v in orders[slot]]
                if slot in seen or row[O_PREV] != prev:
                    raise InvariantViolation(f"broken level queue at price {price}")
                if row[O_PRICE] != price or row[O_ACCT] & 1 != si:
                    raise InvariantViolation(f"order in slot {slot} on the wrong level")
                if row[O_LEAVES] <= 0 or row[O_ID] & _SLOT_MASK != slot:
                    raise InvariantViolation(f"bad order in slot {slot}")
                seen.add(slot)
                total += row[O_LEAVES]
                a = row[O_ACCT] >> 1
                sums[si, a] += row[O_LEAVES]
                sums[si + 2, a] += row[O_LEAVES] * price
                prev, slot = slot, row[O_NEXT]
            if int(levels[si, li, L_TAIL]) != prev or total != int(levels[si, li, L_LOTS]):
                raise InvariantViolation(f"level {price} tail or lots mismatch")
        empty = levels[si, :, L_HEAD] < 0
        if np.any(levels[si, empty, L_LOTS] != 0) or np.any(levels[si, empty, L_TAIL] != -1):
            raise InvariantViolation("empty level with lots or a tail")
        n_ticks = levels.shape[1]
        pad = (-n_ticks) % BLOCK
        used = np.concatenate([~empty, np.zeros(pad, bool)]).reshape(-1, BLOCK).sum(axis=1)
        if np.any(levels[si, ::BLOCK, L_BLOCK] != used):
            raise InvariantViolation("a block's count of non-empty levels is wrong")
        if best != int(meta[_M_BEST_BID if si == 0 else _M_BEST_ASK]):
            raise InvariantViolation(f"best price of side index {si} is stale")
    bb, ba = int(meta[_M_BEST_BID]), int(meta[_M_BEST_ASK])
    if bb and ba and bb >= ba:
        raise InvariantViolation(f"crossed book at rest: bid {bb} >= ask {ba}")
    for si in (0, 1):
        n_side = sum(1 for slot in seen if int(orders[slot, O_ACCT]) & 1 == si)
        if n_side != int(meta[_M_RESTING_SIDE + si]):
            raise InvariantViolation(f"resting count of side index {si} is wrong")
    if len(seen) != int(meta[_M_RESTING]):
        raise InvariantViolation("resting count mismatch")
    listed = 0
    for a in range(n_acc):
        slot, prev, last_id = int(book.accounts[a, A_HEAD]), -1, -1
        while slot >= 0:
            if slot not in seen or int(orders[slot, O_ACCT]) >> 1 != a:
                raise InvariantViolation(f"account {a} list holds a foreign order")
            if int(orders[slot, O_APREV]) != prev or int(orders[slot, O_ID]) <= last_id:
                raise InvariantViolation(f"account {a} list out of order")
            listed += 1
            last_id = int(orders[slot, O_ID])
            prev, slot = slot, int(orders[slot, O_ANEXT])
        if int(book.accounts[a, A_TAIL]) != prev:
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
        if orders[slot, O_ID] != -1 or free > orders.shape[0]:
            raise InvariantViolation("free list corrupt")
        slot = int(orders[slot, O_NEXT])
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
        idx = np.flatnonzero(s.levels[si, :, L_HEAD] >= 0)
        if si == 0:
            idx = idx[::-1]
        result: list[Level] = []
        for li in idx:
            queue = []
            slot = int(s.levels[si, li, L_HEAD])
            while slot >= 0:
                row = s.orders[slot]
                queue.append((int(row[O_ID]), int(row[O_ACCT]) >> 1, int(row[O_LEAVES])))
                slot = int(row[O_NEXT])
            result.append((mn + int(li), queue))
        return result

    def check_invariants(self) -> None:
        """Raise ``InvariantViolation`` if the internal structure is inconsistent."""
        check_invariants(self.state)
