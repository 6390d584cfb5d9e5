"""A portfolio account's margin in integers: equity, maintenance, budgets and R4 shares.

One account-level inequality serves every rulebook (portfolio-margin.md R1): equity
``E = settlement cash + collateral value + sum of the legs' open PnL`` against the sum of the
legs' tiered maintenance ``MM``; breached when ``E < MM`` (``<=`` where the rulebook's equality
liquidates, R2). Money is in micro-dollars of the settlement asset, prices in each instrument's
ticks; the settlement cash is the account's cash plus every leg's wallet (the legs book their
realised PnL, fees and funding there).

Between two evaluations the liquidation index watches the account through its legs' keys: the
margin excess ``X = E - MM`` is split into budgets, one per leg in proportion to its notional,
and each leg is keyed at the price where it alone has lost its budget. While every leg's mark
stays short of its key the account cannot be breached (each leg's excess is monotone in its
mark, so it has lost less than its budget, and the budgets sum to at most ``X``); when a key is
reached the account is evaluated exactly again. A leg alone among still marks is thus keyed
at the exact price where the account breaches once the others' budgets are spent, which the
next evaluation finds after a few re-keys, never late.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from margincall.venue.margin_int import maintenance_micros
from margincall.venue.params import STRICT, K


class Leg(NamedTuple):
    """One instrument's part of an account at the current mark."""

    instrument: int
    pos: int  # lots, signed
    upnl: int  # micro-dollars
    maintenance: int  # micro-dollars
    wallet: int  # the leg's booked cash flows, micro-dollars
    notional: int  # micro-dollars at the mark


class Margin(NamedTuple):
    """An account's margin at the current marks."""

    equity: int
    maintenance: int
    legs: tuple[Leg, ...]  # the legs with a position, in instrument order

    @property
    def excess(self) -> int:
        return self.equity - self.maintenance


def leg_of(venue, j: int, a: int) -> Leg:
    """Account ``a``'s leg on instrument ``j`` (a :class:`~margincall.venue.engine.Venue`)."""
    acc = venue.acc
    p = int(acc.pos[a])
    mark = int(venue.meta[5])
    k = int(venue.params[K])
    notional = abs(p) * mark * k
    t = venue.tiers
    mm = int(maintenance_micros(notional, t.floor, t.mmr_ppm, t.cum)) if p else 0
    return Leg(j, p, p * mark * k - int(acc.cost[a]), mm, int(acc.wallet[a]), notional)


def margin(legs_venues, a: int, cash: int, collateral_value: int) -> Margin:
    """Account ``a``'s margin: ``cash`` is its settlement-asset cash outside the legs,
    ``collateral_value`` its other collateral at price and ratio."""
    legs = [leg_of(v, j, a) for j, v in enumerate(legs_venues)]
    equity = cash + collateral_value + sum(g.wallet + g.upnl for g in legs)
    open_legs = tuple(g for g in legs if g.pos)
    return Margin(equity, sum(g.maintenance for g in open_legs), open_legs)


def is_breached(m: Margin, params: np.ndarray) -> bool:
    """Whether the account must be liquidated (an account with no position never is)."""
    if not m.legs:
        return False
    return m.excess < 0 if params[STRICT] else m.excess <= 0


def budget_rests(m: Margin) -> dict[int, int]:
    """Each open leg's ``rest`` when keyed for watching: the leg's budget (its share of the
    excess, by notional; floors, so they sum to at most the excess) less its own excess and
    wallet, so that the leg's own formulas see exactly its budget as margin to lose."""
    total = sum(g.notional for g in m.legs)
    rests = {}
    for g in m.legs:
        budget = max(m.excess, 0) * g.notional // total if total else max(m.excess, 0)
        rests[g.instrument] = budget - (g.upnl - g.maintenance) - g.wallet
    return rests


def r4_rest(m: Margin, leg: Leg) -> int:
    """The leg's ``rest`` for closing it: its share of the equity by maintenance (rule R4), so
    its own bankruptcy price is ``mark - side * E * (MM_i / MMtot) / Q``."""
    share = m.equity * leg.maintenance // m.maintenance if m.maintenance else m.equity
    return share - leg.upnl - leg.wallet


def exact_rest(m: Margin, leg: Leg) -> int:
    """The leg's ``rest`` with every other leg and the collateral as they are: its own
    formulas then answer for the whole account while only its mark moves."""
    return m.equity - leg.upnl - leg.wallet - (m.maintenance - leg.maintenance)
