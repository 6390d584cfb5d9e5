"""Takers: the arbitrage desk, noise and momentum traders, directional perp flow, stop-losses.

All of them send market orders (IOC inside the venue's price band).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from margincall.agents.orders import Orders
from margincall.agents.view import MarketView, equity_usd
from margincall.core import libm


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
        sides, lots, prices = _noise_orders(
            who, usd, u, view.pos, view.mark, view.k, view.mid, 4 * p.capital_usd, p.slippage
        )
        orders.extend_ioc(who, sides, lots, prices)


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

    def act(self, view: MarketView, orders: Orders, cash: np.ndarray | None = None) -> None:
        """Trade toward the targets; ``cash``: each account's money held outside the view's
        wallet (a portfolio venue's settlement cash, micro-dollars, in ``accounts`` order)."""
        h = self.history
        h[:-1] = h[1:]
        h[-1] = view.mark
        self.seen += 1
        n = len(self.accounts)
        if n == 0 or self.seen < len(h):
            return
        p = self.p
        move_bps = libm.log(h[-1] / h[-1 - self.lookback]) * 1e4
        who, sides, lots = _momentum_orders(
            self.accounts,
            np.zeros(n, np.int64) if cash is None else cash,
            move_bps,
            view.pos,
            view.wallet,
            view.cost,
            view.mark,
            view.k,
            p.leverage,
            p.usd_per_bps,
            p.max_usd_per_step,
        )
        # market orders: a trend follower wants in, whatever the book (inside the venue's band)
        orders.extend_market(who, sides, lots, False)


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


@njit(cache=True)
def _noise_orders(who, usd, u, pos, mark, k, mid, lean_usd, slippage):
    """Sides, lots and limit prices of noise orders of ``usd`` dollars by accounts ``who``: a
    sell when the uniform draw ``u`` falls below 0.5 plus the account's lean (its position over
    ``lean_usd``, within ±0.4), limits ``slippage`` through ``mid``."""
    usd_per_lot = mark * k / 1e6
    n = len(who)
    sides = np.empty(n, np.int64)
    lots = np.empty(n, np.int64)
    prices = np.empty(n, np.int64)
    for i in range(n):
        lean = min(max(pos[who[i]] * usd_per_lot / lean_usd, -0.4), 0.4)
        side = -1 if u[i] < 0.5 + lean else 1
        sides[i] = side
        prices[i] = np.int64(mid * (1 + side * slippage))
        lots[i] = np.int64(usd[i] / usd_per_lot)
    return sides, lots, prices


@njit(cache=True)
def _momentum_orders(
    accounts, cash, move_bps, pos, wallet, cost, mark, k, leverage, usd_per_bps, max_usd_per_step
):
    """Accounts, sides and lots of the momentum traders that trade this step.

    Each account's target is its share of ``usd_per_bps`` per basis point of ``move_bps``,
    within its equity times ``leverage`` (a wiped-out account stops trading); it trades toward
    the target, at most its share of ``max_usd_per_step``, once it is a quarter of that cap
    away (a band: they trade in steps).
    """
    n = len(accounts)
    usd_per_lot = mark * k / 1e6
    step_cap = max_usd_per_step / n
    who = np.empty(n, np.int64)
    sides = np.empty(n, np.int64)
    lots = np.empty(n, np.int64)
    m = 0
    for i in range(n):
        a = accounts[i]
        equity = equity_usd(a, pos, wallet, cost, mark, k) + cash[i] / 1e6
        cap = max(equity, 0.0) * leverage * 0.8
        target = min(max(usd_per_bps * move_bps[i] / n, -cap), cap)
        diff = target - pos[a] * usd_per_lot
        if abs(diff) >= 0.25 * cap and cap > 0:
            who[m] = a
            sides[m] = 1 if diff > 0 else -1
            lots[m] = np.int64(min(abs(diff), step_cap) / usd_per_lot)
            m += 1
    return who[:m], sides[:m], lots[:m]
