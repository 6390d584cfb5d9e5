"""Takers: the arbitrage desk, noise and momentum traders, directional perp flow, stop-losses.

All of them send market orders (IOC inside the venue's price band).
"""

from __future__ import annotations

import numpy as np

from margincall.agents.orders import Orders
from margincall.agents.view import MarketView


class Arbitrage:
    """Basis arbitrage: buys the perp when it trades below the index (selling spot to hedge),
    sells it when above. Its spot hedges are net spot flow, which moves the index: this is how
    forced selling on the perp reaches spot. It also holds the population's net position."""

    def __init__(self, params, account: int) -> None:
        self.p = params
        self.account = account
        self.spot_flow_usd = 0.0  # hedge of the perp it bought or sold last step, USD
        self.pos = None

    def hedge(self, view: MarketView) -> float:
        """Spot flow hedging what the desk's perp position did since the last step (fills of
        its own orders): sold spot for perp bought, and the reverse."""
        pos = int(view.pos[self.account])
        if self.pos is None:
            self.pos = pos
        filled = pos - self.pos
        self.pos = pos
        self.spot_flow_usd = -filled * view.mark * view.k / 1e6 * self.p.hedge_share
        return self.spot_flow_usd

    def act(self, view: MarketView, orders: Orders) -> None:
        p = self.p
        basis_bps = (view.mid - view.index) / view.index * 1e4
        gap = abs(basis_bps) - p.threshold_bps
        if gap <= 0:
            return
        usd = min(gap * p.usd_per_bps, p.max_usd_per_step)
        side = 1 if basis_bps < 0 else -1
        lots = view.usd_to_lots(usd)
        # only at prices that still leave the threshold: buy below index - threshold, sell above
        limit = int(view.index * (1 - side * p.threshold_bps * 1e-4))
        orders.ioc(self.account, side, lots, limit)


class Noise:
    """Random market orders at a Poisson rate, lognormal sizes; each account leans toward
    reducing its own position so inventories stay bounded."""

    def __init__(self, params, accounts: np.ndarray, rng: np.random.Generator) -> None:
        self.p = params
        self.accounts = accounts
        self.rng = rng

    def act(self, view: MarketView, orders: Orders) -> None:
        p = self.p
        if len(self.accounts) == 0 or p.usd_per_hour <= 0:
            return
        rate = p.usd_per_hour / p.order_usd / 3600 * view.step_seconds
        k = int(self.rng.poisson(rate))
        if k == 0:
            return
        who = self.accounts[self.rng.integers(0, len(self.accounts), k)]
        usd = p.order_usd * self.rng.lognormal(-0.5, 1.0, k)
        u = self.rng.random(k)
        usd_per_lot = view.mark * view.k / 1e6
        lean = np.minimum(np.maximum(view.pos[who] * usd_per_lot / (4 * p.capital_usd), -0.4), 0.4)
        side = np.where(u < 0.5 + lean, -1, 1)
        price = (view.mid * (1 + side * p.slippage)).astype(np.int64)
        orders.extend_ioc(who, side, (usd / usd_per_lot).astype(np.int64), price)


class Momentum:
    """Trend followers, many small leveraged accounts: each holds a target position that
    follows the return over its own lookback (drawn around the scenario's), up to its leverage,
    and trades toward it. Short after a fall, they are the shorts a bounce liquidates."""

    def __init__(
        self, params, accounts: np.ndarray, step_seconds: float, rng: np.random.Generator
    ) -> None:
        self.p = params
        self.accounts = accounts
        n = len(accounts)
        steps = params.lookback_minutes * 60 / step_seconds
        self.lookback = np.maximum(1, np.round(steps * rng.uniform(0.5, 2.0, n))).astype(np.int64)
        self.history = np.zeros(int(self.lookback.max(initial=1)) + 1)
        self.seen = 0

    def act(self, view: MarketView, orders: Orders) -> None:
        h = self.history
        h[:-1] = h[1:]
        h[-1] = view.mark
        self.seen += 1
        n = len(self.accounts)
        if n == 0 or self.seen < len(h):
            return
        p = self.p
        move_bps = np.log(h[-1] / h[-1 - self.lookback]) * 1e4
        # within what their equity allows (a wiped-out account stops trading)
        cap = np.maximum(view.equity_usd_of(self.accounts), 0.0) * p.leverage * 0.8
        target = np.minimum(np.maximum(p.usd_per_bps * move_bps / n, -cap), cap)
        usd_per_lot = view.mark * view.k / 1e6
        held = view.pos[self.accounts] * usd_per_lot
        diff = target - held
        step_cap = p.max_usd_per_step / n
        act = (np.abs(diff) >= 0.25 * cap) & (cap > 0)  # a band: they trade in steps
        if not act.any():
            return
        side = np.where(diff > 0, 1, -1)
        lots = (np.minimum(np.abs(diff), step_cap) / usd_per_lot).astype(np.int64)
        # market orders: a trend follower wants in, whatever the book (inside the venue's band)
        orders.extend_market(self.accounts[act], side[act], lots[act], False)


class PerpFlow:
    """Directional perp takers from the scenario's schedule (USD per hour, signed)."""

    def __init__(self, windows, account: int) -> None:
        self.windows = windows
        self.account = account
        self.carry = 0.0

    def act(self, view: MarketView, orders: Orders, hour: float) -> None:
        usd = sum(w.usd_per_hour for w in self.windows if w.start_hour <= hour < w.end_hour)
        self.carry += usd * view.step_seconds / 3600
        lots = view.usd_to_lots(abs(self.carry))
        if lots > 0:
            side = 1 if self.carry > 0 else -1
            orders.market(self.account, side, lots)
            self.carry -= side * lots * view.mark * view.k / 1e6


def spot_flow_usd(windows, hour: float, step_seconds: float) -> float:
    """Net exogenous spot flow in one step (USD; negative = selling)."""
    return sum(w.usd_per_hour for w in windows if w.start_hour <= hour < w.end_hour) * (
        step_seconds / 3600
    )


def stop_orders(view: MarketView, stops, orders: Orders) -> int:
    """Market reduce-only closes for every stop the last price has crossed; returns how many."""
    price = view.last or view.mark
    longs, shorts = stops.triggered(price)
    n = 0
    for ids, side in ((longs, -1), (shorts, 1)):
        if len(ids) == 0:
            continue
        pos = np.asarray(view.pos[ids])
        live = (pos > 0) if side < 0 else (pos < 0)
        ids = ids[live]
        orders.extend_market(ids, np.full(len(ids), side), np.abs(pos[live]), True)
        n += len(ids)
    return n
