"""What a venue's public liquidation feed publishes: the latest forced-close order of each window
(Binance: one a second per symbol), or every order; exact figures on hand-built logs."""

from __future__ import annotations

import numpy as np
import pytest

from margincall.core.errors import RulebookError
from margincall.events.schema import EVENT_DTYPE, EventKind
from margincall.report.feed import feed_totals, published
from margincall.venue.instrument import load_rulebook, rulebook_from_dict

NS = 1_000_000_000
T0 = 1_770_249_600 * NS  # 2026-02-05T00:00:00Z
K = EventKind


def log(rows: list[tuple]) -> np.ndarray:
    """Records from ``(ts_ns, kind, side, liquidity, account, notional)``, ``seq`` in row order."""
    ev = np.zeros(len(rows), EVENT_DTYPE)
    for i, (ts, kind, side, liq, account, notional) in enumerate(rows):
        ev[i]["seq"] = i + 1
        ev[i]["ts_ns"], ev[i]["kind"], ev[i]["side"] = ts, int(kind), side
        ev[i]["liquidity"], ev[i]["account"], ev[i]["notional"] = liq, account, notional
    return ev


# one step at T0 with three accounts' forced closes (account 1 in two fills, with the makers'
# sides), a trade that is not a forced close, then one order 0.6 s and one 1.2 s later
EVENTS = log(
    [
        (T0, K.POSITION_LIQUIDATED, -1, 2, 1, 4_000_000),
        (T0, K.POSITION_LIQUIDATED, 1, 1, 50, 4_000_000),  # the maker's side
        (T0, K.POSITION_LIQUIDATED, -1, 2, 1, 1_000_000),  # account 1's second fill
        (T0, K.ORDER_FILLED, -1, 2, 3, 9_000_000),  # not a forced close
        (T0, K.BACKSTOP_TAKEOVER, -1, 2, 2, 7_000_000),
        (T0, K.BACKSTOP_TAKEOVER, 1, 1, 0, 7_000_000),  # the fund's side
        (T0, K.POSITION_LIQUIDATED, 1, 2, 4, 2_000_000),  # a short closed by a buy
        (T0 + 600_000_000, K.ADL_EXECUTED, -1, 2, 5, 3_000_000),
        (T0 + 1_200_000_000, K.POSITION_LIQUIDATED, -1, 2, 6, 6_000_000),
    ]
)


def test_a_feed_of_one_order_a_second_publishes_the_last_of_each_second():
    out = published(EVENTS, 1)
    # second 0: accounts 1 (5M in two fills), 2 (7M), 4 (2M short) at T0, then account 5's ADL
    # 0.6 s later: the last is account 5's; second 1: account 6's
    assert out["notional"].to_list() == [3_000_000, 6_000_000]
    assert out["side"].to_list() == [-1, -1]
    assert out["ts_ns"].to_list() == [T0 + 600_000_000, T0 + 1_200_000_000]


def test_two_a_second_publish_the_last_of_each_half_second():
    out = published(EVENTS, 2)
    # [T0, T0+0.5 s): the last order at T0 is account 4's short; [0.5, 1.0): account 5;
    # [1.0, 1.5): account 6
    assert out["notional"].to_list() == [2_000_000, 3_000_000, 6_000_000]
    assert out["side"].to_list() == [1, -1, -1]


def test_a_feed_without_a_cap_publishes_every_order_whole():
    out = published(EVENTS, 0)
    assert out["notional"].to_list() == [5_000_000, 7_000_000, 2_000_000, 3_000_000, 6_000_000]
    assert out["side"].to_list() == [-1, -1, 1, -1, -1]


def test_feed_totals_split_long_and_short_and_bin_by_hour():
    late = log([(T0 + 3 * 3600 * NS + 5, K.POSITION_LIQUIDATED, 1, 2, 8, 11_000_000)])
    events = np.concatenate([EVENTS, late])
    events["seq"] = np.arange(1, len(events) + 1)
    every = feed_totals(events, 0, T0, 2)
    assert every["long_usd"] == 21.0 and every["short_usd"] == 13.0
    assert every["orders"] == 6
    # hour 0 holds the first five orders; the order after the last hour counts in it
    assert every["hourly_usd"] == [23.0, 11.0]
    capped = feed_totals(events, 1, T0, 2)
    assert (capped["long_usd"], capped["short_usd"], capped["orders"]) == (9.0, 11.0, 3)
    assert capped["per_second"] == 1


def test_a_negative_rate_is_refused():
    with pytest.raises(ValueError, match="per_second"):
        published(EVENTS, -1)


def test_the_rulebooks_name_their_feeds():
    assert load_rulebook("binance").liquidation_feed_per_second == 1
    for name in ("bitmex", "dydx", "hyperliquid"):
        assert load_rulebook(name).liquidation_feed_per_second == 0


@pytest.mark.parametrize("bad", [-1, "1.5", "every", True])
def test_a_bad_feed_rate_names_the_field(bad):
    import tomllib
    from importlib.resources import files

    text = files("margincall.venue.rulebooks").joinpath("binance.toml").read_text()
    data = tomllib.loads(text)
    data["rulebook"]["liquidation_feed_per_second"] = bad
    with pytest.raises(RulebookError, match="liquidation_feed_per_second"):
        rulebook_from_dict(data, "test")
