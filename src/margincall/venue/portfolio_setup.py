"""Many portfolio accounts set up at once: collateral deposits and isolated legs for a population
of thousands of fresh accounts (the bulk forms of :meth:`PortfolioVenue.deposit_collateral
<margincall.venue.portfolio.PortfolioVenue.deposit_collateral>` and :meth:`PortfolioVenue.isolate
<margincall.venue.portfolio.PortfolioVenue.isolate>`), the move of a flat leg to isolated
margin that both forms share, and the withdrawal that leaves a starting state's positions
carrying part of their loss since entry."""

from __future__ import annotations

import numpy as np

from margincall.core.errors import InvalidInputError
from margincall.events.log import join_records
from margincall.events.schema import EventKind
from margincall.venue.accounts import DEPOSITS, EXISTS, ISOLATED, N_ACCOUNTS, PORTFOLIO
from margincall.venue.portfolio_margin import asset_value


def _accounts(pv, ids, field: str, fresh: bool) -> np.ndarray:
    """``ids`` as distinct open accounts, with no position and no resting order anywhere when
    ``fresh``."""
    ids = np.asarray(ids, np.int64)
    n = int(pv.legs[0].meta[N_ACCOUNTS])
    bad = (ids < 1) | (ids >= n)
    expected = f"an open account id from 1 to {n - 1}"
    if fresh:
        rows = np.clip(ids, 0, n - 1)
        for v in pv.legs:
            bad |= (v.acc.pos[rows] != 0) | (v.book.open_buy_lots[rows] != 0)
            bad |= v.book.open_sell_lots[rows] != 0
        expected += " with no position or order"
    if bad.any():
        raise InvalidInputError(field, int(ids[np.flatnonzero(bad)[0]]), expected)
    if len(np.unique(ids)) != len(ids):
        raise InvalidInputError(field, ids.tolist()[:5], "distinct account ids")
    return ids


def _amounts(amounts, ids: np.ndarray, field: str) -> np.ndarray:
    amounts = np.asarray(amounts, np.int64)
    if amounts.shape != ids.shape or (amounts < 0).any():
        raise InvalidInputError(field, amounts.tolist()[:5], "one non-negative amount per account")
    return amounts


def deposit_collateral_many(pv, ids, asset: str, units) -> np.ndarray:
    """Add ``units[i]`` micro-units of collateral ``asset`` to fresh account ``ids[i]``; returns
    the COLLATERAL_DEPOSITED events."""
    ids = _accounts(pv, ids, "ids", fresh=True)
    c = pv._asset(asset)
    units = _amounts(units, ids, "units")
    pv.pf.coll[ids, c] += units
    pv.coll_deposits[c] += int(units.sum())
    values = np.array([asset_value(pv.pf, c, u) for u in units.tolist()], np.int64)
    return pv._bulk(
        EventKind.COLLATERAL_DEPOSITED, ids, qty=units, price=int(pv.pf.price[c]), order_id=c,
        amount=values,
    )  # fmt: skip


def withdraw_many(pv, ids, amounts) -> np.ndarray:
    """Take ``amounts[i]`` micro-dollars of settlement cash out of account ``ids[i]`` (at most its
    cash), without the initial-margin check of a withdrawal during a run: how a starting state
    leaves positions opened earlier carrying only part of their loss since entry. The accounts
    are evaluated after (re-keyed; one left below maintenance is liquidated). Returns the
    WITHDRAWN events and the evaluation's."""
    ids = _accounts(pv, ids, "ids", fresh=False)
    amounts = _amounts(amounts, ids, "amounts")
    over = amounts > pv.pf.cash[ids]
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise InvalidInputError(
            "amounts",
            int(amounts[i]),
            f"at most account {int(ids[i])}'s cash ({int(pv.pf.cash[ids[i]])})",
        )
    pv.pf.cash[ids] -= amounts
    pv.deposits -= int(amounts.sum())
    events = pv._bulk(EventKind.WITHDRAWN, ids, amount=amounts)
    return join_records([events, pv._evaluate(ids)])


def isolate_many(pv, ids, symbol: str, margins, leverage=None) -> np.ndarray:
    """Isolate fresh accounts' (flat) legs on ``symbol``, ``margins[i]`` micro-dollars of account
    ``ids[i]``'s settlement cash each (at most its cash), with the leg's own ``leverage[i]`` for
    new exposure when given; returns the events."""
    ids = _accounts(pv, ids, "ids", fresh=True)
    j = pv._index(symbol)
    margins = _amounts(margins, ids, "margins")
    v = pv.legs[j]
    if leverage is not None:
        leverage = _amounts(leverage, ids, "leverage")
        top = int(v.instrument.tiers[0].max_leverage)
        if ((leverage < 1) | (leverage > top)).any():
            raise InvalidInputError("leverage", leverage.tolist()[:5], f"integers from 1 to {top}")
    cross = (v.acc.flags[ids] & PORTFOLIO) != 0
    if ((margins == 0) | (margins > pv.pf.cash[ids]) | ~cross).any():
        raise InvalidInputError(
            "margins", margins.tolist()[:5],
            f"a positive amount of each account's cash, for a cross leg on {symbol}",
        )  # fmt: skip
    events = [to_isolated(pv, j, ids, margins)]
    if leverage is not None:
        v.acc.leverage[ids] = leverage
    v.acc.wallet[ids] += margins
    v.meta[DEPOSITS] += int(margins.sum())
    events.append(pv._bulk(EventKind.DEPOSITED, ids, amount=margins, instrument=j))
    return join_records(events)


def to_isolated(pv, j: int, ids: np.ndarray, margins: np.ndarray) -> np.ndarray:
    """Leg ``j`` of accounts ``ids`` (flat, no orders on it) moved to isolated mode: its booked
    cash flows back to the account's cash and ``margins`` out of it (the WITHDRAWN events, which
    this returns); the caller deposits ``margins`` into the leg."""
    v = pv.legs[j]
    left = v.acc.wallet[ids].copy()  # the cross leg's realised flows go back to the cash
    pv.pf.cash[ids] += left - margins
    pv.deposits += int((left - margins).sum())
    v.acc.wallet[ids] = 0
    v.meta[DEPOSITS] -= int(left.sum())
    v.acc.rest[ids] = 0
    v.acc.flags[ids] = EXISTS | ISOLATED
    return pv._bulk(EventKind.WITHDRAWN, ids, amount=margins)
