"""The venue's state as one handle for the compiled kernels, and its borrowed views.

Every kernel takes a :class:`VenueState` as its first argument: the accounts, the liquidation
index, the book, the venue-wide integers (``meta``: clock, prices, the event and book-record
cursors, the liquidation round), the rule parameters, the margin tiers, and the two buffers the
kernel writes into: ``out`` (events, ``meta[OUT_N]`` of them written) and ``bout`` (the book's
records, ``meta[BOOK_N]`` of them waiting to be settled).

numba reference-counts every array of every argument on every call between compiled
functions, with atomic instructions; with a few dozen state arrays per call that costs more than
the work itself. An entry kernel (one Python calls) therefore reserves the room its work may
need, then rebuilds the state from raw pointers with ``carray`` (:func:`borrow_state`): same
numba types, no reference count. A borrowed view is only valid while the arrays it came from
are alive, i.e. for the duration of the kernel call that made it. The buffers stay managed:
a kernel that grows one (:func:`make_room`) returns the new state, and the entry kernel hands
the buffers back to Python.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import carray, njit

from margincall.venue.accounts import ACCOUNT_ROW, BOOK_N, OUT_N, Accounts
from margincall.venue.book_state import BookState, _unmanaged_book, reserve
from margincall.venue.liq_index import LiqIndex
from margincall.venue.pointers import borrow, data_ptr


class Tiers(NamedTuple):
    """Margin tiers as integer arrays (floor and cum in micro-dollars, rate in ppm)."""

    floor: np.ndarray
    mmr_ppm: np.ndarray
    cum: np.ndarray
    imr_ppm: np.ndarray


class VenueState(NamedTuple):
    """Everything a kernel reads and writes; see the module docstring."""

    acc: Accounts
    idx: LiqIndex
    book: BookState
    meta: np.ndarray  # int64[META_SIZE]: slots of margincall.venue.accounts
    params: np.ndarray  # int64[params.SIZE]: slots of margincall.venue.params
    tiers: Tiers
    out: np.ndarray  # EVENT_DTYPE: the events written, meta[OUT_N] of them
    bout: np.ndarray  # BOOK_EVENT_DTYPE: the book's records, meta[BOOK_N] of them to settle


def _offset(name: str) -> int:
    """Byte offset of an :data:`ACCOUNT_ROW` field in the row."""
    fields = ACCOUNT_ROW.fields
    assert fields is not None
    return int(fields[name][1])


def _column(name: str) -> int:
    """Index of an :data:`ACCOUNT_ROW` field in a row viewed as words of the field's width."""
    width = ACCOUNT_ROW[name].itemsize
    assert _offset(name) % width == 0
    return _offset(name) // width


assert _offset("wallet") == 0  # the wallet's data pointer is the rows' base
_ROW = ACCOUNT_ROW.itemsize
_WALLET = _column("wallet")
_ISO_MARGIN = _column("iso_margin")
_POS = _column("pos")
_COST = _column("cost")
_KEY = _column("key")
_LOC = _column("loc")
_FLAGS = _column("flags")
_SIDE = _column("side")
_LEVERAGE = _column("leverage")
_LAST_PARTIAL = _column("last_partial_ns")


@njit(cache=True)
def _rows(acc):
    """The account rows as borrowed words: int64, int32 and int8 views, one row per account."""
    n = acc.wallet.shape[0]
    base = carray(data_ptr(acc.wallet), (n * (_ROW // 8),))  # type: ignore[call-arg]
    return (
        base.reshape((n, _ROW // 8)),
        base.view(np.int32).reshape((n, _ROW // 4)),
        base.view(np.int8).reshape((n, _ROW)),
    )


@njit(cache=True)
def borrow_accounts(acc: Accounts) -> Accounts:
    """Borrowed views of the account fields."""
    r64, r32, r8 = _rows(acc)
    return Accounts(
        r64[:, _WALLET],
        r64[:, _ISO_MARGIN],
        r64[:, _POS],
        r64[:, _COST],
        r32[:, _LEVERAGE],
        r8[:, _FLAGS],
        r64[:, _LAST_PARTIAL],
        borrow(acc.rest),
    )


@njit(cache=True)
def borrow_index(acc: Accounts, idx: LiqIndex) -> LiqIndex:
    """Borrowed views of the index (its per-account fields live in the account rows)."""
    r64, r32, r8 = _rows(acc)
    return LiqIndex(
        r64[:, _KEY],
        r8[:, _SIDE],
        r32[:, _LOC],
        borrow(idx.head_long),
        borrow(idx.head_short),
        borrow(idx.chunks),
        borrow(idx.meta),
        borrow(idx.adl_slots),
        borrow(idx.adl_meta),
        borrow(idx.deferred),
    )


@njit(cache=True)
def borrow_state(s: VenueState) -> VenueState:
    """Borrowed views of the whole venue state (the buffers as they are), for one entry
    kernel."""
    t = s.tiers
    return VenueState(
        borrow_accounts(s.acc),
        borrow_index(s.acc, s.idx),
        _unmanaged_book(s.book),
        borrow(s.meta),
        borrow(s.params),
        Tiers(borrow(t.floor), borrow(t.mmr_ppm), borrow(t.cum), borrow(t.imr_ppm)),
        s.out,
        s.bout,
    )


@njit(cache=True, inline="always")
def with_buffers(s: VenueState, out: np.ndarray, bout: np.ndarray) -> VenueState:
    """The same state writing into other buffers."""
    return VenueState(s.acc, s.idx, s.book, s.meta, s.params, s.tiers, out, bout)


@njit(cache=True, inline="always")
def make_room(s: VenueState, events: int, records: int) -> VenueState:
    """The state with room for ``events`` more events and ``records`` more book records after
    the cursors (bigger copies of the buffers when they have less)."""
    # np.int64: one compiled reserve, whatever constants the callers pass
    out = reserve(s.out, s.meta[OUT_N], np.int64(events))
    bout = reserve(s.bout, s.meta[BOOK_N], np.int64(records))
    return with_buffers(s, out, bout)
