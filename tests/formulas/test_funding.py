"""Funding: the engine's integer rules (:mod:`margincall.venue.funding`, which
``Venue.sample_premium``, ``predicted_funding_ppb`` and ``settle_funding`` call) against the
readable formulas (:mod:`margincall.formulas.funding`), one table per rule, then the formulas'
own hand values and the exact properties of the integer settlement.

Tolerances, named per table: a premium sample is truncated toward zero (under ONE PPB); the
weighted average is floored (under ONE PPB); a rate is the floored average run through the rule
and truncated (under TWO PPB); a payment is rounded against the account (under ONE
MICRO-DOLLAR)."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from margincall.core.errors import InvalidInputError
from margincall.formulas.funding import (
    dydx_funding_rate,
    funding_payment,
    funding_rate,
    hyperliquid_hourly_rate,
    impact_prices,
    premium_index,
    weighted_average_premium,
)
from margincall.venue import funding as fnd
from margincall.venue.funding import funding_payments_micros, funding_rate_ppb
from margincall.venue.instrument import load_rulebook

approx = pytest.approx
PPB = 1e9
RULEBOOKS = ("binance", "bitmex", "dydx", "hyperliquid")

# ------------------------------------------------------------------------------ premium sample

PREMIUM_CASES = [
    # (impact bid, impact ask, index) in ticks, and the exact ppb where the case pins one
    pytest.param(1_010, 1_020, 1_000, 10_000_000, id="bid-above-index-1pct"),
    pytest.param(970, 999, 1_001, -1_998_001, id="ask-below-index-truncated"),
    pytest.param(990, 1_010, 1_000, 0, id="index-inside-impact-spread"),
    pytest.param(600_007, 600_100, 600_000, None, id="bid-7-ticks-above"),
    pytest.param(59_000, 59_999, 60_001, None, id="ask-2-ticks-below"),
    pytest.param(1, 3, 3, None, id="tiny-prices"),
]


@pytest.mark.parametrize(("bid", "ask", "index", "expected"), PREMIUM_CASES)
def test_premium_sample_is_the_formula_truncated_toward_zero(bid, ask, index, expected):
    got = fnd.premium_index_ppb(bid, ask, index)
    exact = premium_index(float(bid), float(ask), float(index)) * PPB
    assert abs(got) <= abs(exact) + 1e-6 and abs(exact - got) < 1
    if expected is not None:
        assert got == expected


IMPACT_CASES = [
    # (filled lots, price x lots filled, lots wanted, side) -> the average fill in ticks
    pytest.param(3, 3 * 100 + 101, 4, -1, 0, id="bid-too-thin"),
    pytest.param(4, 3 * 100 + 101, 4, -1, 100, id="bid-floored"),
    pytest.param(4, 3 * 100 + 101, 4, 1, 101, id="ask-ceiled"),
    pytest.param(2, 2 * 100, 2, 1, 100, id="ask-exact"),
]


@pytest.mark.parametrize(("filled", "ticklots", "lots", "side", "expected"), IMPACT_CASES)
def test_impact_price_rounds_away_from_a_premium(filled, ticklots, lots, side, expected):
    assert fnd.impact_price_ticks(filled, ticklots, lots, side) == expected


# ---------------------------------------------------------------------------- weighted average


def _sums(samples):
    sums = (0, 0, 0)
    for p in samples:
        sums = fnd.add_premium_sample(sums, p)
    return sums


AVERAGE_CASES = [
    pytest.param([1_000_000, 2_000_000, 3_000_000], id="three-rising"),
    pytest.param([5_000_000], id="one"),
    pytest.param([0, 3_000_000], id="later-weighs-more"),
    pytest.param([-1, -1, 1], id="floored-below-zero"),
    pytest.param([7, -3, 11, 2, -5], id="uneven"),
    pytest.param(list(range(-600, 600, 7)), id="many"),
]


@pytest.mark.parametrize("samples", AVERAGE_CASES)
def test_weighted_premium_is_the_formula_floored(samples):
    n, total, weighted = _sums(samples)
    assert n == len(samples) and total == sum(samples)
    got = fnd.weighted_premium_ppb(n, weighted)
    exact = Fraction(sum((i + 1) * p for i, p in enumerate(samples)), n * (n + 1) // 2)
    assert got == math.floor(exact)
    assert weighted_average_premium(samples) == approx(float(exact), abs=1e-9)


def test_weighted_premium_of_no_samples_is_zero():
    assert fnd.weighted_premium_ppb(0, 0) == 0


# ------------------------------------------------------------------------------- funding rate


def engine_rate(rulebook: str, samples: list[int]) -> int:
    """The rate as ``Venue.predicted_funding_ppb`` computes it from these premium samples."""
    rb = load_rulebook(rulebook)
    inst = rb.instrument("BTCUSDT")
    n, total, weighted = _sums(samples)
    if rb.funding_formula == "dydx":
        return fnd.dydx_funding_rate_ppb(
            n, total, inst.funding_interest_ppb, inst.funding_clamp_ppb, rb.funding_interval_hours
        )
    return funding_rate_ppb(
        fnd.weighted_premium_ppb(n, weighted),
        inst.funding_interest_ppb,
        inst.funding_clamp_ppb,
        rb.funding_interval_hours,
        inst.funding_cap_ppb,
    )


def formula_rate(rulebook: str, samples: list[int]) -> float:
    """The same rate by the readable formulas, in ppb."""
    rb = load_rulebook(rulebook)
    inst = rb.instrument("BTCUSDT")
    premiums = [p / PPB for p in samples]
    hours = rb.funding_interval_hours
    if rb.funding_formula == "dydx":
        # the rulebook's clamp 4.8% = 6 x (IMF 2% - MMF 1.2%), the formula's defaults
        assert inst.funding_clamp_ppb == 48_000_000
        default_ppm = inst.funding_interest_ppb // 1_000
        return dydx_funding_rate(premiums, default_ppm=default_ppm) * hours / 8 * PPB
    return (
        funding_rate(
            weighted_average_premium(premiums),
            float(inst.funding_interest_per_8h),
            float(inst.funding_clamp),
            hours,
            float(inst.funding_cap_per_interval),
        )
        * PPB
    )


RATE_CASES = [
    *[
        pytest.param(rb, samples, None, id=f"{rb}-{name}")
        for rb in RULEBOOKS
        for name, samples in (
            ("clamp-inactive", [300_000]),
            ("clamp-active", [2_000_000, 2_000_000]),
            ("negative", [-1_000_000, -2_000_001]),
            ("capped-up", [50_000_000]),
            ("capped-down", [-50_000_000, -60_000_000]),
            ("uneven-samples", [3, 1_234_567, -7, 2_500_001]),
            ("no-premium", [0]),
        )
    ],
    # exact hand values (8 h clamped rule): clamp inactive gives the interest rate; active, the
    # premium minus the clamp
    pytest.param("bitmex", [300_000], 100_000, id="bitmex-interest-rate-exact"),
    pytest.param("bitmex", [-200_000], 100_000, id="bitmex-interest-rate-below-exact"),
    pytest.param("bitmex", [2_000_000], 1_500_000, id="bitmex-premium-minus-clamp-exact"),
    pytest.param("bitmex", [-1_000_000], -500_000, id="bitmex-premium-plus-clamp-exact"),
    pytest.param("dydx", [1_000_000, 3_000_000], 262_500, id="dydx-mean-plus-default-hourly"),
]


@pytest.mark.parametrize(("rulebook", "samples", "expected"), RATE_CASES)
def test_engine_rate_is_the_formula_within_two_ppb(rulebook, samples, expected):
    got, exact = engine_rate(rulebook, samples), formula_rate(rulebook, samples)
    assert abs(got - exact) < 2, (got, exact)
    if expected is not None:
        assert got == expected


# ------------------------------------------------------------------------------------ payments


def _payment_case(rulebook, lots, mark, rate_ppb, name, expected=None):
    k = load_rulebook(rulebook).instrument("BTCUSDT").scale.micros_per_tick_lot
    return pytest.param(lots, mark, k, rate_ppb, expected, id=f"{rulebook}-{name}")


PAYMENT_CASES = [
    *[
        _payment_case(rb, lots, mark, rate, f"{name}")
        for rb, mark in (("binance", 600_123), ("bitmex", 120_001), ("dydx", 60_001),
                         ("hyperliquid", 60_007))
        for name, lots, rate in (
            ("longs-pay", [3, -1, -2], 100_000),
            ("shorts-pay", [5, -5], -333_333),
            ("many-uneven", [7, -1, 13, -19, 1, -1], 1_234_567),
            ("zero-rate", [2, -2], 0),
        )
    ],
    pytest.param([3, -1, -2], 1_000, 1, 333_333_333, ([-1_000, 333, 666], 1), id="dust-example"),
]  # fmt: skip


@pytest.mark.parametrize(("lots", "mark", "k", "rate_ppb", "expected"), PAYMENT_CASES)
def test_payments_are_the_formula_rounded_against_the_account(lots, mark, k, rate_ppb, expected):
    payments, dust = funding_payments_micros(lots, mark, k, rate_ppb)
    for lot, pay in zip(lots, payments.tolist(), strict=True):
        side = 1 if lot > 0 else -1
        # qty in lots and price in ticks: k micro-dollars per tick-lot
        exact = funding_payment(side, float(abs(lot)), float(mark) * k, rate_ppb / PPB)
        assert -1 < pay - exact <= 1e-9 * abs(exact), (pay, exact)  # payers pay the rounding
    assert int(payments.sum()) + dust == 0
    if expected is not None:
        assert (payments.tolist(), dust) == expected


# ------------------------------------------------------------------------------------ premium


def test_impact_prices_walk_the_book_and_give_nan_when_thin():
    bids = [(100.0, 1.0), (99.0, 5.0)]
    asks = [(101.0, 1.0), (103.0, 10.0)]
    ib, ia = impact_prices(bids, asks, 199.0)  # bids: 1 @ 100 + 1 @ 99; asks: 1 @ 101 + 98/103
    assert ib == approx(99.5)
    assert ia == approx(199.0 / (1 + 98 / 103))
    assert math.isnan(impact_prices(bids, asks, 1_000.0)[0])


# ------------------------------------------------------------------------------- funding rate


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


# ------------------------------------------------------------------- the engine, per rulebook


@pytest.mark.parametrize("rulebook", RULEBOOKS)
def test_venue_samples_rates_and_pays_by_the_rules(rulebook):
    """A live venue's premium samples, predicted rate and payments, against the formulas on the
    same inputs (one book level a side, so the impact prices are those levels exactly)."""
    from margincall.events.schema import EventKind
    from margincall.venue.engine import Venue

    v = Venue(rulebook, "BTCUSDT", price=60_000, insurance_fund_usd=1_000_000)
    k, start = v.k, v.index_ticks
    mm = v.open_account(50_000_000)
    # resting far beyond the impact notional: bid 0.5% and ask 0.8% above the start index
    bid, ask = start + start // 200, start + start // 125
    v.submit_order(mm, "buy", "100", bid * v.scale.tick_size)
    v.submit_order(mm, "sell", "100", ask * v.scale.tick_size)
    samples = []
    for index in (start, start + 7, start - 11, ask + 3):
        v.set_index_ticks(index)
        got = v.sample_premium()
        exact = premium_index(float(bid), float(ask), float(index)) * PPB
        assert abs(got) <= abs(exact) + 1e-6 and abs(exact - got) < 1
        samples.append(got)
    predicted = v.predicted_funding_ppb()
    assert predicted == engine_rate(rulebook, samples)
    assert abs(predicted - formula_rate(rulebook, samples)) < 2
    # positions: a long of 3 lots and a short of 2 and 1 against the maker's book-free account
    traders = [v.open_account(100_000) for _ in range(3)]
    v.block_trades(np.array(traders), np.array([3_000, -2_000, -1_000]), 60_000, mm)
    mark = v.mark_ticks
    ev = v.settle_funding()
    rate = int(ev[ev["kind"] == int(EventKind.FUNDING_RATE_SET)]["amount"][0])
    assert rate == predicted
    paid = ev[ev["kind"] == int(EventKind.FUNDING_PAID)]
    for t, lots in zip(traders, (3_000, -2_000, -1_000), strict=True):
        pay = int(paid[paid["account"] == t]["amount"][0])
        exact = funding_payment(1 if lots > 0 else -1, abs(lots), mark * k, rate / PPB)
        assert -1 < pay - exact <= 1e-9 * abs(exact), (pay, exact)
