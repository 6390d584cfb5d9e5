"""The order book's arrays, codes and records (see :mod:`margincall.venue.book`).

``BookState`` holds the whole book as flat numpy arrays; the constants name its columns and
slots. Book kernels append ``BOOK_EVENT_DTYPE`` records to an ``out`` array: :func:`reserve`
makes room, :func:`_put` writes one record into it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from margincall.core.errors import InvalidInputError
from margincall.events.schema import EventKind, RejectReason
from margincall.venue.pointers import borrow

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
def _put(out, n, kind, reason, order_id, account, side, price, qty, leaves):
    """Record ``n``, about no maker (a fill sets its maker with :func:`_put_maker`)."""
    # one field at a time through the array: numba writes through a record view far slower
    out[n]["kind"] = kind
    out[n]["reason"] = reason
    out[n]["order_id"] = order_id
    out[n]["account"] = account
    out[n]["side"] = side
    out[n]["price"] = price
    out[n]["qty"] = qty
    out[n]["maker_order_id"] = -1
    out[n]["maker_account"] = -1
    out[n]["leaves"] = leaves


@njit(cache=True, inline="always")
def _put_maker(out, n, maker_id, maker_acct):
    out[n]["maker_order_id"] = maker_id
    out[n]["maker_account"] = maker_acct


@njit(cache=True, inline="always")
def _emit(out, n, kind, reason, order_id, account, side, price, qty, leaves):
    out = reserve(out, n, 1)
    _put(out, n, kind, reason, order_id, account, side, price, qty, leaves)
    return out, n + 1
