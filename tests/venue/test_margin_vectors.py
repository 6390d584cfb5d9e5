"""Binance, BitMEX and Bybit vectors of the reference (§6.A, §6.D) for the float formulas."""

from __future__ import annotations

import math

import pytest

from margincall.core.errors import InvalidInputError
from margincall.venue.margin import (
    bankruptcy_price,
    binance_adl_quantiles,
    binance_leverage_pnl,
    binance_liquidation_price,
    binance_liquidation_price_tiered,
    bitmex_adl_allocate,
    bitmex_adl_score,
    bitmex_effective_leverage,
    bitmex_pnl_fraction,
    hyperliquid_adl_index,
    hyperliquid_liquidation_price,
    inverse_bankruptcy_price,
    maintenance_amounts,
    maintenance_margin,
    round_to_tick,
    tier_index,
)

# BTCUSDT 2021 bracket table (reference §1.1).
BTC_FLOORS = [0, 50e3, 250e3, 1e6, 10e6, 20e6, 50e6, 100e6, 200e6, 300e6]
BTC_RATES = [0.004, 0.005, 0.01, 0.025, 0.05, 0.10, 0.125, 0.15, 0.25, 0.50]
WB = 1_535_443.01


# --- B1, B2: liquidation price ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("qty", "entry", "mmr", "cum", "expected"),
    [
        pytest.param(3_683.979, 1_456.84, 0.10, 135_365, 1_114.78, id="B1"),
        pytest.param(109.488, 32_481.98, 0.025, 16_300, 18_778.73, id="B2"),
    ],
)
def test_isolated_long_liquidation_price_matches_binance_calculator(qty, entry, mmr, cum, expected):
    assert round(binance_liquidation_price("long", qty, entry, WB, mmr, cum), 2) == expected


def test_tiered_liquidation_price_finds_the_bracket_of_b2_from_the_table():
    lp = binance_liquidation_price_tiered("long", 109.488, 32_481.98, WB, BTC_FLOORS, BTC_RATES)
    assert round(lp, 2) == 18_778.73
    assert tier_index(109.488 * lp, BTC_FLOORS) == 3  # 1M-10M bracket, 2.5%, cum 16,300


# --- B5-B7: maintenance amounts and margin ---------------------------------------------------


@pytest.mark.parametrize(
    ("floors", "rates", "expected"),
    [
        pytest.param(
            BTC_FLOORS,
            BTC_RATES,
            [
                0,
                50,
                1_300,
                16_300,
                266_300,
                1_266_300,
                2_516_300,
                5_016_300,
                25_016_300,
                100_016_300,
            ],
            id="B5",
        ),
        pytest.param(
            [0, 100e3, 500e3, 1e6, 2e6, 5e6],
            [0.025, 0.05, 0.10, 0.15, 0.25, 0.50],
            [0, 2_500, 27_500, 77_500, 277_500, 1_527_500],
            id="B6",
        ),
    ],
)
def test_maintenance_amounts_follow_the_cum_recurrence(floors, rates, expected):
    assert maintenance_amounts(floors, rates) == pytest.approx(expected, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize(("notional", "expected"), [pytest.param(500_000, 3_700, id="B7")])
def test_maintenance_margin_of_a_bracket_three_position(notional, expected):
    assert tier_index(notional, BTC_FLOORS) == 2
    assert maintenance_margin(notional, BTC_FLOORS, BTC_RATES) == pytest.approx(expected, rel=1e-9)


# --- B8: ADL LeveragePnL ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("upnl", "wallet", "margin_ratio", "expected"),
    [pytest.param(40.2, 4.27, 0.1342, 1.2634, id="B8")],
)
def test_leverage_pnl_reproduces_the_forum_example(upnl, wallet, margin_ratio, expected):
    maintenance = margin_ratio * (wallet + upnl)
    assert upnl / wallet == pytest.approx(9.4145, abs=1e-4)
    assert binance_leverage_pnl(upnl, wallet, maintenance) == pytest.approx(expected, abs=1e-4)


def test_adl_quantiles_light_the_top_score_fully_and_share_lights_on_ties():
    assert binance_adl_quantiles([0.1, 0.5, 0.3, 0.9, 0.7]) == [1, 3, 2, 5, 4]
    assert binance_adl_quantiles([2.0, 2.0, 1.0, 0.0]) == [5, 5, 3, 2]
    assert binance_adl_quantiles([]) == []


# --- X1, X2: BitMEX ADL ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("qty_to_close", "expected"),
    [
        pytest.param(20, [(2, 10), (5, 10)], id="X1"),
        pytest.param(100, [(2, 10), (5, 20), (4, 30), (1, 10), (6, 10), (3, 20)], id="X1-queue"),
    ],
)
def test_bitmex_adl_closes_the_highest_ranked_positions_first(qty_to_close, expected):
    longs = [(1, 10, 3), (2, 10, 6), (3, 20, 1), (4, 30, 4), (5, 20, 5), (6, 10, 2)]
    assert bitmex_adl_allocate(longs, qty_to_close) == expected


def test_bitmex_adl_keeps_input_order_among_equal_scores():
    assert bitmex_adl_allocate([("a", 5, 1.0), ("b", 5, 1.0)], 7) == [("a", 5), ("b", 2)]


@pytest.mark.parametrize(
    ("entry", "mark", "bankrupt", "leverage", "pnl", "score"),
    [
        pytest.param(50_000, 60_000, 45_000, 4.0, 0.2, 0.8, id="X2-profit"),
        pytest.param(66_666.67, 60_000, 45_000, 4.0, -0.1, -0.025, id="X2-loss"),
    ],
)
def test_bitmex_rank_is_pnl_times_or_over_effective_leverage(
    entry, mark, bankrupt, leverage, pnl, score
):
    lev = bitmex_effective_leverage(mark, bankrupt)
    assert lev == pytest.approx(leverage)
    fraction = bitmex_pnl_fraction(mark, entry)
    assert fraction == pytest.approx(pnl, rel=1e-6)
    assert bitmex_adl_score(fraction, lev) == pytest.approx(score, rel=1e-6)


# --- Y1: Bybit inverse bankruptcy price ------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "leverage", "exact", "on_tick"),
    [pytest.param(7_890.08, 50, 7_735.372549, 7_735.50, id="Y1")],
)
def test_inverse_long_bankruptcy_price_matches_bybit(entry, leverage, exact, on_tick):
    bp = inverse_bankruptcy_price("long", entry, leverage)
    assert bp == pytest.approx(exact, abs=1e-6)
    assert round_to_tick(bp, 0.5, "up") == on_tick


# --- Other worked values ---------------------------------------------------------------------


def test_bitmex_example_bankruptcy_price_of_one_percent_margin_long():
    assert bankruptcy_price("long", 1, 100.0, 1.0) == 99.0
    assert bankruptcy_price("short", 1, 100.0, 1.0) == 101.0


def test_hyperliquid_isolated_liquidation_prices_of_a_ten_x_position():
    # 10 units at 100 with 100 margin at 10x max leverage: maintenance rate 5%.
    assert hyperliquid_liquidation_price("long", 100.0, 10.0, 100.0, 10) == pytest.approx(900 / 9.5)
    assert hyperliquid_liquidation_price("short", 100.0, 10.0, 100.0, 10) == pytest.approx(
        1_100 / 10.5
    )
    assert hyperliquid_adl_index(110.0, 100.0, 1_000.0, 500.0) == pytest.approx(2.2)


def test_prices_that_do_not_exist_are_nan():
    assert math.isnan(binance_liquidation_price("long", 1, 100.0, 200.0, 0.01, 0))
    assert math.isnan(binance_liquidation_price("long", 1, 100.0, 0.0, 1.0, 0))
    assert math.isnan(bankruptcy_price("long", 1, 100.0, 150.0))
    assert math.isnan(inverse_bankruptcy_price("short", 100.0, 1))
    assert math.isnan(hyperliquid_liquidation_price("long", 100.0, 1.0, 150.0, 10))


def test_round_to_tick_keeps_prices_already_on_the_grid():
    assert round_to_tick(0.3, 0.1, "up") == 0.3
    assert round_to_tick(0.3, 0.1, "down") == 0.3
    assert round_to_tick(7_735.25, 0.5, "nearest") == 7_735.0


# --- Bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "field"),
    [
        pytest.param(lambda: binance_liquidation_price("buy", 1, 1, 1, 0.01, 0), "side", id="side"),
        pytest.param(lambda: binance_liquidation_price("long", 0, 1, 1, 0.01, 0), "qty", id="qty"),
        pytest.param(lambda: bankruptcy_price("long", 1, math.nan, 1), "entry_price", id="nan"),
        pytest.param(lambda: maintenance_amounts([0, 1], [0.1]), "rates", id="lengths"),
        pytest.param(lambda: maintenance_amounts([], []), "floors", id="empty"),
        pytest.param(lambda: maintenance_amounts([5, 10], [0.1, 0.2]), "floors[0]", id="floor0"),
        pytest.param(lambda: maintenance_amounts([0, 10, 10], [0.1] * 3), "floors[2]", id="flat"),
        pytest.param(lambda: maintenance_amounts([0, 10], [0.1, 0.05]), "rates[1]", id="falls"),
        pytest.param(lambda: maintenance_amounts([0, 10], [0.0, 0.05]), "rates[0]", id="zero"),
        pytest.param(lambda: maintenance_amounts([0, 10], [0.1, 1.5]), "rates[1]", id="above1"),
        pytest.param(lambda: round_to_tick(1.0, 0.1, "sideways"), "direction", id="direction"),
        pytest.param(lambda: bitmex_pnl_fraction(1.0, 0.0), "entry_value", id="entry0"),
        pytest.param(lambda: bitmex_adl_allocate([("a", -1, 1.0)], 1), "queue[0].qty", id="q"),
        pytest.param(lambda: binance_adl_quantiles([1.0], 0), "buckets", id="buckets"),
        pytest.param(lambda: hyperliquid_adl_index(1, 1, 1, 0), "account_value", id="av"),
    ],
)
def test_bad_input_raises_an_error_naming_the_field(call, field):
    with pytest.raises(InvalidInputError) as err:
        call()
    assert err.value.field == field
