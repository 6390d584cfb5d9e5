"""Accounts indexed by liquidation price, so a price move visits only the accounts it breaches.

The same structure keeps the ADL queue snapshots (:mod:`margincall.venue.adl`): both are
indexes of accounts that the liquidation engine walks.

Each account with a position sits in one bucket of one side: longs under the highest price that
may liquidate them, shorts under the lowest. Buckets are ranges of ``2**shift`` ticks. A bucket
holds its account ids in flat chunks of ``CHUNK`` ids (one 64-byte line each: the next chunk,
the count, the ids), every chunk full but the first, so a price move reads the ids of the
buckets it crosses from contiguous memory and can ask for the accounts' rows ahead of use
(a list linked through the accounts would make each row wait for the one before). Each account
knows its place (``loc``: chunk and column), so insert and remove are O(1): a removed id is
replaced by the last id of the bucket's first chunk. Keys are conservative (see
:func:`margin_int.liquidation_key`): the exact margin check is done when an account is
collected, and one that is not really breached goes back in.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from margincall.venue.accounts import QUEUED
from margincall.venue.pointers import prefetch

NONE = -1
TOP = 0  # highest possibly non-empty long bucket
BOTTOM = 1  # lowest possibly non-empty short bucket
SHIFT = 2
NBUCKETS = 3
FREE = 4  # first chunk of the free list
DEFERRED = 5  # accounts in the deferred list
ADL_LONG_N = 0  # accounts in the long-holders' ADL queue snapshot (-1: none taken)
ADL_LONG_PTR = 1  # first entry of that queue not yet used up
ADL_SHORT_N = 2
ADL_SHORT_PTR = 3

C_NEXT = 0  # chunk columns: next chunk of the bucket (or of the free list)
C_COUNT = 1  # ids held
C_IDS = 2  # first id column
CHUNK = 14  # ids per chunk
PREFETCH = 8  # accounts ahead whose rows are requested early


class LiqIndex(NamedTuple):
    """Struct of arrays; see the module docstring."""

    key: np.ndarray  # int64 per account: liquidation key in ticks
    side: np.ndarray  # int8 per account: +1 in the long buckets, -1 in the short ones, 0 none
    loc: np.ndarray  # int32 per account: chunk * 16 + column of its id
    head_long: np.ndarray  # int32 per bucket: first chunk
    head_short: np.ndarray  # int32 per bucket
    chunks: np.ndarray  # int32 [chunks, 16]: next, count, CHUNK ids
    meta: np.ndarray  # int64: TOP, BOTTOM, SHIFT, NBUCKETS, FREE
    adl_slots: np.ndarray  # int32 per account: ADL queue snapshots (see margincall.venue.adl)
    adl_meta: np.ndarray  # int64: ADL_LONG_N, ADL_LONG_PTR, ADL_SHORT_N, ADL_SHORT_PTR
    deferred: np.ndarray  # int64 per account: portfolio accounts handed on (see defer)


def _aligned_chunks(n: int) -> np.ndarray:
    raw = np.zeros(n * 16 + 16, np.int32)
    start = ((-raw.ctypes.data) % 64) // 4
    return raw[start : start + n * 16].reshape(n, 16)


def new_index(
    n_accounts: int, max_tick: int, buckets: int = 1 << 16, rows: np.ndarray | None = None
) -> LiqIndex:
    """An empty index for ``n_accounts`` accounts and prices up to ``max_tick``.

    ``rows`` (from :func:`margincall.venue.accounts.account_rows`) holds the per-account fields
    (``key``, ``side``, ``loc`` of :data:`~margincall.venue.accounts.ACCOUNT_ROW`), in the
    accounts' own cache lines.
    """
    from margincall.venue.accounts import account_rows

    shift = 0
    while (max_tick >> shift) >= buckets:
        shift += 1
    nb = (max_tick >> shift) + 2
    # every chunk is full but the first of each non-empty bucket of each side
    n_chunks = n_accounts // CHUNK + min(2 * nb, n_accounts) + 1
    chunks = _aligned_chunks(n_chunks)
    chunks[:, C_NEXT] = np.arange(1, n_chunks + 1)
    chunks[-1, C_NEXT] = NONE
    meta = np.array([-1, nb, shift, nb, 0, 0], dtype=np.int64)
    if rows is None:
        rows = account_rows(n_accounts)
    idx = LiqIndex(
        key=rows["key"],
        side=rows["side"],
        loc=rows["loc"],
        head_long=np.full(nb, NONE, np.int32),
        head_short=np.full(nb, NONE, np.int32),
        chunks=chunks,
        meta=meta,
        adl_slots=np.zeros(n_accounts, np.int32),
        adl_meta=np.array([-1, 0, -1, 0], dtype=np.int64),
        deferred=np.zeros(n_accounts, np.int64),
    )
    idx.key[:] = -1
    idx.side[:] = 0
    idx.loc[:] = NONE
    return idx


@njit(cache=True, inline="always")
def _bucket(idx: LiqIndex, key: int) -> int:
    if key < 0:
        return 0
    b = key >> idx.meta[SHIFT]
    nb = idx.meta[NBUCKETS]
    return b if b < nb else nb - 1


@njit(cache=True, inline="always")
def _unlink(idx: LiqIndex, head, b: int, a: int) -> None:
    """Take ``a``'s id out of bucket ``b``: the last id of the first chunk takes its place."""
    chunks = idx.chunks
    h = head[b]
    last = chunks[h, C_COUNT] - 1
    moved = chunks[h, C_IDS + last]
    c = idx.loc[a] >> 4
    j = idx.loc[a] & 15
    chunks[c, j] = moved
    idx.loc[moved] = (c << 4) | j
    chunks[h, C_COUNT] = last
    if last == 0:  # the first chunk is empty: back to the free list
        head[b] = chunks[h, C_NEXT]
        chunks[h, C_NEXT] = idx.meta[FREE]
        idx.meta[FREE] = h


@njit(cache=True, inline="always")
def remove(idx: LiqIndex, a: int) -> None:
    """Take account ``a`` out of the index (no-op when it is not in)."""
    s = idx.side[a]
    if s == 0:
        return
    _unlink(idx, idx.head_long if s > 0 else idx.head_short, _bucket(idx, idx.key[a]), a)
    idx.loc[a] = NONE
    idx.side[a] = 0
    idx.key[a] = -1


@njit(cache=True, inline="always")
def insert(idx: LiqIndex, a: int, side: int, key: int) -> None:
    """Put account ``a`` in the long (+1) or short (-1) buckets under ``key`` (replacing any
    entry)."""
    b = _bucket(idx, key)
    if side != 0 and idx.side[a] == side and _bucket(idx, idx.key[a]) == b:
        idx.key[a] = key  # same bucket: only the key changes
        return
    remove(idx, a)
    if side == 0:
        return
    idx.key[a] = key
    idx.side[a] = side
    head = idx.head_long if side > 0 else idx.head_short
    chunks = idx.chunks
    h = head[b]
    if h == NONE or chunks[h, C_COUNT] == CHUNK:
        c = idx.meta[FREE]
        idx.meta[FREE] = chunks[c, C_NEXT]
        chunks[c, C_NEXT] = h
        chunks[c, C_COUNT] = 0
        head[b] = c
        h = c
    j = C_IDS + chunks[h, C_COUNT]
    chunks[h, j] = a
    chunks[h, C_COUNT] += 1
    idx.loc[a] = (h << 4) | j
    if side > 0:
        if b > idx.meta[TOP]:
            idx.meta[TOP] = b
    elif b < idx.meta[BOTTOM]:
        idx.meta[BOTTOM] = b


@njit(cache=True)
def _take_bucket(idx: LiqIndex, head, b: int, out: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    """Every id of bucket ``b`` to ``out[n:]``; the bucket's chunks go back to the free list."""
    chunks = idx.chunks
    c = head[b]
    while c != NONE:
        cnt = chunks[c, C_COUNT]
        if n + cnt > out.shape[0]:
            out = _grow(out, n + cnt)
        for j in range(cnt):
            out[n + j] = chunks[c, C_IDS + j]
        n += cnt
        nxt = chunks[c, C_NEXT]
        chunks[c, C_NEXT] = idx.meta[FREE]
        idx.meta[FREE] = c
        c = nxt
    head[b] = NONE
    return out, n


@njit(cache=True)
def _take_reached(idx, head, b, mark, side, out, n) -> tuple[np.ndarray, int]:
    """The ids of bucket ``b`` whose key ``mark`` has reached (longs: key >= mark, shorts:
    key <= mark) to ``out[n:]``, taken out of the index."""
    chunks = idx.chunks
    start = n
    c = head[b]
    while c != NONE:
        for j in range(chunks[c, C_COUNT]):
            a = chunks[c, C_IDS + j]
            k = idx.key[a]
            if (k >= mark) if side > 0 else (k <= mark):
                if n == out.shape[0]:
                    out = _grow(out, n + 1)
                out[n] = a
                n += 1
        c = chunks[c, C_NEXT]
    for i in range(start, n):
        remove(idx, out[i])
    return out, n


@njit(cache=True)
def collect(idx: LiqIndex, mark: int, out: np.ndarray) -> tuple[np.ndarray, int]:
    """Remove and return every account whose key the mark has reached.

    Longs with key >= mark and shorts with key <= mark, in no particular order (the caller
    sorts). ``out`` grows when needed.
    """
    n = 0
    mb = _bucket(idx, mark)
    b = idx.meta[TOP]
    while b > mb and b >= 0:  # whole buckets: every key is past the mark
        out, n = _take_bucket(idx, idx.head_long, b, out, n)
        b -= 1
    nb = idx.meta[NBUCKETS]
    b = idx.meta[BOTTOM]
    while b < mb and b < nb:
        out, n = _take_bucket(idx, idx.head_short, b, out, n)
        b += 1
    for i in range(n):  # the taken accounts are out of the index
        if i + PREFETCH < n:
            prefetch(idx.key, out[i + PREFETCH])  # type: ignore[call-arg]
        a = out[i]
        idx.side[a] = 0
        idx.key[a] = -1
        idx.loc[a] = NONE
    if 0 <= mb <= idx.meta[TOP]:
        out, n = _take_reached(idx, idx.head_long, mb, mark, 1, out, n)
    if idx.meta[BOTTOM] <= mb < nb:
        out, n = _take_reached(idx, idx.head_short, mb, mark, -1, out, n)
    # the extreme buckets may now be empty: move the pointers past empty buckets
    t = min(idx.meta[TOP], nb - 1)
    while t >= 0 and idx.head_long[t] == NONE:
        t -= 1
    idx.meta[TOP] = t
    t = max(idx.meta[BOTTOM], 0)
    while t < nb and idx.head_short[t] == NONE:
        t += 1
    idx.meta[BOTTOM] = t
    return out, n


def reaches_none(idx: LiqIndex, mark: int) -> bool:
    """True when :func:`collect` at ``mark`` certainly takes no account: the highest long bucket
    is below the mark's and the lowest short bucket above it (False: it may take some). Plain
    Python, so that a caller can skip a compiled call on it."""
    nb = int(idx.meta[NBUCKETS])
    mb = 0 if mark < 0 else min(mark >> int(idx.meta[SHIFT]), nb - 1)  # _bucket's rule
    return int(idx.meta[TOP]) < mb < int(idx.meta[BOTTOM])


@njit(cache=True, inline="always")
def defer(idx: LiqIndex, flags: np.ndarray, a: int) -> None:
    """Hand portfolio account ``a`` on instead of checking or keying it here: it is taken out of
    the index and listed once (the QUEUED flag) until the portfolio takes the list
    (:mod:`margincall.venue.portfolio_pass`)."""
    if idx.side[a] != 0:
        remove(idx, a)
    if not flags[a] & QUEUED:
        flags[a] |= QUEUED
        n = idx.meta[DEFERRED]
        idx.deferred[n] = a
        idx.meta[DEFERRED] = n + 1


@njit(cache=True)
def _grow(out: np.ndarray, need: int) -> np.ndarray:
    bigger = np.empty(max(16, out.shape[0] * 2, need), out.dtype)
    bigger[: out.shape[0]] = out
    return bigger
