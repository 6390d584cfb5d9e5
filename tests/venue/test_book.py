"""Unit tests of the compiled order book, also run against the pure-Python reference book."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from margincall.core.errors import InvalidInputError
from margincall.events.schema import EventKind as K
from margincall.events.schema import RejectReason as R
from margincall.venue import book as bk
from margincall.venue.book import (
    BOOK_EVENT_DTYPE,
    MESSAGE_DTYPE,
    NO_SLOT,
    OP_AMEND,
    OP_CANCEL,
    OP_CANCEL_ACCOUNT,
    OP_SUBMIT,
    STP_EXPIRE_BOTH,
    STP_EXPIRE_MAKER,
    STP_EXPIRE_TAKER,
    TIF_FOK,
    TIF_IOC,
    TIF_POST_ONLY,
)
from margincall.venue.order_book import OrderBook
from oracles.reference_book import ReferenceOrderBook

BUY, SELL = 1, -1


@pytest.fixture(params=[OrderBook, ReferenceOrderBook], ids=["numba", "reference"])
def make_book(request):
    def make(min_tick=90, max_tick=110, capacity=64, n_accounts=4):
        return request.param(min_tick, max_tick, capacity, n_accounts)

    return make


def rec(kind, oid, account, side, price, qty, leaves=0, reason=0, maker=-1, maker_account=-1):
    return (int(kind), int(reason), oid, account, side, price, qty, maker, maker_account, leaves)


def fill(taker, account, side, price, qty, leaves, maker, maker_account):
    return rec(K.ORDER_FILLED, taker, account, side, price, qty, leaves, 0, maker, maker_account)


def snapshot(book):
    return (book.levels(BUY), book.levels(SELL), book.best_bid(), book.best_ask())


def test_limit_order_rests_and_sets_best_prices(make_book):
    b = make_book()
    oid, ev = b.submit(0, BUY, 99, 5)
    assert ev.dtype == BOOK_EVENT_DTYPE
    assert ev.tolist() == [rec(K.ORDER_ACCEPTED, oid, 0, BUY, 99, 5, leaves=5)]
    oid2, _ = b.submit(1, SELL, 101, 3)
    assert b.levels(BUY) == [(99, [(oid, 0, 5)])]
    assert b.levels(SELL) == [(101, [(oid2, 1, 3)])]
    assert (b.best_bid(), b.best_ask(), b.resting_count()) == (99, 101, 2)


def test_empty_book_reports_zero_best_prices(make_book):
    b = make_book()
    assert (b.best_bid(), b.best_ask(), b.resting_count()) == (0, 0, 0)


def test_order_ids_are_positive_unique_and_increase_with_submission(make_book):
    b = make_book(capacity=2)
    ids = []
    for _ in range(6):
        oid, _ = b.submit(0, BUY, 95, 1)
        ids.append(oid)
        b.cancel(oid)
        ids.append(b.submit(1, SELL, 105, 1, tif=TIF_IOC)[0])
    assert all(i > 0 for i in ids)
    assert ids == sorted(set(ids))
    assert ids[0] >> 32 == 1 and ids[1] & 0xFFFFFFFF == NO_SLOT


def test_market_sell_walks_levels_until_filled(make_book):
    b = make_book()
    a, _ = b.submit(0, BUY, 100, 2)
    c, _ = b.submit(1, BUY, 99, 3)
    d, _ = b.submit(2, BUY, 98, 4)
    t, ev = b.submit(3, SELL, 90, 6, tif=TIF_IOC)
    assert ev.tolist() == [
        rec(K.ORDER_ACCEPTED, t, 3, SELL, 90, 6, leaves=6),
        fill(t, 3, SELL, 100, 2, 4, a, 0),
        fill(t, 3, SELL, 99, 3, 1, c, 1),
        fill(t, 3, SELL, 98, 1, 0, d, 2),
    ]
    assert b.levels(BUY) == [(98, [(d, 2, 3)])]
    assert b.best_bid() == 98


def test_ioc_remainder_expires_and_does_not_rest(make_book):
    b = make_book()
    m, _ = b.submit(0, SELL, 101, 2)
    t, ev = b.submit(1, BUY, 102, 5, tif=TIF_IOC)
    assert ev.tolist()[1:] == [
        fill(t, 1, BUY, 101, 2, 3, m, 0),
        rec(K.ORDER_EXPIRED, t, 1, BUY, 102, 3),
    ]
    assert b.resting_count() == 0
    assert (b.best_bid(), b.best_ask()) == (0, 0)


def test_ioc_limit_does_not_trade_through_its_price(make_book):
    b = make_book()
    b.submit(0, SELL, 103, 2)
    t, ev = b.submit(1, BUY, 102, 5, tif=TIF_IOC)
    assert ev.tolist() == [
        rec(K.ORDER_ACCEPTED, t, 1, BUY, 102, 5, leaves=5),
        rec(K.ORDER_EXPIRED, t, 1, BUY, 102, 5),
    ]


def test_fills_follow_price_then_time_priority(make_book):
    b = make_book()
    first, _ = b.submit(0, SELL, 102, 1)
    second, _ = b.submit(1, SELL, 102, 1)
    better, _ = b.submit(2, SELL, 101, 1)
    _, ev = b.submit(3, BUY, 102, 3)
    assert [r["maker_order_id"] for r in ev[1:]] == [better, first, second]
    assert [int(r["price"]) for r in ev[1:]] == [101, 102, 102]


def test_gtc_remainder_rests_after_partial_fill(make_book):
    b = make_book()
    m, _ = b.submit(0, SELL, 101, 2)
    t, ev = b.submit(1, BUY, 103, 5)
    assert ev.tolist()[-1] == fill(t, 1, BUY, 101, 2, 3, m, 0)
    assert b.levels(BUY) == [(103, [(t, 1, 3)])]
    assert (b.best_bid(), b.best_ask()) == (103, 0)


def test_fully_filled_gtc_order_does_not_rest_and_its_id_is_unknown(make_book):
    b = make_book()
    b.submit(0, SELL, 101, 5)
    t, _ = b.submit(1, BUY, 101, 5)
    assert b.resting_count() == 0
    assert b.cancel(t).tolist() == [rec(K.ORDER_REJECTED, t, -1, 0, 0, 0, reason=R.UNKNOWN_ORDER)]


def test_amend_down_keeps_queue_priority(make_book):
    b = make_book()
    a, _ = b.submit(0, BUY, 99, 5)
    c, _ = b.submit(1, BUY, 99, 5)
    ev = b.amend(a, 2)
    assert ev.tolist() == [rec(K.ORDER_AMENDED, a, 0, BUY, 99, 2, leaves=2)]
    assert b.levels(BUY) == [(99, [(a, 0, 2), (c, 1, 5)])]
    assert b.level_lots(BUY, 99) == 7


def test_amend_up_moves_order_to_back_of_level(make_book):
    b = make_book()
    a, _ = b.submit(0, BUY, 99, 5)
    c, _ = b.submit(1, BUY, 99, 5)
    d, _ = b.submit(2, BUY, 99, 5)
    b.amend(a, 6)
    assert b.levels(BUY) == [(99, [(c, 1, 5), (d, 2, 5), (a, 0, 6)])]
    b.amend(c, 9)
    assert b.levels(BUY) == [(99, [(d, 2, 5), (a, 0, 6), (c, 1, 9)])]
    assert b.level_lots(BUY, 99) == 20


def test_amend_to_same_size_is_rejected_as_not_smaller(make_book):
    b = make_book()
    a, _ = b.submit(0, SELL, 101, 5)
    ev = b.amend(a, 5)
    assert ev.tolist() == [rec(K.ORDER_REJECTED, a, 0, SELL, 101, 5, 5, R.AMEND_NOT_SMALLER)]


def test_amend_to_non_positive_size_is_rejected(make_book):
    b = make_book()
    a, _ = b.submit(0, SELL, 101, 5)
    ev = b.amend(a, 0)
    assert ev.tolist() == [rec(K.ORDER_REJECTED, a, 0, SELL, 101, 0, 5, R.NON_POSITIVE_SIZE)]
    assert b.levels(SELL) == [(101, [(a, 0, 5)])]


def test_amend_of_unknown_order_is_rejected(make_book):
    b = make_book()
    ev = b.amend(12345, 3)
    assert ev.tolist() == [rec(K.ORDER_REJECTED, 12345, -1, 0, 0, 3, 0, R.UNKNOWN_ORDER)]


def test_post_only_that_would_cross_is_rejected(make_book):
    b = make_book()
    b.submit(0, SELL, 101, 5)
    before = snapshot(b)
    oid, ev = b.submit(1, BUY, 101, 5, tif=TIF_POST_ONLY)
    assert oid == -1
    assert ev.tolist() == [rec(K.ORDER_REJECTED, -1, 1, BUY, 101, 5, 0, R.POST_ONLY_WOULD_CROSS)]
    assert snapshot(b) == before


def test_post_only_that_does_not_cross_rests(make_book):
    b = make_book()
    b.submit(0, SELL, 101, 5)
    oid, _ = b.submit(1, BUY, 100, 5, tif=TIF_POST_ONLY)
    sell_oid, _ = b.submit(1, SELL, 102, 5, tif=TIF_POST_ONLY)
    assert oid > 0 and sell_oid > 0
    assert (b.best_bid(), b.best_ask()) == (100, 101)


def test_fok_that_cannot_fill_fully_leaves_book_unchanged(make_book):
    b = make_book()
    b.submit(0, SELL, 101, 2)
    b.submit(1, SELL, 102, 2)
    b.submit(1, SELL, 104, 9)
    before = snapshot(b)
    oid, ev = b.submit(2, BUY, 103, 5, tif=TIF_FOK)
    assert oid == -1
    assert ev.tolist() == [rec(K.ORDER_REJECTED, -1, 2, BUY, 103, 5, 0, R.FOK_NOT_FILLABLE)]
    assert snapshot(b) == before


def test_fok_that_can_fill_fills_completely(make_book):
    b = make_book()
    b.submit(0, SELL, 101, 2)
    b.submit(1, SELL, 102, 5)
    oid, ev = b.submit(2, BUY, 102, 4, tif=TIF_FOK)
    assert oid > 0
    assert [int(r["kind"]) for r in ev] == [K.ORDER_ACCEPTED, K.ORDER_FILLED, K.ORDER_FILLED]
    assert int(ev[-1]["leaves"]) == 0
    assert b.level_lots(SELL, 102) == 3


def test_fok_counts_only_liquidity_it_may_take_under_stp(make_book):
    b = make_book()
    b.submit(0, SELL, 101, 2)
    own, _ = b.submit(2, SELL, 101, 5)
    b.submit(1, SELL, 102, 2)
    # behind its own order it may not trade with expire-taker, so only 2 lots are reachable
    oid, ev = b.submit(2, BUY, 102, 4, tif=TIF_FOK, stp=STP_EXPIRE_TAKER)
    assert oid == -1 and int(ev[0]["reason"]) == R.FOK_NOT_FILLABLE
    # with expire-maker the own order is skipped (and cancelled), the rest suffices
    oid, ev = b.submit(2, BUY, 102, 4, tif=TIF_FOK, stp=STP_EXPIRE_MAKER)
    assert oid > 0
    assert [int(r["kind"]) for r in ev] == [
        K.ORDER_ACCEPTED,
        K.ORDER_FILLED,
        K.ORDER_CANCELLED,
        K.ORDER_FILLED,
    ]
    assert int(ev[2]["order_id"]) == own and int(ev[2]["reason"]) == R.SELF_TRADE
    assert b.resting_count() == 0


def test_stp_none_allows_self_trade(make_book):
    b = make_book()
    m, _ = b.submit(0, SELL, 101, 2)
    t, ev = b.submit(0, BUY, 101, 2)
    assert ev.tolist()[1] == fill(t, 0, BUY, 101, 2, 0, m, 0)


def test_stp_expire_taker_stops_at_own_order_and_expires_remainder(make_book):
    b = make_book()
    other, _ = b.submit(1, SELL, 101, 1)
    own, _ = b.submit(0, SELL, 101, 3)
    behind, _ = b.submit(1, SELL, 101, 3)
    t, ev = b.submit(0, BUY, 101, 5, stp=STP_EXPIRE_TAKER)
    assert ev.tolist()[1:] == [
        fill(t, 0, BUY, 101, 1, 4, other, 1),
        rec(K.ORDER_EXPIRED, t, 0, BUY, 101, 4, 0, R.SELF_TRADE),
    ]
    assert b.levels(SELL) == [(101, [(own, 0, 3), (behind, 1, 3)])]
    assert b.levels(BUY) == []  # a GTC taker expired by STP does not rest


def test_stp_expire_maker_cancels_own_order_and_keeps_matching(make_book):
    b = make_book()
    own, _ = b.submit(0, SELL, 101, 3)
    other, _ = b.submit(1, SELL, 102, 3)
    t, ev = b.submit(0, BUY, 102, 5, stp=STP_EXPIRE_MAKER)
    assert ev.tolist()[1:] == [
        rec(K.ORDER_CANCELLED, own, 0, SELL, 101, 3, 0, R.SELF_TRADE),
        fill(t, 0, BUY, 102, 3, 2, other, 1),
    ]
    assert b.levels(BUY) == [(102, [(t, 0, 2)])]
    assert b.levels(SELL) == []


def test_stp_expire_both_cancels_own_order_and_expires_taker(make_book):
    b = make_book()
    own, _ = b.submit(0, BUY, 99, 3)
    b.submit(1, BUY, 98, 3)
    t, ev = b.submit(0, SELL, 98, 5, tif=TIF_IOC, stp=STP_EXPIRE_BOTH)
    assert ev.tolist()[1:] == [
        rec(K.ORDER_CANCELLED, own, 0, BUY, 99, 3, 0, R.SELF_TRADE),
        rec(K.ORDER_EXPIRED, t, 0, SELL, 98, 5, 0, R.SELF_TRADE),
    ]
    assert b.best_bid() == 98


def test_cancel_removes_order_and_updates_best(make_book):
    b = make_book()
    a, _ = b.submit(0, BUY, 100, 4)
    b.submit(1, BUY, 97, 1)
    ev = b.cancel(a)
    assert ev.tolist() == [rec(K.ORDER_CANCELLED, a, 0, BUY, 100, 4)]
    assert b.best_bid() == 97
    assert b.cancel(a).tolist() == [rec(K.ORDER_REJECTED, a, -1, 0, 0, 0, 0, R.UNKNOWN_ORDER)]


@pytest.mark.parametrize("order_id", [-1, 0, 1, 12345, (1 << 32) | 3, (7 << 32) | NO_SLOT])
def test_cancel_of_unknown_id_is_rejected(make_book, order_id):
    b = make_book(capacity=4)
    b.submit(0, BUY, 100, 4)
    ev = b.cancel(order_id)
    assert ev.tolist() == [rec(K.ORDER_REJECTED, order_id, -1, 0, 0, 0, 0, R.UNKNOWN_ORDER)]
    assert b.resting_count() == 1


def test_id_of_a_finished_order_stays_unknown_after_its_slot_is_reused(make_book):
    b = make_book(capacity=1)
    a, _ = b.submit(0, BUY, 100, 4)
    b.cancel(a)
    c, _ = b.submit(0, BUY, 100, 4)
    assert c != a and (c & 0xFFFFFFFF) == (a & 0xFFFFFFFF)
    assert int(b.cancel(a)[0]["reason"]) == R.UNKNOWN_ORDER
    assert int(b.amend(a, 1)[0]["reason"]) == R.UNKNOWN_ORDER
    assert b.levels(BUY) == [(100, [(c, 0, 4)])]


def test_cancel_account_cancels_oldest_first_and_only_that_account(make_book):
    b = make_book()
    a1, _ = b.submit(0, SELL, 104, 1)
    b.submit(1, SELL, 103, 1)
    a2, _ = b.submit(0, BUY, 95, 2)
    a3, _ = b.submit(0, SELL, 102, 3)
    b.amend(a1, 5)  # an amend does not make an order younger
    ev = b.cancel_account(0)
    assert ev.tolist() == [
        rec(K.ORDER_CANCELLED, a1, 0, SELL, 104, 5),
        rec(K.ORDER_CANCELLED, a2, 0, BUY, 95, 2),
        rec(K.ORDER_CANCELLED, a3, 0, SELL, 102, 3),
    ]
    assert b.resting_count() == 1
    assert (b.best_bid(), b.best_ask()) == (0, 103)
    assert b.cancel_account(0).tolist() == []
    assert b.open_sums(0) == (0, 0, 0, 0)


def test_cancel_account_of_unknown_account_is_rejected(make_book):
    b = make_book(n_accounts=2)
    ev = b.cancel_account(2)
    assert ev.tolist() == [rec(K.ORDER_REJECTED, -1, 2, 0, 0, 0, 0, R.UNKNOWN_ACCOUNT)]


def test_per_account_open_sums_track_add_fill_amend_cancel(make_book):
    b = make_book()
    a, _ = b.submit(0, BUY, 100, 5)
    s, _ = b.submit(0, SELL, 105, 2)
    b.submit(0, BUY, 98, 1)
    assert b.open_sums(0) == (6, 2, 598, 210)
    b.submit(1, SELL, 100, 3)  # fills 3 of a
    assert b.open_sums(0) == (3, 2, 298, 210)
    assert b.open_sums(1) == (0, 0, 0, 0)
    b.amend(a, 1)
    assert b.open_sums(0) == (2, 2, 198, 210)
    b.amend(s, 4)
    assert b.open_sums(0) == (2, 4, 198, 420)
    b.cancel(a)
    assert b.open_sums(0) == (1, 4, 98, 420)


@pytest.mark.parametrize(
    ("account", "price", "qty", "reason"),
    [
        (0, 100, 0, R.NON_POSITIVE_SIZE),
        (0, 100, -3, R.NON_POSITIVE_SIZE),
        (0, 0, 1, R.NON_POSITIVE_PRICE),
        (0, -5, 0, R.NON_POSITIVE_SIZE),  # size is checked first
        (0, 89, 1, R.OUTSIDE_PRICE_BAND),
        (0, 111, 1, R.OUTSIDE_PRICE_BAND),
        (4, 100, 1, R.UNKNOWN_ACCOUNT),
        (-1, 100, 1, R.UNKNOWN_ACCOUNT),
    ],
)
def test_invalid_submission_is_rejected_with_its_reason(make_book, account, price, qty, reason):
    b = make_book()
    oid, ev = b.submit(account, BUY, price, qty)
    assert oid == -1
    assert ev.tolist() == [rec(K.ORDER_REJECTED, -1, account, BUY, price, qty, 0, reason)]
    assert b.resting_count() == 0


def test_book_full_rejects_resting_order_but_accepts_ioc(make_book):
    b = make_book(capacity=2)
    b.submit(0, SELL, 101, 1)
    b.submit(0, SELL, 102, 1)
    oid, ev = b.submit(1, BUY, 101, 1)  # would fill completely, still needs a slot
    assert oid == -1 and ev.tolist()[0][1] == R.BOOK_FULL
    assert b.resting_count() == 2
    oid, ev = b.submit(1, BUY, 101, 1, tif=TIF_IOC)
    assert oid > 0 and int(ev[1]["kind"]) == K.ORDER_FILLED
    oid, _ = b.submit(1, BUY, 99, 1)
    assert oid > 0


def test_walk_and_depth_do_not_change_the_book(make_book):
    b = make_book()
    b.submit(0, SELL, 101, 2)
    b.submit(1, SELL, 103, 4)
    b.submit(1, BUY, 99, 3)
    b.submit(1, BUY, 97, 3)
    before = snapshot(b)
    assert b.walk(BUY, 5, 110) == (5, 2 * 101 + 3 * 103)
    assert b.walk(BUY, 50, 102) == (2, 202)
    assert b.walk(SELL, 4, 0) == (4, 3 * 99 + 97)
    assert b.walk(SELL, 4, 100) == (0, 0)
    assert b.depth_lots(SELL, 101, 103) == 6
    assert b.depth_lots(SELL, 103, 102) == 4
    assert b.depth_lots(BUY, 99, 1) == 6
    assert b.level_lots(BUY, 97) == 3 and b.level_lots(BUY, 500) == 0
    assert snapshot(b) == before


def test_bad_side_tif_or_stp_raise_invalid_input():
    b = OrderBook(90, 110, 4, 1)
    with pytest.raises(InvalidInputError):
        b.submit(0, 0, 100, 1)
    with pytest.raises(InvalidInputError):
        b.submit(0, 1, 100, 1, tif=9)
    with pytest.raises(InvalidInputError):
        b.submit(0, 1, 100, 1, stp=-1)


@pytest.mark.parametrize(
    "args", [(0, 10, 4, 1), (10, 9, 4, 1), (1, 10, 0, 1), (1, 10, 4, 0), (1, 10, 1 << 32, 1)]
)
def test_new_book_rejects_bad_dimensions(args):
    with pytest.raises(InvalidInputError):
        bk.new_book(*args)


def test_out_array_grows_when_full():
    state = bk.new_book(90, 110, 64, 2)
    out = np.empty(1, BOOK_EVENT_DTYPE)
    n = 0
    for i in range(20):
        _, out, n = bk.submit(state, 0, SELL, 101 + i % 5, 1, 0, 0, out, n)
    _, out, n = bk.submit(state, 1, BUY, 110, 30, bk.TIF_IOC, 0, out, n)
    assert n == 20 + 1 + 20 + 1 and out.shape[0] >= n
    assert int(out[n - 1]["kind"]) == K.ORDER_EXPIRED and int(out[n - 1]["qty"]) == 10


def test_process_messages_resolves_refs_to_returned_ids():
    msgs = np.zeros(7, MESSAGE_DTYPE)
    msgs["ref"] = -1
    msgs[0] = (OP_SUBMIT, 0, BUY, 99, 5, 0, 0, 0, -1)
    msgs[1] = (OP_SUBMIT, 1, SELL, 101, 5, 0, 0, 0, -1)
    msgs[2] = (OP_AMEND, 0, 0, 0, 2, 0, 0, 0, 0)  # amend message 0's order to 2 lots
    msgs[3] = (OP_CANCEL, 0, 0, 0, 0, 0, 0, 0, 1)  # cancel message 1's order
    msgs[4] = (OP_CANCEL, 0, 0, 0, 0, 0, 0, 0, 3)  # ref to a non-submit: unknown order
    msgs[5] = (OP_SUBMIT, 1, SELL, 99, 1, TIF_IOC, 0, 0, -1)
    msgs[6] = (OP_CANCEL_ACCOUNT, 0, 0, 0, 0, 0, 0, 0, -1)
    ours = OrderBook(90, 110, 8, 2)
    ref = ReferenceOrderBook(90, 110, 8, 2)
    ev = ours.process_messages(msgs)
    assert ev.tolist() == ref.process_messages(msgs).tolist()
    kinds = [int(k) for k in ev["kind"]]
    assert kinds == [
        K.ORDER_ACCEPTED,
        K.ORDER_ACCEPTED,
        K.ORDER_AMENDED,
        K.ORDER_CANCELLED,
        K.ORDER_REJECTED,
        K.ORDER_ACCEPTED,
        K.ORDER_FILLED,
        K.ORDER_CANCELLED,
    ]
    assert int(ev[-1]["qty"]) == 1 and ours.resting_count() == 0


def test_kernels_are_callable_from_other_njit_code():
    @njit
    def kernel(state, out):
        n = 0
        _, out, n = bk.submit(state, 0, SELL, 101, 5, 0, 0, out, n)
        _, out, n = bk.submit(state, 1, BUY, 101, 2, 1, 0, out, n)
        filled, _ = bk.walk(state, BUY, 10, 110)
        depth = bk.depth_lots(state, SELL, 100, 110) + bk.level_lots(state, SELL, 101)
        return bk.best_ask(state), bk.best_bid(state), bk.resting_count(state), filled, depth, n

    state = bk.new_book(90, 110, 8, 2)
    assert kernel(state, np.empty(4, BOOK_EVENT_DTYPE)) == (101, 0, 1, 3, 6, 3)


def test_invariant_checker_passes_after_mixed_activity():
    b = OrderBook(90, 110, 16, 3)
    ids = [
        b.submit(i % 3, BUY if i % 2 else SELL, 95 + (i * 7) % 11, 1 + i % 4)[0] for i in range(20)
    ]
    b.amend(ids[3], 9)
    b.cancel(ids[5])
    b.cancel_account(1)
    b.submit(2, BUY, 110, 6, tif=TIF_IOC, stp=STP_EXPIRE_MAKER)
    b.check_invariants()
    bb, ba = b.best_bid(), b.best_ask()
    assert bb == 0 or ba == 0 or bb < ba


def test_process_messages_grows_out_and_matches_the_reference_on_a_random_stream():
    rng = np.random.default_rng(7)
    n = 3000
    msgs = np.zeros(n, MESSAGE_DTYPE)
    msgs["op"] = rng.choice([OP_SUBMIT, OP_SUBMIT, OP_CANCEL, OP_AMEND], n)
    msgs["account"] = rng.integers(0, 4, n)
    msgs["side"] = rng.choice([BUY, SELL], n)
    msgs["price"] = rng.integers(92, 109, n)
    msgs["qty"] = rng.integers(1, 8, n)
    msgs["tif"] = rng.choice([0, 0, 0, TIF_IOC, TIF_FOK, TIF_POST_ONLY], n)
    msgs["stp"] = rng.integers(0, 4, n)
    msgs["ref"] = np.where(msgs["op"] == OP_SUBMIT, -1, rng.integers(0, n, n))
    msgs["order_id"] = -1
    sweep = np.arange(500, n, 500)  # huge market orders: more than 64 records from one message
    msgs["op"][sweep], msgs["tif"][sweep], msgs["qty"][sweep] = OP_SUBMIT, TIF_IOC, 10_000
    msgs["price"][sweep] = np.where(msgs["side"][sweep] == BUY, 110, 90)
    ours = OrderBook(90, 110, 400, 4)
    ours._out = np.empty(1, BOOK_EVENT_DTYPE)
    ref = ReferenceOrderBook(90, 110, 400, 4)
    ev = ours.process_messages(msgs)
    assert ev.tolist() == ref.process_messages(msgs).tolist()
    assert len(ev) > 3000 and ours._out.shape[0] >= len(ev)
    assert ours.levels(BUY) == ref.levels(BUY) and ours.levels(SELL) == ref.levels(SELL)
    ours.check_invariants()
