"""dYdX v4 vectors D1-D28 (reference §6.B), compared exactly: ints and Fractions with ==.

Fixtures follow the chain's test constants: the 20% initial / 10% maintenance BTC and ETH perps
(liquidity tier IMF 20%, maintenance fraction 50%), BTC at $50,000 with atomic resolution -8,
ETH at $3,000 with -9, and the BTC clob pair's quantum conversion exponent -8.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from margincall.core.errors import InvalidInputError
from margincall.formulas.dydx import (
    DeleveragingRejected,
    NotionalLimits,
    Perpetual,
    Risk,
    Subaccount,
    adjusted_initial_margin_ppm,
    bankruptcy_quote_quantums,
    deleverage,
    fillable_price,
    fillable_price_subticks,
    insurance_fund_delta,
    is_liquidatable,
    max_and_min_position_notional_liquidatable,
    position_notional,
    risk_cmp,
    subaccount_risk,
)

USD = 1_000_000  # quote quantums per dollar
BTC = 100_000_000  # base quantums per BTC
ETH = 1_000_000_000  # base quantums per ETH
BTC_ID, ETH_ID = 0, 1
QCE = -8  # BTC clob pair quantum conversion exponent
PERPS = {
    BTC_ID: Perpetual(atomic_resolution=-8, oracle_price=50_000, imf_ppm=200_000,
                      maintenance_fraction_ppm=500_000),
    ETH_ID: Perpetual(atomic_resolution=-9, oracle_price=3_000, imf_ppm=200_000,
                      maintenance_fraction_ppm=500_000),
}  # fmt: skip


def sub(usdc_dollars: int | str, **positions: int) -> Subaccount:
    return Subaccount(
        usdc=int(Fraction(usdc_dollars) * USD),
        positions={BTC_ID if k == "btc" else ETH_ID: v for k, v in positions.items()},
    )


# --- D1-D6: bankruptcy price in quote quantums --------------------------------------------


@pytest.mark.parametrize(
    ("account", "perp_id", "delta", "expected"),
    [
        pytest.param(sub(-4_501, btc=BTC // 10), BTC_ID, -BTC // 10, 4_501_000_000, id="D1"),
        pytest.param(sub(5_499, btc=-BTC // 10), BTC_ID, BTC // 10, -5_499_000_000, id="D2"),
        pytest.param(sub(-5_000, btc=BTC // 10), BTC_ID, -BTC // 20, 2_500_000_000, id="D3"),
        pytest.param(sub(-5_100, btc=BTC // 10), BTC_ID, -BTC // 10, 5_100_000_000, id="D4"),
        pytest.param(
            sub(-490, btc=4 * BTC // 1000, eth=ETH // 10), ETH_ID, -ETH // 10, 294_000_000, id="D5"
        ),
        pytest.param(
            sub(510, btc=-4 * BTC // 1000, eth=-ETH // 10), ETH_ID, ETH // 10, -306_000_000, id="D6"
        ),
    ],
)
def test_bankruptcy_quote_quantums_match_the_chain(account, perp_id, delta, expected):
    assert bankruptcy_quote_quantums(account, PERPS, perp_id, delta) == expected


# --- D7-D13: fillable price ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account", "kwargs", "expected"),
    [
        pytest.param(sub(-4_501, btc=BTC // 10), {}, Fraction(49_999, 100), id="D7"),
        pytest.param(
            sub(-4_501, btc=BTC // 10),
            {"bankruptcy_adjustment_ppm": 2_000_000},
            Fraction(49_998, 100),
            id="D8",
        ),
        pytest.param(
            sub(-4_501, btc=BTC // 10),
            {"spread_to_maintenance_margin_ratio_ppm": 200_000},
            Fraction(49_998, 100),
            id="D9",
        ),
        pytest.param(sub(5_499, btc=-BTC // 10), {}, Fraction(50_001, 100), id="D10"),
        pytest.param(
            sub(-5_000, btc=BTC // 10), {"delta_quantums": -BTC // 10}, Fraction(495), id="D11-full"
        ),
        pytest.param(
            sub(-5_000, btc=BTC // 10), {"delta_quantums": -BTC // 20}, Fraction(495), id="D11-half"
        ),
        pytest.param(sub(5_000, btc=-BTC // 10), {}, Fraction(505), id="D12"),
        pytest.param(sub(-5_500, btc=BTC // 10), {}, Fraction(495), id="D13"),
    ],
)
def test_fillable_price_matches_the_chain(account, kwargs, expected):
    price = fillable_price(account, PERPS, BTC_ID, **kwargs)
    assert price == expected
    # Quote quantums per satoshi times 100 is dollars per BTC; subticks are 1e8 times that.
    closing_long = account.positions[BTC_ID] > 0
    assert fillable_price_subticks(price, closing_long, QCE, 5) == expected * 10**8


def test_fillable_subticks_round_sells_up_and_buys_down_to_the_tick():
    price = Fraction(499_999_999_999, 10**9)  # $49,999.9999999 per BTC: 49,999,999,999.9 subticks
    assert fillable_price_subticks(price, True, QCE, 5) == 50_000_000_000
    assert fillable_price_subticks(price, False, QCE, 5) == 49_999_999_995
    assert fillable_price_subticks(Fraction(0), False, QCE, 5) == 5  # never below one tick


# --- D14-D21: insurance fund delta -----------------------------------------------------------

LONG_5100 = sub(-5_100, btc=BTC // 10)
SHORT_4900 = sub(4_900, btc=-BTC // 10)


@pytest.mark.parametrize(
    ("account", "is_buy", "subticks", "max_fee_ppm", "expected"),
    [
        pytest.param(LONG_5100, False, 56_100_000_000, 5_000, 28_050_000, id="D14"),
        pytest.param(LONG_5100, False, 56_100_000_000, 25_000, 140_250_000, id="D15"),
        pytest.param(LONG_5100, False, 56_100_000_000, 1_000_000, 510_000_000, id="D16"),
        pytest.param(SHORT_4900, True, 44_100_000_000, 5_000, 22_050_000, id="D17"),
        pytest.param(LONG_5100, False, 51_051_000_000, 5_000, 5_100_000, id="D18"),
        pytest.param(LONG_5100, False, 51_000_000_000, 5_000, 0, id="D19"),
        pytest.param(LONG_5100, False, 50_490_000_000, 5_000, -51_000_000, id="D20"),
        pytest.param(SHORT_4900, True, 49_490_000_000, 5_000, -49_000_000, id="D21"),
    ],
)
def test_insurance_fund_delta_matches_the_chain(account, is_buy, subticks, max_fee_ppm, expected):
    delta = insurance_fund_delta(
        account, PERPS, BTC_ID, is_buy, BTC // 10, subticks, QCE, max_fee_ppm
    )
    assert delta == expected


# --- D22-D25: deleveraging -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("carl", "dave", "delta", "carl_after", "dave_after"),
    [
        pytest.param(
            sub(54_999, btc=-BTC), sub(50_000, btc=BTC), BTC, sub(0), sub(104_999), id="D22"
        ),
        pytest.param(
            sub(54_999, btc=-BTC),
            sub(50_000, btc=BTC),
            BTC // 10,
            sub("49499.1", btc=-9 * BTC // 10),
            sub("55499.9", btc=9 * BTC // 10),
            id="D23",
        ),
        pytest.param(
            sub(80_800, btc=-BTC, eth=-10 * ETH),
            sub(50_000, btc=BTC),
            BTC,
            sub(30_300, eth=-10 * ETH),
            sub(100_500),
            id="D24",
        ),
    ],
)
def test_deleveraging_trades_at_the_liquidated_bankruptcy_price(
    carl, dave, delta, carl_after, dave_after
):
    assert deleverage(carl, dave, PERPS, BTC_ID, delta) == (carl_after, dave_after)


@pytest.mark.parametrize("delta", [pytest.param(BTC, id="D25")])
def test_deleveraging_is_rejected_when_bankruptcy_prices_do_not_overlap(delta):
    carl, dave = sub(49_999, btc=-BTC), sub(-50_000, btc=BTC)
    with pytest.raises(DeleveragingRejected, match="offsetting"):
        deleverage(carl, dave, PERPS, BTC_ID, delta)


# --- D26: open-interest-scaled initial margin ------------------------------------------------


@pytest.mark.parametrize(
    ("lower", "upper", "oi", "expected"),
    [
        pytest.param(1_000_000, 2_000_000, 0, 200_000, id="D26-zero-oi"),
        pytest.param(1_000_000, 2_000_000, 1_500_000, 600_000, id="D26-halfway"),
        pytest.param(1_000_000, 2_000_000, 1_234_567, 387_653, id="D26-floored"),
        pytest.param(1_000_000, 2_000_000, 1_000_000, 200_000, id="D26-at-lower-cap"),
        pytest.param(1_000_000, 2_000_000, 2_000_000, 1_000_000, id="D26-at-upper-cap"),
        pytest.param(1_000_000, 2_000_000, 2_500_000, 1_000_000, id="D26-above-upper-cap"),
        pytest.param(0, 0, 2_500_000, 200_000, id="D26-caps-disabled"),
    ],
)
def test_adjusted_initial_margin_scales_with_open_interest(lower, upper, oi, expected):
    assert adjusted_initial_margin_ppm(200_000, lower, upper, oi) == expected


# --- D27: liquidation size limits ------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantums", "min_notional", "portion_ppm", "expected"),
    [
        pytest.param(BTC, 100, 1_000_000, (100, 50_000_000_000), id="D27-full-portion"),
        pytest.param(BTC, 100, 500_000, (100, 25_000_000_000), id="D27-half-portion"),
        pytest.param(10_000, 10 * USD, 1_000_000, (5_000_000, 5_000_000), id="D27-small-position"),
    ],
)
def test_position_liquidation_limits_match_the_chain(quantums, min_notional, portion_ppm, expected):
    notional = position_notional(quantums, -8, 50_000)
    limits = max_and_min_position_notional_liquidatable(notional, min_notional, portion_ppm)
    assert limits == NotionalLimits(*expected)


# --- D28: risk predicates --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nc", "mmr", "expected"),
    [
        pytest.param(75, 100, True, id="D28-below-maintenance"),
        pytest.param(100, 100, False, id="D28-at-maintenance"),
        pytest.param(-100, 0, False, id="D28-no-requirement"),
        pytest.param(0, 100, True, id="D28-zero-collateral"),
    ],
)
def test_liquidatable_means_requirement_above_collateral(nc, mmr, expected):
    assert is_liquidatable(nc, mmr) is expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        pytest.param((100, 50), (100, 100), -1, id="D28-cmp-higher-ratio-less-risky"),
        pytest.param((-100, 150), (-100, 100), -1, id="D28-cmp-negative-collateral"),
        pytest.param((100, 150), (100, 100), 1, id="D28-cmp-lower-ratio-more-risky"),
    ],
)
def test_risk_comparison_orders_accounts_by_collateral_ratio(a, b, expected):
    assert risk_cmp(*a, *b) == expected


# --- Units, bad input and properties ---------------------------------------------------------


def test_subaccount_risk_adds_notionals_and_rounds_requirements_up():
    account = sub(-490, btc=4 * BTC // 1000, eth=ETH // 10)
    assert subaccount_risk(account, PERPS) == Risk(nc=10 * USD, imr=100 * USD, mmr=50 * USD)
    # One satoshi at $50,000 is 500 quote quantums; its 10% maintenance is exactly 50.
    assert subaccount_risk(sub(0, btc=1), PERPS).mmr == 50
    # At $50,000/3 eleven satoshis are worth 1,833.33 (truncated to 1,833) quote quantums;
    # the requirements round up: ceil(366.6) = 367 initial, ceil(183.5) = 184 maintenance.
    third = Perpetual(-8, Fraction(50_000, 3), 200_000, 500_000)
    assert subaccount_risk(Subaccount(0, {0: 11}), {0: third}) == Risk(1_833, 367, 184)


def test_short_notional_truncates_toward_zero():
    assert position_notional(1, -8, Fraction(50_000, 3)) == 166  # 166.67
    assert position_notional(-1, -8, Fraction(50_000, 3)) == -166  # not -167


def test_a_delta_that_grows_the_position_is_rejected_naming_the_field():
    with pytest.raises(InvalidInputError) as err:
        bankruptcy_quote_quantums(sub(-4_501, btc=BTC // 10), PERPS, BTC_ID, BTC // 10)
    assert err.value.field == "delta_quantums"


def test_a_delta_larger_than_the_offsetting_position_is_rejected():
    with pytest.raises(InvalidInputError) as err:
        deleverage(sub(54_999, btc=-BTC), sub(0, btc=BTC // 2), PERPS, BTC_ID, BTC)
    assert err.value.field == "delta_quantums"


def test_a_float_oracle_price_is_refused_because_it_is_not_exact():
    with pytest.raises(InvalidInputError) as err:
        Perpetual(-8, 50_000.0, 200_000, 500_000)  # type: ignore[arg-type]
    assert err.value.field == "oracle_price"


def test_an_unknown_perpetual_is_named_in_the_error():
    with pytest.raises(InvalidInputError) as err:
        subaccount_risk(Subaccount(0, {7: 1}), PERPS)
    assert err.value.field == "perps[7]"


@given(
    usdc=st.integers(-6_000 * USD, -4_000 * USD),
    eth=st.integers(1, ETH),
    close=st.integers(1, BTC // 10),
)
def test_closing_at_the_bankruptcy_price_never_makes_the_account_riskier(usdc, eth, close):
    account = Subaccount(usdc, {BTC_ID: BTC // 10, ETH_ID: eth})
    before = subaccount_risk(account, PERPS)
    bq = bankruptcy_quote_quantums(account, PERPS, BTC_ID, -close)
    after_account = Subaccount(usdc + bq, {BTC_ID: BTC // 10 - close, ETH_ID: eth})
    after = subaccount_risk(after_account, PERPS)
    assert risk_cmp(after.nc, after.mmr, before.nc, before.mmr) <= 0
