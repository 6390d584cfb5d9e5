"""The liquidation engine: find breached accounts through the index, close them by the rules.

A cascade round at the current mark (:func:`liquidation_rounds` runs them): collect the
accounts whose key the mark has reached, check each exactly, and take the breached ones through
their venue's waterfall, most under water first:

1. cancel the account's open orders;
2. the book: a forced IOC order (Binance: at the bankruptcy price, stepping down the tiers;
   dYdX: at the fillable price, a capped portion; Hyperliquid: a market order, 20% slices for
   large positions; BitMEX: only above the first risk limit, a fill-or-kill at the bankruptcy
   price into the step below);
3. fees: Binance's clearance fee and dYdX's capped fee go to the insurance fund, only out of
   what is left above bankruptcy;
4. takeover: the insurance fund (Hyperliquid: the backstop vault below 2/3 of maintenance)
   takes what is left at the bankruptcy price, if its equity stays non-negative;
5. ADL when it cannot (:func:`deleverage_account`, its own entry kernel, run from Python
   between two calls of the rounds); a loss still left is paid by the fund, or recorded as
   uncovered.

Forced fills move the last price; :func:`liquidation_rounds` recomputes the mark (when it follows
the last trade) and runs another round until a round changes no position.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from margincall.events.schema import EventKind
from margincall.venue import book as bk
from margincall.venue import liq_index
from margincall.venue.accounts import BOOK_N, LAST, MARK, OUT_N, PORTFOLIO, ROUND, TS
from margincall.venue.adl import deleverage, reset_queues
from margincall.venue.band import band_limit_ticks
from margincall.venue.ledger import (
    INSURANCE_FUND,
    K_FILLED,
    K_LIQUIDATED,
    collateral,
    cover_loss,
    event,
    fund_money,
    party,
    reindex,
    trade,
    transfer,
)
from margincall.venue.margin_int import (
    PPM,
    bankruptcy_price_ticks,
    is_breached,
    liquidation_key,
    maintenance_micros,
    margin_excess,
    mul_div_ceil,
    mul_div_floor,
    tier_of,
)
from margincall.venue.orders import settle
from margincall.venue.params import (
    ADL_AT_MARK,
    BA_PPM,
    BACKSTOP_DEN,
    BACKSTOP_NUM,
    BAND_PPM,
    BLOCK_NOTIONAL_CAP,
    COOLDOWN_NS,
    LIQ_FEE_PPM,
    MAX_LIQ_FEE_PPM,
    MAX_ROUNDS,
    MAX_TICK,
    MIN_NOTIONAL,
    MIN_TICK,
    PARTIAL_PPM,
    PARTIAL_THRESHOLD,
    POLICY,
    POLICY_BINANCE,
    POLICY_BITMEX,
    POLICY_DYDX,
    PORTION_PPM,
    SMMR_PPM,
    STEP_DOWN,
    STRICT,
    K,
)
from margincall.venue.pointers import no_refcount, prefetch
from margincall.venue.state import borrow_state, make_room

K_TRIGGERED = int(EventKind.LIQUIDATION_TRIGGERED)
K_FEE = int(EventKind.LIQUIDATION_FEE_CHARGED)
K_IF_PAID = int(EventKind.INSURANCE_FUND_PAID)
K_TAKEOVER = int(EventKind.BACKSTOP_TAKEOVER)
K_ROUND = int(EventKind.CASCADE_ROUND)
PREFETCH = 8  # accounts ahead whose memory is requested early
# codes passed to kernels as numpy integers (one compiled version, not one per constant)
IOC = np.int64(bk.TIF_IOC)
FOK = np.int64(bk.TIF_FOK)
NO_STP = np.int64(bk.STP_NONE)
K_MARK = int(EventKind.MARK_PRICE_UPDATED)


@njit(cache=True, inline="always")
def excess_of(s, a, mark) -> int:
    """Margin balance minus maintenance of account ``a`` at ``mark``."""
    acc = s.acc
    t = s.tiers
    return margin_excess(
        collateral(acc, a), acc.pos[a], acc.cost[a], mark, s.params[K], t.floor, t.mmr_ppm, t.cum
    )


@njit(cache=True, inline="always")
def _maintenance(s, notional) -> int:
    t = s.tiers
    return maintenance_micros(notional, t.floor, t.mmr_ppm, t.cum)


@njit(cache=True, inline="always")
def _clamp_price(params, price) -> int:
    return min(max(price, params[MIN_TICK]), params[MAX_TICK])


@njit(cache=True, inline="always")
def _bankruptcy_price(s, a) -> int:
    acc = s.acc
    bp = bankruptcy_price_ticks(collateral(acc, a), acc.pos[a], acc.cost[a], s.params[K])
    return max(bp, 1)


@njit(cache=True, inline="always")
def _fund_can_take(s, p, price) -> bool:
    """Whether the fund's equity at the mark stays non-negative after taking position ``p`` at
    ``price``."""
    acc = s.acc
    f = INSURANCE_FUND
    k = s.params[K]
    after = fund_money(acc) - acc.cost[f] - p * price * k + (acc.pos[f] + p) * s.meta[MARK] * k
    return after >= 0


@no_refcount
def _takeover(s, a) -> bool:
    """The fund takes account ``a``'s whole position at its bankruptcy price (two events), if
    its equity stays non-negative; returns True when it cannot (nothing done: the caller
    deleverages)."""
    p = s.acc.pos[a]
    if p == 0:
        return False
    price = _bankruptcy_price(s, a)
    if not _fund_can_take(s, p, price):
        return True
    side = -1 if p > 0 else 1
    trade(s, party(a, K_TAKEOVER), party(INSURANCE_FUND, K_TAKEOVER), side, price, abs(p))
    return False


@njit(cache=True, inline="always")
def _charge_fee(s, a, fee) -> None:
    """Charge a liquidation fee to the fund, never more than what is left above zero (one
    event).

    What is left is the margin balance at the mark (collateral plus the open PnL of any part of
    the position still open), so a fee never pushes the rest of the position past bankruptcy.
    """
    acc = s.acc
    left = collateral(acc, a) + acc.pos[a] * s.meta[MARK] * s.params[K] - acc.cost[a]
    fee = min(fee, max(left, 0))
    if fee > 0:
        transfer(s, K_FEE, a, INSURANCE_FUND, fee)


@njit(cache=True, inline="always")
def _waterfall_room(s) -> tuple[int, int]:
    """``(events, book records)`` that :func:`_waterfall` can write for one account at most:
    the trigger; the cancels of the account's orders; up to ``tiers + 1`` forced orders, whose
    fills together consume each resting order once, plus one partial fill, acceptance and expiry
    each; two events per cancel and four per fill record (:func:`settle`); a fee per order; the
    takeover and the fund's cover."""
    resting = bk.submit_room(s.book)  # resting orders + 3
    orders = s.tiers.floor.shape[0] + 1
    return 6 * resting + 9 * orders + 5, resting


@no_refcount
def _forced(s, a, qty, limit, tif):
    """A reduce-only IOC (or FOK) for the liquidated account; returns ``(lots, tick-lots)``
    filled."""
    p = s.acc.pos[a]
    side = -1 if p > 0 else 1
    _, s.meta[BOOK_N] = bk.submit_into(
        s.book, a, side, _clamp_price(s.params, limit), min(qty, abs(p)), tif, NO_STP, s.bout,
        s.meta[BOOK_N],
    )  # fmt: skip
    return settle(s, K_LIQUIDATED)


@njit(cache=True, inline="always")
def _binance(s, a) -> bool:
    """Binance: IOC orders at the bankruptcy price stepping down the tiers, a clearance fee per
    fill, the fund takes what is still breached. Returns True when it must deleverage."""
    acc = s.acc
    params = s.params
    floor = s.tiers.floor
    mark = s.meta[MARK]
    k = params[K]
    strict = params[STRICT] != 0
    for _ in range(floor.shape[0] + 1):
        p = acc.pos[a]
        if p == 0:
            break
        t = tier_of(abs(p) * mark * k, floor)
        size = abs(p)
        if t > 0 and params[STEP_DOWN]:
            keep = (floor[t] - 1) // (mark * k)
            size = max(1, abs(p) - keep)
        filled, ticklots = _forced(s, a, size, _bankruptcy_price(s, a), IOC)
        if filled > 0:
            _charge_fee(s, a, mul_div_ceil(ticklots * k, params[LIQ_FEE_PPM], PPM))
        if filled == 0 or not is_breached(excess_of(s, a, mark), strict):
            break
    if acc.pos[a] != 0 and is_breached(excess_of(s, a, mark), strict):
        return _takeover(s, a)
    return False


@njit(cache=True, inline="always")
def _bitmex(s, a) -> bool:
    """BitMEX: above the first risk limit, a fill-or-kill order at the bankruptcy price sized to
    drop into the tier below (if it cannot fill whole, nothing trades); the engine takes over
    what is left at the bankruptcy price. Returns True when it must deleverage."""
    params = s.params
    floor = s.tiers.floor
    k = params[K]
    mark = s.meta[MARK]
    p = s.acc.pos[a]
    t = tier_of(abs(p) * mark * k, floor)
    if t > 0 and params[STEP_DOWN]:
        keep = (floor[t] - 1) // (mark * k)
        size = max(1, abs(p) - keep)
        _forced(s, a, size, _bankruptcy_price(s, a), FOK)
        if not is_breached(excess_of(s, a, mark), params[STRICT] != 0):
            return False
    return _takeover(s, a)


@njit(cache=True, inline="always")
def _dydx(s, a) -> bool:
    """dYdX: a capped portion at the fillable price, the capped fee or the fund's top-up to the
    bankruptcy quote; True (deleverage) when nothing fills and the account is under water."""
    acc = s.acc
    params = s.params
    k = params[K]
    mark = s.meta[MARK]
    p = acc.pos[a]
    q = abs(p)
    notional = q * mark * k
    # the larger of a minimum and a portion of the position, within the per-block budget
    cap = max(params[MIN_NOTIONAL], mul_div_floor(notional, params[PORTION_PPM], PPM))
    cap = min(cap, params[BLOCK_NOTIONAL_CAP])
    size = q if notional <= cap else max(1, cap // (mark * k))
    mm0 = _maintenance(s, notional)
    tnc0 = collateral(acc, a) + p * mark * k - acc.cost[a]
    # fillable price: between the oracle and the bankruptcy side, by how deep the account is
    abr = 0.0 if mm0 == 0 else min(1.0, max(0.0, params[BA_PPM] / PPM * (1.0 - tnc0 / mm0)))
    shift = abr * params[SMMR_PPM] / PPM * mm0 / (q * k)
    limit = int(np.ceil(mark - shift)) if p > 0 else int(np.floor(mark + shift))
    filled, ticklots = _forced(s, a, size, limit, IOC)
    acc.last_partial_ns[a] = s.meta[TS]  # one liquidation per account per block
    if filled > 0:
        # the account should get its bankruptcy quote BQ for the closed part: the rest of its
        # collateral stays in proportion to the maintenance it still needs
        p1 = acc.pos[a]
        mm1 = _maintenance(s, abs(p1) * mark * k)
        d_nnv = (p1 - p) * mark * k
        bq = -d_nnv - ((tnc0 * (mm0 - mm1)) // mm0 if mm0 > 0 else 0)
        quote = ticklots * k if p > 0 else -ticklots * k
        surplus = quote - bq
        if surplus > 0:
            _charge_fee(s, a, min(mul_div_ceil(abs(quote), params[MAX_LIQ_FEE_PPM], PPM), surplus))
        elif surplus < 0:
            pay = min(-surplus, max(fund_money(acc), 0))
            if pay > 0:
                transfer(s, K_IF_PAID, INSURANCE_FUND, a, pay)
        return False
    return tnc0 < 0


@njit(cache=True, inline="always")
def _hyperliquid(s, a) -> bool:
    """Hyperliquid: a market order (a slice of a large position, once per cooldown); the
    backstop vault takes the rest below its share of maintenance. Returns True when it must
    deleverage."""
    acc = s.acc
    params = s.params
    k = params[K]
    mark = s.meta[MARK]
    now = s.meta[TS]
    p = acc.pos[a]
    q = abs(p)
    size = q
    if (
        q * mark * k > params[PARTIAL_THRESHOLD]
        and now - acc.last_partial_ns[a] >= params[COOLDOWN_NS]
    ):
        size = max(1, (q * params[PARTIAL_PPM]) // PPM)
        acc.last_partial_ns[a] = now
    _forced(s, a, size, band_limit_ticks(mark, params[BAND_PPM], -1 if p > 0 else 1), IOC)
    p = acc.pos[a]
    if p != 0:
        equity = collateral(acc, a) + p * mark * k - acc.cost[a]
        mm = _maintenance(s, abs(p) * mark * k)
        if equity * params[BACKSTOP_DEN] < params[BACKSTOP_NUM] * mm:
            return _takeover(s, a)
    return False


@njit(cache=True, inline="always")
def trigger(s, a, ex) -> None:
    """The start of every liquidation of account ``a`` (margin excess ``ex``): the trigger
    event and the cancels of its open orders."""
    mark = s.meta[MARK]
    p = s.acc.pos[a]
    j = event(s, K_TRIGGERED, a, mark, p, ex)
    s.out[j]["side"] = 1 if p > 0 else -1
    s.out[j]["notional"] = abs(p) * mark * s.params[K]
    s.meta[BOOK_N] = bk.cancel_account_into(s.book, a, s.bout, s.meta[BOOK_N])
    if s.meta[BOOK_N] > 0:  # the account had orders (a call saved per liquidation when not)
        settle(s, K_FILLED)


@no_refcount
def _waterfall(s, a, ex) -> bool:
    """Take one breached account (margin excess ``ex`` at the mark) through its venue's
    waterfall, into room :func:`_waterfall_room` reserved, with no reference counting: trigger,
    cancels, the rulebook's forced orders, fees, takeover, cover, reindex. Returns True when the
    account must be deleveraged: then nothing past the forced orders and fees was done (the
    caller finishes with :func:`_deleverage_rest`)."""
    trigger(s, a, ex)
    policy = s.params[POLICY]
    if policy == POLICY_BINANCE:
        adl = _binance(s, a)
    elif policy == POLICY_BITMEX:
        adl = _bitmex(s, a)
    elif policy == POLICY_DYDX:
        adl = _dydx(s, a)
    else:
        adl = _hyperliquid(s, a)
    if adl:
        return True
    cover_loss(s, a)
    reindex(s, a)
    return False


@njit(cache=True)
def _deleverage_rest(s, a):
    """The end of an account's waterfall when :func:`_waterfall` asked for ADL (the fund could
    not take, or dYdX's forced order filled nothing under water): deleverage, cover the loss,
    reindex. The counted path (the ADL queue is built with allocations); returns the state
    (its buffers may have grown)."""
    p = s.acc.pos[a]
    if s.params[POLICY] == POLICY_DYDX:
        s, _ = deleverage(s, a, _bankruptcy_price(s, a))
    elif p != 0:
        price = _bankruptcy_price(s, a)
        s = make_room(s, 2, 0)
        if _fund_can_take(s, p, price):
            _takeover(s, a)
        else:
            s, _ = deleverage(s, a, s.meta[MARK] if s.params[ADL_AT_MARK] else price)
    s = make_room(s, 2, 0)
    cover_loss(s, a)
    reindex(s, a)
    return s


@no_refcount
def _round(s, accounts, order, start, counts):
    """The accounts ``accounts[order[start:]]`` of a round, most under water first, each through
    its waterfall, while the event buffer has the room one more may need (the book-record buffer
    has room for any).

    Returns ``(next, adl)``: ``next`` the first account not done; with ``adl`` that account
    went through its waterfall up to ADL and the caller finishes it (:func:`_deleverage_rest`).
    ``counts``: breached accounts, those whose position changed, and (with ``adl``) the
    position before the waterfall.
    """
    acc = s.acc
    t = s.tiers
    mark = s.meta[MARK]
    k = s.params[K]
    strict = s.params[STRICT] != 0
    dydx = s.params[POLICY] == POLICY_DYDX
    m = order.shape[0]
    for i in range(start, m):
        if i + PREFETCH < m:  # the next accounts' rows and book entries: memory is the cost
            ahead = accounts[order[i + PREFETCH]]
            prefetch(acc.wallet, ahead)  # type: ignore[call-arg]
            prefetch(s.book.accounts, ahead)
        a = accounts[order[i]]
        if acc.pos[a] == 0:
            continue
        if acc.flags[a] & PORTFOLIO:  # the portfolio checks the whole account
            liq_index.defer(s.idx, acc.flags, a)
            continue
        ex = excess_of(s, a, mark)
        ok = not is_breached(ex, strict)
        done = dydx and acc.last_partial_ns[a] == s.meta[TS]
        if ok or done:
            # not (or no longer) breached: back in, keyed one tick past the mark so the next
            # price move checks it again; a dYdX account done for this block keeps its real key
            # so the next block (same oracle) takes it again
            p = acc.pos[a]
            key = liquidation_key(collateral(acc, a), p, acc.cost[a], k, t.floor, t.mmr_ppm, t.cum)
            if ok:
                key = min(key, mark - 1) if p > 0 else max(key, mark + 1)
            liq_index.insert(s.idx, a, 1 if p > 0 else -1, key)
            continue
        events, _ = _waterfall_room(s)
        if s.out.shape[0] - s.meta[OUT_N] < events + 1:
            return i, False
        if counts[0] == 0:
            j = event(s, K_ROUND, -1, mark, m, 0)
            s.out[j]["notional"] = 0  # qty is the number of candidates, not a size
        counts[0] += 1
        liq_index.remove(s.idx, a)
        before = acc.pos[a]
        if _waterfall(s, a, ex):
            counts[2] = before
            return i, True
        if acc.pos[a] != before:
            counts[1] += 1
    return m, False


@njit(cache=True)
def _collect_round(s, cand):
    """The accounts a round at the current mark takes, in id order, and the order to take them
    in (most under water first); returns ``(cand, accounts, order)``."""
    acc = s.acc
    mark = s.meta[MARK]
    k = s.params[K]
    cand, m = liq_index.collect(s.idx, mark, cand)
    accounts = np.sort(cand[:m])
    depth = np.empty(m, np.float64)
    for i in range(m):
        if i + PREFETCH < m:
            prefetch(acc.wallet, accounts[i + PREFETCH])  # type: ignore[call-arg]
        a = accounts[i]
        ex = excess_of(s, a, mark)
        depth[i] = ex / max(_maintenance(s, abs(acc.pos[a]) * mark * k), 1)
    return cand, accounts, np.argsort(depth, kind="mergesort")


# slots of a cascade's progress (``c`` of :func:`liquidation_rounds`), kept between the calls
# of one cascade: the mark's inputs, then where the cascade is
P1, P2, FOLLOW_LAST, RND, TOTAL, NEXT, BREACHED, PROGRESSED, BEFORE, ADL_ACCOUNT = range(10)
PROGRESS_SIZE = 10


@njit(cache=True)
def liquidation_rounds(s, cand, accounts, order, c):
    """Cascade rounds until one finds no breach (at most ``MAX_ROUNDS``), their events stamped
    with their round (``meta[ROUND]``, 0 again at the end).

    A round collects the accounts whose key the mark has reached, checks each exactly and takes
    the breached ones through their venue's waterfall, most under water first; it counts the
    breached accounts whose position it changed (one the book cannot take and no backstop
    applies to is not counted, so rounds do not repeat), and only a round that changed a
    position can make another find something new. With ``c[FOLLOW_LAST]`` (Binance's median
    mark) the mark is recomputed between rounds as the median of the two index-based prices
    ``c[P1]``, ``c[P2]`` and the last trade, which the forced fills move: that is how one break
    can cascade within a step. Other marks come from outside and do not move between rounds.

    ADL is not compiled in here (it is rare, and compiling it with the rounds made them the
    longest compile of a first run): when an account's waterfall needs it, this returns with
    ``c[ADL_ACCOUNT]`` set to the account, the round's ``accounts`` and ``order`` and the
    progress in ``c``; the caller runs :func:`deleverage_account` on it and calls again with
    the same arrays, and the round goes on where it stopped. ``c[ADL_ACCOUNT]`` is -1 when the
    cascade is over; a new cascade starts with ``c[RND]`` 0. Returns ``(out, bout, cand,
    accounts, order)``.
    """
    s = borrow_state(s)
    meta = s.meta
    counts = c[BREACHED : BEFORE + 1]  # breached, progressed, position before an ADL
    if c[RND] == 0:  # a new cascade
        reset_queues(s.idx)
        c[RND] = 1
        c[TOTAL] = 0
        c[NEXT] = -1  # the round's accounts are still to collect
    elif c[ADL_ACCOUNT] >= 0:  # back from the account's ADL: the round goes on after it
        if s.acc.pos[c[ADL_ACCOUNT]] != counts[2]:
            counts[1] += 1
        c[ADL_ACCOUNT] = -1
        c[NEXT] += 1
    while c[RND] <= s.params[MAX_ROUNDS]:
        meta[ROUND] = c[RND]
        if c[NEXT] < 0:
            cand, accounts, order = _collect_round(s, cand)
            c[NEXT] = 0
            counts[:] = 0
        m = accounts.shape[0]
        nxt = c[NEXT]
        while nxt < m:
            events, records = _waterfall_room(s)
            s = make_room(s, min(int(m - nxt), 64) * (events + 1), records)  # room for a batch
            nxt, adl = _round(s, accounts, order, nxt, counts)
            if adl:
                c[NEXT] = nxt
                c[ADL_ACCOUNT] = accounts[order[nxt]]
                return s.out, s.bout, cand, accounts, order
        c[NEXT] = -1
        c[TOTAL] += counts[1]
        if counts[1] == 0:
            break
        c[RND] += 1
        if c[FOLLOW_LAST] != 0:
            last = meta[LAST] if meta[LAST] > 0 else meta[MARK]
            p1 = c[P1]
            p2 = c[P2]
            mark = _clamp_price(s.params, min(max(last, min(p1, p2)), max(p1, p2)))
            if mark != meta[MARK]:
                meta[MARK] = mark
                s = make_room(s, 1, 0)
                event(s, K_MARK, -1, mark, 0, 0)
    meta[ROUND] = 0
    c[RND] = 0
    return s.out, s.bout, cand, accounts, order


@njit(cache=True)
def deleverage_account(s, a):
    """The end of account ``a``'s waterfall after :func:`liquidation_rounds` returned asking for
    its ADL (:func:`_deleverage_rest`), an entry kernel of its own; returns ``(out, bout)``."""
    s = _deleverage_rest(borrow_state(s), a)
    return s.out, s.bout
