"""Mark-price and funding formulas, checked against hand-computed values and exact arithmetic."""

from __future__ import annotations

import itertools
import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from margincall.core.errors import InvalidInputError
from margincall.venue.funding import (
    dydx_funding_rate,
    funding_payment,
    funding_payments_micros,
    funding_rate,
    funding_rate_ppb,
    hyperliquid_hourly_rate,
    impact_prices,
    premium_index,
    premium_index_ppb,
    weighted_average_premium,
)
from margincall.venue.mark import (
    basis_moving_average,
    binance_mark_price,
    bitmex_fair_price,
    ewma_basis,
    median3,
    median3_ticks,
)

approx = pytest.approx

# --------------------------------------------------------------------------------------- mark


@pytest.mark.parametrize("perm", list(itertools.permutations([1, 2, 3])))
def test_median3_picks_the_middle_of_any_order(perm):
    assert median3(*perm) == 2
    assert median3_ticks(*perm) == 2


@given(st.integers(), st.integers(), st.integers())
def test_median3_ticks_equals_the_sorted_middle(a, b, c):
    assert median3_ticks(a, b, c) == sorted([a, b, c])[1]


def test_median3_with_ties():
    assert median3(5, 5, 1) == 5
    assert median3(Decimal("1.5"), Decimal("1.5"), Decimal("1.5")) == Decimal("1.5")


def test_binance_mark_is_p1_when_it_lies_between_p2_and_last():
    # P1 = 100·(1 + 0.0001·4h/8h) = 100.005, P2 = 100 + 0.2 = 100.2, last 99
    assert binance_mark_price(100.0, 0.0001, 14_400, 28_800, 0.2, 99.0) == approx(100.005)


def test_binance_mark_is_p2_when_it_lies_between_p1_and_last():
    # P1 = 100.005, P2 = 100.003, last 99.9
    assert binance_mark_price(100.0, 0.0001, 14_400, 28_800, 0.003, 99.9) == approx(100.003)


def test_binance_mark_is_last_price_when_it_lies_between():
    assert binance_mark_price(100.0, 0.0001, 14_400, 28_800, 0.03, 100.02) == approx(100.02)


def test_binance_mark_is_exact_with_decimals():
    mp = binance_mark_price(
        Decimal("65000"), Decimal("0.0001"), 7_200, 28_800, Decimal("-1.5"), Decimal("64990")
    )
    assert mp == Decimal("64998.5")  # P1 65,001.625; P2 64,998.5; last 64,990


def test_bitmex_fair_price_at_funding_time_and_halfway():
    assert bitmex_fair_price(50_000.0, 0.0003, 0, 28_800) == 50_000.0
    assert bitmex_fair_price(Decimal(50_000), Decimal("0.0003"), 14_400, 28_800) == Decimal(
        "50007.5"
    )


def test_mark_rejects_time_outside_the_interval():
    with pytest.raises(InvalidInputError, match="seconds_to_funding"):
        bitmex_fair_price(100.0, 0.0001, 30_000, 28_800)


def test_basis_moving_average_uses_the_last_window():
    mids, idx = [101.0, 102.0, 103.0, 110.0], [100.0, 100.0, 100.0, 100.0]
    assert basis_moving_average(mids, idx) == approx(4.0)
    assert basis_moving_average(mids, idx, window=2) == approx(6.5)


def test_ewma_basis_moves_a_fraction_toward_each_sample():
    alpha = 1 - math.exp(-1 / 150)
    assert ewma_basis([0.0, 1.0], span_seconds=150) == approx(alpha)
    assert ewma_basis([2.0] * 10, span_seconds=150) == approx(2.0)


# ------------------------------------------------------------------------------------ premium


def test_premium_index_cases():
    assert premium_index(101.0, 102.0, 100.0) == approx(0.01)  # bid above index
    assert premium_index(97.0, 98.0, 100.0) == approx(-0.02)  # ask below index
    assert premium_index(99.0, 101.0, 100.0) == 0.0  # index inside the impact spread


def test_weighted_average_premium_weights_later_samples_more():
    assert weighted_average_premium([0.001, 0.002, 0.003]) == approx(
        (1 * 0.001 + 2 * 0.002 + 3 * 0.003) / 6
    )
    assert weighted_average_premium([0.005]) == 0.005


def test_impact_prices_walk_the_book_and_give_nan_when_thin():
    bids = [(100.0, 1.0), (99.0, 5.0)]
    asks = [(101.0, 1.0), (103.0, 10.0)]
    ib, ia = impact_prices(bids, asks, 199.0)  # bids: 1 @ 100 + 1 @ 99; asks: 1 @ 101 + 98/103
    assert ib == approx(99.5)
    assert ia == approx(199.0 / (1 + 98 / 103))
    assert math.isnan(impact_prices(bids, asks, 1_000.0)[0])


# ------------------------------------------------------------------------------- funding rate


def test_funding_rate_clamp_inactive_gives_the_interest_rate():
    assert funding_rate(0.0003) == approx(0.0001)  # I − P = −0.0002 inside ±0.0005
    assert funding_rate(-0.0002) == approx(0.0001)


def test_funding_rate_clamp_active_follows_the_premium():
    assert funding_rate(0.002) == approx(0.0015)  # 0.002 + clamp(−0.0019) = 0.002 − 0.0005
    assert funding_rate(-0.001) == approx(-0.0005)  # −0.001 + clamp(0.0011) = −0.001 + 0.0005


def test_funding_rate_is_divided_by_8_over_n():
    assert funding_rate(0.002, interval_hours=4) == approx(0.00075)
    assert funding_rate(0.002, interval_hours=1) == approx(0.0015 / 8)
    assert funding_rate(0.0003, interval_hours=2) == approx(0.000025)


def test_funding_rate_cap_bounds_both_signs():
    assert funding_rate(0.05, cap=0.0075) == 0.0075  # uncapped 0.0495
    assert funding_rate(-0.05, cap=0.0075) == -0.0075
    assert funding_rate(0.002, cap=0.0075) == approx(0.0015)


def test_hyperliquid_hourly_rate_is_one_eighth_capped_at_4_percent():
    assert hyperliquid_hourly_rate(0.0003) == approx(0.0001 / 8)
    assert hyperliquid_hourly_rate(1.0) == 0.04  # (1 − 0.0005)/8 = 0.1249 → cap
    assert hyperliquid_hourly_rate(-1.0) == -0.04


def test_dydx_rate_is_mean_plus_default_clamped_by_margin_fractions():
    assert dydx_funding_rate([0.001, 0.003]) == approx(0.0021)
    assert dydx_funding_rate([0.1]) == approx(0.048)  # 6 × (0.02 − 0.012)
    assert dydx_funding_rate([-0.5], imf_ppm=50_000, mmf_ppm=30_000) == approx(-0.12)
    trimmed = dydx_funding_rate(
        [-9.0, 0.001, 0.001, 0.001, 9.0], default_ppm=0, removed_tail_ratio_ppm=200_000
    )
    assert trimmed == approx(0.001)


def test_funding_payment_longs_pay_when_rate_positive():
    assert funding_payment(+1, 2.0, 50_000.0, 0.0001) == approx(-10.0)
    assert funding_payment(-1, 2.0, 50_000.0, 0.0001) == approx(10.0)
    assert funding_payment(+1, 2.0, 50_000.0, -0.0001) == approx(10.0)


# -------------------------------------------------------------------------- integer versions


def test_premium_index_ppb_rounds_toward_zero():
    assert premium_index_ppb(1_010, 1_020, 1_000) == 10_000_000  # 1%
    assert premium_index_ppb(970, 999, 1_001) == -1_998_001  # −1,998,001.998 → toward zero
    assert premium_index_ppb(990, 1_010, 1_000) == 0


def test_funding_rate_ppb_matches_hand_values():
    assert funding_rate_ppb(300_000) == 100_000  # clamp inactive
    assert funding_rate_ppb(2_000_000) == 1_500_000  # clamp active
    assert funding_rate_ppb(2_000_000, interval_hours=4) == 750_000
    assert funding_rate_ppb(3_000_001, interval_hours=1) == 312_500  # 312,500.125
    assert funding_rate_ppb(-3_000_001, interval_hours=1) == -312_500  # toward zero
    assert funding_rate_ppb(50_000_000, cap_ppb=7_500_000) == 7_500_000


@given(
    st.integers(-(10**8), 10**8),
    st.integers(-(10**6), 10**6),
    st.integers(0, 10**6),
    st.sampled_from([1, 2, 4, 8]),
)
def test_funding_rate_ppb_is_the_exact_rate_truncated(p, i, c, n):
    exact = (Fraction(p) + max(-c, min(c, i - p))) * n / 8
    assert funding_rate_ppb(p, i, c, n) == math.trunc(exact)
    assert abs(funding_rate_ppb(p, i, c, n) - funding_rate(p, i, c, n)) <= 1


def test_funding_payments_example_nets_to_zero_with_dust():
    payments, dust = funding_payments_micros([3, -1, -2], 1_000, 1, 333_333_333)
    assert payments.tolist() == [-1_000, 333, 666]
    assert dust == 1
    assert payments.dtype == np.int64


balanced_positions = st.lists(st.integers(-(10**6), 10**6), min_size=1, max_size=40).map(
    lambda xs: [*xs, -sum(xs)]
)


@given(
    balanced_positions,
    st.integers(1, 10**7),
    st.integers(1, 1_000),
    st.integers(-(10**9), 10**9),
)
def test_funding_payments_sum_exactly_to_minus_dust(lots, mark, mptl, rate):
    payments, dust = funding_payments_micros(np.array(lots, dtype=np.int64), mark, mptl, rate)
    assert int(payments.sum()) + dust == 0
    assert 0 <= dust < len(lots)
    for lot, pay in zip(lots, payments.tolist(), strict=True):
        owed = Fraction(lot * mark * mptl * rate, 10**9)  # > 0: the account owes this much
        assert pay == -math.ceil(owed)  # payers round up, receivers round down
        assert abs(pay + owed) < 1


def test_funding_payments_reject_unbalanced_positions_and_huge_rates():
    with pytest.raises(InvalidInputError, match="netting to 0"):
        funding_payments_micros([2, -1], 100, 1, 1_000)
    with pytest.raises(InvalidInputError, match="rate_ppb"):
        funding_payments_micros([1, -1], 100, 1, 2 * 10**9)
    with pytest.raises(InvalidInputError, match="2\\*\\*62"):
        funding_payments_micros([10**12, -(10**12)], 10**7, 1_000, 1)


def test_funding_payments_with_no_accounts_is_empty():
    payments, dust = funding_payments_micros(np.zeros(0, dtype=np.int64), 100, 1, 1_000)
    assert payments.size == 0 and dust == 0
