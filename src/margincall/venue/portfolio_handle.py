"""A portfolio venue's instrument states and portfolio arrays as one handle for the kernels.

A compiled call unboxes every array of its arguments, about 0.2 us each: a portfolio venue's
four instrument states (:class:`~margincall.venue.state.VenueState`, padded to
``MAX_INSTRUMENTS``) and its :class:`~margincall.venue.portfolio_margin.PortfolioState` are
about 150 arrays, 30 to 45 us a call whatever the work. None of those arrays is ever replaced
after the venue is built (the event buffers are, and these kernels take them as arguments of
their own), so a :class:`Handle` made once holds them and a call unboxes one pointer.

The instruments' states in the handle keep the event buffers they had when it was made; no
kernel here writes through them (the pass and the order placement put the live buffers in).
Each kernel first zeroes every instrument's event and book-record cursors, as
``PortfolioVenue._legs`` (a fresh state of every leg) does.
"""

from __future__ import annotations

from numba import njit
from numba.core import types
from numba.experimental import structref
from numba.extending import overload

from margincall.venue import accounts as A
from margincall.venue.orders import place_orders
from margincall.venue.portfolio_margin import (
    MAX_INSTRUMENTS,
    N_LEGS,
    SEQ,
    account_margin,
    borrow_portfolio,
    lend_for_orders,
)
from margincall.venue.portfolio_pass import evaluate
from margincall.venue.state import borrow_state, with_buffers


@structref.register
class HandleType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class Handle(structref.StructRefProxy):
    """``legs`` (the instruments' states, ``MAX_INSTRUMENTS`` of them) and ``pf``; made by
    :func:`make_handle`."""


structref.define_boxing(HandleType, Handle)


def _new_handle(legs, pf):
    raise NotImplementedError  # compiled only (the overload below)


@overload(_new_handle)
def _new_handle_impl(legs, pf):
    typ = HandleType([("legs", legs), ("pf", pf)])

    def impl(legs, pf):
        h = structref.new(typ)  # type: ignore[call-arg,var-annotated]
        h.legs = legs
        h.pf = pf
        return h

    return impl


@njit(cache=True)
def make_handle(legs, pf):
    """The handle of ``legs`` (``PortfolioVenue._legs()``) and ``pf``."""
    return _new_handle(legs, pf)


@njit(cache=True, inline="always")
def _fresh(legs) -> None:
    """Every instrument's event and book-record cursors at 0."""
    for m in range(MAX_INSTRUMENTS):
        legs[m].meta[A.OUT_N] = 0
        legs[m].meta[A.BOOK_N] = 0


@njit(cache=True, inline="always")
def _lend(legs, pf, ids, j) -> None:
    """:func:`~margincall.venue.portfolio_margin.lend_for_orders` on borrowed views (managed
    arrays would be reference-counted at every account's every leg)."""
    b = (borrow_state(legs[0]), borrow_state(legs[1]), borrow_state(legs[2]),
         borrow_state(legs[3]))  # fmt: skip
    lend_for_orders(b, borrow_portfolio(pf), ids, j)


@njit(cache=True)
def handle_margin(h, a):
    """:func:`~margincall.venue.portfolio_margin.account_margin` of account ``a``."""
    legs = h.legs
    _fresh(legs)
    return account_margin(legs, h.pf, a)


@njit(cache=True)
def handle_lend(h, ids, j) -> None:
    """:func:`~margincall.venue.portfolio_margin.lend_for_orders` for accounts ``ids`` on
    instrument ``j``."""
    legs = h.legs
    _fresh(legs)
    _lend(legs, h.pf, ids, j)


@njit(cache=True)
def handle_evaluate(h, ids, out, bout):
    """:func:`~margincall.venue.portfolio_pass.evaluate` of accounts ``ids``; returns the
    buffers."""
    legs = h.legs
    _fresh(legs)
    return evaluate(legs, h.pf, ids, out, bout)


@njit(cache=True)
def submit_and_evaluate(h, j, vout, vbout, batch, out, bout):
    """Instrument ``j``'s orders ``batch`` (``(accounts to evaluate, cancels, orders, stp)``)
    placed on its state (writing its events into ``vout``, its book records into ``vbout``),
    then the accounts evaluated into the venue's buffers ``out``, ``bout``: one compiled call
    for lending each account's margin to the instrument, placing, carrying the log's sequence
    and evaluating. Returns ``(events placed, vout, vbout, out, bout)``; ``pf.meta[OUT_N]`` the
    evaluation's events."""
    legs, pf = h.legs, h.pf
    _fresh(legs)
    ids, cancels, orders, stp = batch
    _lend(legs, pf, ids, j)
    s = with_buffers(legs[j], vout, vbout)
    _, vout, vbout = place_orders(s, cancels, orders, stp)
    placed = s.meta[A.OUT_N]
    pf.meta[SEQ] = s.meta[A.SEQ]
    for m in range(pf.meta[N_LEGS]):  # as a fresh state of every leg would be
        legs[m].meta[A.SEQ] = pf.meta[SEQ]
        legs[m].meta[A.OUT_N] = 0
        legs[m].meta[A.BOOK_N] = 0
    out, bout = evaluate(legs, pf, ids, out, bout)
    return placed, vout, vbout, out, bout
