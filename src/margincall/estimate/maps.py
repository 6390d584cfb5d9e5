"""Liquidation maps: long and short notional by liquidation price.

A map is two sorted lists of levels. A long level at price ``L`` is liquidated once the price
falls to ``L`` or below; a short level at ``S`` once the price rises to ``S`` or above. Longs are
sorted by descending price and shorts by ascending price, so the levels nearest the reference
price come first on both sides and ``liquidated_long(p)`` is one binary search in a cumulative
sum. Notional is kept exactly, in integer micro-dollars, valued at the liquidation price.

Where the levels come from is recorded in ``source`` and ``assumptions`` (the leverage weights,
the rulebook, the data file), so every figure derived from a map can say what it assumed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from margincall.core.errors import InvalidInputError

MICROS = 1_000_000


@dataclass(frozen=True)
class LiquidationMap:
    """Notional by liquidation price at a reference price (USD)."""

    price: float
    long_liq: np.ndarray  # float64 USD, descending
    long_micros: np.ndarray  # int64 micro-dollars at each long level
    short_liq: np.ndarray  # float64 USD, ascending
    short_micros: np.ndarray  # int64 micro-dollars at each short level
    source: str = ""
    assumptions: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not np.isfinite(self.price) or self.price <= 0:
            raise InvalidInputError("price", self.price, "a positive finite price in USD")
        for name, liq, amt, order in (
            ("long", self.long_liq, self.long_micros, -1),
            ("short", self.short_liq, self.short_micros, 1),
        ):
            if liq.shape != amt.shape or liq.ndim != 1:
                raise InvalidInputError(
                    f"{name} levels", (liq.shape, amt.shape), "two 1-D arrays of one length"
                )
            if amt.dtype != np.int64 or (len(amt) and amt.min() < 0):
                raise InvalidInputError(f"{name} notional", amt.dtype, "int64 micro-dollars >= 0")
            if len(liq) > 1 and np.any(np.diff(liq) * order < 0):
                raise InvalidInputError(
                    f"{name} prices", "unsorted", "descending for longs, ascending for shorts"
                )
        object.__setattr__(self, "_long_cum", np.concatenate(([0], np.cumsum(self.long_micros))))
        object.__setattr__(self, "_short_cum", np.concatenate(([0], np.cumsum(self.short_micros))))

    @classmethod
    def from_levels(
        cls,
        price: float,
        long_liq: np.ndarray,
        long_usd: np.ndarray,
        short_liq: np.ndarray,
        short_usd: np.ndarray,
        *,
        source: str = "",
        assumptions: dict[str, Any] | None = None,
    ) -> LiquidationMap:
        """A map from unsorted levels with notional in USD (floats, rounded to micro-dollars)
        or micro-dollars (integer arrays, kept as they are)."""

        def side(liq, amt, descending: bool):
            liq = np.asarray(liq, np.float64)
            amt = np.asarray(amt)
            micros = (
                amt.astype(np.int64)
                if np.issubdtype(amt.dtype, np.integer)
                else np.rint(amt * MICROS).astype(np.int64)
            )
            order = np.argsort(-liq if descending else liq, kind="stable")
            return liq[order], micros[order]

        ll, lm = side(long_liq, long_usd, True)
        sl, sm = side(short_liq, short_usd, False)
        return cls(price, ll, lm, sl, sm, source, dict(assumptions or {}))

    def liquidated_long_micros(self, price: float | np.ndarray) -> np.ndarray:
        """Long notional whose liquidation price is at or above ``price``."""
        i = np.searchsorted(-self.long_liq, -np.asarray(price, np.float64), side="right")
        return self._long_cum[i]  # type: ignore[attr-defined]

    def liquidated_short_micros(self, price: float | np.ndarray) -> np.ndarray:
        """Short notional whose liquidation price is at or below ``price``."""
        i = np.searchsorted(self.short_liq, np.asarray(price, np.float64), side="right")
        return self._short_cum[i]  # type: ignore[attr-defined]

    @property
    def long_total_micros(self) -> int:
        return int(self._long_cum[-1])  # type: ignore[attr-defined]

    @property
    def short_total_micros(self) -> int:
        return int(self._short_cum[-1])  # type: ignore[attr-defined]

    def with_leverage(self, multiplier: float) -> LiquidationMap:
        """The map with every level's distance from ``price`` divided by ``multiplier`` (the same
        positions at ``multiplier`` times the leverage, to first order); notional unchanged."""
        m = float(multiplier)
        if not (np.isfinite(m) and m > 0):
            raise InvalidInputError("leverage multiplier", multiplier, "a positive number")
        p = self.price
        return LiquidationMap(
            p,
            p + (self.long_liq - p) / m,
            self.long_micros,
            p + (self.short_liq - p) / m,
            self.short_micros,
            self.source,
            {**self.assumptions, "leverage_multiplier": m},
        )

    def histogram(self, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Long and short notional (USD) in each price bin ``[edges[i], edges[i+1])``."""
        long_usd = np.histogram(self.long_liq, edges, weights=self.long_micros / MICROS)[0]
        short_usd = np.histogram(self.short_liq, edges, weights=self.short_micros / MICROS)[0]
        return long_usd, short_usd
