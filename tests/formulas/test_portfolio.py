"""Cross margin over several legs against vectors P3, P4, P6-P10 and P12 of portfolio-margin.md
(§9), and the properties that tie the formulas together."""

from __future__ import annotations

import doctest
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from margincall.core.errors import InvalidInputError
from margincall.formulas import collateral as col
from margincall.formulas import dydx
from margincall.formulas import portfolio as pf
from margincall.formulas.margin import binance_liquidation_price_tiered
from margincall.formulas.portfolio import (
    BINANCE_BTC,
    BINANCE_ETH,
    Leg,
    binance_cross_leverage_pnl,
    breaching_tick,
    cross_excess,
    dydx_position_to_liquidate,
    hyperliquid_classify,
    hyperliquid_order_sizes,
    is_breached,
    leg_liquidation_price,
    leg_maintenance,
    leg_upnl,
    r4_bankruptcy_prices,
    single_leg_bankruptcy_price,
)
from margincall.venue.instrument import load_rulebook

CENT = 0.005  # vectors are rounded half-up to the cent
MICRO = 5e-7  # vectors printed to six places


def near(value, expected, tol=CENT):
    return abs(float(value) - expected) <= tol


def tiers_of(rulebook: str, symbol: str) -> list[tuple[Fraction, Fraction]]:
    """A packaged instrument's maintenance tiers as (floor, rate) rows."""
    return [
        (Fraction(t.floor_usd), Fraction(t.mmr))
        for t in load_rulebook(rulebook).instrument(symbol).tiers
    ]


def with_mark(legs, i, mark):
    return [leg._replace(mark=mark) if n == i else leg for n, leg in enumerate(legs)]


# ---- P3: Binance 2-leg cross; BTC's liquidation price moves when ETH moves ---------------------

P3_BTC = Leg("long", "1.5", 60_000, 58_000, BINANCE_BTC)


@pytest.mark.parametrize(
    ("eth_mark", "upnl1", "tmm1", "btc_lp", "tick"),
    [
        pytest.param(3_100, -4_000.00, 875.00, 50_133.33, "50133.3", id="P3-eth-3100"),
        pytest.param(3_300, -12_000.00, 955.00, 55_547.07, "55547.0", id="P3-eth-3300"),
    ],
)
def test_p3_btc_liquidation_price_follows_the_eth_leg(eth_mark, upnl1, tmm1, btc_lp, tick):
    eth = Leg("short", 40, 3_000, eth_mark, BINANCE_ETH)
    assert near(leg_upnl(eth), upnl1) and near(leg_maintenance(eth), tmm1)
    lp = leg_liquidation_price([P3_BTC, eth], 0, wallet=20_001)
    assert near(lp, btc_lp)
    assert breaching_tick(lp, "0.1", "long") == Fraction(tick)
    floors, rates = zip(*BINANCE_BTC, strict=True)
    float_lp = binance_liquidation_price_tiered(
        "long", 1.5, 60_000, 20_001, [float(f) for f in floors], [float(r) for r in rates],
        other_maintenance=tmm1, other_unrealized_pnl=upnl1,
    )  # fmt: skip
    assert abs(float_lp - float(lp)) <= 1e-9 * float(lp)


def test_p3_account_state_and_eth_liquidation_price_the_other_way():
    eth = Leg("short", 40, 3_000, 3_100, BINANCE_ETH)
    acct = cross_excess([P3_BTC, eth], wallet=20_001)
    assert (acct.equity, acct.maintenance) == (13_001, 1_260)
    assert near(100 * acct.maintenance / acct.equity, 9.69)
    lp = leg_liquidation_price([P3_BTC, eth], 1, wallet=20_001)
    assert near(lp, 3_390.62) and near(lp, 3_390.6188, 0.00005)
    assert breaching_tick(lp, "0.01", "short") == Fraction("3390.62")


# ---- P4: contagion; safe at any BTC price, liquidated by ETH alone ------------------------------

P4 = [Leg("long", 1, 48_000, 48_000, BINANCE_BTC), Leg("long", 80, 2_500, 2_500, BINANCE_ETH)]


def test_p4_t0_and_safe_at_every_btc_price_while_eth_stands_still():
    acct = cross_excess(P4, wallet=50_000)
    assert (leg_maintenance(P4[0]), leg_maintenance(P4[1])) == (192, 1_635)
    assert (acct.equity, acct.maintenance) == (50_000, 1_827)
    assert leg_liquidation_price(P4, 0, wallet=50_000) is None  # no BTC price liquidates
    worst = min(cross_excess(with_mark(P4, 0, p), 50_000).excess for p in range(50, 200_001, 50))
    assert worst > 0
    # the infimum as BTC -> 0: E = 2,000 against ETH's 1,635, headroom 365
    assert 2_000 - leg_maintenance(P4[1]) == 365


@pytest.mark.parametrize(
    ("eth_mark", "equity", "maintenance", "breached"),
    [
        pytest.param("1891.75", 1_340.00, 1_340.40, True, id="P4-first-breaching-tick"),
        pytest.param("1891.76", 1_340.80, 1_340.41, False, id="P4-one-tick-above"),
    ],
)
def test_p4_eth_alone_falls_to_the_first_breaching_tick(eth_mark, equity, maintenance, breached):
    lp = leg_liquidation_price(P4, 1, wallet=50_000)
    assert near(lp, 1_891.755051, MICRO)
    assert near(2_500 - lp, 608.24) and near(100 * (lp - 2_500) / 2_500, -24.33)
    assert breaching_tick(lp, "0.01", "long") == Fraction("1891.75")
    acct = cross_excess(with_mark(P4, 1, eth_mark), wallet=50_000)
    assert near(acct.equity, equity) and near(acct.maintenance, maintenance)
    assert is_breached(acct.excess, "binance") is breached


def test_p4_r4_takeover_prices_at_the_trigger_tick():
    bp = r4_bankruptcy_prices(with_mark(P4, 1, "1891.75"), wallet=50_000)
    assert near(bp[0], 47_808.06) and near(bp[1], 1_877.40)


def test_p4_binance_closes_every_cross_leg():
    assert load_rulebook("binance").portfolio.procedure == "binance_all_legs"


# ---- P6, P7: Hyperliquid 3-leg cross account -----------------------------------------------------

HL_TICKS = {"BTCUSDT": "1", "ETHUSDT": "0.1", "SOLUSDT": "0.01"}
P6 = [
    Leg("long", 1, 100_000, 98_000, tiers_of("hyperliquid", "BTCUSDT")),
    Leg("short", 30, 3_500, 3_600, tiers_of("hyperliquid", "ETHUSDT")),
    Leg("long", 500, 200, 190, tiers_of("hyperliquid", "SOLUSDT")),
]


def test_p6_account_and_the_tick_fixtures_are_the_packaged_grid():
    acct = cross_excess(P6, wallet=30_000)
    assert [leg_upnl(leg) for leg in P6] == [-2_000, -3_000, -5_000]
    assert [leg_maintenance(leg) for leg in P6] == [1_225, 2_160, 2_375]
    assert (acct.equity, acct.maintenance, acct.excess) == (20_000, 5_760, 14_240)
    assert near(acct.maintenance * 2 / 3, 3_840.00)
    hl = load_rulebook("hyperliquid")
    assert {s: str(hl.instrument(s).scale.tick_size) for s in HL_TICKS} == HL_TICKS


@pytest.mark.parametrize(
    ("j", "lp", "tick", "notional", "order"),
    [
        pytest.param(0, 83_579.746835, "83579", 83_579.75, 1, id="P6-btc"),
        pytest.param(1, 4_065.359477, "4065.4", 121_960.78, 6, id="P6-eth-20pct-slice"),
        pytest.param(2, 160.789744, "160.78", 80_394.87, 500, id="P6-sol"),
    ],
)
def test_p6_leg_liquidation_prices_ticks_and_orders(j, lp, tick, notional, order):
    price = leg_liquidation_price(P6, j, wallet=30_000)
    assert near(price, lp, MICRO)
    symbol = list(HL_TICKS)[j]
    assert breaching_tick(price, HL_TICKS[symbol], P6[j].side, strict=True) == Fraction(tick)
    assert near(Fraction(P6[j].qty) * price, notional)
    at_lp = with_mark(P6, j, price)
    assert hyperliquid_order_sizes(at_lp)[j] == order
    # Hyperliquid's documented form: price - side*margin_available/size/(1 - l*side)
    side = 1 if P6[j].side == "long" else -1
    avail = cross_excess(P6, wallet=30_000).excess
    l_rate = P6[j].tiers[0][1]
    assert price == P6[j].mark - side * avail / P6[j].qty / (1 - l_rate * side)


def test_p6_eth_rising_to_3800_moves_the_other_legs_prices():
    legs = with_mark(P6, 1, 3_800)
    acct = cross_excess(legs, wallet=30_000)
    assert (acct.equity, acct.maintenance, acct.excess) == (14_000, 5_880, 8_120)
    assert near(leg_liquidation_price(legs, 0, 30_000), 89_777.22)
    assert near(leg_liquidation_price(legs, 2, 30_000), 173.34)


@pytest.mark.parametrize(
    ("marks", "value", "mm", "two_thirds", "state", "orders"),
    [
        pytest.param((95_000, 3_700, 185), 11_500.00, 5_720.00, 3_813.33, "safe", None, id="P7-A"),
        pytest.param((94_000, 3_750, 178), 5_500.00, 5_650.00, 3_766.67, "book", [1, 6, 500],
                     id="P7-B"),
        pytest.param((92_000, 3_800, 180), 3_000.00, 5_680.00, 3_786.67, "backstop", [1, 6, 500],
                     id="P7-C"),
    ],
)  # fmt: skip
def test_p7_safe_book_or_backstop(marks, value, mm, two_thirds, state, orders):
    legs = [leg._replace(mark=m) for leg, m in zip(P6, marks, strict=True)]
    acct = cross_excess(legs, wallet=30_000)
    assert near(acct.equity, value) and near(acct.maintenance, mm)
    assert near(acct.maintenance * 2 / 3, two_thirds)
    rules = load_rulebook("hyperliquid").liquidation
    assert hyperliquid_classify(acct.equity, acct.maintenance, rules["backstop_ratio"]) == state
    assert is_breached(acct.excess, "hyperliquid") is (state != "safe")
    if orders:
        sizes = hyperliquid_order_sizes(
            legs, rules["partial_threshold_usd"], rules["partial_fraction"]
        )
        assert sizes == orders
        assert hyperliquid_order_sizes(legs, cooldown=[False, True, False]) == [1, 30, 500]


# ---- P8: dYdX subaccount with 2 perps ----------------------------------------------------------

Q = 10**6  # quote quantums per USDC
SUB = dydx.Subaccount(usdc=12_000 * Q, positions={0: 2 * 10**10, 1: -50 * 10**9})


def p8_perps(eth_oracle) -> dict[int, dydx.Perpetual]:
    return {
        0: dydx.Perpetual(-10, 100_000, 20_000, 600_000),
        1: dydx.Perpetual(-9, eth_oracle, 20_000, 600_000),
    }


@pytest.mark.parametrize(
    ("eth", "tnc", "tmmr", "liquidatable"),
    [
        pytest.param(4_000, 12_000_000_000, 4_800_000_000, False, id="P8-eth-4000"),
        pytest.param(4_150, 4_500_000_000, 4_890_000_000, True, id="P8-eth-4150"),
    ],
)
def test_p8_tnc_and_tmmr(eth, tnc, tmmr, liquidatable):
    perps = p8_perps(eth)
    got = (dydx.net_collateral(SUB, perps), dydx.total_maintenance_requirement(SUB, perps))
    assert got == (tnc, tmmr)
    assert dydx.is_liquidatable(*got) is liquidatable
    acct = pf.dydx_cross_excess(SUB, perps)
    assert (acct.equity, acct.maintenance) == (Fraction(tnc, Q), Fraction(tmmr, Q))
    assert is_breached(acct.excess, "dydx") is liquidatable


def test_p8_threshold_first_liquidatable_cent_and_position_tried_first():
    threshold = Fraction(209_600) / Fraction("50.6")
    assert near(threshold, 4_142.292490, MICRO)
    cent = breaching_tick(threshold, "0.01", "short", strict=True)
    assert cent == Fraction("4142.30")
    for price, expected in ((cent, True), (cent - Fraction("0.01"), False)):
        perps = p8_perps(price)
        nc, mm = dydx.net_collateral(SUB, perps), dydx.total_maintenance_requirement(SUB, perps)
        assert dydx.is_liquidatable(nc, mm) is expected
    assert [dydx_position_to_liquidate(list(SUB.positions), k) for k in (0, 1)] == [0, 1]
    assert dydx_position_to_liquidate([1, 0], 0, liquidated=[0]) == 1
    assert dydx_position_to_liquidate([0, 1], 1, liquidated=[0, 1]) is None


@pytest.mark.parametrize(
    ("perp", "delta", "max_notional", "bq", "per_coin", "fillable", "coin_exp"),
    [
        pytest.param(0, -2 * 10**9, 20_000 * Q, 19_779_141_105, 98_895.705525, 99_856.441718, 10,
                     id="P8-btc-leg"),
        pytest.param(1, 5 * 10**9, 20_750 * Q, -20_979_141_104, 4_195.828221, 4_155.957669, 9,
                     id="P8-eth-leg"),
    ],
)  # fmt: skip
def test_p8_size_bankruptcy_quote_quantums_and_fillable_price(
    perp, delta, max_notional, bq, per_coin, fillable, coin_exp
):
    perps = p8_perps(4_150)
    notional = dydx.position_risk(perps[perp], SUB.positions[perp]).nc
    liq = load_rulebook("dydx").liquidation
    limits = dydx.max_and_min_position_notional_liquidatable(
        notional, 1_000 * Q, liq["max_position_portion_ppm"]
    )
    assert limits.max == max_notional
    got = dydx.bankruptcy_quote_quantums(SUB, perps, perp, delta)
    assert got == bq
    assert near(Fraction(abs(got), Q) / (Fraction(abs(delta)) / 10**coin_exp), per_coin, MICRO)
    fp = dydx.fillable_price(
        SUB, perps, perp, liq["bankruptcy_adjustment_ppm"],
        liq["spread_to_maintenance_margin_ratio_ppm"],
    )  # fmt: skip
    assert near(fp * 10**coin_exp / Q, fillable, MICRO)


def test_p8_fill_pays_the_shared_insurance_fund():
    perps = p8_perps(4_150)
    fee = [
        dydx.insurance_fund_delta(SUB, perps, 0, False, 2 * 10**9, 9_990_000_000, -9, ppm)
        for ppm in (15_000, 5_000)
    ]
    assert fee == [200_858_895, 99_900_000]
    assert load_rulebook("dydx").fund_for("BTCUSDT") == load_rulebook("dydx").fund_for("ETHUSDT")
    assert load_rulebook("dydx").fund_for("ETHUSDT") == "insurance-fund"


# ---- P9: BitMEX USDT cross, 2 legs, simultaneous takeover --------------------------------------

P9 = [Leg("long", 1, 100_000, 100_000, "0.005"), Leg("long", 20, 4_000, 4_000, "0.01")]
P9_T1 = [P9[0]._replace(mark=97_000), P9[1]._replace(mark=3_700)]


@pytest.mark.parametrize(
    ("j", "lp", "takeover", "single"),
    [
        pytest.param(0, 91_256.28, 96_604.08, 96_000.00, id="P9-btc"),
        pytest.param(1, 3_560.61, 3_669.80, 3_650.00, id="P9-eth"),
    ],
)
def test_p9_leg_prices_takeover_prices_and_adl_bankruptcy(j, lp, takeover, single):
    assert cross_excess(P9, 10_000)[:2] == (10_000, 1_300)
    assert near(leg_liquidation_price(P9, j, 10_000), lp)
    acct = cross_excess(P9_T1, 10_000)
    assert (acct.equity, acct.maintenance) == (1_000, 1_225)
    assert [leg_upnl(x) for x in P9_T1] == [-3_000, -6_000]
    assert [leg_maintenance(x) for x in P9_T1] == [485, 740]
    assert is_breached(acct.excess, "bitmex")
    assert near(r4_bankruptcy_prices(P9_T1, 10_000)[j], takeover)
    assert single_leg_bankruptcy_price(P9_T1, j, 10_000) == single
    # closing at the marks instead pays the fund the account's remaining margin
    bp = r4_bankruptcy_prices(P9_T1, 10_000)
    assert sum(Fraction(x.qty) * (x.mark - b) for x, b in zip(P9_T1, bp, strict=True)) == 1_000


# ---- P10: BitMEX Multi Asset Margin, XBT collateral, long BTC ----------------------------------


def p10_state(price, xbt_ratio, usdc_ratio):
    collateral = Fraction("0.5") * price * xbt_ratio + 10_000 * usdc_ratio
    return collateral, cross_excess([Leg("long", 4, 100_000, price, "0.005")], 0, collateral)


@pytest.mark.parametrize(
    ("price", "collateral", "mm", "excess"),
    [
        pytest.param(100_000, 57_300.00, 2_000.00, 55_300.00, id="P10-at-100k"),
        pytest.param(90_000, 52_550.00, 1_800.00, 10_750.00, id="P10-at-90k"),
    ],
)
def test_p10_state_with_the_packaged_haircuts(price, collateral, mm, excess):
    bm = load_rulebook("bitmex")
    xbt, usdc = (Fraction(bm.collateral_asset(a).ratio) for a in ("XBT", "USDC"))
    value, acct = p10_state(price, xbt, usdc)
    assert near(value, collateral) and near(acct.maintenance, mm) and near(acct.excess, excess)


@pytest.mark.parametrize(
    ("xbt_ratio", "lp", "tick"),
    [
        pytest.param("0.95", 87_586.98, "87586.5", id="P10-haircut-5pct"),
        pytest.param("0.98", 87_293.06, "87293.0", id="P10-haircut-2pct"),
    ],
)
def test_p10_liquidation_price_with_collateral_that_falls_with_the_position(xbt_ratio, lp, tick):
    value, _ = p10_state(100_000, Fraction(xbt_ratio), Fraction("0.98"))
    legs = [Leg("long", 4, 100_000, 100_000, "0.005")]
    price = leg_liquidation_price(
        legs, 0, 0, value, co_moving=Fraction("0.5") * Fraction(xbt_ratio)
    )
    assert near(price, lp)
    assert breaching_tick(price, load_rulebook("bitmex").instrument("BTCUSDT").scale.tick_size,
                          "long") == Fraction(tick)  # fmt: skip
    assert p10_state(price, Fraction(xbt_ratio), Fraction("0.98"))[1].excess == 0


def test_p10_the_same_face_value_held_as_usdt_liquidates_lower():
    price = leg_liquidation_price([Leg("long", 4, 100_000, 100_000, "0.005")], 0, 60_000)
    assert near(price, 85_427.14)


# ---- P12: Binance ADL; a losing leg raises the profitable leg's rank ----------------------------

B_SCORE = binance_cross_leverage_pnl([Leg("short", 3, 99_000, 97_000, BINANCE_BTC)], 0, 10_000)


@pytest.mark.parametrize(
    ("eth", "eth_mm", "equity", "mmtot", "ratio", "score", "ahead"),
    [
        pytest.param(2_975, 825.00, 10_000.00, 1_260.00, 0.126000, 0.012600, False, id="P12-2975"),
        pytest.param(2_825, 765.00, 4_000.00, 1_200.00, 0.300000, 0.030000, False, id="P12-2825"),
        pytest.param(2_770, 743.00, 1_800.00, 1_178.00, 0.654444, 0.065444, True, id="P12-2770"),
    ],
)  # fmt: skip
def test_p12_cross_account_adl_rank(eth, eth_mm, equity, mmtot, ratio, score, ahead):
    a = [Leg("short", 1, 98_000, 97_000, BINANCE_BTC), Leg("long", 40, 3_000, eth, BINANCE_ETH)]
    acct = cross_excess(a, 10_000)
    assert leg_maintenance(a[0]) == 435 and near(leg_maintenance(a[1]), eth_mm)
    assert near(acct.equity, equity) and near(acct.maintenance, mmtot)
    assert near(acct.maintenance / acct.equity, ratio, MICRO)
    assert not is_breached(acct.excess, "binance")
    got = binance_cross_leverage_pnl(a, 0, 10_000)
    assert near(got, score, MICRO)
    assert (got > B_SCORE) is ahead


def test_p12_account_b():
    b = [Leg("short", 3, 99_000, 97_000, BINANCE_BTC)]
    assert leg_maintenance(b[0]) == 1_610 and cross_excess(b, 10_000).equity == 16_000
    assert Fraction("0.060375") == B_SCORE


# ---- properties ---------------------------------------------------------------------------------

TABLES = {
    "binance-btc": BINANCE_BTC,
    "binance-eth": BINANCE_ETH,
    "hl-btc": tiers_of("hyperliquid", "BTCUSDT"),
    "bitmex-eth": tiers_of("bitmex", "ETHUSDT"),
    "dydx": "0.012",
}

legs_st = st.lists(
    st.builds(
        Leg,
        side=st.sampled_from(["long", "short"]),
        qty=st.integers(1, 10_000).map(lambda n: Fraction(n, 100)),
        entry=st.integers(100, 200_000).map(Fraction),
        mark=st.integers(100, 200_000).map(Fraction),
        tiers=st.sampled_from(list(TABLES.values())),
    ),
    min_size=2,
    max_size=3,
)


@given(legs=legs_st, wallet=st.integers(0, 2_000_000), j=st.integers(0, 2))
def test_excess_is_zero_at_the_leg_liquidation_price(legs, wallet, j):
    j %= len(legs)
    price = leg_liquidation_price(legs, j, wallet)
    if price is None:
        return
    after = cross_excess(with_mark(legs, j, price), wallet)
    assert abs(after.excess) <= Fraction(1, 10**6) * max(after.maintenance, Fraction(1))


@given(legs=legs_st, wallet=st.integers(0, 2_000_000), j=st.integers(0, 2))
def test_leg_price_agrees_with_binance_cross_formula_given_tmm1_and_upnl1(legs, wallet, j):
    j %= len(legs)
    legs = [leg._replace(tiers=BINANCE_BTC) for leg in legs]
    price = leg_liquidation_price(legs, j, wallet)
    others = [leg for n, leg in enumerate(legs) if n != j]
    tmm1 = float(sum(leg_maintenance(x) for x in others))
    upnl1 = float(sum(leg_upnl(x) for x in others))
    floors, rates = zip(*BINANCE_BTC, strict=True)
    ref = binance_liquidation_price_tiered(
        legs[j].side, float(legs[j].qty), float(legs[j].entry), float(wallet),
        [float(f) for f in floors], [float(r) for r in rates], tmm1, upnl1,
    )  # fmt: skip
    if price is None:
        assert ref != ref or ref < 1e-6 * max(1.0, abs(upnl1) + wallet)  # nan, or ~0 by rounding
    else:
        assert abs(ref - float(price)) <= 1e-9 * float(price) + 1e-9


@given(legs=legs_st, wallet=st.integers(-100_000, 2_000_000))
def test_r4_prices_close_every_leg_to_exactly_zero_equity(legs, wallet):
    prices = r4_bankruptcy_prices(legs, wallet)
    closed = [leg._replace(mark=p) for leg, p in zip(legs, prices, strict=True)]
    equity = wallet + sum(
        (Fraction(leg.qty) * (1 if leg.side == "long" else -1) * (p - Fraction(leg.entry))
         for leg, p in zip(closed, prices, strict=True)),
        Fraction(0),
    )  # fmt: skip
    assert equity == 0


# ---- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: cross_excess([Leg("up", 1, 1, 1, "0.01")], 0), "side"),
        (lambda: cross_excess([Leg("long", 0, 1, 1, "0.01")], 0), "legs[0].qty"),
        (lambda: cross_excess([Leg("long", 1, 1, -5, "0.01")], 0), "legs[0].mark"),
        (lambda: cross_excess([("long", 1, 1, 1, "0.01")], 0), "legs[0]"),
        (lambda: cross_excess([Leg("long", 1, 1, 1, "1.5")], 0), "tiers"),
        (lambda: cross_excess([Leg("long", 1, 1, 1, [(0, "0.01"), (0, "0.02")])], 0), "tiers[1]"),
        (lambda: leg_liquidation_price(P9, 2, 0), "j"),
        (lambda: breaching_tick(100, 0, "long"), "tick"),
        (lambda: is_breached(-1, "okx"), "rulebook"),
        (lambda: hyperliquid_classify(1, 2, "3/2"), "backstop_ratio"),
        (lambda: hyperliquid_order_sizes(P6, cooldown=[True]), "cooldown"),
        (lambda: dydx_position_to_liquidate([0, 1], 2), "offset"),
        (lambda: r4_bankruptcy_prices([Leg("long", 1, 1, 1, 0)], 0), "legs"),
    ],
)
def test_bad_arguments_name_the_argument(call, field):
    with pytest.raises(InvalidInputError) as e:
        call()
    assert e.value.field == field


def test_docstring_examples_run():
    assert doctest.testmod(pf).failed == 0


# ---- P8 as one order, P10 through the holdings helpers -----------------------------------------

P8_LIMITS = (1_000 * Q, 100_000, 100_000 * Q)  # genesis: min 1,000 USDC, 10%, 100,000 per block


@pytest.mark.parametrize(
    ("offset", "order"),
    [
        pytest.param(0, (0, -2 * 10**9, 19_779_141_105), id="P8-offset-0-btc"),
        pytest.param(1, (1, 5 * 10**9, -20_979_141_104), id="P8-offset-1-eth"),
    ],
)
def test_p8_liquidation_order_from_the_rotation_offset(offset, order):
    assert tuple(pf.dydx_liquidation_order(SUB, p8_perps(4_150), offset, P8_LIMITS)) == order


def test_dydx_order_sizes_follow_the_block_budget_the_step_and_the_whole_position():
    perps = p8_perps(4_150)
    budget = pf.dydx_liquidation_order(SUB, perps, 0, (1_000 * Q, 100_000, 5_000 * Q))
    assert budget.delta == -(5 * 10**8)  # 5,000 of 200,000 notional: 0.05 BTC
    stepped = pf.dydx_liquidation_order(SUB, perps, 0, P8_LIMITS, step=3 * 10**8)
    assert stepped.delta == -(18 * 10**8)  # 2e9 rounded down to the step
    small = dydx.Subaccount(12_000 * Q, {0: 10**7, 1: -50 * 10**9})  # 0.001 BTC, 100 USDC
    assert pf.dydx_liquidation_order(small, perps, 0, P8_LIMITS).delta == -(10**7)  # all of it
    with pytest.raises(InvalidInputError, match="offset"):
        pf.dydx_liquidation_order(SUB, perps, 2, P8_LIMITS)


def test_p10_through_the_collateral_holdings():
    holdings = [
        col.Collateral(
            "XBT", "0.5", 100_000, load_rulebook("bitmex").collateral_asset("XBT").ratio
        ),
        col.Collateral("USDC", 10_000, 1, "0.98"),
    ]
    assert col.collateral_total(holdings) == 57_300
    legs = [Leg("long", 4, 100_000, 100_000, "0.005")]
    price = leg_liquidation_price(
        legs, 0, 0, col.collateral_total(holdings), col.co_moving(holdings, "XBT")
    )
    assert near(price, 87_586.98)
    moved = [holdings[0]._replace(price=price), holdings[1]]
    assert cross_excess(with_mark(legs, 0, price), 0, col.collateral_total(moved)).excess == 0
