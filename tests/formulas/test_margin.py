"""Margin: the engine's integer rules (:mod:`margincall.venue.margin_int`, the one home of the
maintenance margin, the margin check, the liquidation key and the bankruptcy price) against the
readable formulas (:mod:`margincall.formulas.margin`), one table per rule, each case on a
rulebook's own tiers; then the formulas' own vectors (reference §6.A, §6.D: Binance, BitMEX,
Bybit), each case named by its vector.

Tolerances, named per table: maintenance margin is rounded up (under ONE MICRO-DOLLAR above the
exact value); the margin check flips within ONE TICK of the formula's liquidation price; the
liquidation index key is early by at most THREE TICKS and never late; the bankruptcy price is
rounded against the closing order (under ONE TICK)."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from margincall.core.errors import InvalidInputError
from margincall.formulas.margin import (
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
from margincall.venue import margin_int as mi
from margincall.venue.instrument import load_rulebook

RULEBOOKS = ("binance", "bitmex", "dydx", "hyperliquid")
MICROS = 1_000_000
KEY_TICKS = 3


def _inst(rulebook: str, symbol: str = "BTCUSDT"):
    return load_rulebook(rulebook).instrument(symbol)


def _float_tiers(inst) -> tuple[list[float], list[float]]:
    return [float(t.floor_usd) for t in inst.tiers], [float(t.mmr) for t in inst.tiers]


def _int_tiers(inst) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return inst.tier_floor_micros, inst.tier_mmr_ppm, inst.tier_cum_micros


# --- maintenance amounts (cum) of each bracket: B5, B6, and every rulebook's tables ----------

CUM_CASES = [
    *[
        pytest.param(rb, sym, None, id=f"{rb}-{sym}")
        for rb in RULEBOOKS
        for sym in ("BTCUSDT", "ETHUSDT")
    ],
    pytest.param(
        "binance",
        "BTCUSDT",
        [0, 50, 1_300, 16_300, 266_300, 1_266_300, 2_516_300, 5_016_300, 25_016_300, 100_016_300],
        id="B5",
    ),
]


@pytest.mark.parametrize(("rulebook", "symbol", "expected"), CUM_CASES)
def test_engine_cum_is_the_formulas_recurrence(rulebook, symbol, expected):
    inst = _inst(rulebook, symbol)
    floors, rates = _float_tiers(inst)
    formula = maintenance_amounts(floors, rates)
    engine = [c / MICROS for c in inst.tier_cum_micros.tolist()]
    assert engine == pytest.approx(formula, rel=1e-12, abs=1e-9)
    if expected is not None:
        assert engine == expected


def test_b6_cum_of_the_ada_brackets():
    # B6 is a float-only vector (no rulebook holds these brackets): the reference's tolerance.
    floors, rates = [0, 100e3, 500e3, 1e6, 2e6, 5e6], [0.025, 0.05, 0.10, 0.15, 0.25, 0.50]
    expected = [0, 2_500, 27_500, 77_500, 277_500, 1_527_500]
    assert maintenance_amounts(floors, rates) == pytest.approx(expected, rel=1e-6, abs=1e-9)


# --- maintenance margin: ONE MICRO-DOLLAR, rounded up -----------------------------------------


def _notionals(inst) -> list[Decimal]:
    out = [Decimal(0), Decimal("0.000001"), Decimal("12345.678901")]
    for t in inst.tiers[1:]:
        out += [t.floor_usd - Decimal("0.000001"), t.floor_usd, t.floor_usd * 3 / 2]
    return out


MAINTENANCE_CASES = [
    *[
        pytest.param(rb, notional, None, id=f"{rb}-{notional}")
        for rb in RULEBOOKS
        for notional in _notionals(_inst(rb))
    ],
    pytest.param("binance", Decimal(500_000), Decimal(3_700), id="B7"),
]


@pytest.mark.parametrize(("rulebook", "notional", "expected"), MAINTENANCE_CASES)
def test_engine_maintenance_is_the_formula_rounded_up(rulebook, notional, expected):
    inst = _inst(rulebook)
    got = mi.maintenance_micros(int(notional * MICROS), *_int_tiers(inst))
    exact = inst.maintenance_margin_usd(notional) * MICROS if notional > 0 else Decimal(0)
    assert 0 <= got - exact < 1, (got, exact)
    formula = maintenance_margin(float(notional), *_float_tiers(inst)) * MICROS
    assert formula == pytest.approx(float(exact), rel=1e-12, abs=1e-6)
    if expected is not None:
        assert got == expected * MICROS


# --- liquidation price: the margin check (ONE TICK) and the index key (THREE TICKS early) -----

WB = "1535443.01"  # the §6.A calculator example's wallet balance

POSITION_CASES = [
    # (rulebook, symbol, side, qty, entry, isolated wallet) and the vector's price (2 dp)
    pytest.param("binance", "ETHUSDT", "long", "3683.979", "1456.84", WB, 1_114.78, id="B1"),
    pytest.param("binance", "BTCUSDT", "long", "109.488", "32481.98", WB, 18_778.73, id="B2"),
    pytest.param("binance", "BTCUSDT", "short", "2", "60000", "10000", None, id="binance-short"),
    pytest.param("binance", "BTCUSDT", "long", "30", "60000", "150000", None, id="binance-tier3"),
    pytest.param("bitmex", "BTCUSDT", "long", "1", "60000", "1000", None, id="bitmex-long"),
    pytest.param("bitmex", "BTCUSDT", "short", "50", "60000", "200000", None, id="bitmex-tier2"),
    pytest.param("dydx", "BTCUSDT", "long", "1", "60000", "2000", None, id="dydx-long"),
    pytest.param("dydx", "ETHUSDT", "short", "5", "3000.1", "700", None, id="dydx-short"),
    pytest.param("hyperliquid", "BTCUSDT", "long", "1", "60000", "2000", None, id="hl-long"),
    pytest.param("hyperliquid", "BTCUSDT", "short", "3", "60001", "5000", None, id="hl-short"),
    pytest.param("hyperliquid", "ETHUSDT", "long", "2.5", "3000", "300", None, id="hl-eth"),
]


def _engine_position(inst, side, qty, entry, wallet):
    """(collateral, signed lots, signed entry cost) in the engine's units."""
    s = 1 if side == "long" else -1
    lots = int(Decimal(qty) / inst.scale.lot_size)
    cost = s * Decimal(qty) * Decimal(entry) * MICROS
    assert cost == cost.to_integral_value(), "the case's entry cost is not whole micro-dollars"
    return int(Decimal(wallet) * MICROS), s * lots, int(cost)


@pytest.mark.parametrize(
    ("rulebook", "symbol", "side", "qty", "entry", "wallet", "expected"), POSITION_CASES
)
def test_engine_margin_check_and_key_agree_with_the_liquidation_price(
    rulebook, symbol, side, qty, entry, wallet, expected
):
    rb = load_rulebook(rulebook)
    inst = rb.instrument(symbol)
    strict = rb.liquidation["policy"] in ("dydx", "hyperliquid")
    tick, k = float(inst.scale.tick_size), inst.scale.micros_per_tick_lot
    collateral, pos, cost = _engine_position(inst, side, qty, entry, wallet)
    lp = binance_liquidation_price_tiered(side, float(qty), float(entry), float(wallet),
                                          *_float_tiers(inst))  # fmt: skip
    if expected is not None:
        assert round(lp, 2) == expected
    if rulebook == "hyperliquid":  # one tier: Hyperliquid's own closed form gives the same price
        max_lev = inst.tiers[tier_index(float(qty) * lp, _float_tiers(inst)[0])].max_leverage
        assert lp == pytest.approx(
            hyperliquid_liquidation_price(
                side, float(entry), float(qty), float(wallet), int(max_lev)
            )
        )
    lp_ticks = lp / tick

    def breached(price: int) -> bool:
        ex = mi.margin_excess(collateral, pos, cost, price, k, *_int_tiers(inst))
        return mi.is_breached(ex, strict)

    key = mi.liquidation_key(collateral, pos, cost, k, *_int_tiers(inst))
    if side == "long":
        assert breached(math.ceil(lp_ticks) - 1) and not breached(math.floor(lp_ticks) + 1)
        assert 0 <= key - lp_ticks <= KEY_TICKS
    else:
        assert breached(math.floor(lp_ticks) + 1) and not breached(math.ceil(lp_ticks) - 1)
        assert 0 <= lp_ticks - key <= KEY_TICKS


def test_a_long_that_no_price_liquidates_has_key_zero_and_no_formula_price():
    inst = _inst("binance")
    collateral, pos, cost = _engine_position(inst, "long", "1", "60000", "70000")
    assert mi.liquidation_key(collateral, pos, cost, inst.scale.micros_per_tick_lot,
                              *_int_tiers(inst)) == 0  # fmt: skip
    assert math.isnan(binance_liquidation_price_tiered("long", 1, 60_000, 70_000,
                                                       *_float_tiers(inst)))  # fmt: skip


# --- bankruptcy price: ONE TICK, rounded against the closing order ----------------------------


@pytest.mark.parametrize(
    ("rulebook", "symbol", "side", "qty", "entry", "wallet", "expected"), POSITION_CASES
)
def test_engine_bankruptcy_price_is_the_formula_rounded_against_the_close(
    rulebook, symbol, side, qty, entry, wallet, expected
):
    inst = _inst(rulebook, symbol)
    tick, k = float(inst.scale.tick_size), inst.scale.micros_per_tick_lot
    collateral, pos, cost = _engine_position(inst, side, qty, entry, wallet)
    got = mi.bankruptcy_price_ticks(collateral, pos, cost, k)
    exact = bankruptcy_price(side, float(qty), float(entry), float(wallet)) / tick
    eps = 1e-9 * exact
    # a long is closed by a sell (not below bankruptcy: up), a short by a buy (down)
    away = got - exact if side == "long" else exact - got
    assert -eps <= away < 1 + eps, (got, exact)


# BTCUSDT 2021 bracket table (reference §1.1).
BTC_FLOORS = [0, 50e3, 250e3, 1e6, 10e6, 20e6, 50e6, 100e6, 200e6, 300e6]
BTC_RATES = [0.004, 0.005, 0.01, 0.025, 0.05, 0.10, 0.125, 0.15, 0.25, 0.50]
WB = 1_535_443.01


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


def test_venue_margin_still_exports_every_public_formula():
    """Users and docs import ``margincall.venue.margin``: it re-exports the same functions."""
    import margincall.formulas.margin as home
    import margincall.venue.margin as old

    public = {
        name
        for name, f in vars(home).items()
        if callable(f) and not name.startswith("_") and f.__module__ == home.__name__
    }
    assert public == set(old.__all__)
    assert all(getattr(old, name) is getattr(home, name) for name in public)


def test_a_cross_short_breached_at_every_price_has_no_tiered_liquidation_price():
    # Found by the portfolio property test: wallet 0, the other leg 1 USDT under water, so the
    # short is breached even at a price of 0. Bracket 1's line (cum 50) crosses at 4,974.33, but
    # its notional is not in bracket 1; the envelope fallback used to return that price.
    floors, rates = [0, 50_000, 250_000], [0.004, 0.005, 0.01]
    lp = binance_liquidation_price_tiered(
        "short", 0.01, 100, 0, floors, rates, other_maintenance=0.008, other_unrealized_pnl=-1
    )
    assert math.isnan(lp)
