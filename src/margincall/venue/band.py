"""The price band on integers: the one home of the rule that bounds a market order's price.

A market order (and every forced order that is sent as one) is an IOC limited to the band around
the mark: a buy at most ``mark + band``, a sell at least ``mark - band``, with ``band = mark x
band_ppm / 1e6`` floored (so the limit never sits further from the mark than the rulebook's
``price_band``). The readable float rule is :func:`margincall.formulas.band.band_limit`;
``tests/formulas/test_band.py`` holds this one against it. Compiled so kernels can call it.
"""

from __future__ import annotations

from numba import njit

PPM = 1_000_000


@njit(cache=True, inline="always")
def band_limit_ticks(mark: int, band_ppm: int, side: int) -> int:
    """The limit price, in ticks, of a market order on ``side`` (+1 buy, -1 sell) at ``mark``.

    Not clamped to the venue's price window; the caller does that.
    """
    band = (mark * band_ppm) // PPM
    return mark + band if side > 0 else mark - band
