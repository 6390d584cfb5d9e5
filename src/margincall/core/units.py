"""Integer units: prices in ticks, sizes in lots, money in micro-dollars.

The engine never stores a float. A price is a whole number of ticks, a size a whole number of
lots and money a whole number of micro-dollars (1e-6 USD, the quote quantum of USDC and the
precision of USDT ledgers). Conversions from user values are exact: a price that is not on the
tick grid is an error unless a rounding direction is asked for.

Example:
    >>> s = Scale(tick_size=Decimal("0.1"), lot_size=Decimal("0.001"))
    >>> s.price_to_ticks("65266.1"), s.qty_to_lots("0.25")
    (652661, 250)
    >>> s.notional_micros(652661, 250)  # 0.25 BTC at 65,266.10 = 16,316.525 USD
    16316525000
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Literal

import numpy as np

from margincall.core.errors import InvalidInputError

MICROS_PER_USD = 1_000_000
"""Micro-dollars in one dollar."""

SECONDS_PER_YEAR = 365.25 * 24 * 3600
"""Seconds in a year: what annualised volatilities are per."""

Rounding = Literal["exact", "down", "up", "nearest"]
_MODES = {"down": ROUND_FLOOR, "up": ROUND_CEILING, "nearest": ROUND_HALF_EVEN}

Number = int | float | str | Decimal


def to_decimal(value: Number, field: str = "value") -> Decimal:
    """Convert a user number to ``Decimal`` exactly (floats by their shortest repr)."""
    if isinstance(value, bool):
        raise InvalidInputError(field, value, "a number")
    try:
        if isinstance(value, float):  # numpy floats too: repr of the plain float
            d = Decimal(repr(float(value)))
        elif isinstance(value, np.integer):
            d = Decimal(int(value))
        else:
            d = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise InvalidInputError(field, value, "a number") from None
    if not d.is_finite():
        raise InvalidInputError(field, value, "a finite number")
    return d


def _to_units(value: Number, unit: Decimal, field: str, rounding: Rounding) -> int:
    q = to_decimal(value, field) / unit
    if rounding == "exact":
        if q != q.to_integral_value():
            raise InvalidInputError(field, value, f"a multiple of {unit}")
        return int(q)
    return int(q.to_integral_value(rounding=_MODES[rounding]))


def usd_to_micros(value: Number, rounding: Rounding = "nearest") -> int:
    """Dollars to integer micro-dollars (``"exact"`` refuses sub-micro amounts)."""
    return _to_units(value, Decimal("0.000001"), "usd", rounding)


def micros_to_usd(micros: int) -> Decimal:
    """Integer micro-dollars to exact dollars."""
    return Decimal(int(micros)).scaleb(-6)


@dataclass(frozen=True)
class Scale:
    """The tick and lot grid of one instrument, and the exact conversions on it."""

    tick_size: Decimal
    lot_size: Decimal

    def __post_init__(self) -> None:
        for name in ("tick_size", "lot_size"):
            v = to_decimal(getattr(self, name), name)
            if v <= 0:
                raise InvalidInputError(name, getattr(self, name), "a positive number")
            object.__setattr__(self, name, v)
        k = self.tick_size * self.lot_size * MICROS_PER_USD
        if k != k.to_integral_value():
            raise InvalidInputError(
                "tick_size*lot_size",
                str(self.tick_size * self.lot_size),
                "a whole number of micro-dollars per tick-lot",
            )

    @property
    def micros_per_tick_lot(self) -> int:
        """Notional, in micro-dollars, of one lot at a price of one tick."""
        return int(self.tick_size * self.lot_size * MICROS_PER_USD)

    def price_to_ticks(self, price: Number, rounding: Rounding = "exact") -> int:
        """A price in quote currency to whole ticks."""
        return _to_units(price, self.tick_size, "price", rounding)

    def ticks_to_price(self, ticks: int) -> Decimal:
        """Whole ticks to the exact price."""
        return self.tick_size * int(ticks)

    def qty_to_lots(self, qty: Number, rounding: Rounding = "exact") -> int:
        """A size in base units to whole lots."""
        return _to_units(qty, self.lot_size, "qty", rounding)

    def lots_to_qty(self, lots: int) -> Decimal:
        """Whole lots to the exact size in base units."""
        return self.lot_size * int(lots)

    def notional_micros(self, ticks: int, lots: int) -> int:
        """Notional of ``lots`` at ``ticks``, in micro-dollars (exact)."""
        return int(ticks) * int(lots) * self.micros_per_tick_lot
