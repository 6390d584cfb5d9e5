"""The portfolio's compiled pass: evaluate accounts over all their legs, liquidate the breached
ones by the rulebook's procedure, key every leg again.

The procedures (portfolio-margin.md R3, R4, R7):

- one open leg: the instrument's own waterfall, with the rest of the account lent to the leg
  (the one-instrument engine, unchanged);
- Binance, several legs: each leg in ascending instrument order gets a full-size IOC at its R4
  bankruptcy price (recomputed before each leg), a clearance fee, and the leg's fund takes what
  is left at that price (ADL when it cannot);
- BitMEX: the fund takes every leg at its R4 price;
- Hyperliquid: a market order per leg (a slice of a large one outside its cooldown), then the
  backstop vault takes every remaining leg at its R4 price if equity is below its share of
  maintenance;
- dYdX: one leg per block, chosen by the protocol's rotation from a pseudo-random offset,
  through the instrument's own waterfall with the leg's R4 share of the account;
- a flat account left below zero converts its collateral into the settlement asset in
  proportion to value, at the price less the conversion buffer; the fund of the leg with the
  largest maintenance pays what is still missing, or the loss is recorded as uncovered.

Instruments sharing an insurance fund lend it to each other before every close (R9,
:mod:`margincall.venue.portfolio_funds`); a close that needs ADL ranks the candidates by their
accounts first (R8, :mod:`margincall.venue.portfolio_adl`).

Every instrument writes into one event buffer in one sequence (the portfolio's cursors in
``pf.meta``, copied into an instrument's ``meta`` while it writes).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from margincall.events.schema import EventKind
from margincall.venue import accounts as A
from margincall.venue import liq_index
from margincall.venue.adl import next_random
from margincall.venue.ledger import INSURANCE_FUND, event, fund_money
from margincall.venue.leg_close import (
    CLOSE_IOC,
    CLOSE_MARKET,
    CLOSE_TAKEOVER,
    CLOSE_WATERFALL,
    close_leg,
    close_room,
    key_leg,
)
from margincall.venue.liquidation import _deleverage_rest
from margincall.venue.margin_int import PPM, mul_div_ceil, mul_div_floor
from margincall.venue.params import (
    BACKSTOP_DEN,
    BACKSTOP_NUM,
    COOLDOWN_NS,
    PARTIAL_PPM,
    PARTIAL_THRESHOLD,
    POLICY_BINANCE,
    POLICY_BITMEX,
    POLICY_HYPERLIQUID,
)
from margincall.venue.pointers import borrow, no_refcount, prefetch
from margincall.venue.portfolio_adl import rank_queue
from margincall.venue.portfolio_funds import lend_funds
from margincall.venue.portfolio_margin import (
    AT_N,
    AT_PAYER,
    DESK,
    DONE,
    EVALUATIONS,
    MAX_INSTRUMENTS,
    N_DONE,
    N_LEGS,
    N_PENDING,
    OUT_N,
    PENDING,
    POLICY,
    SEQ,
    UNCOVERED,
    account_legs,
    borrow_portfolio,
    breached,
    budget_rest,
    cross_pos,
    exact_rest,
    leg_terms,
    r4_rest,
)
from margincall.venue.state import borrow_state, make_room, with_buffers

K_CONVERTED = int(EventKind.COLLATERAL_CONVERTED)
K_IF_PAID = int(EventKind.INSURANCE_FUND_PAID)
K_UNCOVERED = int(EventKind.BANKRUPTCY_UNCOVERED)
QUEUED = 4  # pf.flags: listed in the pass's queue
NO_ROOM = -2  # _visit: the buffers lack room, nothing done
DONE_VISIT = -1  # _visit: the account evaluated (and liquidated or not) and keyed
LOSS_LEG = -1  # _settle_if_flat: the fund of the leg with the lowest wallet pays
AHEAD = 16  # accounts the pass asks the memory for ahead of the one it evaluates
NO_SIZE = np.int64(0)  # the size argument of a close that takes the whole leg


@njit(cache=True, inline="always")
def _enter(s, pf, out, bout):
    """Instrument state ``s`` (borrowed by :func:`evaluate`) writing into the shared buffers at
    the portfolio's cursors."""
    s = with_buffers(s, out, bout)
    s.meta[A.OUT_N] = pf.meta[OUT_N]
    s.meta[A.SEQ] = pf.meta[SEQ]
    s.meta[A.BOOK_N] = 0
    return s


@njit(cache=True, inline="always")
def _leave(pf, s):
    """Back from an instrument: its cursors are the portfolio's; returns the buffers."""
    pf.meta[OUT_N] = s.meta[A.OUT_N]
    pf.meta[SEQ] = s.meta[A.SEQ]
    return s.out, s.bout


@njit(cache=True, inline="always")
def _close(s, pf, a, how, size, rest, out, bout) -> bool:
    """Account ``a``'s leg in instrument state ``s`` closed by :func:`close_leg` with its
    ``rest``, into the room reserved; True when the leg must be deleveraged."""
    s = _enter(s, pf, out, bout)
    s.acc.rest[a] = rest
    adl = close_leg(s, a, how, size)
    _leave(pf, s)
    return adl


@njit(cache=True, inline="always")
def _close_leg(legs, pf, j, a, how, size, rest, out, bout) -> bool:
    """Leg ``j`` of account ``a`` closed by :func:`_close` with the instruments' shared funds
    lent before and after (R9); True when the leg must be deleveraged."""
    lend_funds(legs, pf)
    adl = _close(legs[j], pf, a, how, size, rest, out, bout)
    lend_funds(legs, pf)
    return adl


@njit(cache=True, inline="always")
def _close_r4(legs, pf, j, a, how, size, out, bout) -> bool:
    """:func:`_close_leg` with the leg's R4 share of the account as it is now."""
    figures, terms = account_legs(legs, pf, a)
    e, mm_total, _, _ = figures
    _, upnl, mm, wallet, _ = terms[j]
    rest = r4_rest(e, mm_total, upnl, mm, wallet)
    return _close_leg(legs, pf, j, a, how, size, rest, out, bout)


@no_refcount
def _visit_queue(legs, pf, queue, i, out, bout) -> tuple[int, int]:
    """Accounts ``queue[i:]`` visited in order (:func:`_visit`), the memory asked for their rows
    ahead, until one needs the counted path: returns its place and what :func:`_visit` returned
    for it, or ``(len(queue), DONE_VISIT)``. One call for the whole queue: a call passes every
    array of the four states it uses, which cost more than a visit."""
    n = queue.shape[0]
    while i < n:
        if i + AHEAD < n:
            _prefetch_rows(legs, pf, queue[i + AHEAD])
        if i + AHEAD // 2 < n:
            _prefetch_chunks(legs, pf, queue[i + AHEAD // 2])
        done = _visit(legs, pf, queue[i], out, bout)
        if done != DONE_VISIT:
            return i, done
        i += 1
    return n, DONE_VISIT


@njit(cache=True, inline="always")
def _visit(legs, pf, a, out, bout) -> int:
    """Account ``a`` handed on: evaluated; if breached, liquidated by its rulebook's procedure
    (:func:`_steps`); its legs keyed again. Inlined in :func:`_visit_queue` (no reference
    counting): returns ``NO_ROOM`` (nothing done) when the shared buffers lack the room one
    liquidation may need, the step whose leg must be deleveraged (:func:`_finish` takes it from
    there), or ``DONE_VISIT``."""
    if a == INSURANCE_FUND:
        pf.flags[a] &= ~np.int8(QUEUED)
        return DONE_VISIT
    events, records = _room_needed(legs, pf)
    if out.shape[0] - pf.meta[OUT_N] < events or bout.shape[0] < records:
        return NO_ROOM
    figures, terms = account_legs(legs, pf, a)
    if _must_liquidate(pf, a, figures):
        n, payer = _start(legs, pf, a)
        adl = _steps(legs, pf, a, (n, payer, 0), out, bout)
        if adl >= 0:
            pf.meta[AT_N] = n
            pf.meta[AT_PAYER] = payer
            return adl
    elif figures[3] == 0:  # flat after its own trades and below zero: its loss settled too
        _settle_if_flat(legs, pf, a, LOSS_LEG, out, bout)
    else:  # untouched since it was evaluated: keyed from the same figures
        _key_account(legs, pf, a, figures, terms)
        return DONE_VISIT
    _key_fresh(legs, pf, a)
    return DONE_VISIT


@njit(cache=True)
def _finish(legs, pf, a, adl, out, bout):
    """Account ``a``'s procedure after step ``adl`` asked for ADL: the candidates ranked by
    their accounts (R8) and that leg deleveraged (the counted path: the ADL queue allocates),
    the procedure resumed after it in room reserved again (as often as its legs ask), the legs
    keyed; returns the buffers."""
    n = pf.meta[AT_N]
    payer = pf.meta[AT_PAYER]
    while adl >= 0:
        j = adl % MAX_INSTRUMENTS
        p = legs[j].acc.pos[a]
        if p != 0:  # the candidates ranked by their accounts (R8)
            rank_queue(legs, pf, j, -1 if p > 0 else 1)
        out, bout = _deleverage(legs[j], pf, a, out, bout)
        lend_funds(legs, pf)
        out, bout = _room(legs, pf, out, bout)
        adl = _steps(legs, pf, a, (n, payer, adl + 1), out, bout)
    _key_fresh(legs, pf, a)
    return out, bout


@njit(cache=True, inline="always")
def _start(legs, pf, a) -> tuple[int, int]:
    """``(open legs, payer)`` of account ``a`` before its liquidation: the payer is the leg
    with the largest maintenance, whose fund pays a final loss."""
    payer = 0
    most = -1
    n = 0
    for j in range(pf.meta[N_LEGS]):
        p, _, mm, _, _ = leg_terms(legs[j], a)
        n += p != 0
        if mm > most:
            most = mm
            payer = j
    return n, payer


@no_refcount
def _steps(legs, pf, a, at, out, bout) -> int:
    """The procedure of account ``a`` from step ``at = (open legs, payer, first step)`` (see
    the module docstring; steps ``j < MAX_INSTRUMENTS`` close leg ``j``, steps
    ``MAX_INSTRUMENTS + j`` are Hyperliquid's backstop taking leg ``j``), then a flat account's
    loss settled. No reference counting, into the room :func:`_room` reserved. Returns -1 when
    done, or the step whose leg must be deleveraged (its forced orders and fees done)."""
    n, payer, start = at
    policy = pf.meta[POLICY]
    legs_n = pf.meta[N_LEGS]
    if n == 1:  # one leg: the instrument's own waterfall, the rest of the account lent to it
        figures, terms = account_legs(legs, pf, a)
        e, mm_total, _, _ = figures
        for j in range(start, legs_n):  # one open leg: closing it leaves the others' rows
            p, upnl, mm, wallet, _ = terms[j]
            if p != 0:
                rest = exact_rest(e, mm_total, upnl, mm, wallet)
                if _close_leg(legs, pf, j, a, CLOSE_WATERFALL, NO_SIZE, rest, out, bout):
                    return j
    elif policy in (POLICY_BINANCE, POLICY_BITMEX):
        how = CLOSE_IOC if policy == POLICY_BINANCE else CLOSE_TAKEOVER
        for j in range(start, legs_n):  # closing one leg leaves the others as they were
            if cross_pos(legs[j], a) != 0 and _close_r4(legs, pf, j, a, how, NO_SIZE, out, bout):
                return j
    elif policy == POLICY_HYPERLIQUID:
        if _backstop(legs, pf, a, start, out, bout):
            for j in range(max(start - MAX_INSTRUMENTS, 0), legs_n):
                if cross_pos(legs[j], a) != 0 and _close_r4(
                    legs, pf, j, a, CLOSE_TAKEOVER, NO_SIZE, out, bout
                ):
                    return MAX_INSTRUMENTS + j
    elif start == 0:  # dYdX: one leg per block, from a pseudo-random offset over the open legs
        k = next_random(legs[0].meta) % n
        for j in range(legs_n):
            if cross_pos(legs[j], a) != 0:
                if k == 0:
                    if _close_r4(legs, pf, j, a, CLOSE_WATERFALL, NO_SIZE, out, bout):
                        return j
                    break
                k -= 1
    _settle_if_flat(legs, pf, a, payer, out, bout)
    return -1


@no_refcount
def _backstop(legs, pf, a, start, out, bout) -> bool:
    """Hyperliquid from step ``start``: a market order per open leg (at step 0), then whether
    the backstop takes the legs left (equity below its share of maintenance; once decided, a
    step past ``MAX_INSTRUMENTS`` goes on taking them)."""
    if start > MAX_INSTRUMENTS:
        return True
    if start == 0:
        now = legs[0].meta[A.TS]
        for j in range(pf.meta[N_LEGS]):
            if cross_pos(legs[j], a) != 0:
                _close_r4(legs, pf, j, a, CLOSE_MARKET, _slice(legs[j], a, now), out, bout)
    figures, _ = account_legs(legs, pf, a)
    e, mm_total, _, n = figures
    params = legs[0].params
    return n > 0 and e * params[BACKSTOP_DEN] < params[BACKSTOP_NUM] * mm_total


@njit(cache=True)
def _deleverage(s, pf, a, out, bout):
    """Account ``a``'s leg in instrument state ``s`` deleveraged (:func:`_deleverage_rest`,
    which makes its own room); returns the buffers."""
    s = _deleverage_rest(_enter(s, pf, out, bout), a)
    return _leave(pf, s)


@njit(cache=True, inline="always")
def _settle_if_flat(legs, pf, a, payer, out, bout) -> None:
    """A flat account below zero: its loss settled (:func:`_settle_loss`) in the fund of leg
    ``payer`` (``LOSS_LEG``: of the leg with the lowest wallet, where its own trades made the
    loss)."""
    cash = pf.cash[a]
    worst = 0
    low = 0
    for j in range(pf.meta[N_LEGS]):
        p, _, _, wallet, _ = leg_terms(legs[j], a)
        if p != 0:
            return
        cash += wallet
        if j == 0 or wallet < low:
            low = wallet
            worst = j
    if cash < 0:
        _settle_loss(legs[worst if payer == LOSS_LEG else payer], pf, a, cash, out, bout)
        lend_funds(legs, pf)


@njit(cache=True, inline="always")
def _slice(s, a, now) -> int:
    """Hyperliquid: the lots of the leg in ``s`` one market order sends (a slice of a large
    one outside its cooldown, which then starts)."""
    p, _, _, _, notional = leg_terms(s, a)
    params = s.params
    if (
        notional > params[PARTIAL_THRESHOLD]
        and now - s.acc.last_partial_ns[a] >= params[COOLDOWN_NS]
    ):
        s.acc.last_partial_ns[a] = now
        return max(1, (abs(p) * params[PARTIAL_PPM]) // PPM)
    return abs(p)


@njit(cache=True, inline="always")
def _settle_loss(s, pf, a, cash, out, bout) -> None:
    """A flat account ``cash`` below zero: collateral converted (R7), then the fund of
    instrument state ``s`` pays what is missing, or the loss is recorded as uncovered (into the
    room :func:`_room` reserved)."""
    s = _enter(s, pf, out, bout)
    short = -cash
    total = 0
    for c in range(pf.price.shape[0]):
        total += mul_div_floor(pf.coll[a, c], pf.price[c], PPM)
    for c in range(pf.price.shape[0]):
        units = pf.coll[a, c]
        if units <= 0 or total <= 0:
            continue
        value = mul_div_floor(units, pf.price[c], PPM)
        rate = mul_div_floor(pf.price[c], PPM - pf.buffer_ppm[c], PPM)
        want = min(short, int(np.ceil(short * (value / total))) + 1)
        sell = min(units, mul_div_ceil(want, PPM, max(rate, 1)))  # want * PPM overflows
        got = mul_div_floor(sell, rate, PPM)
        pf.coll[a, c] -= sell
        pf.converted[c] += sell
        pf.cash[a] += got
        pf.meta[DESK] -= got  # the venue paid it
        cash += got
        j = event(s, K_CONVERTED, a, rate, sell, got)
        s.out[j]["instrument"] = -1
        s.out[j]["order_id"] = c
        s.out[j]["notional"] = got
    short = -cash
    if short > 0:
        acc = s.acc
        pay = min(short, max(fund_money(acc), 0))
        if pay > 0:
            acc.wallet[INSURANCE_FUND] -= pay
            acc.wallet[a] += pay
            j = event(s, K_IF_PAID, a, s.meta[A.MARK], 0, pay)
            s.out[j]["counterparty"] = INSURANCE_FUND
        left = short - pay
        if left > 0:
            s.meta[A.UNCOVERED] += left
            pf.meta[UNCOVERED] += left
            event(s, K_UNCOVERED, a, s.meta[A.MARK], 0, left)
    _leave(pf, s)


@njit(cache=True, inline="always")
def _key_fresh(legs, pf, a) -> None:
    """:func:`_key_account` from the account as it is now."""
    figures, terms = account_legs(legs, pf, a)
    _key_account(legs, pf, a, figures, terms)


@njit(cache=True, inline="always")
def _key_account(legs, pf, a, figures, terms) -> None:
    """Every leg's budget set and the leg keyed (a flat one leaves its index), from the
    account's :func:`~margincall.venue.portfolio_margin.account_legs`."""
    e, mm_total, gross, _ = figures
    excess = e - mm_total
    for j in range(pf.meta[N_LEGS]):
        s = legs[j]  # one access to the tuple per leg: each copies the state
        p, upnl, mm, wallet, notional = terms[j]
        weight = notional * pf.vol[j]
        s.acc.rest[a] = budget_rest(excess, gross, upnl, mm, wallet, weight) if p else 0
        key_leg(s, a)


@njit(cache=True)
def _drain(legs, pf):
    """The accounts the instruments handed on since the last drain, each once."""
    n = 0
    for j in range(pf.meta[N_LEGS]):
        n += _take_count(legs, j)
    ids = np.empty(n, np.int64)
    m = 0
    for j in range(pf.meta[N_LEGS]):
        m = _take(legs, j, pf, ids, m)
    return ids[:m]


@no_refcount
def _take_count(legs, j) -> int:
    return legs[j].idx.meta[liq_index.DEFERRED]


@no_refcount
def _take(legs, j, pf, ids, m) -> int:
    """Instrument ``j``'s deferred accounts appended to ``ids`` from ``m`` (each account once
    over all instruments); returns the new count."""
    idx = legs[j].idx
    flags = legs[j].acc.flags
    for i in range(idx.meta[liq_index.DEFERRED]):
        a = idx.deferred[i]
        flags[a] &= ~np.int8(A.QUEUED)
        if not pf.flags[a] & QUEUED:
            pf.flags[a] |= QUEUED
            ids[m] = a
            m += 1
    idx.meta[liq_index.DEFERRED] = 0
    return m


@njit(cache=True, inline="always")
def _room_needed(legs, pf) -> tuple[int, int]:
    """``(events, book records)`` one account's procedure on every leg and the settlement of
    its loss may write at most (ADL aside: it makes its own room)."""
    events = 8 + 2 * pf.price.shape[0] + 2
    records = 0
    for j in range(pf.meta[N_LEGS]):
        ev, rec = close_room(legs[j])
        events += ev
        records = max(records, rec)
    return events, records


@njit(cache=True)
def _room(legs, pf, out, bout):
    """The shared buffers with the room of :func:`_room_needed` after the cursors."""
    events, records = _room_needed(legs, pf)
    s = make_room(_enter(legs[0], pf, out, bout), events, records)
    return s.out, s.bout


@njit(cache=True, inline="always")
def _must_liquidate(pf, a, figures) -> bool:
    """Account ``a`` evaluated (its :func:`~margincall.venue.portfolio_margin.account`
    ``figures``): True when it is breached and not yet liquidated in this block (then it is
    marked so); a breached one already liquidated waits for the next block."""
    pf.flags[a] &= ~np.int8(QUEUED)
    e, mm, _, n = figures
    pf.meta[EVALUATIONS] += 1
    if not breached(pf, e, mm, n):
        return False
    if pf.flags[a] & DONE:
        if not pf.flags[a] & PENDING:
            pf.flags[a] |= PENDING
            pf.pending[pf.meta[N_PENDING]] = a
            pf.meta[N_PENDING] += 1
        return False
    pf.flags[a] |= DONE
    pf.done[pf.meta[N_DONE]] = a
    pf.meta[N_DONE] += 1
    return True


@njit(cache=True)
def evaluate(legs, pf, ids, out, bout):
    """Evaluate accounts ``ids``, and every account their trades hand on: a breached account is
    liquidated (once per block: one still breached after it waits for the next), every one's
    legs keyed again. Returns the buffers (``pf.meta[OUT_N]`` events written).

    The pass runs on borrowed views of the instruments' and the portfolio's arrays (see
    :mod:`margincall.venue.state`): numba would otherwise count references to every array of
    the four states, atomically, at each access to the tuple. Only the two shared buffers,
    which a close may grow, stay managed."""
    b = (
        _borrow_leg(legs[0], out, bout),
        _borrow_leg(legs[1], out, bout),
        _borrow_leg(legs[2], out, bout),
        _borrow_leg(legs[3], out, bout),
    )
    return _pass(b, borrow_portfolio(pf), ids, out, bout)


@njit(cache=True, inline="always")
def _borrow_leg(s, out, bout):
    """An instrument's state borrowed whole, its buffer slots borrowed too (never written
    through: :func:`_enter` puts the shared buffers in before any write)."""
    return with_buffers(borrow_state(s), borrow(out), borrow(bout))


@njit(cache=True)
def _pass(legs, pf, ids, out, bout):
    """:func:`evaluate` on borrowed states."""
    for i in range(ids.shape[0]):
        pf.flags[ids[i]] |= QUEUED
    queue = ids
    while True:
        n = queue.shape[0]
        i = 0
        while i < n:
            i, done = _visit_queue(legs, pf, queue, i, out, bout)
            if i == n:
                break
            if done == NO_ROOM:
                out, bout = _room(legs, pf, out, bout)
                _, done = _visit_queue(legs, pf, queue[i : i + 1], 0, out, bout)
            if done >= 0:
                out, bout = _finish(legs, pf, queue[i], done, out, bout)
            i += 1
        queue = _drain(legs, pf)
        if queue.shape[0] == 0:
            return out, bout


@njit(cache=True, inline="always")
def _prefetch_rows(legs, pf, a) -> None:
    """Start loading account ``a``'s rows (every leg's, and the portfolio's) into cache: the
    pass visits accounts in the order the instruments handed them on, far apart in memory."""
    prefetch(pf.cash, a)  # type: ignore[call-arg]
    prefetch(pf.flags, a)
    for j in range(pf.meta[N_LEGS]):
        s = legs[j]
        prefetch(s.acc.pos, a)
        prefetch(s.acc.rest, a)


@njit(cache=True, inline="always")
def _prefetch_chunks(legs, pf, a) -> None:
    """Start loading, for each open leg of account ``a``, the index chunk that holds it and its
    orders' entry in the book (a liquidation cancels them first); the rows, asked for earlier
    by :func:`_prefetch_rows`, tell which legs are open and where."""
    for j in range(pf.meta[N_LEGS]):
        s = legs[j]
        idx = s.idx
        if idx.side[a] != 0:
            prefetch(idx.chunks[idx.loc[a] >> 4], 0)  # type: ignore[call-arg]
            prefetch(s.book.accounts[a], 0)


@njit(cache=True)
def next_block(pf):
    """A new block: the accounts liquidated in the last one may be again; returns the ones
    waiting for it."""
    for i in range(pf.meta[N_DONE]):
        pf.flags[pf.done[i]] &= ~np.int8(DONE)
    pf.meta[N_DONE] = 0
    n = pf.meta[N_PENDING]
    waiting = pf.pending[:n].copy()
    for i in range(n):
        pf.flags[waiting[i]] &= ~np.int8(PENDING)
    pf.meta[N_PENDING] = 0
    return waiting
