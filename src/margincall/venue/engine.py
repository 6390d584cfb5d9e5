"""The venue: one instrument under one rulebook, as a state machine. Commands in, events out.

The venue knows nothing of agents. Each public method changes the state through the compiled
kernels and returns the events it produced, which are also appended to :attr:`Venue.log`.

Phase order inside one timestamp, as the simulator's kernel drives it: :meth:`advance` the
clock; :meth:`set_index_price` from outside; orders (:meth:`submit_order` ...) match;
:meth:`update_mark`; :meth:`settle_funding` when an interval ends; :meth:`run_liquidations`
(rounds until no new breach, the fund unloading what it took over afterwards).

Example:
    >>> v = Venue("binance", "BTCUSDT", price=60_000, insurance_fund_usd=1_000_000)
    >>> mm = v.open_account(1_000_000)
    >>> trader = v.open_account(1_000, leverage=50)
    >>> _ = v.submit_order(mm, "buy", "10", 59_000)
    >>> _ = v.submit_order(mm, "sell", "10", 60_000)
    >>> _ = v.submit_order(trader, "buy", "0.5")   # market: 30,000 USD notional
    >>> v.position(trader)["qty"]
    Decimal('0.500')
"""

from __future__ import annotations

import numpy as np

from margincall.core.errors import InvalidInputError
from margincall.core.rng import RngTree
from margincall.core.units import Number, usd_to_micros
from margincall.events.log import EventLog
from margincall.events.schema import EVENT_DTYPE, EventKind, RejectReason
from margincall.venue import book as bk
from margincall.venue import funding as fnd
from margincall.venue import liq_index
from margincall.venue import liquidation as liq
from margincall.venue import mark as mk
from margincall.venue import params as P
from margincall.venue.accounts import (
    DEPOSITS,
    EXISTS,
    INDEX,
    ISOLATED,
    LAST,
    MARK,
    META_SIZE,
    N_ACCOUNTS,
    OUT_N,
    RNG,
    TS,
    account_rows,
    new_accounts,
)
from margincall.venue.adl import reset_queues
from margincall.venue.band import band_limit_ticks
from margincall.venue.instrument import Rulebook, load_rulebook
from margincall.venue.ledger import INSURANCE_FUND, reindex
from margincall.venue.liquidation import deleverage_account, liquidation_rounds
from margincall.venue.orders import (
    reindex_all,
)
from margincall.venue.rule_arrays import build_params, build_tiers
from margincall.venue.venue_base import MAX_ROUNDS
from margincall.venue.venue_orders import VenueOrders

MAX_PRICE_LEVELS = 16_000_000
"""Most price levels a book may span (the book holds an array row per level, 64 bytes each:
about 1 GB at this bound; BTC at 73,000 with a 0.1 tick spans under 3 million)."""


def _venue_sequence(seed: int | RngTree | np.random.SeedSequence) -> np.random.SeedSequence:
    """The venue's random stream: a given seed-tree child, or an integer seed's ``"venue"`` child
    (the same stream as ``RngTree(seed).child("venue")``)."""
    if isinstance(seed, RngTree):
        return seed.sequence
    if isinstance(seed, np.random.SeedSequence):
        return seed
    return RngTree(seed).child("venue").sequence


class Venue(VenueOrders):
    """One instrument of one exchange, with its accounts, book, fund and liquidation engine.

    Args:
        rulebook: a rulebook name (``binance``, ``bitmex``, ``dydx``, ``hyperliquid``), a path to
            a rulebook TOML file, or a loaded :class:`Rulebook`.
        symbol: the instrument, e.g. ``"BTCUSDT"``.
        price: the starting index price; it also sets the price window.
        capacity: how many accounts the venue can hold (account 0 is the insurance fund).
        price_window: prices the book accepts, as multiples of ``price`` (low, high).
        insurance_fund_usd: the fund's starting balance.
        order_capacity: resting orders the book can hold.
        seed: seeds the venue's own choices (dYdX's pseudo-random ADL offsets): the run's seed
            tree's child for the venue (an :class:`RngTree` or ``SeedSequence``), or an integer
            seed whose tree's ``"venue"`` child is used.
        keep_events: keep the event log in memory (else only count and hash it).

    The liquidation rounds per :meth:`run_liquidations` call are at most :attr:`max_rounds`
    (100 unless set).
    """

    def __init__(
        self,
        rulebook: str | Rulebook = "binance",
        symbol: str = "BTCUSDT",
        *,
        price: Number,
        capacity: int = 1024,
        price_window: tuple[float, float] = (0.25, 4.0),
        insurance_fund_usd: Number = 0,
        order_capacity: int = 1 << 16,
        seed: int | RngTree | np.random.SeedSequence = 0,
        keep_events: bool = True,
    ) -> None:
        self.rulebook = rulebook if isinstance(rulebook, Rulebook) else load_rulebook(rulebook)
        self.instrument = self.rulebook.instrument(symbol)
        self.scale = self.instrument.scale
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise InvalidInputError("capacity", capacity, "a positive number of accounts")
        index = self.scale.price_to_ticks(price, "nearest")
        if index <= 0:
            raise InvalidInputError("price", price, "a positive price")
        lo, hi = price_window
        if not 0 < lo < 1 < hi:
            raise InvalidInputError(
                "price_window", price_window, "(low, high) with 0 < low < 1 < high"
            )
        self.min_tick = max(1, int(index * lo))
        self.max_tick = int(index * hi) + 1
        if self.max_tick - self.min_tick + 1 > MAX_PRICE_LEVELS:
            top = self.scale.ticks_to_price(int(MAX_PRICE_LEVELS / (hi - lo)))
            raise InvalidInputError(
                "price",
                price,
                f"a price whose book ({lo}x to {hi}x of it) fits in {MAX_PRICE_LEVELS:,} ticks of "
                f"{self.scale.tick_size}: at most about {top}",
            )
        self.params = build_params(
            self.rulebook, self.instrument, self.min_tick, self.max_tick, MAX_ROUNDS
        )
        self.tiers = build_tiers(self.instrument)
        self.k = int(self.params[P.K])
        self.capacity = capacity + 1
        rows = account_rows(self.capacity)
        self.acc = new_accounts(self.capacity, rows)
        self.book = bk.new_book(self.min_tick, self.max_tick, order_capacity, self.capacity)
        self.index = liq_index.new_index(self.capacity, self.max_tick, rows=rows)
        self.meta = np.zeros(META_SIZE, np.int64)
        self.meta[RNG] = int(_venue_sequence(seed).generate_state(1, np.uint64)[0] >> 2)
        self.meta[INDEX] = self.meta[MARK] = index
        self.log = EventLog(keep=keep_events)
        self._block = np.empty(0, EVENT_DTYPE)  # event memory the kernels write into
        self._free = 0  # first unused event of the block
        self._room = self._block  # the free end of the block handed to the last kernel call
        self._liq_out = np.empty(1 << 10, EVENT_DTYPE)
        self._bout = np.zeros(1 << 12, bk.BOOK_EVENT_DTYPE)
        self._cand = np.zeros(1 << 12, np.int64)
        self._progress = np.zeros(liq.PROGRESS_SIZE, np.int64)  # of a cascade, across its ADLs
        self._progress[liq.ADL_ACCOUNT] = -1
        self._basis: list[int] = []
        self._hl_mark = mk.HyperliquidMarkState()  # Hyperliquid's EMAs (rule "hyperliquid")
        self.external_mid_ticks = 0  # other venues' weighted perp mid, set_external_mid
        # premium samples of the current funding interval: count, sum, sum weighted by 1..n
        self._premium_sums = (0, 0, 0)
        self._impact_micros = usd_to_micros(self.instrument.impact_notional_usd)
        self.funding_rate_ppb = 0
        self._mark_inputs = (index, index)
        # account 0: the insurance fund (and Hyperliquid's backstop vault)
        self.open_account(insurance_fund_usd, leverage=1)

    def advance(self, ts_ns: int) -> None:
        """Move the simulated clock forward (never back)."""
        if ts_ns < self.meta[TS]:
            raise InvalidInputError(
                "ts_ns", ts_ns, f"a time at or after the current {int(self.meta[TS])}"
            )
        self.meta[TS] = ts_ns

    def set_index_price(self, price: Number) -> np.ndarray:
        """Set the index (or oracle) price from outside the venue."""
        ticks = self.scale.price_to_ticks(price, "nearest")
        if not self.min_tick <= ticks <= self.max_tick:
            raise InvalidInputError(
                "price",
                price,
                f"a price inside the venue's window "
                f"{self.scale.ticks_to_price(self.min_tick)}..{self.scale.ticks_to_price(self.max_tick)}",
            )
        return self.set_index_ticks(ticks)

    def set_index_ticks(self, ticks: int) -> np.ndarray:
        """:meth:`set_index_price` with the price in whole ticks."""
        if not self.min_tick <= ticks <= self.max_tick:
            raise InvalidInputError(
                "ticks", ticks, f"ticks inside the venue's window {self.min_tick}..{self.max_tick}"
            )
        self.meta[INDEX] = ticks
        return self._emit(EventKind.INDEX_PRICE_UPDATED, price=ticks)

    def set_external_mid(self, ticks: int) -> None:
        """Hand in the weighted median of other venues' perp mids (whole ticks of this
        instrument; 0 = none), which every later :meth:`update_mark` uses until the next call.
        Only the ``hyperliquid`` mark reads it (its component C); the others ignore it."""
        if isinstance(ticks, bool) or not isinstance(ticks, int) or ticks < 0:
            raise InvalidInputError(
                "ticks", ticks, "a non-negative whole number of ticks (0: none)"
            )
        self.external_mid_ticks = ticks

    def update_mark(self) -> np.ndarray:
        """Recompute the mark by the rulebook's method; emits an event when it changes.

        ``median`` (Binance): median of index x (1 + funding basis), index + moving average of
        (book mid - index) over the last 30 samples, and the last trade. ``fair`` (BitMEX):
        index x (1 + funding basis). ``oracle`` (dYdX): the oracle price. ``hyperliquid``:
        median of oracle + 150 s EMA of (mid - oracle), median(bid, ask, last), and the
        external perp mid (none: the 30 s EMA of the book median), sampled at each call
        (:func:`margincall.venue.mark.hyperliquid_mark_step`).
        """
        index = int(self.meta[INDEX])
        method = self.rulebook.mark
        if method == "oracle":
            mark = index
        elif method == "hyperliquid":
            bid, ask = bk.best_prices(self.book)
            mark, self._hl_mark = mk.hyperliquid_mark_step(
                self._hl_mark, index, int(bid), int(ask), int(self.meta[LAST]),
                self.external_mid_ticks,
                int(self.meta[TS]),
            )  # fmt: skip
        else:
            interval = self.rulebook.funding_interval_hours * 3600 * 1_000_000_000
            p1 = mk.fair_price_ticks(index, self.funding_rate_ppb, int(self.meta[TS]), interval)
            if method == "fair":
                mark = p1
            else:
                bid, ask = bk.best_prices(self.book)
                if bid > 0 and ask > 0:
                    self._basis.append(mk.mid_basis_ticks(bid, ask, index))
                    del self._basis[: -mk.BASIS_WINDOW]
                p2 = mk.basis_price_ticks(index, self._basis)
                mark = mk.binance_mark_ticks(p1, p2, int(self.meta[LAST]), index)
                self._mark_inputs = (p1, p2)
        mark = min(max(mark, self.min_tick), self.max_tick)
        if mark == self.meta[MARK]:
            return np.empty(0, EVENT_DTYPE)
        self.meta[MARK] = mark
        return self._emit(EventKind.MARK_PRICE_UPDATED, price=mark)

    # ---- accounts --------------------------------------------------------------------------

    def open_account(
        self, deposit_usd: Number = 0, *, isolated: bool = False, leverage: int = 20
    ) -> int:
        """Open an account (with a first deposit) and return its id."""
        return int(
            self.open_accounts(
                np.array([usd_to_micros(deposit_usd)], np.int64),
                isolated=isolated,
                leverage=leverage,
            )[0]
        )

    def open_accounts(
        self,
        deposits_micros: np.ndarray,
        *,
        isolated: bool | np.ndarray = False,
        leverage: int | np.ndarray = 20,
    ) -> np.ndarray:
        """Open many accounts at once (deposits in micro-dollars); returns their ids."""
        dep = np.asarray(deposits_micros, dtype=np.int64)
        n = dep.shape[0]
        first = int(self.meta[N_ACCOUNTS])
        if first + n > self.capacity:
            raise InvalidInputError(
                "accounts",
                first + n,
                f"at most {self.capacity - 1} accounts (the venue's capacity)",
            )
        if (dep < 0).any():
            bad = int(np.flatnonzero(dep < 0)[0])
            raise InvalidInputError(f"deposits[{bad}]", int(dep[bad]), "a non-negative amount")
        lev = np.broadcast_to(np.asarray(leverage, dtype=np.int64), (n,))
        max_lev = int(self.instrument.tiers[0].max_leverage)
        if ((lev < 1) | (lev > max_lev)).any():
            bad = int(np.flatnonzero((lev < 1) | (lev > max_lev))[0])
            raise InvalidInputError(
                f"leverage[{bad}]", int(lev[bad]), f"an integer from 1 to {max_lev}"
            )
        ids = np.arange(first, first + n, dtype=np.int64)
        iso = np.broadcast_to(np.asarray(isolated, dtype=bool), (n,))
        self.acc.wallet[ids] = dep
        self.acc.leverage[ids] = lev
        self.acc.flags[ids] = EXISTS | np.where(iso, ISOLATED, 0).astype(np.int8)
        self.meta[N_ACCOUNTS] = first + n
        self.meta[DEPOSITS] += int(dep.sum())
        self._bulk_events(EventKind.DEPOSITED, ids, amount=dep)
        return ids

    def deposit(self, account: int, amount_usd: Number) -> np.ndarray:
        """Add money to an account's wallet."""
        a = self._check_account(account)
        m = self._money(amount_usd, "amount_usd")
        self.acc.wallet[a] += m
        self.meta[DEPOSITS] += m
        events = self._emit(EventKind.DEPOSITED, a, amount=m)
        reindex(self._kernel_state(), a)
        return events

    def withdraw(self, account: int, amount_usd: Number) -> np.ndarray:
        """Take money out, if what is left still covers the initial margin of the position."""
        a = self._check_account(account)
        m = self._money(amount_usd, "amount_usd")
        free = self.available_micros(a)
        if m > free:
            return self._emit(
                EventKind.ORDER_REJECTED,
                a,
                reason=int(RejectReason.INSUFFICIENT_MARGIN),
                amount=m - free,
            )
        self.acc.wallet[a] -= m
        self.meta[DEPOSITS] -= m
        events = self._emit(EventKind.WITHDRAWN, a, amount=m)
        reindex(self._kernel_state(), a)
        return events

    def available_micros(self, account: int) -> int:
        """What could be withdrawn: wallet (plus open PnL when cross) above the initial margin."""
        a = self._check_account(account)
        p, mark = int(self.acc.pos[a]), int(self.meta[MARK])
        if self.acc.flags[a] & ISOLATED:
            return max(0, int(self.acc.wallet[a]))
        lev = max(1, int(self.acc.leverage[a]))
        im = -(-abs(p) * mark * self.k // lev)
        upnl = min(0, p * mark * self.k - int(self.acc.cost[a]))
        return max(0, int(self.acc.wallet[a]) + upnl - im)

    def set_leverage(self, account: int, leverage: int) -> None:
        """Choose the leverage for new exposure (initial margin = notional / leverage)."""
        a = self._check_account(account)
        max_lev = int(self.instrument.tiers[0].max_leverage)
        if (
            isinstance(leverage, bool)
            or not isinstance(leverage, int)
            or not 1 <= leverage <= max_lev
        ):
            raise InvalidInputError("leverage", leverage, f"an integer from 1 to {max_lev}")
        self.acc.leverage[a] = leverage

    # ---- funding ------------------------------------------------------------------------------

    def sample_premium(self) -> int:
        """Take one premium sample from the book's impact prices (ppb); returns it."""
        index = int(self.meta[INDEX])
        lots = max(1, int(self._impact_micros // (index * self.k)))
        fb, tb = bk.walk(self.book, -1, lots, self.min_tick)
        fa, ta = bk.walk(self.book, 1, lots, self.max_tick)
        impact_bid = fnd.impact_price_ticks(fb, tb, lots, -1)
        impact_ask = fnd.impact_price_ticks(fa, ta, lots, 1)
        if impact_bid == 0 or impact_ask == 0:
            premium = 0
        else:
            premium = fnd.premium_index_ppb(impact_bid, impact_ask, index)
        self._premium_sums = fnd.add_premium_sample(self._premium_sums, premium)
        return premium

    def settle_funding(self, rate_ppb: int | None = None) -> np.ndarray:
        """End a funding interval: fix the rate and move payments between longs and shorts.

        Without ``rate_ppb`` the rate comes from the premium samples taken since the last
        settlement (weights 1..n, later samples weigh more) by the rulebook's formula, clamp and
        cap. Payments net to zero exactly; rounding dust goes to the insurance fund.
        """
        if rate_ppb is None:
            rate_ppb = self.predicted_funding_ppb()
        self._premium_sums = (0, 0, 0)
        self.funding_rate_ppb = int(rate_ppb)
        events = [
            self._emit(EventKind.FUNDING_RATE_SET, amount=int(rate_ppb), price=int(self.meta[MARK]))
        ]
        n_acc = int(self.meta[N_ACCOUNTS])
        pos = self.acc.pos[:n_acc]
        payments, dust = fnd.funding_payments_micros(
            pos, int(self.meta[MARK]), self.k, int(rate_ppb)
        )
        payments = np.asarray(payments, np.int64)
        iso = (self.acc.flags[:n_acc] & ISOLATED) != 0
        self.acc.iso_margin[:n_acc] += np.where(iso, payments, 0)
        self.acc.wallet[:n_acc] += np.where(iso, 0, payments)
        self.acc.wallet[INSURANCE_FUND] += dust
        paid = np.flatnonzero(payments)
        mark = int(self.meta[MARK])
        events.append(
            self._bulk_events(
                EventKind.FUNDING_PAID,
                paid,
                side=np.sign(pos[paid]),
                price=mark,
                qty=pos[paid],
                notional=np.abs(pos[paid]) * mark * self.k,
                amount=payments[paid],
            )
        )
        if dust:
            events.append(self._emit(EventKind.FUNDING_PAID, INSURANCE_FUND, amount=int(dust)))
        reindex_all(*self._state, n_acc)
        return np.concatenate(events)

    # ---- liquidations ------------------------------------------------------------------------

    def run_liquidations(self) -> np.ndarray:
        """Cascade rounds at the current mark until a round finds no one; then the fund unloads.

        Between rounds the mark is recomputed (forced fills move the last price, which Binance's
        median mark follows), so one price break can take several rounds. With
        ``keep_events=False`` the returned array is a view of a buffer that the next call reuses.
        """
        if int(self.acc.pos[INSURANCE_FUND]) == 0 and liq_index.reaches_none(
            self.index, int(self.meta[MARK])
        ):  # no account reached and nothing to unload: the rounds would only do this
            reset_queues(self.index)
            return np.empty(0, EVENT_DTYPE)
        events = self.cascade()
        unloaded = self._unload_fund()
        return np.concatenate([events, unloaded]) if len(unloaded) else events

    def cascade(self) -> np.ndarray:
        """The compiled cascade rounds of :meth:`run_liquidations`, whether or not an account is
        reached, without the fund's unloading (:mod:`margincall.venue.warm` compiles them
        through this on a venue with nothing to liquidate)."""
        c = self._progress
        c[liq.P1], c[liq.P2] = self._mark_inputs
        c[liq.FOLLOW_LAST] = self.rulebook.mark == "median"
        keep = self.log.keep
        out = self._buffer() if keep else self._liq_out
        rounds = self._kernel_state(out)
        accounts = order = self._cand[:0]
        while True:
            out, self._bout, self._cand, accounts, order = liquidation_rounds(
                rounds, self._cand, accounts, order, c
            )
            if c[liq.ADL_ACCOUNT] < 0:
                break
            # an account's waterfall needs ADL: compiled on its own, the first time it is needed
            out, self._bout = deleverage_account(self._state_into(out), int(c[liq.ADL_ACCOUNT]))
            rounds = self._state_into(out)
        if keep:
            return self._flush(out)
        # nothing is kept: reuse one buffer, and hand out a view the next call overwrites
        self._liq_out = out
        events = out[: int(self.meta[OUT_N])]
        self.log.extend(events)
        return events

    def _unload_fund(self) -> np.ndarray:
        """The fund sells what it took over into the book, inside the price band and never
        past its own bankruptcy price (where its money would be gone): an emptied fund keeps
        the rest of the position, and while its equity is below zero it takes nothing more
        over, so the next losses go to ADL (:func:`margincall.venue.liquidation._takeover`)."""
        f = INSURANCE_FUND
        p = int(self.acc.pos[f])
        if p == 0:
            return np.empty(0, EVENT_DTYPE)
        mark = int(self.meta[MARK])
        side = -1 if p > 0 else 1
        limit = band_limit_ticks(mark, int(self.params[P.BAND_PPM]), side)
        # money + p * k * price - cost >= 0: the price the fund's equity reaches zero at
        short_of = int(self.acc.cost[f]) - int(self.acc.wallet[f]) - int(self.acc.rest[f])
        lot_value = p * self.k
        bankrupt = -(-short_of // lot_value) if p > 0 else short_of // lot_value
        limit = max(limit, bankrupt) if p > 0 else min(limit, bankrupt)
        limit = min(max(limit, self.min_tick), self.max_tick)
        _, self._bout, nb = bk.submit(
            self.book, INSURANCE_FUND, side, limit, abs(p), bk.TIF_IOC, bk.STP_NONE, self._bout, 0
        )
        return self._settle(nb)

    # ---- snapshots -----------------------------------------------------------------------------

    def predicted_funding_ppb(self) -> int:
        """The funding rate the premium samples taken so far in this interval point to."""
        rb, inst = self.rulebook, self.instrument
        n, total, weighted = self._premium_sums
        if rb.funding_formula == "dydx":
            return fnd.dydx_funding_rate_ppb(
                n,
                total,
                inst.funding_interest_ppb,
                inst.funding_clamp_ppb,
                rb.funding_interval_hours,
            )
        return fnd.funding_rate_ppb(
            fnd.weighted_premium_ppb(n, weighted),
            inst.funding_interest_ppb,
            inst.funding_clamp_ppb,
            rb.funding_interval_hours,
            inst.funding_cap_ppb,
        )
