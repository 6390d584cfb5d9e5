"""Properties that tie the float margin formulas together (hypothesis)."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from margincall.formulas.margin import (
    bankruptcy_price,
    binance_adl_quantiles,
    binance_liquidation_price,
    binance_liquidation_price_tiered,
    bitmex_adl_allocate,
    hyperliquid_liquidation_price,
    hyperliquid_maintenance_rate,
    maintenance_amounts,
    maintenance_margin,
    round_to_tick,
    tier_index,
)

sides = st.sampled_from(["long", "short"])
quantities = st.floats(1e-3, 1e4)
prices = st.floats(1.0, 1e5)
leverages = st.floats(1.5, 100.0)


@st.composite
def tiers(draw: st.DrawFn) -> tuple[list[float], list[float]]:
    """A valid bracket table: floors from 0 upward, rates rising from (0, 5%]."""
    n = draw(st.integers(1, 8))
    floors = [0.0]
    for gap in draw(st.lists(st.floats(1e3, 1e7), min_size=n - 1, max_size=n - 1)):
        floors.append(floors[-1] + gap)
    rates = [draw(st.floats(1e-3, 0.05))]
    for step in draw(st.lists(st.floats(0.0, 0.1), min_size=n - 1, max_size=n - 1)):
        rates.append(min(1.0, rates[-1] + step))
    return floors, rates


def close(a: float, b: float, scale: float) -> bool:
    return abs(a - b) <= 1e-9 * scale + 1e-9


@given(tiers())
def test_maintenance_margin_is_continuous_at_every_bracket_floor(table):
    floors, rates = table
    cums = maintenance_amounts(floors, rates)
    for i in range(1, len(floors)):
        from_below = floors[i] * rates[i - 1] - cums[i - 1]
        assert tier_index(floors[i], floors) == i
        assert close(maintenance_margin(floors[i], floors, rates), from_below, floors[i])


@given(
    side=sides,
    qty=quantities,
    entry=prices,
    wallet=st.floats(-1e6, 1e7),
    mmr=st.floats(0.0, 0.5),
    cum=st.floats(0.0, 1e6),
    tmm=st.floats(0.0, 1e5),
    upnl=st.floats(-1e5, 1e5),
)
def test_margin_balance_equals_maintenance_at_the_liquidation_price(
    side, qty, entry, wallet, mmr, cum, tmm, upnl
):
    lp = binance_liquidation_price(side, qty, entry, wallet, mmr, cum, tmm, upnl)
    assume(not math.isnan(lp))
    s = 1 if side == "long" else -1
    balance = wallet - tmm + upnl + s * qty * (lp - entry)
    maintenance = qty * lp * mmr - cum
    scale = abs(wallet) + tmm + abs(upnl) + cum + qty * entry + qty * lp
    assert close(balance, maintenance, scale)


@given(side=sides, qty=quantities, entry=prices, leverage=leverages, table=tiers())
def test_tiered_liquidation_price_uses_the_bracket_of_its_own_notional(
    side, qty, entry, leverage, table
):
    floors, rates = table
    wallet = qty * entry / leverage
    lp = binance_liquidation_price_tiered(side, qty, entry, wallet, floors, rates)
    assume(not math.isnan(lp))
    s = 1 if side == "long" else -1
    balance = wallet + s * qty * (lp - entry)
    maintenance = maintenance_margin(qty * lp, floors, rates)
    assert close(balance, maintenance, qty * entry + qty * lp + wallet)


@given(side=sides, qty=quantities, entry=prices, leverage=leverages, table=tiers())
def test_liquidation_price_lies_between_entry_and_bankruptcy(side, qty, entry, leverage, table):
    floors, rates = table
    wallet = qty * entry / leverage
    # A position that is not liquidatable at entry has a liquidation price on the loss side.
    assume(maintenance_margin(qty * entry, floors, rates) < wallet * (1 - 1e-9))
    lp = binance_liquidation_price_tiered(side, qty, entry, wallet, floors, rates)
    bp = bankruptcy_price(side, qty, entry, wallet)
    low, high = (bp, entry) if side == "long" else (entry, bp)
    tol = 1e-9 * high
    assert low - tol <= lp <= high + tol


@given(
    side=sides,
    entry=prices,
    size=quantities,
    leverage=leverages,
    max_leverage=st.integers(1, 50),
)
def test_hyperliquid_equity_equals_maintenance_at_its_liquidation_price(
    side, entry, size, leverage, max_leverage
):
    margin = entry * size / leverage
    lp = hyperliquid_liquidation_price(side, entry, size, margin, max_leverage)
    assume(not math.isnan(lp))
    s = 1 if side == "long" else -1
    equity = margin + s * size * (lp - entry)
    maintenance = hyperliquid_maintenance_rate(max_leverage) * size * lp
    assert close(equity, maintenance, entry * size + lp * size)
    bp = bankruptcy_price(side, size, entry, margin)
    assert (bp <= lp) if side == "long" else (lp <= bp)


@given(
    st.lists(st.tuples(st.integers(0, 100), st.floats(-10, 10)), max_size=12),
    st.integers(1, 500),
)
def test_adl_allocation_takes_whole_positions_by_rank_and_one_partial_last(positions, qty):
    queue = [(i, q, score) for i, (q, score) in enumerate(positions)]
    taken = bitmex_adl_allocate(queue, qty)
    assert sum(t for _, t in taken) == min(qty, sum(q for _, q, _ in queue))
    by_id = {i: (q, score) for i, q, score in queue}
    scores = [by_id[i][1] for i, _ in taken]
    assert scores == sorted(scores, reverse=True)
    assert all(t == by_id[i][0] for i, t in taken[:-1])


@given(st.lists(st.floats(-1e6, 1e6), max_size=30), st.integers(1, 10))
def test_adl_lights_rise_with_the_score_and_stay_in_range(scores, buckets):
    lights = binance_adl_quantiles(scores, buckets)
    assert all(1 <= n <= buckets for n in lights)
    for a, la in zip(scores, lights, strict=True):
        for b, lb in zip(scores, lights, strict=True):
            if a < b:
                assert la <= lb


@given(st.floats(-1e6, 1e6), st.sampled_from([0.5, 0.1, 0.01, 0.25, 5.0]))
def test_round_to_tick_brackets_the_price_within_one_tick(price, tick):
    up, down = round_to_tick(price, tick, "up"), round_to_tick(price, tick, "down")
    assert down <= price <= up
    assert up - down <= tick * (1 + 1e-9)
    assert up / tick == pytest.approx(round(up / tick), abs=1e-6)
