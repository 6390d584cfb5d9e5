"""A stablecoin's spot book (margincall.sim.stablecoin_book): the maker's ladder, a sale's walk
and its exact dollars, the refill and redemption, and conservation under any sequence."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from margincall.core.errors import InvalidInputError
from margincall.sim.stablecoin_book import PEG, TICK_MICROS, StablecoinBook

NS = 10**9


def _book(depth=1e6, capital=2e6, refill=600.0, redeem=3600.0) -> StablecoinBook:
    return StablecoinBook(depth, capital, refill, redeem)


def test_the_full_ladder_holds_its_depth_within_1_percent_at_the_peg():
    b = _book()
    top = b.bids[:100]  # $0.9999 .. $0.9900
    assert b.price_ticks() == PEG
    assert top[0] == 10_001  # floor($10,000 / $0.9999)
    cost = int(top @ b.ticks[:100]) * TICK_MICROS
    assert 1e12 - 100 * 1e6 < cost <= 1e12  # $1M within 1%, each level rounded down
    deep = np.flatnonzero(b.bids)[-1]  # the maker's $2M reach about 2% below the peg
    assert 9_790 < b.ticks[deep] < 9_810


def test_a_sale_walks_the_bids_from_the_top_and_is_paid_exactly():
    b = _book()
    first, second = int(b.bids[0]), int(b.bids[1])
    got = b.sell(first + second + 5, now_ns=7)
    assert got == (first * 9_999 + second * 9_998 + 5 * 9_997) * TICK_MICROS
    assert b.price_ticks() == 9_997  # the last trade's level, partly taken
    assert b.low == 9_997 and b.low_ns == 7
    assert b.sold == first + second + 5 and b.unsold == 0
    assert b.proceeds == got and b.cash == b.capital - got


def test_a_sale_inside_the_top_level_prints_one_tick_below_until_the_next_quote():
    b = _book()
    b.sell(10)
    assert b.price_ticks() == b.low == PEG - 1
    b.quote(5 * NS, 5.0)
    assert b.price_ticks() == PEG


def test_a_sale_stops_at_its_limit_and_keeps_the_rest():
    b = _book()
    b.sell(10**9, limit_ticks=9_950)
    assert b.unsold > 0
    assert (b.bids[b.ticks >= 9_950] == 0).all() and b.bids[b.ticks < 9_950].sum() > 0
    assert b.price_ticks() == 9_950


def test_past_the_makers_dollars_there_is_no_bid_and_the_price_is_the_last_trade():
    b = _book(depth=1e5, capital=2e5)  # bids down to about $0.98
    b.sell(10**9)
    assert b.bids.sum() == 0 and b.unsold > 0
    assert b.price_ticks() == b.low < 9_850
    assert b.cash < int(b.ticks[0]) * TICK_MICROS  # not a unit more could be bid for


def test_the_top_climbs_back_with_the_refill_time_constant():
    b = _book(refill=600.0)
    b.sell(500_000)
    gap = PEG - b.price_ticks()
    b.quote(600 * NS, 600.0)  # one time constant in one step
    left = PEG - b.price_ticks()
    assert math.floor(gap * math.exp(-1)) <= left <= math.ceil(gap * math.exp(-1))
    for t in range(1, 400):
        b.quote((600 + 5 * t) * NS, 5.0)
    assert b.price_ticks() == PEG
    deepest = np.flatnonzero(b.bids)[-1]  # the units bought wait an hour: the ladder is shorter
    assert b.ticks[deepest] > 9_810
    b.quote(3_600 * NS, 5.0)
    assert b.redeemed == 500_000 and b.cash == b.capital + 500_000 * PEG * TICK_MICROS - b.proceeds
    for t in range(1, 400):
        b.quote((3_600 + 5 * t) * NS, 5.0)
    assert np.flatnonzero(b.bids)[-1] > deepest  # redeemed at $1, the dollars bid again


def test_bad_parameters_are_refused_by_name():
    for kwargs, name in (({"depth": 0}, "depth_1pct_usd"), ({"capital": -1}, "capital_usd"),
                         ({"refill": math.nan}, "refill_seconds"),
                         ({"redeem": math.inf}, "redeem_seconds")):  # fmt: skip
        with pytest.raises(InvalidInputError, match=name):
            _book(**kwargs)
    with pytest.raises(InvalidInputError, match="units"):
        _book().sell(-1)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3_000_000), st.integers(1, 10_000), st.integers(1, 900)),
        min_size=1, max_size=25,
    )
)  # fmt: skip
def test_units_and_dollars_are_conserved_whatever_is_sold(moves):
    b = _book(depth=2e5, capital=1e6, refill=300.0, redeem=1_200.0)
    now = 0
    for units, limit, seconds in moves:
        now += seconds * NS
        b.quote(now, float(seconds))
        price = b.price_ticks()
        got = b.sell(units, now, limit)
        assert 0 <= got <= units * price * TICK_MICROS
        assert 1 <= b.price_ticks() <= PEG and b.low <= b.price_ticks()
        b.check()
