"""A portfolio venue's invariants: each instrument's, then money in every asset it holds."""

from __future__ import annotations

import numpy as np

from margincall.core.errors import InvariantViolation
from margincall.venue import portfolio_margin as PM
from margincall.venue.accounts import N_ACCOUNTS
from margincall.venue.ledger import INSURANCE_FUND


def check_portfolio(pv) -> None:
    """Raise :class:`InvariantViolation` unless every instrument of ``pv`` (a
    :class:`~margincall.venue.portfolio.PortfolioVenue`, its shared funds lent as they are now)
    keeps its own invariants, the collateral and the settlement cash are what came in, and no
    flat account is below zero without a covering event."""
    for v in pv.legs:
        v.check_invariants()
    pf = pv.pf
    held = pf.coll.sum(axis=0) + pf.converted
    if (held != pv.coll_deposits).any():
        raise InvariantViolation(
            f"collateral not conserved: {held.tolist()} held, {pv.coll_deposits.tolist()} in"
        )
    if (gap := int(pf.cash.sum()) + int(pf.meta[PM.DESK]) - pv.deposits) != 0:
        raise InvariantViolation(f"settlement cash not conserved: gap {gap} micro-dollars")
    n = int(pv.legs[0].meta[N_ACCOUNTS])
    flat = np.ones(n, bool)
    total = pf.cash[:n].copy()
    for v in pv.legs:
        flat &= v.acc.pos[:n] == 0
        total += v.acc.wallet[:n]
    flat[INSURANCE_FUND] = False
    below = int(-total[flat & (total < 0)].sum())
    if below > pf.meta[PM.UNCOVERED]:
        raise InvariantViolation(f"{below} micro-dollars below zero without a covering event")
