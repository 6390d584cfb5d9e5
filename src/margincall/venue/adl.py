"""Auto-deleveraging: when no one else can take a bankrupt position, close opposite winners.

Each venue orders the candidates its own way (:mod:`margincall.formulas.margin` has the readable
formulas of the scores); all of them close at one price, the bankrupt account's bankruptcy price
(Hyperliquid: the mark), with no fee. Candidates' open orders are cancelled first, as the
venues do.

The ranked queue of each side is a snapshot taken at the first ADL of a cascade (one
:func:`margincall.venue.liquidation.liquidation_rounds` call) and consumed from the front, the
way exchanges publish ADL queue positions: building it costs one pass over the accounts, and
every further ADL in the cascade costs only the positions it closes. A queue that runs dry is
rebuilt once, to pick up positions opened since. Pro-rata allocation is the exception: it
spreads each event over every live opposite position, O(those positions) per event.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from margincall.events.schema import EventKind
from margincall.venue import book as bk
from margincall.venue.accounts import BOOK_N, EXISTS, MARK, N_ACCOUNTS, RNG
from margincall.venue.ledger import INSURANCE_FUND, K_FILLED, collateral, party, trade
from margincall.venue.liq_index import ADL_LONG_N, ADL_LONG_PTR, ADL_SHORT_N, ADL_SHORT_PTR
from margincall.venue.margin_int import maintenance_micros
from margincall.venue.orders import settle
from margincall.venue.params import (
    ADL,
    ADL_BINANCE,
    ADL_BITMEX,
    ADL_DYDX,
    ADL_HYPERLIQUID,
    ADL_PRO_RATA,
    K,
)
from margincall.venue.state import make_room

K_ADL = int(EventKind.ADL_EXECUTED)
ONE_LOT = np.int64(1)  # (a Python 1 would compile _close a second time, for the constant)


@njit(cache=True)
def next_random(meta) -> int:
    """The venue's deterministic generator (64-bit LCG, Knuth's MMIX constants)."""
    x = (meta[RNG] * 6364136223846793005 + 1442695040888963407) & 0x7FFFFFFFFFFFFFFF
    meta[RNG] = x
    return x >> 16


@njit(cache=True, inline="always")
def binance_score(upnl, wallet, mm, equity) -> float:
    """Binance's LeveragePnL: PnL% (profit over the wallet, at least one dollar) times the
    margin ratio (maintenance over equity; 0 when equity is not positive)."""
    pnl_pct = max(0, upnl) / max(1_000_000, wallet)
    ratio = 0.0 if equity <= 0 else mm / equity
    return pnl_pct * ratio


@njit(cache=True)
def adl_scores(acc, cands, mark, k, tiers, ranking):
    """Score candidates (higher goes first) under the venue's ranking."""
    m = cands.shape[0]
    score = np.zeros(m, np.float64)
    for i in range(m):
        a = cands[i]
        p = acc.pos[a]
        value = abs(p) * mark * k
        upnl = p * mark * k - acc.cost[a]
        coll = collateral(acc, a)
        equity = coll + upnl
        if ranking == ADL_BINANCE:
            mm = maintenance_micros(value, tiers.floor, tiers.mmr_ppm, tiers.cum)
            score[i] = binance_score(upnl, coll, mm, equity)
        elif ranking == ADL_BITMEX:
            pnl_pct = upnl / max(1, abs(acc.cost[a]))
            lev = value / max(1, equity) if equity > 0 else 1e18
            score[i] = pnl_pct * lev if pnl_pct > 0 else pnl_pct / lev
        elif ranking == ADL_HYPERLIQUID:
            idx = (value / max(1, abs(acc.cost[a]))) * (
                value / max(1, equity) if equity > 0 else 1e18
            )
            # winners first: the docs rank opposite-side users in profit. Losers map into
            # (-1, 0) in the same order (adding a large bonus instead would round every
            # winner's index away in float64 and leave them in id order)
            score[i] = idx if upnl > 0 else -1.0 / (1.0 + idx)
    return score


@njit(cache=True)
def reset_queues(idx) -> None:
    """Forget both queue snapshots (start of a cascade)."""
    idx.adl_meta[ADL_LONG_N] = -1
    idx.adl_meta[ADL_SHORT_N] = -1


@njit(cache=True)
def _build_queue(s, held):
    """Snapshot the holders of ``held`` (+1 longs, -1 shorts) in the venue's order.

    Longs fill ``adl_slots`` from the front and shorts from the back (together they never
    exceed the number of accounts). Returns ``(start, count)``.
    """
    cands = holders(s, held)
    ranking = s.params[ADL]
    if ranking != ADL_DYDX and ranking != ADL_PRO_RATA and cands.shape[0] > 0:
        score = adl_scores(s.acc, cands, s.meta[MARK], s.params[K], s.tiers, ranking)
        cands = cands[np.argsort(-score, kind="mergesort")]
    return place_queue(s.idx, held, cands)


@njit(cache=True)
def holders(s, held):
    """The accounts holding ``held`` (+1 longs, -1 shorts), the fund aside, in id order."""
    acc = s.acc
    total = s.meta[N_ACCOUNTS]
    count = 0
    for b in range(total):
        if b != INSURANCE_FUND and (acc.flags[b] & EXISTS) and acc.pos[b] * held > 0:
            count += 1
    cands = np.empty(count, np.int64)
    j = 0
    for b in range(total):
        if b != INSURANCE_FUND and (acc.flags[b] & EXISTS) and acc.pos[b] * held > 0:
            cands[j] = b
            j += 1
    return cands


@njit(cache=True)
def place_queue(idx, held, cands):
    """Take ``cands`` (holders of ``held``, in queue order) as that side's snapshot; returns
    ``(start, count)``."""
    count = cands.shape[0]
    cap = idx.adl_slots.shape[0]
    start = 0 if held > 0 else cap - count
    for i in range(count):
        idx.adl_slots[start + i] = cands[i]
    if held > 0:
        idx.adl_meta[ADL_LONG_N] = count
        idx.adl_meta[ADL_LONG_PTR] = 0
    else:
        idx.adl_meta[ADL_SHORT_N] = count
        idx.adl_meta[ADL_SHORT_PTR] = 0
    return start, count


@njit(cache=True)
def _queue(s, held, rebuild):
    idx = s.idx
    n_slot = ADL_LONG_N if held > 0 else ADL_SHORT_N
    if idx.adl_meta[n_slot] < 0 or rebuild:
        return _build_queue(s, held)
    count = idx.adl_meta[n_slot]
    start = 0 if held > 0 else idx.adl_slots.shape[0] - count
    return start, count


@njit(cache=True)
def _close(s, a, w, side, price, x):
    """Account ``w``'s orders cancelled, then ``x`` lots of ``a``'s position (long when ``side``
    is +1) closed against it at ``price``; returns the state (its buffers may have grown)."""
    w = np.int64(w)  # an id from the queue (int32): one compiled version of each callee
    s = make_room(s, 0, bk.account_orders(s.book, w))
    s.meta[BOOK_N] = bk.cancel_account_into(s.book, w, s.bout, s.meta[BOOK_N])
    s = make_room(s, 2 * s.meta[BOOK_N] + 2, 0)
    settle(s, K_FILLED)
    trade(s, party(a, K_ADL), party(w, K_ADL), -side, price, x)
    return s


@njit(cache=True)
def deleverage(s, a, price):
    """Close account ``a``'s whole position against opposite positions at ``price``.

    Returns ``(s, closed_lots)`` (the state's buffers may have grown); fewer lots than the
    position are closed only when the opposite side is exhausted (or, for dYdX, every remaining
    candidate fails the check).
    """
    acc = s.acc
    idx = s.idx
    tiers = s.tiers
    p = acc.pos[a]
    if p == 0:
        return s, 0
    k = s.params[K]
    side = 1 if p > 0 else -1
    held = -side
    mark = s.meta[MARK]
    ranking = s.params[ADL]
    remaining = abs(p)
    closed = 0
    ptr_slot = ADL_LONG_PTR if held > 0 else ADL_SHORT_PTR
    for attempt in range(2):  # the snapshot, then one fresh snapshot if it ran dry
        if remaining == 0:
            break
        start, count = _queue(s, held, attempt == 1)
        if count == 0:
            continue
        if ranking == ADL_PRO_RATA:
            opp = 0
            for i in range(count):
                w = idx.adl_slots[start + i]
                if w != a and acc.pos[w] * held > 0:
                    opp += abs(acc.pos[w])
            if opp == 0:
                continue
            target = min(remaining, opp)
            given = 0
            for i in range(count):  # floor shares first, in queue (account) order
                w = idx.adl_slots[start + i]
                if w == a or acc.pos[w] * held <= 0:
                    continue
                x = (target * abs(acc.pos[w])) // opp
                if x > 0:
                    s = _close(s, a, w, side, price, x)
                    given += x
            i = 0
            while given < target:  # then the remainder, one lot each, in account order
                w = idx.adl_slots[start + i]
                if w != a and acc.pos[w] * held > 0:
                    s = _close(s, a, w, side, price, ONE_LOT)
                    given += 1
                i = (i + 1) % count
            remaining -= given
            closed += given
        elif ranking == ADL_DYDX:
            offset = next_random(s.meta) % count
            for j in range(count):
                if remaining == 0:
                    break
                w = idx.adl_slots[start + (offset + j) % count]
                if w == a or acc.pos[w] * held <= 0:
                    continue
                x = min(remaining, abs(acc.pos[w]))
                if not _not_riskier(acc, w, side * x, price, mark, k, tiers):
                    continue
                s = _close(s, a, w, side, price, x)
                remaining -= x
                closed += x
        else:
            i = idx.adl_meta[ptr_slot]
            while i < count and remaining > 0:
                w = idx.adl_slots[start + i]
                if w == a or acc.pos[w] * held <= 0:
                    i += 1
                    continue
                x = min(remaining, abs(acc.pos[w]))
                s = _close(s, a, w, side, price, x)
                remaining -= x
                closed += x
                if acc.pos[w] * held <= 0:
                    i += 1
            idx.adl_meta[ptr_slot] = i
    return s, closed


@njit(cache=True)
def _not_riskier(acc, w, dq, price, mark, k, tiers) -> bool:
    """dYdX's rule for a counterparty: its maintenance may not grow and its ratio not worsen.

    ``dq`` is the counterparty's signed change of position, traded at ``price`` and valued at
    ``mark`` (the oracle).
    """
    p = acc.pos[w]
    mark_value = abs(p) * mark * k
    mm0 = maintenance_micros(mark_value, tiers.floor, tiers.mmr_ppm, tiers.cum)
    nc0 = collateral(acc, w) + p * mark * k - acc.cost[w]
    p1 = p + dq
    mm1 = maintenance_micros(abs(p1) * mark * k, tiers.floor, tiers.mmr_ppm, tiers.cum)
    nc1 = nc0 + dq * (mark - price) * k
    if mm1 > mm0:
        return False
    # riskier iff nc1 * mm0 < nc0 * mm1 (compared in floats: both sides are products of int64s)
    return not (float(nc1) * mm0 < float(nc0) * mm1)
