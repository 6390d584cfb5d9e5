"""What other packages read from a venue: named accessors, and the venue's place in the seed tree."""

from __future__ import annotations

import numpy as np
import pytest

from margincall.core.rng import RngTree
from margincall.venue.accounts import RNG
from margincall.venue.engine import Venue


def venue(**kw) -> Venue:
    return Venue("binance", "BTCUSDT", price=60_000, insurance_fund_usd=1_000_000, **kw)


def test_prices_clock_and_account_count_are_named():
    v = venue()
    mm, t = v.open_account(1_000_000), v.open_account(100_000)
    v.advance(5_000_000_000)
    v.submit_order(mm, "sell", "1", 60_010)
    v.submit_order(t, "buy", "0.5", 60_010)
    v.set_index_price(60_020)
    v.update_mark()
    assert v.n_accounts == 3  # the fund, the maker, the taker
    assert v.now_ns == 5_000_000_000
    assert v.last_ticks == 600_100  # tick 0.1
    assert v.index_ticks == 600_200
    assert v.mark_ticks == int(v.meta[5])


def test_resting_lots_are_per_price_level_and_read_only():
    v = venue()
    mm = v.open_account(1_000_000)
    v.submit_order(mm, "buy", "0.25", 59_990)
    v.submit_order(mm, "buy", "0.5", 59_990)
    v.submit_order(mm, "sell", "1", 60_010)
    lots = v.resting_lots()
    assert lots.shape[0] == 2
    bids = np.flatnonzero(lots[0])
    asks = np.flatnonzero(lots[1])
    assert (v.min_tick + bids).tolist() == [599_900]
    assert lots[0, bids].tolist() == [750]  # lot 0.001
    assert (v.min_tick + asks).tolist() == [600_100]
    with pytest.raises(ValueError):
        lots[0, 0] = 1


def test_the_venue_stream_is_the_run_trees_child():
    by_int = venue(seed=5).meta[RNG]
    assert venue(seed=RngTree(5).child("venue")).meta[RNG] == by_int
    assert venue(seed=RngTree(5).child("venue").sequence).meta[RNG] == by_int
    assert venue(seed=RngTree(6).child("venue")).meta[RNG] != by_int
    assert venue(seed=RngTree(5).child("other")).meta[RNG] != by_int
