"""The price band: how far from the mark a market order may fill (readable, float).

Venues protect market orders (and the liquidation engine's forced orders) with a band around the
mark: Binance's "price protection", dYdX's and Hyperliquid's slippage limits. A buy fills at most
at ``mark x (1 + band)`` and a sell at least at ``mark x (1 - band)``; the rest is cancelled.
The engine's integer rule is :func:`margincall.venue.band.band_limit_ticks`.

Example:
    >>> band_limit(100.0, 0.05, "buy"), band_limit(100.0, 0.05, "sell")
    (105.0, 95.0)
"""

from __future__ import annotations

import math
import numbers

from margincall.core.errors import InvalidInputError


def _real(x: object) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def band_limit(mark: float, band: float, side: str) -> float:
    """The worst price a market order on ``side`` (``"buy"`` or ``"sell"``) may fill at.

    Args:
        mark: the mark price, > 0.
        band: the band as a fraction of the mark, in (0, 1].
        side: ``"buy"`` or ``"sell"``.
    """
    if not (_real(mark) and math.isfinite(mark) and mark > 0):
        raise InvalidInputError("mark", mark, "a positive price")
    if not (_real(band) and 0 < band <= 1):
        raise InvalidInputError("band", band, "a fraction in (0, 1]")
    if side not in ("buy", "sell"):
        raise InvalidInputError("side", side, '"buy" or "sell"')
    return mark * (1 + band) if side == "buy" else mark * (1 - band)
