"""The liquidation engine: find breached accounts through the index, close them by the rules.

One call of :func:`liquidation_round` is one cascade round at the current mark: collect the
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
5. ADL when it cannot; a loss still left is paid by the fund, or recorded as uncovered.

Forced fills move the last price; :func:`liquidation_rounds` recomputes the mark (when it follows
the last trade) and runs another round until a round changes no position.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from margincall.events.schema import EventKind
from margincall.venue import book as bk
from margincall.venue import liq_index
from margincall.venue.accounts import LAST, MARK, TS
from margincall.venue.adl import deleverage, reset_queues
from margincall.venue.borrowed import borrow_state
from margincall.venue.ledger import (
    INSURANCE_FUND,
    collateral,
    cover_loss,
    cover_loss_into,
    emit,
    reindex,
    trade_into,
    transfer_into,
    write_event,
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
from margincall.venue.orders import settle_into
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

K_TRIGGERED = int(EventKind.LIQUIDATION_TRIGGERED)
K_LIQUIDATED = int(EventKind.POSITION_LIQUIDATED)
K_FEE = int(EventKind.LIQUIDATION_FEE_CHARGED)
K_IF_PAID = int(EventKind.INSURANCE_FUND_PAID)
K_TAKEOVER = int(EventKind.BACKSTOP_TAKEOVER)
K_ROUND = int(EventKind.CASCADE_ROUND)
K_FILLED = int(EventKind.ORDER_FILLED)
PREFETCH = 8  # accounts ahead whose memory is requested early
K_MARK = int(EventKind.MARK_PRICE_UPDATED)


@njit(cache=True, inline="always")
def excess_of(acc, a, mark, params, tiers) -> int:
    """Margin balance minus maintenance of account ``a`` at ``mark``."""
    return margin_excess(
        collateral(acc, a),
        acc.pos[a],
        acc.cost[a],
        mark,
        params[K],
        tiers.floor,
        tiers.mmr_ppm,
        tiers.cum,
    )


@njit(cache=True, inline="always")
def _clamp_price(params, price) -> int:
    return min(max(price, params[MIN_TICK]), params[MAX_TICK])


@njit(cache=True, inline="always")
def _bankruptcy_price(acc, a, params) -> int:
    bp = bankruptcy_price_ticks(collateral(acc, a), acc.pos[a], acc.cost[a], params[K])
    return max(bp, 1)


@njit(cache=True, inline="always")
def _fund_can_take(acc, meta, params, p, price) -> bool:
    """Whether the fund's equity at the mark stays non-negative after taking position ``p`` at
    ``price``."""
    f = INSURANCE_FUND
    k = params[K]
    after = acc.wallet[f] - acc.cost[f] - p * price * k + (acc.pos[f] + p) * meta[MARK] * k
    return after >= 0


@njit(cache=True)
def takeover_or_adl(acc, idx, book, meta, params, tiers, out, n, bout, a, rnd):
    """Hand the rest of the position to the fund at the bankruptcy price, else deleverage."""
    p = acc.pos[a]
    if p == 0:
        return out, n, bout
    price = _bankruptcy_price(acc, a, params)
    if _fund_can_take(acc, meta, params, p, price):
        out = bk.reserve(out, n, 2)
        n = _take_into(acc, idx, meta, params, tiers, out, n, a, price, rnd)
        return out, n, bout
    adl_price = meta[MARK] if params[ADL_AT_MARK] else price
    out, n, bout, _ = deleverage(
        acc, idx, book, meta, params, tiers, out, n, bout, a, adl_price, rnd
    )
    return out, n, bout


@njit(cache=True, inline="always")
def _take_into(acc, idx, meta, params, tiers, out, n, a, price, rnd):
    """The fund takes account ``a``'s whole position at ``price`` (two events)."""
    p = acc.pos[a]
    side = -1 if p > 0 else 1
    return trade_into(
        acc, idx, meta, params, tiers, out, n, a, INSURANCE_FUND, side, price, abs(p), 0, 0,
        K_TAKEOVER, K_TAKEOVER, -1, -1, rnd,
    )  # fmt: skip


@njit(cache=True, inline="always")
def _takeover_into(acc, idx, meta, params, tiers, out, n, a, rnd):
    """:func:`takeover_or_adl` when the fund can take; returns ``(n, adl)``, ``adl`` when it
    cannot (nothing done: the caller deleverages)."""
    p = acc.pos[a]
    if p == 0:
        return n, False
    price = _bankruptcy_price(acc, a, params)
    if not _fund_can_take(acc, meta, params, p, price):
        return n, True
    return _take_into(acc, idx, meta, params, tiers, out, n, a, price, rnd), False


@njit(cache=True, inline="always")
def _charge_fee_into(acc, meta, params, out, n, a, fee, rnd):
    """Charge a liquidation fee to the fund, never more than what is left above zero; into room
    for its event the caller reserved, returns the new ``n``.

    What is left is the margin balance at the mark (collateral plus the open PnL of any part of
    the position still open), so a fee never pushes the rest of the position past bankruptcy.
    """
    left = collateral(acc, a) + acc.pos[a] * meta[MARK] * params[K] - acc.cost[a]
    fee = min(fee, max(left, 0))
    if fee > 0:
        n = transfer_into(acc, meta, params, out, n, K_FEE, a, INSURANCE_FUND, fee, rnd, meta[MARK])
    return n


@njit(cache=True, inline="always")
def _waterfall_room(book, tiers) -> tuple[int, int]:
    """``(events, book records)`` that :func:`_waterfall_into` can write for one account at most:
    the trigger; the cancels of the account's orders; up to ``tiers + 1`` forced orders, whose
    fills together consume each resting order once, plus one partial fill, acceptance and expiry
    each; two events per book record; a fee per order; the takeover and the fund's cover."""
    resting = bk.submit_room(book)  # resting orders + 3
    orders = tiers.floor.shape[0] + 1
    return 4 * resting + 7 * orders + 5, resting


@njit(cache=True, inline="always")
def _forced_into(acc, idx, book, meta, params, tiers, out, n, bout, a, qty, limit, tif, rnd):
    """A reduce-only IOC (or FOK) for the liquidated account; returns ``(n, lots, tick-lots)``
    filled."""
    p = acc.pos[a]
    side = -1 if p > 0 else 1
    _, nb = bk.submit_into(
        book, a, side, _clamp_price(params, limit), min(qty, abs(p)), tif, bk.STP_NONE, bout, 0
    )
    return settle_into(acc, idx, meta, params, tiers, out, n, bout, nb, K_LIQUIDATED, 0, rnd)


@njit(cache=True, inline="always")
def _binance_into(acc, idx, book, meta, params, tiers, out, n, bout, a, rnd):
    """Binance: IOC orders at the bankruptcy price stepping down the tiers, a clearance fee per
    fill, the fund takes what is still breached. Returns ``(n, adl)``."""
    mark = meta[MARK]
    k = params[K]
    strict = params[STRICT] != 0
    for _ in range(tiers.floor.shape[0] + 1):
        p = acc.pos[a]
        if p == 0:
            break
        t = tier_of(abs(p) * mark * k, tiers.floor)
        size = abs(p)
        if t > 0 and params[STEP_DOWN]:
            keep = (tiers.floor[t] - 1) // (mark * k)
            size = max(1, abs(p) - keep)
        limit = _bankruptcy_price(acc, a, params)
        n, filled, ticklots = _forced_into(
            acc, idx, book, meta, params, tiers, out, n, bout, a, size, limit, bk.TIF_IOC, rnd
        )
        if filled > 0:
            fee = mul_div_ceil(ticklots * k, params[LIQ_FEE_PPM], PPM)
            n = _charge_fee_into(acc, meta, params, out, n, a, fee, rnd)
        if filled == 0 or not is_breached(excess_of(acc, a, mark, params, tiers), strict):
            break
    if acc.pos[a] != 0 and is_breached(excess_of(acc, a, mark, params, tiers), strict):
        return _takeover_into(acc, idx, meta, params, tiers, out, n, a, rnd)
    return n, False


@njit(cache=True, inline="always")
def _bitmex_into(acc, idx, book, meta, params, tiers, out, n, bout, a, rnd):
    """BitMEX: above the first risk limit, a fill-or-kill order at the bankruptcy price sized to
    drop into the tier below (if it cannot fill whole, nothing trades); the engine takes over
    what is left at the bankruptcy price. Returns ``(n, adl)``."""
    k = params[K]
    mark = meta[MARK]
    p = acc.pos[a]
    t = tier_of(abs(p) * mark * k, tiers.floor)
    if t > 0 and params[STEP_DOWN]:
        keep = (tiers.floor[t] - 1) // (mark * k)
        size = max(1, abs(p) - keep)
        limit = _bankruptcy_price(acc, a, params)
        n, _, _ = _forced_into(
            acc, idx, book, meta, params, tiers, out, n, bout, a, size, limit, bk.TIF_FOK, rnd
        )
        if not is_breached(excess_of(acc, a, mark, params, tiers), params[STRICT] != 0):
            return n, False
    return _takeover_into(acc, idx, meta, params, tiers, out, n, a, rnd)


@njit(cache=True, inline="always")
def _dydx_into(acc, idx, book, meta, params, tiers, out, n, bout, a, rnd):
    """dYdX: a capped portion at the fillable price, the capped fee or the fund's top-up to the
    bankruptcy quote; ``adl`` when nothing fills and the account is under water. Returns
    ``(n, adl)``."""
    k = params[K]
    mark = meta[MARK]
    p = acc.pos[a]
    q = abs(p)
    notional = q * mark * k
    # the larger of a minimum and a portion of the position, within the per-block budget
    cap = max(params[MIN_NOTIONAL], mul_div_floor(notional, params[PORTION_PPM], PPM))
    cap = min(cap, params[BLOCK_NOTIONAL_CAP])
    size = q if notional <= cap else max(1, cap // (mark * k))
    mm0 = maintenance_micros(notional, tiers.floor, tiers.mmr_ppm, tiers.cum)
    tnc0 = collateral(acc, a) + p * mark * k - acc.cost[a]
    # fillable price: between the oracle and the bankruptcy side, by how deep the account is
    abr = 0.0 if mm0 == 0 else min(1.0, max(0.0, params[BA_PPM] / PPM * (1.0 - tnc0 / mm0)))
    shift = abr * params[SMMR_PPM] / PPM * mm0 / (q * k)
    limit = int(np.ceil(mark - shift)) if p > 0 else int(np.floor(mark + shift))
    n, filled, ticklots = _forced_into(
        acc, idx, book, meta, params, tiers, out, n, bout, a, size, limit, bk.TIF_IOC, rnd
    )
    acc.last_partial_ns[a] = meta[TS]  # one liquidation per account per block
    if filled > 0:
        # the account should get its bankruptcy quote BQ for the closed part: the rest of its
        # collateral stays in proportion to the maintenance it still needs
        p1 = acc.pos[a]
        mm1 = maintenance_micros(abs(p1) * mark * k, tiers.floor, tiers.mmr_ppm, tiers.cum)
        d_nnv = (p1 - p) * mark * k
        bq = -d_nnv - ((tnc0 * (mm0 - mm1)) // mm0 if mm0 > 0 else 0)
        quote = ticklots * k if p > 0 else -ticklots * k
        surplus = quote - bq
        if surplus > 0:
            fee = min(mul_div_ceil(abs(quote), params[MAX_LIQ_FEE_PPM], PPM), surplus)
            n = _charge_fee_into(acc, meta, params, out, n, a, fee, rnd)
        elif surplus < 0:
            pay = min(-surplus, max(acc.wallet[INSURANCE_FUND], 0))
            if pay > 0:
                n = transfer_into(
                    acc, meta, params, out, n, K_IF_PAID, INSURANCE_FUND, a, pay, rnd, mark
                )
        return n, False
    return n, tnc0 < 0


@njit(cache=True, inline="always")
def _hyperliquid_into(acc, idx, book, meta, params, tiers, out, n, bout, a, rnd):
    """Hyperliquid: a market order (a slice of a large position, once per cooldown); the
    backstop vault takes the rest below its share of maintenance. Returns ``(n, adl)``."""
    k = params[K]
    mark = meta[MARK]
    p = acc.pos[a]
    q = abs(p)
    size = q
    if (
        q * mark * k > params[PARTIAL_THRESHOLD]
        and meta[TS] - acc.last_partial_ns[a] >= params[COOLDOWN_NS]
    ):
        size = max(1, (q * params[PARTIAL_PPM]) // PPM)
        acc.last_partial_ns[a] = meta[TS]
    band = (mark * params[BAND_PPM]) // PPM
    limit = mark - band if p > 0 else mark + band
    n, _, _ = _forced_into(
        acc, idx, book, meta, params, tiers, out, n, bout, a, size, limit, bk.TIF_IOC, rnd
    )
    p = acc.pos[a]
    if p != 0:
        equity = collateral(acc, a) + p * mark * k - acc.cost[a]
        mm = maintenance_micros(abs(p) * mark * k, tiers.floor, tiers.mmr_ppm, tiers.cum)
        if equity * params[BACKSTOP_DEN] < params[BACKSTOP_NUM] * mm:
            return _takeover_into(acc, idx, meta, params, tiers, out, n, a, rnd)
    return n, False


@no_refcount
def _waterfall_into(acc, idx, book, meta, params, tiers, out, n, bout, a, ex, rnd):
    """Take one breached account (margin excess ``ex`` at the mark) through its venue's
    waterfall, into room :func:`_waterfall_room` reserved, with no reference counting: trigger,
    cancels, the rulebook's forced orders, fees, takeover, cover, reindex. Returns ``(n, adl)``:
    with ``adl`` the account must be deleveraged and nothing past the forced orders and fees
    was done (the caller finishes with :func:`_deleverage_rest`)."""
    mark = meta[MARK]
    p = acc.pos[a]
    write_event(
        out, n, meta, params, K_TRIGGERED, 0, 1 if p > 0 else -1, 0, rnd, a, -1, -1, mark, p,
        abs(p) * mark * params[K], ex,
    )  # fmt: skip
    n += 1
    nb = bk._cancel_account_into(book, a, bout, 0)
    n, _, _ = settle_into(acc, idx, meta, params, tiers, out, n, bout, nb, K_FILLED, 0, rnd)
    policy = params[POLICY]
    if policy == POLICY_BINANCE:
        n, adl = _binance_into(acc, idx, book, meta, params, tiers, out, n, bout, a, rnd)
    elif policy == POLICY_BITMEX:
        n, adl = _bitmex_into(acc, idx, book, meta, params, tiers, out, n, bout, a, rnd)
    elif policy == POLICY_DYDX:
        n, adl = _dydx_into(acc, idx, book, meta, params, tiers, out, n, bout, a, rnd)
    else:
        n, adl = _hyperliquid_into(acc, idx, book, meta, params, tiers, out, n, bout, a, rnd)
    if adl:
        return n, True
    n = cover_loss_into(acc, meta, params, out, n, a, rnd)
    reindex(acc, idx, a, params, tiers)
    return n, False


@njit(cache=True)
def _deleverage_rest(acc, idx, book, meta, params, tiers, out, n, bout, a, rnd):
    """The end of an account's waterfall when :func:`_waterfall_into` asked for ADL (the fund
    could not take, or dYdX's forced order filled nothing under water): deleverage, cover the
    loss, reindex. The counted path (the ADL queue is built with allocations)."""
    if params[POLICY] == POLICY_DYDX:
        price = _bankruptcy_price(acc, a, params)
        out, n, bout, _ = deleverage(
            acc, idx, book, meta, params, tiers, out, n, bout, a, price, rnd
        )
    else:
        out, n, bout = takeover_or_adl(acc, idx, book, meta, params, tiers, out, n, bout, a, rnd)
    out, n = cover_loss(acc, meta, params, out, n, a, rnd)
    reindex(acc, idx, a, params, tiers)
    return out, n, bout


@no_refcount
def _round_into(
    acc, idx, book, meta, params, tiers, out, n, bout, accounts, order, start, counts, rnd
):
    """The accounts ``accounts[order[start:]]`` of a round, most under water first, each through
    its waterfall, while ``out`` has the room one more may need (``bout`` has room for any).

    Returns ``(next, n, adl)``: ``next`` the first account not done; with ``adl`` that account
    went through its waterfall up to ADL and the caller finishes it (:func:`_deleverage_rest`).
    ``counts``: breached accounts, those whose position changed, and (with ``adl``) the
    position before the waterfall.
    """
    mark = meta[MARK]
    k = params[K]
    strict = params[STRICT] != 0
    m = order.shape[0]
    for i in range(start, m):
        if i + PREFETCH < m:  # the next accounts' rows and book entries: memory is the cost
            ahead = accounts[order[i + PREFETCH]]
            prefetch(acc.wallet, ahead)  # type: ignore[call-arg]
            prefetch(book.accounts, ahead)
        a = accounts[order[i]]
        if acc.pos[a] == 0:
            continue
        ex = excess_of(acc, a, mark, params, tiers)
        ok = not is_breached(ex, strict)
        done = params[POLICY] == POLICY_DYDX and acc.last_partial_ns[a] == meta[TS]
        if ok or done:
            # not (or no longer) breached: back in, keyed one tick past the mark so the next
            # price move checks it again; a dYdX account done for this block keeps its real key
            # so the next block (same oracle) takes it again
            p = acc.pos[a]
            key = liquidation_key(
                collateral(acc, a), p, acc.cost[a], k, tiers.floor, tiers.mmr_ppm, tiers.cum
            )
            if ok:
                key = min(key, mark - 1) if p > 0 else max(key, mark + 1)
            liq_index.insert(idx, a, 1 if p > 0 else -1, key)
            continue
        events, _ = _waterfall_room(book, tiers)
        if out.shape[0] - n < events + 1:
            return i, n, False
        if counts[0] == 0:
            write_event(out, n, meta, params, K_ROUND, 0, 0, 0, rnd, -1, -1, -1, mark, m, 0, 0)
            n += 1
        counts[0] += 1
        liq_index.remove(idx, a)
        before = acc.pos[a]
        n, adl = _waterfall_into(acc, idx, book, meta, params, tiers, out, n, bout, a, ex, rnd)
        if adl:
            counts[2] = before
            return i, n, True
        if acc.pos[a] != before:
            counts[1] += 1
    return m, n, False


@njit(cache=True)
def liquidation_round(acc, idx, book, meta, params, tiers, out, n, bout, cand, rnd):
    """One cascade round at the current mark; returns ``(out, n, bout, cand, liquidated)``.

    ``liquidated`` counts the breached accounts whose position the round changed (an account
    the book cannot take and no backstop applies to is not counted, so rounds do not repeat).
    """
    mark = meta[MARK]
    k = params[K]
    cand, m = liq_index.collect(idx, mark, cand)
    if m == 0:
        return out, n, bout, cand, 0
    accounts = np.sort(cand[:m])
    depth = np.empty(m, np.float64)
    for i in range(m):
        if i + PREFETCH < m:
            prefetch(acc.wallet, accounts[i + PREFETCH])  # type: ignore[call-arg]
        a = accounts[i]
        ex = excess_of(acc, a, mark, params, tiers)
        mm = maintenance_micros(abs(acc.pos[a]) * mark * k, tiers.floor, tiers.mmr_ppm, tiers.cum)
        depth[i] = ex / max(mm, 1)
    order = np.argsort(depth, kind="mergesort")
    counts = np.zeros(3, np.int64)  # breached, progressed, position before an ADL
    i = 0
    while i < m:
        events, records = _waterfall_room(book, tiers)
        out = bk.reserve(out, n, min(m - i, 64) * (events + 1))  # room for a batch
        bout = bk.reserve(bout, 0, records)
        i, n, adl = _round_into(
            acc, idx, book, meta, params, tiers, out, n, bout, accounts, order, i, counts, rnd
        )
        if adl:
            a = accounts[order[i]]
            out, n, bout = _deleverage_rest(
                acc, idx, book, meta, params, tiers, out, n, bout, a, rnd
            )
            if acc.pos[a] != counts[2]:
                counts[1] += 1
            i += 1
    # only a round that changed a position can make another round find something new
    return out, n, bout, cand, counts[1]


@njit(cache=True)
def liquidation_rounds(
    acc, idx, book, meta, params, tiers, out, n, bout, cand, p1, p2, follow_last
):
    """Cascade rounds until one finds no breach (at most ``MAX_ROUNDS``).

    With ``follow_last`` (Binance's median mark) the mark is recomputed between rounds as the
    median of the two index-based prices ``p1``, ``p2`` and the last trade, which the forced fills
    move: that is how one break can cascade within a step. Other marks come from outside and do
    not move between rounds. Returns ``(out, n, bout, cand, liquidated, rounds)``.
    """
    acc, idx, book, meta, params, tiers = borrow_state(acc, idx, book, meta, params, tiers)
    reset_queues(idx)
    total = 0
    rounds = 0
    for rnd in range(1, params[MAX_ROUNDS] + 1):
        out, n, bout, cand, breached = liquidation_round(
            acc, idx, book, meta, params, tiers, out, n, bout, cand, rnd
        )
        rounds = rnd
        total += breached
        if breached == 0:
            break
        if follow_last:
            last = meta[LAST] if meta[LAST] > 0 else meta[MARK]
            lo = min(p1, p2)
            hi = max(p1, p2)
            mark = _clamp_price(params, min(max(last, lo), hi))
            if mark != meta[MARK]:
                meta[MARK] = mark
                out, n = emit(out, n, meta, params, K_MARK, 0, 0, 0, rnd, -1, -1, -1, mark, 0, 0, 0)
    return out, n, bout, cand, total, rounds
