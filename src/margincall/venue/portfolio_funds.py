"""Insurance funds shared by instruments (portfolio-margin.md R9).

The rulebook maps each instrument to a fund id (``[portfolio] funds``,
:meth:`~margincall.venue.instrument.Rulebook.fund_for`): Binance gives BTCUSDT and ETHUSDT their
own funds and the others one shared fund, BitMEX one per settlement currency, dYdX one for every
cross market, Hyperliquid the backstop vault. Each instrument keeps its fund's row (account 0)
and its ledger: fees paid to the fund, the fund's payments and takeovers stay in the
instrument where they happen, so money is conserved per instrument as before and per asset over
the venue. A shared fund is the sum of its members' rows: before an instrument's fund is used,
each member is lent the others' balance (``rest`` of row 0: :func:`lend_funds`), and every
payment reads the lent total (:func:`margincall.venue.ledger.fund_money`). One member's row may
go below zero when it paid with the others' money; the fund's balance (the sum) never does.
The group's starting balance is seeded in its first member.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from margincall.venue.accounts import Accounts
from margincall.venue.ledger import INSURANCE_FUND
from margincall.venue.portfolio_margin import MAX_INSTRUMENTS, N_LEGS


def fund_groups(fund_ids: Sequence[str]) -> np.ndarray:
    """Each instrument's fund as the index of the first instrument with the same fund id,
    padded to ``MAX_INSTRUMENTS`` with groups of their own."""
    group = np.arange(MAX_INSTRUMENTS, dtype=np.int64) + MAX_INSTRUMENTS
    for j, fund in enumerate(fund_ids):
        group[j] = list(fund_ids).index(fund)
    return group


@njit(cache=True, inline="always")
def lend_funds(legs, pf) -> None:
    """Lend every instrument's fund row what the other members of its fund hold."""
    for j in range(pf.meta[N_LEGS]):
        others = 0
        for m in range(pf.meta[N_LEGS]):
            if m != j and pf.fund_group[m] == pf.fund_group[j]:
                others += legs[m].acc.wallet[INSURANCE_FUND]
        legs[j].acc.rest[INSURANCE_FUND] = others


def lend_fund_rows(accounts: Sequence[Accounts], group: Sequence[int]) -> None:
    """:func:`lend_funds` called from Python, without the cost of a compiled call: the same
    rule over the instruments' accounts (``group``: :func:`fund_groups`)."""
    held = [int(acc.wallet[INSURANCE_FUND]) for acc in accounts]
    for j, acc in enumerate(accounts):
        acc.rest[INSURANCE_FUND] = sum(
            w for m, w in enumerate(held) if m != j and group[m] == group[j]
        )
