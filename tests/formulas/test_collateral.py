"""Collateral valuation against vectors P1, P2, P5 and P11 of portfolio-margin.md (§9), with the
packaged rulebooks' collateral data where a vector uses it, and the formulas' properties."""

from __future__ import annotations

import doctest
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from margincall.core.errors import InvalidInputError
from margincall.formulas import collateral as col
from margincall.formulas.collateral import (
    AssetEquity,
    Holding,
    ask_rate,
    auto_exchange,
    bid_rate,
    binance_multi_assets_equity,
    binance_multi_assets_maintenance,
    collateral_price,
    collateral_tiers,
    collateral_units,
    collateral_value,
    margin_ratio,
    negative_balance_value,
)
from margincall.formulas.portfolio import collateral_critical_price, is_breached
from margincall.venue.instrument import load_rulebook

CENT = 0.005  # vectors are rounded half-up to the cent
P2_TOL = 1e-8  # the published index is itself rounded (§9 P2)


def near(value, expected, tol=CENT):
    return abs(float(value) - expected) <= tol


# ---- P1: Binance Multi-Assets equity and margin ratio (official FAQ example) -----------------

USDT = AssetEquity(200, "0.99", "0.01", "0.005")
USDC = AssetEquity(220, 1)
USDT_ASK = ask_rate("0.99", "0.005")


@pytest.mark.parametrize(
    ("what", "value", "expected"),
    [
        pytest.param("equity", lambda e: e, 416.02, id="P1-equity"),
        pytest.param("available", lambda e: e - binance_multi_assets_maintenance(
            [(100, USDT_ASK), (240, 1)]), 76.525, id="P1-uni-available-for-order"),
        pytest.param("usdt available", lambda e: (e - binance_multi_assets_maintenance(
            [(100, USDT_ASK), (240, 1)])) / USDT_ASK, 76.91, id="P1-usdt-available"),
        pytest.param("maintenance", lambda e: binance_multi_assets_maintenance(
            [(80, USDT_ASK), (120, 1)]), 199.596, id="P1-maintenance"),
        pytest.param("margin ratio %", lambda e: 100 * margin_ratio(
            binance_multi_assets_maintenance([(80, USDT_ASK), (120, 1)]), e), 47.98,
            id="P1-margin-ratio"),
    ],
)  # fmt: skip
def test_p1_binance_multi_assets_faq_example(what, value, expected):
    equity = binance_multi_assets_equity([USDT, USDC])
    assert near(value(equity), expected), what


def test_p1_equity_and_maintenance_are_exact_at_the_published_precision():
    assert binance_multi_assets_equity([USDT, USDC]) == Fraction("416.02")
    assert binance_multi_assets_maintenance([(80, USDT_ASK), (120, 1)]) == Fraction("199.596")


def test_negative_asset_equity_counts_at_the_ask_rate_and_positive_at_the_bid():
    assets = [AssetEquity(-100, 1, "0.01", "0.02"), AssetEquity(100, 1, "0.01", "0.02")]
    assert binance_multi_assets_equity(assets) == -102 + 99


# ---- P2: Binance asset-index rates (official API examples, to 1e-8) ---------------------------


@pytest.mark.parametrize(
    ("index", "buffer", "bid", "ask"),
    [
        pytest.param("1.92957370", "0.1", 1.73661633, 2.12253107, id="P2-ADAUSD-REST"),
        pytest.param("1.92957370", "0.05", 1.83309501, 2.02605238, id="P2-ADAUSD-auto-exchange"),
        pytest.param("0.27462452", "0.1", 0.24716207, 0.30208698, id="P2-ADAUSD-stream"),
        pytest.param("0.99987691", "0.0001", 0.99977692, 0.99997689, id="P2-USDTUSD-stream"),
    ],
)
def test_p2_bid_and_ask_rates_match_the_published_examples(index, buffer, bid, ask):
    assert near(bid_rate(index, buffer), bid, P2_TOL)
    assert near(ask_rate(index, buffer), ask, P2_TOL)


def test_p2_auto_exchange_covering_5000_usdc_with_btc_at_a_2_5_percent_haircut():
    sold, left = auto_exchange(5_000, [Holding("BTC", 1, 100_000, "0.95", "0.025")])
    assert left == 0
    assert near(sold["BTC"] * 100_000, 5_128.2051, 0.00005)  # the FAQ prints 5,128.20


# ---- P5: only collateral a yield-bearing stablecoin; 0.65 liquidates, 1.00 does not ---------

BTC_MM = 910  # 192,000 x 0.5% - 50 (bracket 2)
OWN_BOOK, INDEX = [1, 0, 0, 0], [0, 1, 0, 0]


def _p5_account(weights, book_price):
    usde = load_rulebook("binance").collateral_asset("USDE")  # fixture ratio 0.90
    price = collateral_price(weights, [book_price, 1, 1, 1], usde.price_floor)
    equity = collateral_value(14_000, price, usde.ratio) + negative_balance_value(
        -8_000, 1, "ask", 0
    )
    return price, equity, binance_multi_assets_maintenance([(BTC_MM, ask_rate(1, 0))])


@pytest.mark.parametrize(
    ("weights", "equity", "ratio_pct", "liquidated", "sold", "kept"),
    [
        pytest.param(INDEX, 4_600.00, 19.78, False, 8_421.05, 5_578.95, id="P5-external-index-1.00"),
        pytest.param(OWN_BOOK, 190.00, 478.95, True, 12_955.47, 1_044.53, id="P5-own-book-0.65"),
    ],
)  # fmt: skip
def test_p5_usde_collateral_priced_by_own_book_or_index(
    weights, equity, ratio_pct, liquidated, sold, kept
):
    price, e, mm = _p5_account(weights, "0.65")
    assert near(e, equity) and e > 0  # solvent in both cases
    assert near(100 * margin_ratio(mm, e), ratio_pct)
    assert is_breached(e - mm, "binance") is liquidated
    usde = load_rulebook("binance").collateral_asset("USDE")
    got, left = auto_exchange(8_000, [Holding("USDE", 14_000, price, usde.ratio,
                                              usde.auto_exchange_buffer)])  # fmt: skip
    assert left == 0 and near(got["USDE"], sold) and near(14_000 - got["USDE"], kept)


def test_p5_critical_usde_price():
    _, e, mm = _p5_account(INDEX, 1)
    p = collateral_critical_price(14_000, 1, "0.9", e - mm)
    assert near(p, 0.707143, 5e-7)
    assert p == Fraction(910 + 8_000, 12_600)


# ---- P11: tiered collateral value, Bybit-style quantity slices --------------------------------

P11 = [(0, "0.98"), (10, "0.95"), (20, "0.90"), (30, "0.85"), (40, "0.80"), (50, 0)]


@pytest.mark.parametrize(
    ("qty", "value"),
    [pytest.param(5, 490_000.00, id="P11-5-btc"), pytest.param(25, 2_380_000.00, id="P11-25-btc"),
     pytest.param(60, 4_480_000.00, id="P11-60-btc")],
)  # fmt: skip
def test_p11_tiered_collateral_value(qty, value):
    assert [c for _, _, c in collateral_tiers(P11)] == [Fraction(x) for x in
                                                        ("0", "0.3", "1.3", "2.8", "4.8", "44.8")]  # fmt: skip
    slices = sum(
        (min(max(Fraction(qty) - Fraction(f), 0), (P11[i + 1][0] if i + 1 < len(P11) else qty) - f)
         * Fraction(r) for i, (f, r) in enumerate(P11)),
        Fraction(0),
    )  # fmt: skip
    assert collateral_value(qty, 100_000, P11) == slices * 100_000
    assert near(collateral_value(qty, 100_000, P11), value)


@pytest.mark.parametrize(
    ("price", "collateral", "balance", "mm", "mm_rate_pct"),
    [
        pytest.param(100_000, 2_380_000.00, 2_380_000.00, 10_000.00, 0.4202, id="P11-short-at-100k"),
        pytest.param(140_000, 3_332_000.00, 2_532_000.00, 14_000.00, 0.5529, id="P11-short-at-140k"),
    ],
)  # fmt: skip
def test_p11_account_holding_25_btc_and_short_20_btcusdt(
    price, collateral, balance, mm, mm_rate_pct
):
    value = collateral_value(25, price, P11)
    upnl = -20 * (price - 100_000)
    bal = value + (negative_balance_value(upnl, 1, "full") if upnl < 0 else upnl)
    maintenance = Fraction(20 * price) * Fraction("0.005")
    assert near(value, collateral) and near(bal, balance) and near(maintenance, mm)
    assert near(100 * margin_ratio(maintenance, bal), mm_rate_pct, 0.00005)


# ---- properties and bad input -----------------------------------------------------------------

tier_tables = st.lists(
    st.tuples(st.integers(1, 1_000), st.integers(0, 1_000_000)), min_size=1, max_size=6
).map(
    lambda rows: [
        (Fraction(sum(r[0] for r in rows[:i])) if i else Fraction(0), Fraction(ppm, 1_000_000))
        for i, (_, ppm) in enumerate(rows)
    ]
)


@given(tiers=tier_tables, price=st.fractions(0, 10**6))
def test_collateral_value_is_continuous_at_every_tier_floor(tiers, price):
    rows = collateral_tiers(tiers)
    for k in range(1, len(rows)):
        floor = rows[k][0]
        below = floor * rows[k - 1][1] + rows[k - 1][2]  # tier k-1's line at the floor
        assert collateral_units(floor, tiers) == below
        eps = Fraction(1, 10**9)
        assert abs(collateral_value(floor - eps, price, tiers) - price * below) <= eps * price


@given(tiers=tier_tables, a=st.fractions(0, 10_000), b=st.fractions(0, 10_000))
def test_collateral_value_never_falls_as_the_holding_grows(tiers, a, b):
    lo, hi = sorted((a, b))
    assert collateral_units(lo, tiers) <= collateral_units(hi, tiers)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: collateral_value(-1, 1, "0.9"), "qty"),
        (lambda: collateral_value(1, 1, "1.1"), "ratio"),
        (lambda: collateral_value(1, 1, [(0, "0.9"), (0, "0.8")]), "tiers[1].floor"),
        (lambda: collateral_value(1, 1, [(5, "0.9")]), "tiers[0].floor"),
        (lambda: collateral_value(1, float("nan"), "0.9"), "price"),
        (lambda: bid_rate(1, "1"), "bid_buffer"),
        (lambda: collateral_price([1, 1, 0, 0], [1, 1, 1, 1]), "weights"),
        (lambda: collateral_price([1, 0], [1, 1, 1]), "sources"),
        (lambda: negative_balance_value(5, 1, "ask"), "balance"),
        (lambda: negative_balance_value(-5, 1, "bid"), "rule"),
        (lambda: binance_multi_assets_equity([AssetEquity(True, 1)]), "assets[0].equity"),
        (lambda: auto_exchange(-1, []), "deficit"),
    ],
)
def test_bad_arguments_name_the_argument(call, field):
    with pytest.raises(InvalidInputError) as e:
        call()
    assert e.value.field == field


def test_auto_exchange_shares_the_deficit_by_collateral_value_and_reports_what_is_left():
    sold, left = auto_exchange(
        1_000, [Holding("BTC", 1, 1_000, "0.95", "0.025"), Holding("ETH", 1, 950, 1, 0)]
    )
    assert left == 0 and sold["BTC"] * 1_000 * Fraction("0.975") == 500 == sold["ETH"] * 950
    sold, left = auto_exchange(10_000, [Holding("BTC", 1, 1_000, "0.95", "0.025")])
    assert sold["BTC"] == 1 and left == 10_000 - 975


def test_the_price_floor_holds_the_collateral_price_up():
    assert collateral_price([1, 0, 0, 0], ["0.65", 1, 1, 1], "0.9") == Fraction("0.9")


def test_docstring_examples_run():
    assert doctest.testmod(col).failed == 0
