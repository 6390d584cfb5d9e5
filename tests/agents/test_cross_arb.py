"""The arbitrage desk trades each venue's basis to the asset's spot index: a market-wide
discount is bought on every venue (the forced selling reaches spot through its hedges)."""

from __future__ import annotations

import numpy as np
import pytest

from margincall.agents.cross_arb import CrossArbitrageurs
from margincall.sim.market import CrossArbitrage


def test_every_venue_beyond_the_threshold_trades_toward_the_index():
    desk = CrossArbitrageurs(CrossArbitrage(threshold_bps=5), [1, 1, 1], np.random.default_rng(1))
    for v in range(3):
        desk.observe(v, 10**12, 0)  # $1M of free margin each
    mids = np.array([99.0, 98.9, 100.03])  # two venues 100 and 110 bps below, one 3 above
    sizes = np.array([[1_000.0, 50_000.0]] * 3)  # $1,000 per bps, at most $50,000
    orders = desk.orders(100.0, mids, sizes)
    # both discounted venues are bought, though each is near the other (a median with the
    # other venue's mid would have left the second alone); the third is inside the threshold
    assert [(v, side) for v, side, _, _ in orders] == [(0, 1), (1, 1)]
    (_, _, usd0, limit0), (_, _, usd1, _) = orders
    assert usd0 == pytest.approx(50_000.0) and usd1 == pytest.approx(50_000.0)
    assert limit0 == pytest.approx(100.0 * (1 - 5e-4))
    rich = desk.orders(100.0, np.array([np.nan, 100.2, np.nan]), sizes)
    assert [(v, side, round(usd)) for v, side, usd, _ in rich] == [(1, -1, 15_000)]
