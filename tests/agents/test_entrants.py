"""The intraday entrants' draws (agents/population.py draw_entrants): the chasers (those who open
on the last hour's move) can draw their leverage by a law of their own, and nothing else moves."""

from __future__ import annotations

import numpy as np

from margincall.agents.population import draw_entrants
from margincall.core.rng import RngTree
from margincall.sim.scenario import Cohort, Population
from margincall.venue.engine import Venue

RETAIL = Cohort(share_of_open_interest=0.02, share_of_accounts=0.85, long_share=0.35,
                leverage_min=10, leverage_max=125, leverage_shape=1.6, intraday_share=1.0,
                intraday_long_share=0.3, intraday_trend_share=0.5)  # fmt: skip
CAPITAL = Cohort(share_of_open_interest=0.6, share_of_accounts=0.15, long_share=0.58,
                 leverage_min=1.2, leverage_max=20)  # fmt: skip


def _draw(retail: Cohort) -> dict:
    venue = Venue("binance", "BTCUSDT", price=70_000, insurance_fund_usd=0)
    pop = Population(retail=retail, capital=CAPITAL)
    return draw_entrants(pop, (4000, 0), 6.8e9, 70_000.0, 17_280, venue, RngTree(2))


def test_the_chasers_own_leverage_law_changes_only_their_leverage():
    """With ``intraday_trend_leverage_shape`` 0.5 the chasers' leverage settings are higher than
    the cohort's law gives them (median about 60x against about 23x); the other entrants, the
    sides, sizes, steps and who chases are the same draws as without it."""
    base = _draw(RETAIL)
    own = _draw(RETAIL.model_copy(update={"intraday_trend_leverage_shape": 0.5}))
    chase = base["chase"]
    assert chase is not None and np.array_equal(chase, own["chase"])
    for key in ("side", "lots", "step", "isolated"):
        assert np.array_equal(base[key], own[key]), key
    assert np.array_equal(base["setting"][~chase], own["setting"][~chase])
    assert np.median(base["setting"][chase]) < 30 < 50 < np.median(own["setting"][chase])
    # a higher leverage posts a smaller deposit for the same position
    assert own["deposit"][chase].sum() < base["deposit"][chase].sum()
