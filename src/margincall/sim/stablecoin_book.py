"""A dollar stablecoin's spot book on one venue: the venue's desk sells into it the collateral its
auto-exchange took (portfolio-margin.md R7), and its price marks that collateral where the
rulebook prices the asset from the venue's own book (R5 ``own_book``; Binance's USDE).

One maker bids in it, a redemption arbitrageur: it buys below the peg ($1, what the issuer
redeems a unit for) and redeems what it bought after ``redeem_minutes``. Its ladder holds
``depth_1pct_usd`` of bids within 1% of the peg, one level per tick from $0.9999 down, and goes
on at the same density as far as its free dollars reach. A sale that walks the bids leaves the
maker's top there: the top climbs back to the peg, and each level below it refills toward the
ladder, with the time constant ``refill_minutes``; the dollars of a fill quote again once its
units are redeemed. Nobody buys above $1 in a run, so sellers set the price: the best bid plus
one tick, at most the maker's top (the last trade's price when no bid is left).

A depeg is then the model's, not the scenario's: it happens when the desk's sales outrun the
ladder, its refill and the maker's dollars. Exact: whole units, prices in ticks of $0.0001,
money in micro-dollars; :meth:`StablecoinBook.check` holds after every call.

Example:
    >>> b = StablecoinBook(depth_1pct_usd=1e6, capital_usd=2e6, refill_seconds=600,
    ...                    redeem_seconds=3600)
    >>> b.price_ticks(), b.sell(500_000), b.price_ticks()  # half the top 1% sold
    (10000, 498727082500, 9950)
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from margincall.core.errors import InvalidInputError, InvariantViolation

TICK_MICROS = 100
"""One tick, $0.0001, in micro-dollars."""
PEG = 10_000
"""The peg, $1, in ticks."""
UNIT = 1_000_000
"""Micro-units of the asset in one unit (the venue's collateral arrays count micro-units)."""


class StablecoinBook:
    """The bids of one stablecoin book and its maker's dollars (module docstring)."""

    def __init__(
        self,
        depth_1pct_usd: float,
        capital_usd: float,
        refill_seconds: float,
        redeem_seconds: float,
    ) -> None:
        for name, value in (("depth_1pct_usd", depth_1pct_usd), ("capital_usd", capital_usd),
                            ("refill_seconds", refill_seconds),
                            ("redeem_seconds", redeem_seconds)):  # fmt: skip
            if not (math.isfinite(value) and value > 0):
                raise InvalidInputError(name, value, "a positive finite number")
        self.ticks = np.arange(PEG - 1, 0, -1, dtype=np.int64)  # level k bids at PEG - 1 - k
        per_tick_micros = depth_1pct_usd * 1e6 / 100  # the ladder's dollars per tick
        self.ladder = np.floor(per_tick_micros / (self.ticks * TICK_MICROS)).astype(np.int64)
        self.bids = np.zeros_like(self.ladder)
        self.refill_seconds, self.redeem_seconds = refill_seconds, redeem_seconds
        self.capital = round(capital_usd * 1e6)
        self.cash = self.capital  # the maker's dollars not spent on units waiting for redemption
        self.pending: deque[tuple[int, int]] = deque()  # (due ns, units) bought, oldest first
        self.sold = 0  # units the desk sold (the maker bought)
        self.proceeds = 0  # micro-dollars the desk received
        self.redeemed = 0  # units the maker redeemed at the peg
        self.unsold = 0  # units of the last sale the bids could not take
        self.low, self.low_ns = PEG, 0  # the lowest price (ticks) and when it was first seen
        self.top = PEG  # the maker bids below this tick
        self._fill(1.0)
        self.full = True  # the top at the peg and every level as the dollars allow: no refill

    def _cap(self, levels: np.ndarray) -> np.ndarray:
        """``levels`` from the top as far as the maker's free dollars pay for them: whole
        levels, then part of the first it cannot pay in full, nothing below."""
        spent = np.cumsum(levels * self.ticks) * TICK_MICROS
        whole = int(np.searchsorted(spent, self.cash, side="right"))
        if whole == len(levels):
            return levels
        out = levels.copy()
        left = self.cash - (int(spent[whole - 1]) if whole else 0)
        out[whole] = min(int(levels[whole]), left // (int(self.ticks[whole]) * TICK_MICROS))
        out[whole + 1 :] = 0
        return out

    def _fill(self, share: float) -> None:
        """The top and every level below it move ``share`` of the way to the peg and the
        ladder (rounded up), as far as the maker's free dollars reach (it bids only the dollars
        it has)."""
        self.top += math.ceil((PEG - self.top) * share)
        short = np.maximum(self.ladder - self.bids, 0)
        short[self.ticks >= self.top] = 0
        self.bids = self._cap(self.bids + np.ceil(short * share).astype(np.int64))

    def quote(self, now_ns: int, dt_seconds: float) -> None:
        """Redeem the units due by ``now_ns`` at the peg, then refill the ladder for a step of
        ``dt_seconds``."""
        while self.pending and self.pending[0][0] <= now_ns:
            _, units = self.pending.popleft()
            self.cash += units * PEG * TICK_MICROS
            self.redeemed += units
            self.full = False
        if not self.full:  # a full book is left as it is (nothing to refill or check)
            self._fill(-math.expm1(-dt_seconds / self.refill_seconds))
            self.full = self.top == PEG and np.array_equal(self.bids, self._cap(self.ladder))
            self.check()

    def sell(self, units: int, now_ns: int = 0, limit_ticks: int = 1) -> int:
        """A sell of ``units`` whole units walking the bids from the top down to
        ``limit_ticks``; returns the micro-dollars received. What the bids there cannot take
        stays unsold (:attr:`unsold`); the caller offers it again later."""
        if units < 0:
            raise InvalidInputError("units", units, "a whole number of units >= 0")
        self.unsold = units
        if units == 0:
            return 0
        bids = np.where(self.ticks >= limit_ticks, self.bids, 0)
        before = np.cumsum(bids) - bids
        fill = np.clip(units - before, 0, bids)
        got = int(fill @ self.ticks) * TICK_MICROS
        done = int(fill.sum())
        self.bids -= fill
        self.cash -= got
        self.sold += done
        self.proceeds += got
        self.unsold = units - done
        if done:
            self.full = False
            self.pending.append((now_ns + round(self.redeem_seconds * 1e9), done))
            self.top = int(self.ticks[np.flatnonzero(fill)[-1]])  # the last trade's price...
            self.top = self.price_ticks()  # ...or the best bid above it plus one tick
            if self.top < self.low:
                self.low, self.low_ns = self.top, now_ns
        self.check()
        return got

    def price_ticks(self) -> int:
        """The book's price: its best bid plus one tick, at most the maker's top (the last
        trade's price after a sale, climbing back as it refills); the top with no bid."""
        best = np.flatnonzero(self.bids)
        return self.top if best.size == 0 else min(int(self.ticks[best[0]]) + 1, self.top)

    def check(self) -> None:
        """Units and dollars conserved: what the desk sold is waiting or redeemed, and the
        maker's dollars plus the desk's are the capital plus the redemptions' dollars."""
        waiting = sum(u for _, u in self.pending)
        if self.sold != waiting + self.redeemed:
            raise InvariantViolation(
                f"stablecoin units not conserved: {self.sold} sold, {waiting} waiting, "
                f"{self.redeemed} redeemed"
            )
        if self.cash + self.proceeds != self.capital + self.redeemed * PEG * TICK_MICROS:
            raise InvariantViolation(
                f"stablecoin dollars not conserved: maker {self.cash} + desk {self.proceeds} "
                f"against capital {self.capital} + redeemed {self.redeemed} units"
            )
        if (self.bids < 0).any() or self.cash < 0:
            raise InvariantViolation("a stablecoin bid or the maker's dollars below zero")
