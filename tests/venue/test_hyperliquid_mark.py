"""Hyperliquid's mark (rulebook mark "hyperliquid", :func:`margincall.venue.mark.hyperliquid_mark_step`)
on hand-computed integers: the EMA steps, the median of three, the 30 s EMA of the book median
when there are no perp mids, missing book sides; then a live venue with a book and trades, and
the portfolio venue's external perp mid reaching the mark.

Decay factors (``decay_fixed``, exp(-t/window) x 10**18, floored): 5 s of 150 s is exp(-1/30)
= 0.967216100482005902...; 5 s of 30 s is exp(-1/6) = 0.846481724890614074...
"""

from __future__ import annotations

from functools import partial

import pytest

from margincall.core.errors import InvalidInputError
from margincall.events.schema import EventKind
from margincall.venue import mark as mk
from margincall.venue.engine import Venue
from margincall.venue.portfolio import PortfolioVenue

S = 1_000_000_000
B150 = mk.HL_BASIS_EMA_NS
B30 = mk.HL_BOOK_EMA_NS


def test_decay_is_exp_minus_t_over_the_window_in_fixed_point():
    assert mk.decay_fixed(5 * S, B150) == 967_216_100_482_005_902
    assert mk.decay_fixed(5 * S, B30) == 846_481_724_890_614_074
    assert mk.decay_fixed(0, B30) == mk.DECAY_ONE


def test_ema_first_sample_holds_a_window_then_each_weighs_its_seconds():
    e = mk.ema_step(mk.Ema(), 60, 0, B150)
    assert e == mk.Ema(60 * 150 * S, 150 * S, 0) and mk.ema_ticks(e) == 60
    e = mk.ema_step(e, 30, 5 * S, B150)
    # num: 9e12 x 0.9672161... = 8,704,944,904,338.05 floored, + 30 x 5e9
    # den: 1.5e11 x 0.9672161... = 145,082,415,072.30 floored, + 5e9;  EMA 59.0005 -> 59
    assert e == mk.Ema(8_704_944_904_338 + 150 * S, 145_082_415_072 + 5 * S, 5 * S)
    assert mk.ema_ticks(e) == 59
    assert mk.ema_step(e, 10**6, 5 * S, B150) == e  # no time passed: the sample weighs nothing


def test_after_a_gap_longer_than_the_window_the_ema_starts_again():
    e = mk.ema_step(mk.Ema(), 60, 0, B150)
    e = mk.ema_step(e, 30, 1500 * S, B150)  # ten windows: the old weight 150 e^-10 = 0.0068 s
    assert e.den == 150 * S + 150 * S * mk.decay_fixed(1500 * S, B150) // mk.DECAY_ONE
    assert mk.ema_ticks(e) == 30  # (60 x 0.0068 + 30 x 150) / 150.0068 = 30.0014


def test_ema_of_a_negative_basis_floors_down():
    e = mk.ema_step(mk.ema_step(mk.Ema(), -3, 0, B30), -4, 5 * S, B30)
    # (-3 x 30 x 0.8464817 - 4 x 5) / (30 x 0.8464817 + 5) = -3.1645 -> -4
    assert mk.ema_ticks(e) == -4
    assert mk.ema_ticks(mk.Ema()) == 0  # no sample yet: no basis


def test_book_median_with_missing_sides():
    assert mk.book_median_ticks(100_050, 100_070, 100_060, 100_000) == 100_060
    assert mk.book_median_ticks(100_050, 0, 100_061, 100_000) == 100_055  # (50 + 61) / 2 floored
    assert mk.book_median_ticks(0, 100_070, 0, 100_000) == 100_070
    assert mk.book_median_ticks(0, 0, 0, 100_000) == 100_000  # no book, no trade: the oracle


def test_weighted_median_ticks_by_hyperliquids_weights():
    # Binance 3, OKX 2, Bybit 2, Gate 1, MEXC 1: total 9; sorted 100:3, 101:2 (5 >= 4.5)
    assert mk.weighted_median_ticks([100, 104, 101, 103, 102], [3, 2, 2, 1, 1]) == 101
    assert mk.weighted_median_ticks([100, 0, 105], [3, 6, 6]) == 105  # 0: no mid, left out
    assert mk.weighted_median_ticks([100, 105], [1, 1]) == 100  # a tie: the lower
    assert mk.weighted_median_ticks([], []) == 0


def test_the_mark_is_the_median_of_three_and_the_book_ema_only_stands_in_for_perp_mids():
    st = mk.HyperliquidMarkState()
    # seeds: A = 100,000 + 60, B = 100,060, the book EMA 100,060; with C 100,100: median 100,060
    mark, st = mk.hyperliquid_mark_step(st, 100_000, 100_050, 100_070, 100_060, 100_100, 0)
    assert mark == 100_060
    # 5 s later the oracle is 100,100: basis sample -40, EMA 56 (as in the EMA test: 59.0005
    # with 30; here (60 x 145.08 - 40 x 5) / 150.08 = 56.67), A = 100,156; B 100,060; C 100,090
    mark2, st2 = mk.hyperliquid_mark_step(st, 100_100, 100_050, 100_070, 100_060, 100_090, 5 * S)
    assert (mk.ema_ticks(st2.basis), mark2) == (56, 100_090)
    # the same without C: the 30 s EMA of B (100,060 throughout) is the third
    mark3, _ = mk.hyperliquid_mark_step(st, 100_100, 100_050, 100_070, 100_060, 0, 5 * S)
    assert mark3 == 100_060


def test_without_a_mid_the_basis_ema_keeps_its_value():
    st = mk.HyperliquidMarkState()
    # a bid only, no trade: no mid (A = the oracle, 0 basis), B = the bid, the book EMA the bid
    mark, st = mk.hyperliquid_mark_step(st, 100_000, 100_050, 0, 0, 0, 0)
    assert (mark, st.basis) == (100_050, mk.Ema())
    _, st = mk.hyperliquid_mark_step(st, 100_000, 100_050, 100_070, 0, 0, 5 * S)  # basis 60
    before = st.basis
    mark, st = mk.hyperliquid_mark_step(st, 100_200, 0, 100_070, 0, 0, 10 * S)
    # the bid gone: A = 100,200 + 60 (kept); B = the ask 100,070; the book EMA about 100,054
    assert st.basis == before and mark == 100_070


def _hl_book(mm, taker, place):
    """The book of the module's examples: bid 100,050, ask 100,070, a trade at 100,060."""
    place(mm, "buy", "1", 100_050)
    place(mm, "sell", "0.01", 100_060)
    place(mm, "sell", "1", 100_070)
    place(taker, "buy", "0.01", None)


def test_venue_marks_off_the_oracle_when_its_book_sits_away_from_it():
    """Oracle 100,000; bid 100,050 / ask 100,070, last 100,060, updates every 5 s.

    t=0: A = 100,000 + 60 (the first basis sample seeds the EMA), B = median(50, 70, 60) =
    100,060, the 30 s EMA of B 100,060: mark 100,060 (not the oracle).
    t=5, oracle 100,100: basis sample -40, EMA floor(8,504,944,904,338 / 150,082,415,072 =
    56.67) = 56, A = 100,156; B 100,060; book EMA 100,060: mark 100,060.
    Then a taker lifts the 100,070 ask (last 100,070) and the maker asks 100,090.
    t=10, oracle 100,010: mid 100,070, basis sample 60, EMA floor((8,504,944,904,338 x
    0.9672161 + 60 x 5e9) / (150,082,415,072 x 0.9672161 + 5e9)) = floor(56.78) = 56, A =
    100,066; B = median(100,050, 100,090, 100,070) = 100,070; book EMA floor((100,060 x
    25,728,347,941 + 100,070 x 5e9) / 30,728,347,941) = floor(100,061.6) = 100,061:
    mark median(100,066, 100,070, 100,061) = 100,066.
    """
    v = Venue("hyperliquid", "BTCUSDT", price=100_000, insurance_fund_usd=1_000_000)
    mm, taker = v.open_account(10_000_000), v.open_account(1_000_000)
    _hl_book(mm, taker, v.submit_order)
    assert v.last_ticks == 100_060 and v.mark_ticks == 100_000
    events = v.update_mark()
    assert v.mark_ticks == 100_060
    assert list(events["kind"]) == [EventKind.MARK_PRICE_UPDATED]
    v.advance(5 * S)
    v.set_index_ticks(100_100)
    assert len(v.update_mark()) == 0 and v.mark_ticks == 100_060  # unchanged: no event
    v.submit_order(taker, "buy", "1")
    v.submit_order(mm, "sell", "1", 100_090)
    v.advance(10 * S)
    v.set_index_ticks(100_010)
    v.update_mark()
    assert v.mark_ticks == 100_066
    assert v.index_ticks == 100_010


def test_an_empty_book_marks_at_the_oracle():
    v = Venue("hyperliquid", "BTCUSDT", price=100_000)
    for t, oracle in ((0, 100_000), (5, 99_000), (9, 101_234)):
        v.advance(t * S)
        v.set_index_ticks(oracle)
        v.update_mark()
        assert v.mark_ticks == oracle


def _on_btc(pv, account, side, qty, price):
    return pv.submit_order(account, "BTCUSDT", side, qty, price)


def test_portfolio_venues_external_mid_reaches_the_mark():
    """The same book and oracle path as above to t=5 (A 100,156, B 100,060), with other venues'
    perp mid 100,090 handed in: median 100,090, where without it the mark is 100,060."""
    marks = {}
    for external in (0, 100_090):
        pv = PortfolioVenue("hyperliquid", {"BTCUSDT": 100_000}, insurance_fund_usd=1_000_000)
        mm, taker = pv.open_account(10_000_000), pv.open_account(1_000_000)
        _hl_book(mm, taker, partial(_on_btc, pv))
        pv.set_external_mid("BTCUSDT", external)
        pv.update_marks()
        pv.advance(5 * S)
        pv.set_index_ticks("BTCUSDT", 100_100)
        pv.update_marks()
        marks[external] = pv.legs[0].mark_ticks
    assert marks == {0: 100_060, 100_090: 100_090}


def test_other_mark_rules_ignore_an_external_mid():
    marks = []
    for external in (0, 70_000):
        v = Venue("binance", "BTCUSDT", price=60_000)
        mm = v.open_account(10_000_000)
        v.submit_order(mm, "buy", "1", 59_990)
        v.submit_order(mm, "sell", "1", 60_030)
        v.set_external_mid(external * 10)  # BTCUSDT ticks of 0.1
        v.update_mark()
        marks.append(v.mark_ticks)
    assert marks[0] == marks[1]


@pytest.mark.parametrize("bad", [-1, 1.5, True, "100"])
def test_set_external_mid_refuses_what_is_not_whole_ticks(bad):
    v = Venue("hyperliquid", "BTCUSDT", price=100_000)
    with pytest.raises(InvalidInputError) as exc:
        v.set_external_mid(bad)
    assert exc.value.field == "ticks" and exc.value.value == bad


def test_portfolio_set_external_mid_names_an_unknown_symbol():
    pv = PortfolioVenue("hyperliquid", {"BTCUSDT": 100_000})
    with pytest.raises(InvalidInputError) as exc:
        pv.set_external_mid("DOGEUSDT", 1)
    assert exc.value.field == "symbol"
