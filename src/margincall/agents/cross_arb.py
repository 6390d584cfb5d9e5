"""Cross-venue arbitrageurs: finite collateral on each venue, collateral moved with a delay.

One desk per market with one cross account on each venue. Each step, for each asset and each
venue that lists it, the desk compares the venue's mid with the asset's spot index (the basis:
cash and carry, which also closes gaps between venues, each venue being pulled to the same
index; a reference with the other venues' mids in it would leave a market-wide discount
alone, and the perps' forced selling would then never reach spot). Beyond ``threshold_bps`` it
buys the cheap venue (sells the rich one) with an immediate-or-cancel order limited to the
index less the threshold, sized by the gap beyond the threshold, capped per step and by the free margin of its
account on that venue (equity less maintenance, times ``LEVERAGE``). Its net perp fills of an
asset are hedged in spot (the asset's own net flow): a long on one venue against a short on
another nets out, a one-sided buy of a venue's forced selling sells spot.

Capital is finite and slow to move: the desk deposits ``ON_VENUE_SHARE`` of its
``capital_usd_per_venue`` on each venue at the start and keeps the rest off-venue (its
treasury). When a venue's free margin falls below ``TOP_UP_BELOW`` of what it deposited there,
the desk sends ``TOP_UP_SHARE`` of the start deposit from the treasury; the transfer arrives
after a delay drawn in ``[transfer_minutes_min, transfer_minutes_max]``. Until then it is in
flight: the desk's money, counted by :meth:`CrossArbitrageurs.money_micros` and nowhere else.
(No engine method takes money out of a venue yet, so moves only go from the treasury to venues.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ON_VENUE_SHARE = 0.5
TOP_UP_BELOW = 0.25
TOP_UP_SHARE = 0.25
LEVERAGE = 1.0
"""Notional the desk opens per dollar of free margin, at most."""


@dataclass
class Transfer:
    venue: int
    micros: int
    arrives_ns: int


class CrossArbitrageurs:
    """The desk: ``params`` a :class:`margincall.sim.market.CrossArbitrage`; ``accounts[v]`` its
    account on venue ``v``."""

    def __init__(self, params, accounts: list[int], rng: np.random.Generator) -> None:
        self.p = params
        self.accounts = accounts
        self.rng = rng
        per_venue = int(params.capital_usd_per_venue * 1e6)
        self.deposit_micros = int(per_venue * ON_VENUE_SHARE)
        self.deposited = [self.deposit_micros] * len(accounts)
        self.treasury = per_venue * len(accounts) - self.deposit_micros * len(accounts)
        self.in_flight: list[Transfer] = []
        self.free = np.zeros(len(accounts))  # free margin per venue this step, USD
        self.pos: dict[tuple[int, int], int] = {}

    def money_micros(self) -> int:
        """What the desk holds off the venues: treasury plus transfers in flight."""
        return self.treasury + sum(t.micros for t in self.in_flight)

    def observe(self, venue: int, equity_micros: int, maintenance_micros: int) -> None:
        self.free[venue] = max(0.0, (equity_micros - maintenance_micros) / 1e6)

    def transfers(self, now_ns: int) -> list[Transfer]:
        """Start top-ups where margin runs short; return the transfers arriving by ``now_ns``."""
        p = self.p
        for v in range(len(self.accounts)):
            short = self.free[v] * 1e6 < TOP_UP_BELOW * self.deposited[v]
            busy = any(t.venue == v for t in self.in_flight)
            amount = min(self.treasury, int(self.deposit_micros * TOP_UP_SHARE))
            if short and not busy and amount > 0:
                minutes = self.rng.uniform(p.transfer_minutes_min, p.transfer_minutes_max)
                self.treasury -= amount
                self.in_flight.append(Transfer(v, amount, now_ns + int(minutes * 60e9)))
        due = [t for t in self.in_flight if t.arrives_ns <= now_ns]
        self.in_flight = [t for t in self.in_flight if t.arrives_ns > now_ns]
        for t in due:
            self.deposited[t.venue] += t.micros
        return due

    def orders(
        self, index: float, mids: np.ndarray, sizes: np.ndarray
    ) -> list[tuple[int, int, float, float]]:
        """Orders for one asset: ``mids[v]`` the venue's mid in USD (NaN where it does not list
        the asset or has no two-sided book), ``sizes[v] = (usd_per_bps, max_usd_per_step)``.
        Returns ``(venue, side, usd, limit_usd)`` per order, side +1 buy."""
        thr = self.p.threshold_bps
        out = []
        ref = float(index)
        for v in np.flatnonzero(np.isfinite(mids)):
            gap = (mids[v] - ref) / ref * 1e4
            beyond = abs(gap) - thr
            if beyond <= 0:
                continue
            usd = min(beyond * sizes[v, 0], sizes[v, 1], self.free[v] * LEVERAGE)
            if usd <= 0:
                continue
            side = 1 if gap < 0 else -1
            self.free[v] -= usd / LEVERAGE
            out.append((int(v), side, usd, ref * (1 - side * thr * 1e-4)))
        return out
