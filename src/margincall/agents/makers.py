"""Market makers: a ladder of resting orders around the index that thins in a crash.

Each maker quotes ``levels`` prices per side between ``half_spread_bps`` and ``max_distance``
from its centre; the cumulative size within a distance d follows ``depth_1pct·(d/1%)^β``
(visible BTC depth grows sub-linearly with distance, β ≈ 0.4-0.7, cascade-models.md §0/§2.3).
The centre is the index shifted against the maker's inventory (skew). Depth is scaled by a
stress factor that falls as realised volatility rises above calm and as the maker's losses
grow, and the ladder widens by the same factor: the book thins exactly when the cascade needs
it (§2.4: 30% to 98% of depth withdrawn at the worst of a crash).

Volatility acts at two speeds, as in §2.4 ("near 100% withdrawal within ±1-2% lasts for minutes
at the peak; around 30% withdrawal is the persistent post-crash level"): a fast estimator
(``peak_half_life_minutes``) drives the near-total withdrawal while prices are moving, and fades
within minutes once they stop; a slow one (``vol_half_life_minutes``) keeps at most
``persistent_withdrawal`` of the depth off the book for the tens of minutes after. A single
estimator with a 10-minute half-life would hold the book at its floor for most of an hour after
one 5% jump (its variance needs ~45 minutes to decay), the perp trading band edge to band edge.
"""

from __future__ import annotations

import math

import numpy as np

from margincall.agents.index import SECONDS_PER_YEAR
from margincall.agents.orders import Orders
from margincall.agents.view import MarketView


class Makers:
    """All market makers of a run (one account each)."""

    def __init__(self, params, accounts: np.ndarray, capital_usd: float) -> None:
        self.p = params
        self.accounts = accounts
        self.capital = capital_usd
        n = params.levels
        d = np.geomspace(params.half_spread_bps * 1e-4, params.max_distance, n)
        cum = params.depth_1pct_usd * (d / 0.01) ** params.depth_exponent / params.count
        self.distances = d
        self.sizes_usd = np.diff(np.concatenate([[0.0], cum]))
        self.var = (params.calm_vol_annual**2) / SECONDS_PER_YEAR  # per second, slow
        self.var_peak = self.var  # per second, fast
        self.last_price = 0
        self.centre = np.zeros(len(accounts))
        self.factor = np.ones(len(accounts))
        self.placed = np.zeros((len(accounts), 2), np.int64)  # lots per side at the last quote
        self.decay = 0.0

    def stress_factor(self, view: MarketView) -> np.ndarray:
        """Share of calm depth each maker shows now."""
        p = self.p
        f = self._vol_share(self.var_peak)  # the peak: near-total, for minutes
        f *= 1.0 - p.persistent_withdrawal * (1.0 - self._vol_share(self.var))  # what persists
        loss = np.maximum(0.0, self.capital - view.equity_usd_of(self.accounts))
        f = f / (1.0 + loss / p.loss_withdraw_usd)
        return np.maximum(p.min_depth_share, np.minimum(1.0, f))

    def _vol_share(self, var: float) -> float:
        """Share of depth shown at a per-second variance ``var``: 1 / (1 + s·(σ/σ_calm - 1)²)."""
        p = self.p
        excess = max(0.0, math.sqrt(var * SECONDS_PER_YEAR) / p.calm_vol_annual - 1.0)
        return 1.0 / (1.0 + p.vol_sensitivity * excess * excess)

    def observe(self, view: MarketView) -> None:
        """Update realised volatility from the index (EWMA of squared returns). Makers watch
        spot, not their own book: prints far through a thin book would otherwise read as
        volatility and thin the book further, a loop that empties it even on a quiet day."""
        price = view.index
        if self.last_price:
            r = math.log(price / self.last_price)
            r2 = r * r / view.step_seconds
            a = 1 - 0.5 ** (view.step_seconds / (self.p.vol_half_life_minutes * 60))
            self.var = (1 - a) * self.var + a * r2
            a = 1 - 0.5 ** (view.step_seconds / (self.p.peak_half_life_minutes * 60))
            self.var_peak = (1 - a) * self.var_peak + a * r2
        self.last_price = price

    def act(self, view: MarketView, orders: Orders) -> None:
        """Re-quote the makers whose centre, stress or inventory moved enough."""
        self.observe(view)
        p = self.p
        a = self.accounts
        inv_usd = view.pos[a] * view.mark * view.k / 1e6
        centre = view.index * (1 - p.skew_bps_per_musd * 1e-4 * inv_usd / 1e6)
        f = self.stress_factor(view)
        moved = np.abs(centre - self.centre) > p.requote_bps * 1e-4 * centre
        eaten = (view.open_bid_lots[a] < self.placed[:, 0] // 2) | (
            view.open_ask_lots[a] < self.placed[:, 1] // 2
        )
        # inventory acts through the skew of the centre
        r = np.flatnonzero(moved | eaten | (np.abs(f - self.factor) > 0.1 * self.factor))
        if len(r) == 0:
            return
        self.centre[r], self.factor[r] = centre[r], f[r]
        orders.cancel_first.extend(a[r].tolist())
        # the ladders of all re-quoting makers at once, one row each
        centre = self.centre[r, None]
        dd = self.distances / np.sqrt(self.factor[r, None])  # wider as well as thinner
        bids = np.floor(centre * (1 - dd)).astype(np.int64)
        asks = np.ceil(centre * (1 + dd)).astype(np.int64)
        lots = (self.sizes_usd * self.factor[r, None] * 1e6 // (bids * view.k)).astype(np.int64)
        self.placed[r] = lots.sum(axis=1, keepdims=True)
        accounts = np.repeat(self.accounts[r], lots.shape[1])
        # post-only: a maker never takes
        orders.quotes(accounts, lots.ravel(), bids.ravel(), asks.ravel())
