"""Borrowed (not reference-counted) views of the venue state for the compiled hot paths.

numba reference-counts every array of every argument on every call between compiled
functions, with atomic instructions; with a few dozen state arrays per call that costs more than
the work itself. An entry kernel therefore rebuilds its state tuples from raw pointers with
``carray``: same numba types, no reference count. A borrowed view is only valid while the
arrays it came from are alive, i.e. for the duration of the kernel call that made it.
"""

from __future__ import annotations

import numpy as np
from numba import carray, njit

from margincall.venue.accounts import LOC, ROW_BYTES, Accounts
from margincall.venue.book import _unmanaged_book
from margincall.venue.ledger import Tiers
from margincall.venue.liq_index import LiqIndex
from margincall.venue.pointers import borrow, data_ptr


@njit(cache=True)
def _rows(acc):
    # the wallet field sits at byte 0 of each row: its data pointer is the rows' base
    n = acc.wallet.shape[0]
    base = carray(data_ptr(acc.wallet), (n * (ROW_BYTES // 8),))  # type: ignore[call-arg]
    return base


@njit(cache=True)
def borrow_accounts(acc: Accounts) -> Accounts:
    """Borrowed views of the account fields (row layout of :func:`accounts.new_accounts`)."""
    n = acc.wallet.shape[0]
    r64 = _rows(acc).reshape((n, ROW_BYTES // 8))
    r32 = _rows(acc).view(np.int32).reshape((n, ROW_BYTES // 4))
    r8 = _rows(acc).view(np.int8).reshape((n, ROW_BYTES))
    return Accounts(r64[:, 0], r64[:, 1], r64[:, 2], r64[:, 3], r32[:, 13], r8[:, 48], r64[:, 7])


@njit(cache=True)
def borrow_index(acc: Accounts, idx: LiqIndex) -> LiqIndex:
    """Borrowed views of the index (its per-account fields live in the account rows)."""
    n = acc.wallet.shape[0]
    r64 = _rows(acc).reshape((n, ROW_BYTES // 8))
    r32 = _rows(acc).view(np.int32).reshape((n, ROW_BYTES // 4))
    r8 = _rows(acc).view(np.int8).reshape((n, ROW_BYTES))
    return LiqIndex(
        r64[:, 4],
        r8[:, 49],
        r32[:, LOC // 4],
        borrow(idx.head_long),
        borrow(idx.head_short),
        borrow(idx.chunks),
        borrow(idx.meta),
        borrow(idx.adl_slots),
        borrow(idx.adl_meta),
    )


@njit(cache=True)
def borrow_state(acc, idx, book, meta, params, tiers):
    """Borrowed views of the whole venue state, for one entry kernel."""
    t = Tiers(borrow(tiers.floor), borrow(tiers.mmr_ppm), borrow(tiers.cum), borrow(tiers.imr_ppm))
    return (
        borrow_accounts(acc),
        borrow_index(acc, idx),
        _unmanaged_book(book),
        borrow(meta),
        borrow(params),
        t,
    )
