"""Accounts indexed by liquidation price, so a price move visits only the accounts it breaches.

The same structure keeps the ADL queue snapshots (:mod:`margincall.venue.adl`): both are
indexes of accounts that the liquidation engine walks.

Each account with a position sits in one bucket of one side: longs under the highest price that
may liquidate them, shorts under the lowest. Buckets are ranges of ``2**shift`` ticks holding
doubly-linked lists, so insert and remove are O(1) and a price move scans only the buckets it
crosses. Keys are conservative (see :func:`margin_int.liquidation_key`): the exact margin check
is done when an account is collected, and one that is not really breached goes back in.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

NONE = -1
TOP = 0  # highest possibly non-empty long bucket
BOTTOM = 1  # lowest possibly non-empty short bucket
SHIFT = 2
NBUCKETS = 3
ADL_LONG_N = 0  # accounts in the long-holders' ADL queue snapshot (-1: none taken)
ADL_LONG_PTR = 1  # first entry of that queue not yet used up
ADL_SHORT_N = 2
ADL_SHORT_PTR = 3


class LiqIndex(NamedTuple):
    """Struct of arrays; see the module docstring."""

    key: np.ndarray  # int64 per account: liquidation key in ticks
    side: np.ndarray  # int8 per account: +1 in the long lists, -1 in the short lists, 0 none
    nxt: np.ndarray  # int32 per account
    prv: np.ndarray  # int32 per account
    head_long: np.ndarray  # int32 per bucket
    head_short: np.ndarray  # int32 per bucket
    meta: np.ndarray  # int64: TOP, BOTTOM, SHIFT, NBUCKETS
    adl_slots: np.ndarray  # int32 per account: ADL queue snapshots (see margincall.venue.adl)
    adl_meta: np.ndarray  # int64: ADL_LONG_N, ADL_LONG_PTR, ADL_SHORT_N, ADL_SHORT_PTR


def new_index(
    n_accounts: int, max_tick: int, buckets: int = 1 << 16, rows: np.ndarray | None = None
) -> LiqIndex:
    """An empty index for ``n_accounts`` accounts and prices up to ``max_tick``.

    ``rows`` (from :func:`margincall.venue.accounts.account_rows`) puts the per-account fields in
    the accounts' own cache lines.
    """
    from margincall.venue.accounts import account_rows, field

    shift = 0
    while (max_tick >> shift) >= buckets:
        shift += 1
    nb = (max_tick >> shift) + 2
    meta = np.array([-1, nb, shift, nb], dtype=np.int64)
    if rows is None:
        rows = account_rows(n_accounts)
    idx = LiqIndex(
        key=field(rows, 32, np.int64),
        side=field(rows, 49, np.int8),
        nxt=field(rows, 40, np.int32),
        prv=field(rows, 44, np.int32),
        head_long=np.full(nb, NONE, np.int32),
        head_short=np.full(nb, NONE, np.int32),
        meta=meta,
        adl_slots=np.zeros(n_accounts, np.int32),
        adl_meta=np.array([-1, 0, -1, 0], dtype=np.int64),
    )
    idx.key[:] = -1
    idx.side[:] = 0
    idx.nxt[:] = NONE
    idx.prv[:] = NONE
    return idx


@njit(cache=True, inline="always")
def _bucket(idx: LiqIndex, key: int) -> int:
    if key < 0:
        return 0
    b = key >> idx.meta[SHIFT]
    nb = idx.meta[NBUCKETS]
    return b if b < nb else nb - 1


@njit(cache=True, inline="always")
def remove(idx: LiqIndex, a: int) -> None:
    """Take account ``a`` out of the index (no-op when it is not in)."""
    s = idx.side[a]
    if s == 0:
        return
    b = _bucket(idx, idx.key[a])
    head = idx.head_long if s > 0 else idx.head_short
    p = idx.prv[a]
    n = idx.nxt[a]
    if p != NONE:
        idx.nxt[p] = n
    else:
        head[b] = n
    if n != NONE:
        idx.prv[n] = p
    idx.nxt[a] = NONE
    idx.prv[a] = NONE
    idx.side[a] = 0
    idx.key[a] = -1


@njit(cache=True, inline="always")
def insert(idx: LiqIndex, a: int, side: int, key: int) -> None:
    """Put account ``a`` in the long (+1) or short (-1) lists under ``key`` (replacing any entry)."""
    remove(idx, a)
    if side == 0:
        return
    idx.key[a] = key
    idx.side[a] = side
    b = _bucket(idx, key)
    head = idx.head_long if side > 0 else idx.head_short
    h = head[b]
    idx.nxt[a] = h
    idx.prv[a] = NONE
    if h != NONE:
        idx.prv[h] = a
    head[b] = a
    if side > 0:
        if b > idx.meta[TOP]:
            idx.meta[TOP] = b
    elif b < idx.meta[BOTTOM]:
        idx.meta[BOTTOM] = b


@njit(cache=True)
def collect(idx: LiqIndex, mark: int, out: np.ndarray) -> tuple[np.ndarray, int]:
    """Remove and return every account whose key the mark has reached.

    Longs with key >= mark and shorts with key <= mark, in a deterministic order (buckets from
    the most breached, each list newest first). ``out`` grows when needed.
    """
    n = 0
    mb = _bucket(idx, mark)
    b = idx.meta[TOP]
    while b >= mb and b >= 0:
        a = idx.head_long[b]
        while a != NONE:
            nx = idx.nxt[a]
            if idx.key[a] >= mark:
                if n == out.shape[0]:
                    out = _grow(out)
                out[n] = a
                n += 1
                remove(idx, a)
            a = nx
        b -= 1
    # the top bucket may now be empty: lower the pointer past empty buckets
    t = idx.meta[TOP]
    while t >= 0 and idx.head_long[t] == NONE:
        t -= 1
    idx.meta[TOP] = t
    nb = idx.meta[NBUCKETS]
    b = idx.meta[BOTTOM]
    while b <= mb and b < nb:
        a = idx.head_short[b]
        while a != NONE:
            nx = idx.nxt[a]
            if idx.key[a] <= mark:
                if n == out.shape[0]:
                    out = _grow(out)
                out[n] = a
                n += 1
                remove(idx, a)
            a = nx
        b += 1
    t = idx.meta[BOTTOM]
    while t < nb and idx.head_short[t] == NONE:
        t += 1
    idx.meta[BOTTOM] = t
    return out, n


@njit(cache=True)
def _grow(out: np.ndarray) -> np.ndarray:
    bigger = np.empty(max(16, out.shape[0] * 2), out.dtype)
    bigger[: out.shape[0]] = out
    return bigger
