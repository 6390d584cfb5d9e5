"""The depth a market-data panel implies: the smallest D1 at which no hour's liquidations alone
would have moved the price further than it moved."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from margincall.estimate.impact import (
    VISIBLE_DEPTH_USD,
    DepthCurve,
    implied_depth_1pct,
    market_depth_curve,
)


def test_binding_hour_moves_exactly_its_own_move_at_the_implied_depth():
    o = np.array([100.0, 100.0, 100.0, 100.0])
    low = np.array([97.0, 99.8, 95.0, 100.0])  # moves 3%, 0.2% (too small), 5%, 0
    high = np.array([101.0, 100.4, 100.0, 104.0])  # moves 1%, 0.4% (too small), 0, 4%
    ql = np.array([150e6, 500e6, 50e6, 0.0])
    qs = np.array([1e6, 2e6, 0.0, 80e6])
    got = implied_depth_1pct(o, low, high, ql, qs, beta=0.55, thinning=0.3)
    assert got is not None and (got.row, got.side) == (0, "long")
    assert got.move == pytest.approx(0.03) and got.forced_usd == 150e6
    curve = DepthCurve(got.d1_usd, 0.55, 0.3)
    # at the implied depth the binding hour's liquidations move the price exactly its move
    assert curve.delta(150e6) == pytest.approx(0.03, rel=1e-9)
    # and no other counted hour's liquidations move it further than that hour moved
    assert curve.delta(50e6) <= 0.05 and curve.delta(80e6, side=1) <= 0.04
    assert curve.delta(1e6, side=1) <= 0.01
    # without thinning the formula is Q / (move/1%)^beta
    plain = implied_depth_1pct(o, low, high, ql, qs, beta=0.5, thinning=0.0)
    assert plain is not None
    assert plain.d1_usd == pytest.approx(max(150e6 / 3**0.5, 50e6 / 5**0.5, 80e6 / 4**0.5, 1e6))


def test_no_counted_hour_gives_none_and_the_visible_depth():
    o = np.array([100.0, 100.0])
    flat = np.array([100.0, 100.1])
    assert implied_depth_1pct(o, flat, flat, np.ones(2), np.ones(2)) is None
    panel = pl.DataFrame(
        {
            "ts": [datetime(2026, 1, 1, h, tzinfo=UTC) for h in range(2)],
            "open": o,
            "low": flat,
            "high": flat,
            "liq_long_usd": [None, 1.0],
            "liq_short_usd": [None, 1.0],
        }
    )
    curve = market_depth_curve(panel)
    assert curve.d1_usd == VISIBLE_DEPTH_USD and "§2.3" in curve.origin


def test_market_depth_curve_names_the_hour_that_sets_it():
    panel = pl.DataFrame(
        {
            "ts": [datetime(2026, 2, 5, h, tzinfo=UTC) for h in (19, 20)],
            "open": [100.0, 100.0],
            "low": [99.0, 96.0],
            "high": [100.0, 100.0],
            "liq_long_usd": [1e6, 400e6],
            "liq_short_usd": [0.0, 0.0],
        }
    )
    curve = market_depth_curve(panel)
    assert curve.d1_usd > VISIBLE_DEPTH_USD
    assert curve.delta(400e6) == pytest.approx(0.04, rel=1e-9)
    assert "2026-02-05 20:00 UTC" in curve.origin and "$400.0M of longs" in curve.origin
