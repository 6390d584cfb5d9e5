"""ADL of portfolio legs ranked by their accounts (portfolio-margin.md R8).

The one-instrument engine ranks ADL candidates by their own position and wallet
(:func:`margincall.venue.adl.adl_scores`). A portfolio leg is ranked by its account instead:

- Binance: LeveragePnL with the account's margin ratio (its maintenance over its equity) and
  its cross wallet (equity less every leg's open PnL): a loss on one leg raises the rank of the
  account's profitable other legs (vector P12);
- BitMEX: effective leverage against the leg's single-leg bankruptcy value with the other legs
  at mark, i.e. the account's equity: ``MarkValue / (MarkValue - BankruptValue) = value / E``
  (vector P9's bankruptcy prices);
- Hyperliquid: the whole cross account value;
- dYdX (pseudo-random offset, no ranking) and pro-rata: as in the one-instrument engine.

Each candidate leg is lent its account (``rest`` so that its wallet plus ``rest`` plus its open
PnL is the account's equity), so the one-instrument formulas give BitMEX's and Hyperliquid's
account-level scores as they are; Binance's score takes the account's maintenance and cross
wallet (:func:`~margincall.venue.adl.binance_score`, its one home).

A leg's close that needs ADL stops there (:func:`margincall.venue.leg_close.close_leg` returns
True); the portfolio pass takes the queue snapshot of the
opposite side with these scores (:func:`rank_queue`), unless the cascade already took one, then
finishes the close. A snapshot that runs dry is rebuilt by the instrument (with the ``rest``
lent here: exact for BitMEX and Hyperliquid, the leg's own wallet and maintenance for Binance).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from margincall.venue.accounts import MARK, PORTFOLIO
from margincall.venue.adl import adl_scores, binance_score, holders, place_queue
from margincall.venue.liq_index import ADL_LONG_N, ADL_SHORT_N
from margincall.venue.params import ADL, ADL_BINANCE, ADL_BITMEX, ADL_HYPERLIQUID, K
from margincall.venue.portfolio_margin import N_LEGS, account, leg_terms


@njit(cache=True)
def account_scores(legs, pf, j, cands):
    """ADL scores (higher goes first) of ``cands``, holders of instrument ``j``, by the
    venue's ranking with every portfolio account's own figures; each portfolio leg is lent its
    account (its ``rest``)."""
    s = legs[j]
    acc = s.acc
    n = cands.shape[0]
    equity = np.zeros(n, np.int64)
    mm_total = np.zeros(n, np.int64)
    wallet = np.zeros(n, np.int64)
    upnl = np.zeros(n, np.int64)
    for i in range(n):
        b = cands[i]
        if not acc.flags[b] & PORTFOLIO:
            continue
        e, mm, _, _ = account(legs, pf, b)
        opened = 0
        for m in range(pf.meta[N_LEGS]):
            _, u, _, _, _ = leg_terms(legs[m], b)
            opened += u
        _, u, _, w, _ = leg_terms(s, b)
        acc.rest[b] = e - u - w  # the leg's margin balance is the account's equity
        equity[i], mm_total[i], wallet[i], upnl[i] = e, mm, e - opened, u
    ranking = s.params[ADL]
    score = adl_scores(acc, cands, s.meta[MARK], s.params[K], s.tiers, ranking)
    if ranking == ADL_BINANCE:
        for i in range(n):
            if acc.flags[cands[i]] & PORTFOLIO:
                score[i] = binance_score(upnl[i], wallet[i], mm_total[i], equity[i])
    return score


@njit(cache=True)
def ranked(legs, pf, j, held):
    """``(accounts, scores)``: the holders of ``held`` (+1 longs, -1 shorts) on instrument
    ``j`` in ADL queue order, with their scores (R8)."""
    cands = holders(legs[j], held)
    score = account_scores(legs, pf, j, cands)
    order = np.argsort(-score, kind="mergesort")
    return cands[order], score[order]


@njit(cache=True)
def rank_queue(legs, pf, j, held) -> None:
    """Take instrument ``j``'s ADL queue snapshot of the holders of ``held`` ranked by their
    accounts, unless the cascade already took one or the venue does not rank."""
    s = legs[j]
    ranking = s.params[ADL]
    if ranking != ADL_BINANCE and ranking != ADL_BITMEX and ranking != ADL_HYPERLIQUID:
        return
    if s.idx.adl_meta[ADL_LONG_N if held > 0 else ADL_SHORT_N] >= 0:
        return
    cands, _ = ranked(legs, pf, j, held)
    place_queue(s.idx, held, cands)
