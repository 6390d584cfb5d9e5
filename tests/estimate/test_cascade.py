"""The cascade fixed point: exactness with an infinitely deep book, monotonicity, the iteration."""

from __future__ import annotations

import numpy as np
import pytest

from margincall.core.errors import InvalidInputError
from margincall.estimate.cascade import cascade, critical_shock, loop_gain
from margincall.estimate.grid import stress_grid
from margincall.estimate.impact import BookDepth, DepthCurve, NoImpact, SqrtImpact
from margincall.estimate.maps import MICROS, LiquidationMap
from margincall.estimate.positions import account_liquidation_ticks, map_from_venue
from margincall.sim.kernel import Simulation
from margincall.sim.scenario import load_scenario
from margincall.venue import params as P
from margincall.venue.accounts import ISOLATED
from margincall.venue.margin_int import is_breached, margin_excess


@pytest.fixture(scope="module")
def start():
    sc = load_scenario("feb-2026").with_overrides(accounts=3000)
    v = Simulation(sc, 1).venue
    return v, map_from_venue(v)


@pytest.mark.parametrize("shock", [-0.02, -0.05, -0.1, -0.15, 0.03, 0.2])
def test_infinitely_deep_book_liquidates_exactly_the_breached_positions(start, shock):
    """To the cent: the notional (at liquidation price) of every account the venue's own check
    breaches at the shocked mark, and nothing else."""
    v, m = start
    tick = float(v.scale.tick_size)
    mark = int(v.meta[5])
    target = round(mark * (1 + shock))  # a shocked price on the tick grid
    s = target / mark - 1
    r = cascade(m, NoImpact(), s)
    assert r.rounds == (1 if (r.long_micros or r.short_micros) else 0) and r.converged
    assert r.price == pytest.approx(target * tick, rel=1e-12)
    ids, ticks = account_liquidation_ticks(v)
    strict = bool(v.params[P.STRICT])
    t = v.tiers
    want = 0
    for a, x in zip(ids, ticks, strict=True):
        a = int(a)
        p = int(v.acc.pos[a])
        if (p > 0) != (shock < 0):
            continue
        c = int(v.acc.iso_margin[a] if v.acc.flags[a] & ISOLATED else v.acc.wallet[a])
        hit = is_breached(
            margin_excess(c, p, int(v.acc.cost[a]), target, v.k, t.floor, t.mmr_ppm, t.cum), strict
        )
        now = is_breached(
            margin_excess(c, p, int(v.acc.cost[a]), mark, v.k, t.floor, t.mmr_ppm, t.cum), strict
        )
        if hit and not now:
            want += abs(p) * int(x) * v.k
    got = r.long_micros if shock < 0 else r.short_micros
    assert want > 0
    assert got == want  # micro-dollars, so to the cent
    assert (r.short_micros if shock < 0 else r.long_micros) == 0


def _reference(m: LiquidationMap, impact, s, depth=1.0, lev=1.0):
    """The iteration written out in Python with the map's own methods."""
    p0, down = m.price, s <= 0
    if down:
        base = int(m.liquidated_long_micros(np.nextafter(p0, np.inf)))
    else:
        base = int(m.liquidated_short_micros(np.nextafter(p0, -np.inf)))
    liq, micros = (m.long_liq, m.long_micros) if down else (m.short_liq, m.short_micros)
    price, q, rounds = p0 * (1 + s), 0, 0
    while True:
        x = p0 + lev * (price - p0)
        qn = (
            int(m.liquidated_long_micros(x)) if down else int(m.liquidated_short_micros(x))
        ) - base
        if qn <= q:
            return price, q, rounds
        q, rounds = qn, rounds + 1
        hit = ((liq >= x) & (liq <= p0)) if down else ((liq <= x) & (liq >= p0))
        quantity = float(np.sum(micros[hit] / MICROS / liq[hit]))  # base units
        d = impact.delta(quantity * p0 * (1 + s), -1 if down else 1, depth)
        price = min(max(p0 * (1 + s - d if down else 1 + s + d), p0 * 1e-12), 11 * p0)


IMPACTS = [
    NoImpact(),
    DepthCurve(d1_usd=300e6, beta=0.55, thinning=0.3),
    DepthCurve(d1_usd=2e9, beta=0.4, thinning=0.0),
    SqrtImpact(y=1.0, sigma_daily=0.05, volume_daily_usd=5e9),
]


@pytest.mark.parametrize("impact", IMPACTS, ids=lambda i: i.name)
def test_compiled_fixed_point_equals_the_written_out_iteration(start, impact):
    _, m = start
    for s in (-0.01, -0.04, -0.08, -0.12, 0.02, 0.06):
        for depth, lev in ((1.0, 1.0), (0.5, 1.0), (2.0, 1.5)):
            r = cascade(m, impact, s, depth_scale=depth, leverage=lev)
            price, q, rounds = _reference(m, impact, s, depth, lev)
            assert r.rounds == rounds
            assert (r.long_micros if s <= 0 else r.short_micros) == q
            assert r.price == pytest.approx(price, rel=1e-9)


def test_fixed_point_is_a_fixed_point(start):
    _, m = start
    imp = DepthCurve(d1_usd=500e6, beta=0.55, thinning=0.3)
    for s in (-0.03, -0.07, -0.11):
        r = cascade(m, imp, s)
        assert r.converged and r.rounds >= 2  # the impact reached further levels
        q = int(m.liquidated_long_micros(r.price)) - int(
            m.liquidated_long_micros(np.nextafter(m.price, np.inf))
        )
        assert q == r.long_micros
        hit = (m.long_liq >= r.price) & (m.long_liq <= m.price)
        quantity = float(np.sum(m.long_micros[hit] / MICROS / m.long_liq[hit]))
        touch = m.price * (1 + s)
        assert r.price == pytest.approx(m.price * (1 + s - imp.delta(quantity * touch)), rel=1e-9)
        assert r.price < m.price * (1 + s)


def test_monotone_in_shock_depth_and_leverage(start):
    _, m = start
    imp = DepthCurve(d1_usd=400e6, beta=0.55, thinning=0.3)
    shocks = -np.arange(1, 31) / 100
    g = stress_grid(m, imp, shocks, [0.25, 0.5, 1.0, 2.0, 4.0], [0.5, 1.0, 2.0])
    liq = g.long_micros
    assert np.all(np.diff(liq, axis=0) >= 0)  # bigger shock: not less liquidated
    assert np.all(np.diff(liq, axis=1) <= 0)  # deeper book: not more
    assert np.all(np.diff(liq, axis=2) >= 0)  # more leverage: not less
    assert np.all(np.diff(g.price, axis=0) <= 0)
    assert np.all(g.price <= m.price * (1 + shocks)[:, None, None] * (1 + 1e-12))
    assert liq[-1, 0, -1] > liq[0, -1, 0]  # and the multipliers matter
    up = stress_grid(m, imp, np.arange(1, 21) / 100, [0.5, 1.0, 2.0], [1.0, 2.0])
    assert np.all(np.diff(up.short_micros, axis=0) >= 0)
    assert np.all(np.diff(up.short_micros, axis=1) <= 0)
    assert np.all(up.long_micros == 0) and np.all(g.short_micros == 0)


def test_leverage_multiplier_equals_the_rescaled_map(start):
    _, m = start
    imp = DepthCurve(d1_usd=400e6)
    for lev in (0.5, 2.0, 3.0):
        scaled = m.with_leverage(lev)
        for s in (-0.03, -0.09):
            a = cascade(m, imp, s, leverage=lev)
            b = cascade(scaled, imp, s)
            # the same notional; the rescaled map's quantity (notional / new price) differs
            # a little from the original's, so the impact does too
            assert a.long_micros == pytest.approx(b.long_micros, rel=0.1)


def test_power_law_round_trip_and_thinning():
    d = DepthCurve(d1_usd=20e6, beta=0.5, thinning=0.0)
    assert d.delta(20e6) == pytest.approx(0.01)
    assert d.delta(40e6) == pytest.approx(0.04)  # (2)^(1/0.5) x 1%
    assert d.delta(20e6, depth_scale=2.0) == pytest.approx(0.0025)
    thin = DepthCurve(d1_usd=20e6, beta=0.5, thinning=1.0)
    assert thin.delta(20e6) == pytest.approx(0.04)  # half the depth after one D1
    assert SqrtImpact(1.0, 0.03, 75e9).delta(1e9) == pytest.approx(0.03 * np.sqrt(1 / 75))


def test_hand_made_map_rounds():
    """Levels 1% apart, $10M each; impact 1% per $10M (beta 1): every round reaches the next
    level, until the gap at 94 stops it."""
    p0 = 100.0
    levels = np.array([99.0, 98.0, 97.0, 96.0, 95.0, 93.0, 90.0])
    m = LiquidationMap.from_levels(p0, levels, np.full(7, 10e6), np.array([110.0]), np.array([5e6]))
    imp = DepthCurve(d1_usd=10e6, beta=1.0, thinning=0.0)

    def touch_usd(levels_hit, touch):  # the quantity sold, valued at the touch
        return sum(10e6 / x for x in levels_hit) * touch

    r = cascade(m, imp, -0.01)
    # round 1: 99 -> 98 (a little less: $10M at 99 is worth $10M/99 x 99); ... round 5: 95
    moved = touch_usd([99, 98, 97, 96, 95], 99.0) / 10e6 / 100
    assert r.rounds == 5 and r.long_micros == 50_000_000 * MICROS
    assert r.price == pytest.approx(100 * (1 - 0.01 - moved))
    assert 93.0 < r.price < 94.0
    # from 97.9: 99, 98 -> 95.9...: 96 -> 93.9...: 95 -> 92.9...: 93 -> 91.9...
    r = cascade(m, imp, -0.021)
    moved = touch_usd([99, 98, 97, 96, 95, 93], 97.9) / 10e6 / 100
    assert (r.rounds, r.long_micros) == (4, 60_000_000 * MICROS)
    assert r.price == pytest.approx(100 * (1 - 0.021 - moved))
    assert cascade(m, NoImpact(), -0.021).long_micros == 20_000_000 * MICROS
    assert cascade(m, imp, 0.1).short_micros == 5_000_000 * MICROS


def test_loop_gain_of_a_uniform_map_with_linear_impact():
    p0 = 100.0
    levels = np.arange(50.0, 100.0, 0.01)  # $1M per cent: density $100M per dollar
    m = LiquidationMap.from_levels(p0, levels, np.full(len(levels), 1e6), [], [])
    imp = DepthCurve(d1_usd=1e9, beta=1.0, thinning=0.0)  # delta = 1% per $1B
    g = loop_gain(m, imp, np.array([90.0, 80.0, 70.0]))
    # G = P0 x 0.01/1e9 x 1e8 = 0.1
    assert g == pytest.approx(0.1, rel=0.02)


def test_critical_shock_finds_the_jump():
    """A cluster of $5B at 90 below a thin $1M/level ladder: once the shock brings the price
    close enough that the ladder's impact reaches 90, the cluster goes and the price jumps."""
    p0 = 100.0
    ladder = np.arange(90.5, 100.0, 0.01)
    levels = np.concatenate([ladder, [90.0]])
    usd = np.concatenate([np.full(len(ladder), 1e6), [5e9]])
    m = LiquidationMap.from_levels(p0, levels, usd, [], [])
    imp = DepthCurve(d1_usd=1e9, beta=1.0, thinning=0.0)
    c = critical_shock(m, imp, step=0.001, jump=0.05)
    assert c is not None
    before = cascade(m, imp, c.shock + 0.001)
    at = cascade(m, imp, c.shock)
    # the fixed point above the cluster is P = 100 + 111 s (G = 0.1): it reaches 90 at s = -9%
    assert c.shock == pytest.approx(-0.09, abs=0.0011)
    assert before.price > 90.0 and at.price < 86.0  # the $5B cluster adds a 5% move
    assert c.move_at > c.move_before + 0.05
    assert critical_shock(m, NoImpact()) is None


def test_book_depth_walk_reads_levels(start):
    from margincall.venue.engine import Venue

    v = Venue("dydx", "BTCUSDT", price=60_000, capacity=4)
    mm = v.open_account(1e9, leverage=1)
    for j, qty in enumerate(["1", "2", "3"]):
        v.submit_order(mm, "buy", qty, 60_000 - 100 * j)
        v.submit_order(mm, "sell", qty, 60_100 + 100 * j)
    b = BookDepth.from_venue(v, reference=60_000)
    assert np.allclose(b.bid_q, [60_000, 3 * 60_000, 6 * 60_000])  # BTC x the touch
    assert np.allclose(b.ask_q, [60_100, 3 * 60_100, 6 * 60_100])
    assert np.allclose(b.bid_d, [0, 100 / 60_000, 200 / 60_000])
    assert b.delta(60_000) == 0.0  # the first level absorbs it
    assert b.delta(60_001) == pytest.approx(100 / 60_000)
    assert b.delta(100_000, side=1) == pytest.approx(100 / 60_000)
    assert b.delta(1e9) > 200 / 60_000  # beyond the book: the tail


@pytest.mark.parametrize("bad", [-0.99, -1.5, 10.0, 12.0, float("nan")])
def test_shocks_outside_the_range_are_refused(start, bad):
    _, m = start
    with pytest.raises(InvalidInputError, match="shock"):
        cascade(m, NoImpact(), bad)


def test_bad_multipliers_are_refused(start):
    _, m = start
    with pytest.raises(InvalidInputError, match="depth_scale"):
        cascade(m, NoImpact(), -0.1, depth_scale=0)
    with pytest.raises(InvalidInputError, match="leverages"):
        stress_grid(m, NoImpact(), [-0.1], [1.0], [-2.0])


def test_loop_gain_is_the_slope_of_the_fixed_point_map():
    """G(P) is |dF/dP| of the map the fixed point iterates, F(x) = P0 (1 + s - delta(Q(x))),
    with Q the quantity liquidated through x valued at the touch P0 (1 + s) = P, as solve()
    values it; checked by a finite difference of F itself under a convex impact."""
    p0 = 100.0
    levels = np.arange(60.0, 100.0, 0.01)
    usd = 1e6 * (1.0 + (100.0 - levels) / 10.0)  # denser further down: G changes with P
    m = LiquidationMap.from_levels(p0, levels, usd, [], [])
    imp = DepthCurve(d1_usd=2e9, beta=0.5, thinning=0.2)
    qty = usd / levels

    def f(x, touch):
        q = qty[levels >= x].sum() * touch
        return p0 * (touch / p0 - imp.delta(q))

    for p in (95.0, 85.0, 70.0):
        h = 0.5  # the loop gain's own window: bandwidth 0.005 x P0
        slope = abs(f(p - h, p) - f(p + h, p)) / (2 * h)
        assert loop_gain(m, imp, np.array([p]))[0] == pytest.approx(slope, rel=0.01)


def _three_levels():
    """$10M of longs at each of 99, 98 and 97 under a reference of 100."""
    levels = np.array([99.0, 98.0, 97.0])
    return LiquidationMap.from_levels(100.0, levels, np.full(3, 10e6), [], [])


@pytest.mark.parametrize("refill", [0.0, 0.5, 1.0])
def test_refill_by_hand_on_a_convex_curve(refill):
    """delta(E) = 1% (E / $10M)^2. A -1% shock (touch 99) takes 99 in round 1 (E = $10M at the
    touch, a 1% move: price 98), 98 in round 2 and 97 in round 3; before each round the book
    gets back ``refill`` of what was consumed, and the walk resumes from there."""
    m = _three_levels()
    imp = DepthCurve(d1_usd=10e6, beta=0.5, thinning=0.0, refill=refill)

    def delta(e):
        return 0.01 * (e / 10e6) ** 2

    consumed, moved = 0.0, 0.0
    for level in (99.0, 98.0, 97.0):  # each round's quantity, valued at the touch 99
        left = (1 - refill) * consumed
        consumed = left + 10e6 / level * 99.0
        moved += delta(consumed) - delta(left)
    r = cascade(m, imp, -0.01)
    assert (r.rounds, r.converged, r.long_micros) == (3, True, 30_000_000 * MICROS)
    assert r.price == pytest.approx(100.0 * (0.99 - moved), rel=1e-12)
    if refill == 0.0:  # one walk of the whole quantity
        assert moved == pytest.approx(delta(sum(10e6 / x * 99.0 for x in (99, 98, 97))))


def test_refill_changes_nothing_under_linear_impact():
    m = _three_levels()
    for shock in (-0.01, -0.015, -0.025):
        prices = {
            cascade(m, DepthCurve(10e6, 1.0, 0.0, refill=r), shock).price for r in (0, 0.3, 1)
        }
        assert max(prices) - min(prices) < 1e-9


def test_more_refill_never_moves_the_price_further():
    rng = np.random.default_rng(7)
    levels = np.sort(rng.uniform(50.0, 99.9, 400))[::-1]
    m = LiquidationMap.from_levels(100.0, levels, rng.uniform(1e5, 5e6, 400), [], [])
    shocks = -np.arange(0.005, 0.2, 0.005)
    first = last = None
    for refill in (0.0, 0.1, 0.3, 0.6, 1.0):
        imp = DepthCurve(d1_usd=20e6, beta=0.55, thinning=0.3, refill=refill)
        g = stress_grid(m, imp, shocks)
        assert g.converged.all()
        moves = -g.move[:, 0, 0]
        if last is not None:
            assert np.all(moves <= last + 1e-12)
        first = moves if first is None else first
        last = moves
    assert np.any(last < first - 0.01)  # and a full refill does stop some cascades earlier


def test_refill_outside_0_to_1_is_refused():
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(InvalidInputError, match="refill"):
            DepthCurve(refill=bad)
