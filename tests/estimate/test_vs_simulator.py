"""Must show: for shocks of 5% to 15% on a simulated market's start state, the estimator's
liquidated notional is within 25% of what the venue itself liquidates under the same depth.

Set-up, and why:

* **Market**: the feb-2026 preset's start state on seeds 1, 2 and 3 (its population: cohorts,
  leverage, entries, isolated and cross accounts, the arbitrage desk), at 4,000 accounts and $40M of open interest
  so that the liquidations of a 5-15% shock are of the order of the book's depth (a cascade
  with several rounds, not a book swept empty in one order).
* **Rulebook**: Binance. Its forced orders are real IOC orders at the bankruptcy price walking
  the book (BitMEX's engine takes positions over instead; dYdX and Hyperliquid liquidate large
  positions in slices over later blocks, which a single-instant comparison cannot see). Its
  median mark is well defined here: in the start state no funding has accrued and no basis has
  been sampled, so two of the three inputs equal the index and the mark is the index (asserted).
* **Depth**: one ladder of bids from the shocked price down, 0.05% apart, cumulative depth
  ``D1 (d/1%)^beta`` (the makers' power law, D1 = $0.4M, beta = 0.5), posted by the desk. The
  estimator reads that same book (:meth:`BookDepth.from_venue`), without thinning.
* **Cascade in the venue**: the index is set to the shocked price and the mark follows; the
  venue's liquidation engine runs (:meth:`Venue.run_liquidations`: breach checks, forced orders
  into the book, fund takeovers); then the oracle follows the perp's last trade (the perp leads
  price discovery in a liquidation cascade) and the engine runs again, until a round trades no
  lower. The liquidated notional is the simulator's own definition (the taker side of forced
  closes, :data:`FORCED_CLOSE_KINDS`, notional at the fill price) for long closes.
"""

from __future__ import annotations

import numpy as np
import pytest

from margincall.estimate.cascade import cascade
from margincall.estimate.impact import BookDepth, NoImpact
from margincall.estimate.positions import map_from_venue
from margincall.report.candles import FORCED_CLOSE_KINDS, taker_mask
from margincall.sim.kernel import Simulation
from margincall.sim.scenario import load_scenario, parse_scenario
from margincall.venue.accounts import INDEX, LAST, MARK

D1_USD, BETA, SPACING, LEVELS = 0.4e6, 0.5, 0.0005, 700


def _scenario():
    data = load_scenario("feb-2026").model_dump()
    data["run"].update(accounts=4000, rulebook="binance")
    data["market"]["open_interest_usd"] = 40e6
    return parse_scenario(data, "test market")


def _ladder(v, account: int, top: int) -> None:
    tick, lot = float(v.scale.tick_size), float(v.scale.lot_size)
    d = np.arange(LEVELS) * SPACING
    cum = D1_USD * (np.maximum(d, SPACING / 2) / 0.01) ** BETA
    size = np.diff(np.concatenate([[0.0], cum]))
    price = np.round(top * (1 - d)).astype(np.int64)
    lots = np.maximum(np.round(size / (price * tick) / lot), 1).astype(np.int64)
    for p, q in zip(price, lots, strict=True):
        v.submit_order(account, "buy", str(q * v.scale.lot_size), v.scale.ticks_to_price(int(p)))


def _venue_cascade(sim: Simulation, shock: float):
    """The venue's own cascade; returns (long notional liquidated in micros, rounds, book)."""
    v = sim.venue
    p0 = int(v.meta[MARK])
    top = round(p0 * (1 + shock))
    _ladder(v, int(sim.ids.desk), top)
    book = BookDepth.from_venue(v, reference=p0 * float(v.scale.tick_size))
    v.set_index_price(v.scale.ticks_to_price(top))
    v.update_mark()
    assert int(v.meta[MARK]) == top  # the shock is exactly where the mark is
    total, rounds = 0, 0
    for _ in range(500):
        ev = v.run_liquidations()
        forced = taker_mask(ev, FORCED_CLOSE_KINDS)
        got = int(ev["notional"][forced & (ev["side"] == -1)].sum())
        total += got
        rounds += got > 0
        last = int(v.meta[LAST])
        if last >= int(v.meta[INDEX]):
            break
        v.set_index_price(v.scale.ticks_to_price(last))
        v.update_mark()
    v.check_invariants()
    return total, rounds, book


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("shock", [-0.05, -0.10, -0.15])
def test_estimator_within_25_percent_of_the_venue(shock, seed, capsys):
    sim = Simulation(_scenario(), seed)
    lmap = map_from_venue(sim.venue)  # the start state, before anything moves
    venue_micros, venue_rounds, book = _venue_cascade(sim, shock)
    est = cascade(lmap, book, shock)
    shock_only = cascade(lmap, NoImpact(), shock).long_micros
    with capsys.disabled():
        print(
            f"\nseed {seed}, shock {shock:+.0%}: venue ${venue_micros / 1e12:.3f}M in {venue_rounds} rounds, "
            f"estimator ${est.long_usd / 1e6:.3f}M in {est.rounds} rounds "
            f"(move {est.move:+.2%}); shock alone ${shock_only / 1e12:.3f}M"
        )
    assert est.converged
    # a real cascade on both sides: the impact liquidated beyond what the shock alone reaches
    assert venue_rounds >= 2 and est.rounds >= 2
    assert venue_micros > 1.05 * shock_only and est.long_micros > 1.05 * shock_only
    assert abs(est.long_micros - venue_micros) <= 0.25 * venue_micros
