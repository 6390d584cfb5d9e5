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
from numba import njit

from margincall.agents.orders import Orders
from margincall.agents.view import MarketView, equity_usd
from margincall.core import libm
from margincall.core.units import SECONDS_PER_YEAR


class Makers:
    """All market makers of a run (one account each)."""

    def __init__(self, params, accounts: np.ndarray, capital_usd: float) -> None:
        self.p = params
        self.accounts = accounts
        self.capital = capital_usd
        n = params.levels
        d = libm.geomspace(params.half_spread_bps * 1e-4, params.max_distance, n)
        cum = params.depth_1pct_usd * libm.power(d / 0.01, params.depth_exponent) / params.count
        self.distances = d
        self.sizes_usd = np.diff(np.concatenate([[0.0], cum]))
        self.var = (params.calm_vol_annual**2) / SECONDS_PER_YEAR  # per second, slow
        self.var_peak = self.var  # per second, fast
        self.last_price = 0
        self.centre = np.zeros(len(accounts))
        self.factor = np.ones(len(accounts))
        self.placed = np.zeros((len(accounts), 2), np.int64)  # lots per side at the last quote

    def _vol_factor(self) -> float:
        """Share of calm depth volatility alone leaves on the book."""
        p = self.p
        f = self._vol_share(self.var_peak)  # the peak: near-total, for minutes
        return f * (1.0 - p.persistent_withdrawal * (1.0 - self._vol_share(self.var)))  # persists

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
        r, accounts, lots, bids, asks = _requote(
            self.accounts,
            view.pos,
            view.wallet,
            view.cost,
            view.open_bid_lots,
            view.open_ask_lots,
            view.index,
            view.mark,
            view.k,
            p.skew_bps_per_musd * 1e-4,
            p.requote_bps * 1e-4,
            self._vol_factor(),
            self.capital,
            p.loss_withdraw_usd,
            p.min_depth_share,
            self.centre,
            self.factor,
            self.placed,
            self.distances,
            self.sizes_usd,
        )
        if len(r) == 0:
            return
        orders.cancel_first.extend(self.accounts[r].tolist())
        # post-only: a maker never takes
        orders.quotes(accounts, lots, bids, asks)


MAX_SKEW = 0.5
"""The most a maker's inventory skew moves its centre, as a fraction of the index."""


@njit(cache=True)
def _requote(
    accounts,
    pos,
    wallet,
    cost,
    open_bid,
    open_ask,
    index,
    mark,
    k,
    skew,
    requote,
    vol_factor,
    capital,
    loss_withdraw,
    min_share,
    centres,
    factors,
    placed,
    distances,
    sizes_usd,
):
    """Pick the makers to re-quote and build their ladders, one row of levels each.

    A maker re-quotes when its centre (the index skewed against its inventory, ``skew`` per
    USD) moved more than ``requote`` of itself, when the book ate half of one side of its last
    quote, or when its stress factor (``vol_factor`` thinned by its losses below ``capital``)
    moved by a tenth. Updates ``centres``, ``factors`` and ``placed`` of those makers and
    returns their rows in ``accounts`` and, flat in row order, the account, lots, bid and ask
    of every level.
    """
    m, n = len(accounts), len(distances)
    r = np.empty(m, np.int64)
    nr = 0
    for i in range(m):
        a = accounts[i]
        inv_usd = pos[a] * mark * k / 1e6
        # the skew moves the centre at most half the index either way: an extreme skew (or
        # inventory) would otherwise put the ladder at or below zero
        centre = index * (1 - min(max(skew * inv_usd / 1e6, -MAX_SKEW), MAX_SKEW))
        equity = equity_usd(a, pos, wallet, cost, mark, k)
        f = vol_factor / (1.0 + max(0.0, capital - equity) / loss_withdraw)
        f = max(min_share, min(1.0, f))
        moved = abs(centre - centres[i]) > requote * centre
        eaten = open_bid[a] < placed[i, 0] // 2 or open_ask[a] < placed[i, 1] // 2
        # inventory acts through the skew of the centre
        if moved or eaten or abs(f - factors[i]) > 0.1 * factors[i]:
            centres[i], factors[i] = centre, f
            r[nr] = i
            nr += 1
    out_accounts = np.empty(nr * n, np.int64)
    lots = np.empty(nr * n, np.int64)
    bids = np.empty(nr * n, np.int64)
    asks = np.empty(nr * n, np.int64)
    for j in range(nr):
        i = r[j]
        centre, f = centres[i], factors[i]
        root = np.sqrt(f)
        total = 0
        for level in range(n):
            dd = distances[level] / root  # wider as well as thinner
            bid = np.int64(np.floor(centre * (1 - dd)))
            q = j * n + level
            out_accounts[q] = accounts[i]
            bids[q] = bid
            asks[q] = np.int64(np.ceil(centre * (1 + dd)))
            lots[q] = np.int64(sizes_usd[level] * f * 1e6 // (bid * k))
            total += lots[q]
        placed[i, 0] = placed[i, 1] = total
    return r[:nr], out_accounts, lots, bids, asks
