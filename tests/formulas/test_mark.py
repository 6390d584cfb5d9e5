"""The mark price: the engine's integer rule (:mod:`margincall.venue.mark`, which
``Venue.update_mark`` calls) against the readable formulas (:mod:`margincall.formulas.mark`).

Tolerance: ONE TICK, downward. The fair price and the basis average are floored to whole ticks
and the median is monotone, so the engine's mark is the formula's minus less than one tick. The
oracle rulebooks (dYdX, Hyperliquid) mark at the index exactly."""

from __future__ import annotations

import itertools
import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from margincall.core.errors import InvalidInputError
from margincall.formulas.mark import (
    basis_moving_average,
    binance_mark_price,
    bitmex_fair_price,
    ewma_basis,
    median3,
)
from margincall.venue import mark as mk
from margincall.venue.engine import Venue
from margincall.venue.instrument import load_rulebook

approx = pytest.approx
SECOND = 1_000_000_000
EPS = 1e-9  # float noise, relative to the price


def engine_mark(method, index, rate_ppb, seconds_left, hours, samples, last):
    """The mark as ``Venue.update_mark`` computes it from these inputs."""
    interval = hours * 3600 * SECOND
    if method == "oracle":
        return index
    p1 = mk.fair_price_ticks(index, rate_ppb, interval - seconds_left * SECOND, interval)
    if method == "fair":
        return p1
    return mk.binance_mark_ticks(p1, mk.basis_price_ticks(index, samples), last, index)


def formula_mark(method, index, rate_ppb, seconds_left, hours, samples, last):
    """The same mark by the readable formulas, in (fractional) ticks."""
    rate, interval = rate_ppb / 1e9, hours * 3600
    if method == "oracle":
        return float(index)
    if method == "fair":
        return bitmex_fair_price(float(index), rate, seconds_left, interval)
    window = samples[-mk.BASIS_WINDOW :]
    basis = (
        basis_moving_average([index + b for b in window], [index] * len(window)) if window else 0
    )
    return binance_mark_price(
        float(index), rate, seconds_left, interval, basis, float(last or index)
    )


def _case(rulebook, index, rate_ppb, seconds_left, samples=(), last=0, name=""):
    rb = load_rulebook(rulebook)
    args = (rb.mark, index, rate_ppb, seconds_left, rb.funding_interval_hours, list(samples), last)
    return pytest.param(*args, id=f"{rulebook}-{name}")


CASES = [
    # Binance, median(P1, P2, last): each of the three wins in turn, then the rounding cases.
    _case("binance", 600_000, 100_000, 14_400, [2_000], 590_000, "P1-wins"),
    _case("binance", 600_000, 100_000, 14_400, [20], 590_000, "P2-wins"),
    _case("binance", 600_000, 100_000, 14_400, [2_000], 600_020, "last-wins"),
    _case("binance", 600_000, 0, 28_800, [], 0, "no-trade-no-samples-is-index"),
    _case("binance", 650_000, 100_000, 7_200, [-15], 649_900, "decimal-example"),
    _case("binance", 600_001, 333_333, 1, [1, 2], 700_000, "P1-floored"),
    _case("binance", 600_001, -333_333, 28_799, [-1, -2, -2], 500_000, "negative-floors-down"),
    _case("binance", 600_000, 0, 100, list(range(40)), 700_000, "only-last-30-samples"),
    _case("binance", 600_000, 3_000_000, 28_800, [-7] * 3, 599_990, "capped-rate-full-interval"),
    # BitMEX, fair price: the index and the funding basis.
    _case("bitmex", 100_000, 300_000, 14_400, name="halfway"),
    _case("bitmex", 100_001, 300_000, 28_800, name="full-interval"),
    _case("bitmex", 100_001, -300_001, 1, name="one-second-left-negative"),
    _case("bitmex", 120_000, 3_750_000, 3_600, name="capped-rate"),
    # dYdX and Hyperliquid, oracle: the mark is the index whatever the book and funding say.
    _case("dydx", 60_000, 5_000_000, 1_800, [30], 59_000, "oracle"),
    _case("hyperliquid", 60_123, -4_000_000, 3_600, [-30], 61_000, "oracle"),
]


@pytest.mark.parametrize(
    ("method", "index", "rate_ppb", "seconds_left", "hours", "samples", "last"), CASES
)
def test_engine_mark_is_the_formula_floored_to_a_tick(
    method, index, rate_ppb, seconds_left, hours, samples, last
):
    args = (method, index, rate_ppb, seconds_left, hours, samples, last)
    got, exact = engine_mark(*args), formula_mark(*args)
    assert -EPS * exact <= exact - got < 1 + EPS * exact, (got, exact)
    if method == "oracle":
        assert got == index


@pytest.mark.parametrize("rulebook", ["binance", "bitmex", "dydx", "hyperliquid"])
def test_venue_update_mark_computes_the_rule(rulebook):
    """The engine's own mark, from a live venue, against the formula on the same inputs."""
    v = Venue(rulebook, "BTCUSDT", price=60_000, insurance_fund_usd=1_000_000)
    tick, start = v.scale.tick_size, v.index_ticks
    mm = v.open_account(10_000_000)
    v.submit_order(mm, "buy", "1", (start - 40) * tick)
    v.submit_order(mm, "sell", "1", (start + 60) * tick)  # the mid: start + 10, a whole tick
    v.settle_funding(rate_ppb=250_000)
    hours = v.rulebook.funding_interval_hours
    v.advance(hours * 3600 * SECOND // 3)
    samples = []
    for index in (start + 7, start - 3, start + 11):
        v.set_index_ticks(index)
        v.update_mark()
        samples.append(start + 10 - index)
    left = hours * 3600 - (v.now_ns // SECOND) % (hours * 3600)
    args = (v.rulebook.mark, index, 250_000, left, hours, samples, v.last_ticks)
    assert v.mark_ticks == engine_mark(*args)
    exact = formula_mark(*args)
    assert 0 <= exact - v.mark_ticks < 1 + EPS * exact


# ------------------------------------------------------------------ the readable formulas alone


@pytest.mark.parametrize("perm", list(itertools.permutations([1, 2, 3])))
def test_median3_picks_the_middle_of_any_order(perm):
    assert median3(*perm) == 2
    assert mk.median3_ticks(*perm) == 2


@given(st.integers(), st.integers(), st.integers())
def test_median3_ticks_equals_the_sorted_middle(a, b, c):
    assert mk.median3_ticks(a, b, c) == sorted([a, b, c])[1]


def test_median3_with_ties():
    assert median3(5, 5, 1) == 5
    assert median3(Decimal("1.5"), Decimal("1.5"), Decimal("1.5")) == Decimal("1.5")


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
