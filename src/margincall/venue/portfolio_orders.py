"""A batch of orders on one instrument of a portfolio venue in one compiled call.

:meth:`PortfolioVenue.submit_orders <margincall.venue.portfolio.PortfolioVenue.submit_orders>`
lends each ordering account's whole-account margin to the instrument
(:func:`~margincall.venue.portfolio_margin.lend_for_orders`), places the orders on the
instrument (:func:`~margincall.venue.orders.place_orders`), carries the log's sequence from the
instrument to the venue and evaluates the accounts (:func:`~margincall.venue.portfolio_pass.evaluate`).
Three compiled calls from Python cost more than the work of a market simulator's step (each
unpacks the four instruments' states): this is the same sequence in one.
"""

from __future__ import annotations

from numba import njit

from margincall.venue import accounts as A
from margincall.venue.orders import place_orders
from margincall.venue.portfolio_margin import N_LEGS, SEQ, lend_for_orders
from margincall.venue.portfolio_pass import evaluate


@njit(cache=True)
def submit_and_evaluate(legs, pf, j, s, batch, out, bout):
    """Instrument ``j``'s orders ``batch`` (``(accounts to evaluate, cancels, orders, stp)``)
    placed on its state ``s`` (writing into its own event buffer) and the accounts evaluated
    into the venue's buffers ``out``, ``bout``. Returns ``(events placed, instrument's out,
    instrument's bout, out, bout)``; ``pf.meta[OUT_N]`` the evaluation's events."""
    ids, cancels, orders, stp = batch
    lend_for_orders(legs, pf, ids, j)
    _, vout, vbout = place_orders(s, cancels, orders, stp)
    placed = s.meta[A.OUT_N]
    pf.meta[SEQ] = s.meta[A.SEQ]
    for m in range(pf.meta[N_LEGS]):  # as a fresh state of every leg would be
        legs[m].meta[A.SEQ] = pf.meta[SEQ]
        legs[m].meta[A.OUT_N] = 0
        legs[m].meta[A.BOOK_N] = 0
    out, bout = evaluate(legs, pf, ids, out, bout)
    return placed, vout, vbout, out, bout
