"""The mark price: the engine's integer rule (:mod:`margincall.venue.mark`, which
``Venue.update_mark`` calls) against the readable formulas (:mod:`margincall.formulas.mark`).

Tolerance: ONE TICK, downward. The fair price and the basis average are floored to whole ticks
and the median is monotone, so the engine's mark is the formula's minus less than one tick. The
oracle rulebook (dYdX) marks at the index exactly. Hyperliquid's mark floors twice (the mid of
each basis sample, then each EMA), so there the engine is the formula minus less than TWO
ticks."""

from __future__ import annotations

import doctest
import itertools
import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from margincall.core.errors import InvalidInputError
from margincall.formulas import mark as formulas_mark
from margincall.formulas.mark import (
    basis_moving_average,
    binance_mark_price,
    bitmex_fair_price,
    book_median,
    hyperliquid_mark_price,
    median3,
    time_weighted_ema,
    weighted_median,
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
    # dYdX, oracle: the mark is the index whatever the book and funding say (Hyperliquid's
    # median of three has its own table below, HL_CASES).
    _case("dydx", 60_000, 5_000_000, 1_800, [30], 59_000, "oracle"),
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


@pytest.mark.parametrize("rulebook", ["binance", "bitmex", "dydx"])
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


# ------------------------------------------------------------------ Hyperliquid's median of three


def hl_engine_marks(updates):
    """The marks :func:`margincall.venue.mark.hyperliquid_mark_step` gives over ``updates``,
    each ``(seconds, oracle, bid, ask, last, perp_mid)`` in ticks (0 = missing)."""
    state, marks = mk.HyperliquidMarkState(), []
    for t, oracle, bid, ask, last, perp in updates:
        mark, state = mk.hyperliquid_mark_step(state, oracle, bid, ask, last, perp, t * SECOND)
        marks.append(mark)
    return marks


def hl_formula_marks(updates):
    """The same marks by the readable formulas: each EMA's samples are ``(seconds since its
    previous sample, value)``; the basis EMA has a sample only when there is a mid."""
    basis, book, marks, since = [], [], [], {}
    for t, oracle, bid, ask, last, perp in updates:
        if bid and ask:
            basis.append((t - since.get("basis", t), (bid + ask) / 2 - oracle))
            since["basis"] = t
        b = book_median(bid or None, ask or None, last or None, oracle)
        book.append((t - since.get("book", t), b))
        since["book"] = t
        a = time_weighted_ema(basis, 150) if basis else 0.0
        third = float(perp) if perp else None
        marks.append(
            hyperliquid_mark_price(float(oracle), a, b, third, time_weighted_ema(book, 30))
        )
    return marks


BOOK = (100_050, 100_070, 100_060)  # bid, ask, last: the mid 60 ticks over the oracle
HL_CASES = {
    "steady-book-away-from-the-oracle": [(t, 100_000, *BOOK, 0) for t in (0, 5, 10, 15)],
    "oracle-moves-under-a-book": [
        (0, 100_000, *BOOK, 0), (5, 100_100, *BOOK, 0), (10, 100_010, 100_050, 100_090, 100_070, 0),
    ],
    "perp-mid-between-A-and-B": [(0, 100_000, *BOOK, 0), (5, 100_200, *BOOK, 100_100)],
    "perp-mid-above-both": [(0, 100_000, *BOOK, 0), (5, 100_000, *BOOK, 100_900)],
    "book-jumps-its-ema-lags": [
        (0, 100_000, *BOOK, 0), (5, 100_000, 100_500, 100_520, 100_510, 0),
        (10, 100_000, 100_500, 100_520, 100_510, 0),
    ],
    "one-sided-book-no-mid": [(0, 100_000, 100_050, 0, 100_060, 0), (5, 100_020, 100_050, 0, 0, 0)],
    "empty-book-no-trade-is-the-oracle": [(0, 100_000, 0, 0, 0, 0), (5, 100_300, 0, 0, 0, 0)],
    "mid-gone-for-a-minute": [
        (0, 100_000, *BOOK, 0), (5, 100_000, 0, 0, 100_060, 0), (65, 99_900, 99_700, 99_720, 0, 0),
    ],
    "odd-mid-and-negative-basis": [
        (0, 60_000, 59_901, 59_904, 59_950, 0), (1, 60_003, 59_901, 59_904, 59_950, 0),
        (3, 60_001, 59_899, 59_904, 59_902, 0),
    ],
}  # fmt: skip


@pytest.mark.parametrize("updates", list(HL_CASES.values()), ids=list(HL_CASES))
def test_hyperliquid_engine_mark_is_the_formula_floored(updates):
    """Every update's mark: the engine's is the formula's less under two ticks (two floors)."""
    for got, exact in zip(hl_engine_marks(updates), hl_formula_marks(updates), strict=True):
        assert -EPS * exact <= exact - got < 2 + EPS * exact, (got, exact)


def test_hyperliquid_mark_with_no_book_and_no_trade_is_the_oracle_exactly():
    updates = HL_CASES["empty-book-no-trade-is-the-oracle"]
    assert hl_engine_marks(updates) == [100_000, 100_300]


@given(
    st.lists(st.tuples(st.integers(0, 10**7), st.integers(0, 5)), min_size=0, max_size=12),
)
def test_weighted_median_ticks_is_the_readable_lower_weighted_median(pairs):
    ticks, weights = [p for p, _ in pairs], [w for _, w in pairs]
    got = mk.weighted_median_ticks(ticks, weights)
    kept = [(p, w) for p, w in pairs if p > 0]
    want = weighted_median([p for p, _ in kept], [w for _, w in kept])
    assert got == (0 if want is None else want)


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


def test_time_weighted_ema_weighs_each_sample_by_its_seconds():
    # 60 for a whole window (150 s), then 30 for 5 s: (60 x 150 e^-1/30 + 30 x 5) / (150 e^-1/30 + 5)
    d = math.exp(-5 / 150)
    want = (60 * 150 * d + 30 * 5) / (150 * d + 5)
    assert time_weighted_ema([(99, 60.0), (5, 30.0)], 150) == approx(want)
    assert time_weighted_ema([(0, 7.0), (0, 100.0)], 30) == 7.0  # no time: no weight
    with pytest.raises(InvalidInputError, match="window_seconds"):
        time_weighted_ema([(0, 1.0)], 0)


def test_book_median_of_what_exists():
    assert book_median(1.0, 5.0, 3.0, 100.0) == 3.0
    assert book_median(1.0, None, 4.0, 100.0) == 2.5
    assert book_median(None, None, 7.0, 100.0) == 7.0
    assert book_median(None, None, None, 100.0) == 100.0


def test_weighted_median_is_the_lower_one_and_ignores_zero_weights():
    # Hyperliquid's weights: Binance 3, OKX 2, Bybit 2, Gate 1, MEXC 1 (total 9, half 4.5)
    mids = [100.0, 104.0, 101.0, 103.0, 102.0]
    assert weighted_median(mids, [3, 2, 2, 1, 1]) == 101.0  # 100:3, 101:5 >= 4.5
    assert weighted_median([1.0, 2.0], [1, 1]) == 1.0  # a tie: the lower
    assert weighted_median([1.0, 2.0], [0, 1]) == 2.0
    assert weighted_median([1.0], [0]) is None
    with pytest.raises(InvalidInputError, match="weights"):
        weighted_median([1.0], [1, 2])


def test_hyperliquid_mark_price_takes_the_book_ema_only_without_perp_mids():
    assert hyperliquid_mark_price(100.0, 0.6, 100.2, None, 100.5) == 100.5
    assert hyperliquid_mark_price(100.0, 0.6, 100.2, 100.3, 100.5) == 100.3
    assert hyperliquid_mark_price(Decimal(100), Decimal("0.6"), Decimal("100.2"), None,
                                  Decimal("100.5")) == Decimal("100.5")  # fmt: skip


@pytest.mark.parametrize("module", [formulas_mark, mk], ids=["formulas", "venue"])
def test_the_mark_modules_examples_run(module):
    assert doctest.testmod(module).failed == 0
