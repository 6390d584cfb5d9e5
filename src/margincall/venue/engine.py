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

from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np

from margincall.core.errors import InvalidInputError
from margincall.core.rng import RngTree
from margincall.core.units import Number, micros_to_usd, to_decimal, usd_to_micros
from margincall.events.log import EventLog
from margincall.events.schema import EVENT_DTYPE, EventKind, RejectReason
from margincall.venue import book as bk
from margincall.venue import funding as fnd
from margincall.venue import liq_index
from margincall.venue import mark as mk
from margincall.venue import params as P
from margincall.venue.accounts import (
    DEPOSITS,
    EXISTS,
    FEES,
    INDEX,
    ISOLATED,
    LAST,
    MARK,
    META_SIZE,
    N_ACCOUNTS,
    RNG,
    SEQ,
    TS,
    UNCOVERED,
    account_rows,
    new_accounts,
)
from margincall.venue.instrument import Instrument, Rulebook, load_rulebook
from margincall.venue.ledger import (
    INSURANCE_FUND,
    Tiers,
    collateral,
    reindex,
)
from margincall.venue.liquidation import liquidation_rounds
from margincall.venue.orders import (
    bad_batch_column,
    place_order,
    place_orders,
    position_stats,
    reindex_all,
    settle_book_entry,
)
from margincall.venue.orders import block_trades as block_trades_kernel

_TIF = {"gtc": bk.TIF_GTC, "ioc": bk.TIF_IOC, "fok": bk.TIF_FOK, "post_only": bk.TIF_POST_ONLY}
_STP = {
    "none": bk.STP_NONE,
    "expire_taker": bk.STP_EXPIRE_TAKER,
    "expire_maker": bk.STP_EXPIRE_MAKER,
    "expire_both": bk.STP_EXPIRE_BOTH,
}
_SIDE = {"buy": 1, "sell": -1, "long": 1, "short": -1}
_K_FILLED = int(EventKind.ORDER_FILLED)
PPB = 1_000_000_000
EVENT_BLOCK = 1 << 17
"""Events per block of a venue's event memory (about 11 MB). Kernels write their events in place
into it and the log keeps them there: one large block gets huge pages, so writing millions of
events does not take a page fault every few dozen."""


def build_params(
    rulebook: Rulebook, inst: Instrument, min_tick: int, max_tick: int, max_rounds: int
) -> np.ndarray:
    """The rulebook as the int64 parameter array the kernels read (see :mod:`params`)."""
    liq = rulebook.liquidation
    p = np.zeros(P.SIZE, np.int64)
    p[P.K] = inst.scale.micros_per_tick_lot
    p[P.MAKER_FEE_PPM] = inst.maker_fee_ppm
    p[P.TAKER_FEE_PPM] = inst.taker_fee_ppm
    p[P.LIQ_FEE_PPM] = inst.liquidation_fee_ppm
    p[P.POLICY] = P.POLICIES[liq["policy"]]
    p[P.STRICT] = 1 if liq["policy"] in ("dydx", "hyperliquid") else 0
    p[P.BAND_PPM] = int(inst.price_band * 1_000_000)
    p[P.PARTIAL_THRESHOLD] = usd_to_micros(liq.get("partial_threshold_usd", 0))
    p[P.PARTIAL_PPM] = int(Decimal(str(liq.get("partial_fraction", 1))) * 1_000_000)
    backstop = Fraction(str(liq.get("backstop_ratio", 0)))
    p[P.BACKSTOP_NUM], p[P.BACKSTOP_DEN] = backstop.numerator, backstop.denominator
    p[P.BA_PPM] = int(liq.get("bankruptcy_adjustment_ppm", 1_000_000))
    p[P.SMMR_PPM] = int(liq.get("spread_to_maintenance_margin_ratio_ppm", 0))
    p[P.MAX_LIQ_FEE_PPM] = int(liq.get("max_liquidation_fee_ppm", 0))
    p[P.PORTION_PPM] = int(liq.get("max_position_portion_ppm", 1_000_000))
    p[P.MIN_NOTIONAL] = usd_to_micros(liq.get("min_position_notional_usd", 0))
    p[P.ADL] = P.ADL_RANKINGS[rulebook.adl_ranking]
    p[P.COOLDOWN_NS] = int(liq.get("partial_cooldown_seconds", 0)) * 1_000_000_000
    p[P.MAX_ROUNDS] = max_rounds
    p[P.ADL_AT_MARK] = 1 if rulebook.adl_close_price in ("mark", "oracle") else 0
    step_down = liq.get("partial_to_lower_tier", False) or liq.get("high_tier_order_type") == "fok"
    p[P.STEP_DOWN] = 1 if step_down else 0
    cap = liq.get("max_notional_liquidated_per_block_usd")
    p[P.BLOCK_NOTIONAL_CAP] = usd_to_micros(cap) if cap is not None else np.iinfo(np.int64).max
    p[P.MIN_TICK] = min_tick
    p[P.MAX_TICK] = max_tick
    return p


def build_tiers(inst: Instrument) -> Tiers:
    """The instrument's margin tiers as the integer arrays the kernels read."""
    return Tiers(
        floor=np.ascontiguousarray(inst.tier_floor_micros, dtype=np.int64),
        mmr_ppm=np.ascontiguousarray(inst.tier_mmr_ppm, dtype=np.int64),
        cum=np.ascontiguousarray(inst.tier_cum_micros, dtype=np.int64),
        imr_ppm=np.ascontiguousarray(inst.tier_imr_ppm, dtype=np.int64),
    )


def _venue_sequence(seed: int | RngTree | np.random.SeedSequence) -> np.random.SeedSequence:
    """The venue's random stream: a given seed-tree child, or an integer seed's ``"venue"`` child
    (the same stream as ``RngTree(seed).child("venue")``)."""
    if isinstance(seed, RngTree):
        return seed.sequence
    if isinstance(seed, np.random.SeedSequence):
        return seed
    return RngTree(seed).child("venue").sequence


class Venue:
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
        max_rounds: liquidation rounds per :meth:`run_liquidations` call.
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
        max_rounds: int = 100,
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
        self.params = build_params(
            self.rulebook, self.instrument, self.min_tick, self.max_tick, max_rounds
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
        self._basis: list[int] = []
        # premium samples of the current funding interval: count, sum, sum weighted by 1..n
        self._premium_sums = (0, 0, 0)
        self._impact_micros = usd_to_micros(self.instrument.impact_notional_usd)
        self.funding_rate_ppb = 0
        self._mark_inputs = (index, index)
        # account 0: the insurance fund (and Hyperliquid's backstop vault)
        self.open_account(insurance_fund_usd, leverage=1)

    # ---- plumbing ------------------------------------------------------------------------

    @property
    def _state(self) -> tuple[Any, ...]:
        """What every kernel takes, in order: accounts, index, book, meta, params, tiers."""
        return (self.acc, self.index, self.book, self.meta, self.params, self.tiers)

    def _buffer(self, size: int = 64) -> np.ndarray:
        """Room for at least ``size`` events for one kernel call: the free end of the current
        event block (kernels grow it when they need more)."""
        if self._block.shape[0] - self._free < size:
            self._block = np.empty(max(EVENT_BLOCK, size), EVENT_DTYPE)
            self._free = 0
        self._room = self._block[self._free :]
        return self._room

    def _flush(self, out: np.ndarray, n: int) -> np.ndarray:
        if out is self._room:  # written in place (numba hands back the array it was given)
            records = out[:n]  # the block holds them
            self._free += n
        else:  # the kernel grew its buffer; a small result would pin it whole: copy it out
            records = out[:n] if 2 * n >= out.shape[0] else out[:n].copy()
        self.log.extend(records, owned=True)
        return records

    def _emit(
        self,
        kind: EventKind,
        account: int = -1,
        *,
        reason: int = 0,
        side: int = 0,
        price: int = 0,
        qty: int = 0,
        amount: int = 0,
        order_id: int = -1,
        notional: int | None = None,
    ) -> np.ndarray:
        # built here in numpy: the same record the compiled emit writes, without a kernel call
        rec = np.array(
            [
                (
                    self.meta[TS],
                    self.meta[SEQ],
                    kind,
                    reason,
                    self.params[P.INSTRUMENT],
                    side,
                    0,  # liquidity
                    0,  # round
                    account,
                    -1,  # counterparty
                    order_id,
                    price,
                    qty,
                    abs(qty * price * self.k) if notional is None else notional,
                    amount,
                )
            ],
            EVENT_DTYPE,
        )
        self.meta[SEQ] += 1
        self.log.extend(rec, owned=True)
        return rec

    def _bulk_events(self, kind: EventKind, accounts: np.ndarray, **columns: Any) -> np.ndarray:
        """One event per account, built column-wise (millions of accounts, no loop)."""
        n = len(accounts)
        rec = np.zeros(n, EVENT_DTYPE)
        rec["ts_ns"] = self.meta[TS]
        rec["seq"] = np.arange(self.meta[SEQ], self.meta[SEQ] + n)
        rec["kind"] = int(kind)
        rec["account"] = accounts
        rec["counterparty"] = rec["order_id"] = -1
        for name, values in columns.items():
            rec[name] = values
        self.meta[SEQ] += n
        self.log.extend(rec, owned=True)
        return rec

    def _check_account(self, account: int, field: str = "account") -> int:
        if (
            isinstance(account, bool)
            or not isinstance(account, int | np.integer)
            or not 0 <= account < self.meta[N_ACCOUNTS]
        ):
            raise InvalidInputError(
                field, account, f"an open account id in 0..{self.meta[N_ACCOUNTS] - 1}"
            )
        return int(account)

    def _money(self, amount: Number, field: str) -> int:
        try:
            micros = (
                usd_to_micros(amount, "exact")
                if not isinstance(amount, float)
                else usd_to_micros(amount)
            )
        except InvalidInputError:
            raise InvalidInputError(
                field, amount, "a positive whole number of micro-dollars"
            ) from None
        if micros <= 0:
            raise InvalidInputError(field, amount, "a positive amount of dollars")
        return micros

    # ---- clock and prices ----------------------------------------------------------------

    @property
    def now_ns(self) -> int:
        """Simulated time of the current step, ns."""
        return int(self.meta[TS])

    @property
    def index_ticks(self) -> int:
        """Index (oracle) price, ticks."""
        return int(self.meta[INDEX])

    @property
    def mark_ticks(self) -> int:
        """Mark price, ticks."""
        return int(self.meta[MARK])

    @property
    def last_ticks(self) -> int:
        """Last trade price, ticks (0 before the first trade)."""
        return int(self.meta[LAST])

    @property
    def n_accounts(self) -> int:
        """Accounts opened so far (account 0, the insurance fund, included)."""
        return int(self.meta[N_ACCOUNTS])

    def resting_lots(self) -> np.ndarray:
        """Resting lots per price level: a read-only ``(2, ticks)`` view, row 0 bids and row 1
        asks, column ``j`` the price ``min_tick + j``."""
        view = self.book.levels[:, :, bk.L_LOTS]
        view.flags.writeable = False
        return view

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

    def update_mark(self) -> np.ndarray:
        """Recompute the mark by the rulebook's method; emits an event when it changes.

        ``median`` (Binance): median of index x (1 + funding basis), index + moving average of
        (book mid - index) over the last 30 samples, and the last trade. ``fair`` (BitMEX):
        index x (1 + funding basis). ``oracle`` (dYdX, Hyperliquid): the oracle price.
        """
        index = int(self.meta[INDEX])
        method = self.rulebook.mark
        if method == "oracle":
            mark = index
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
        reindex(self.acc, self.index, a, self.params, self.tiers)
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
        reindex(self.acc, self.index, a, self.params, self.tiers)
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

    # ---- orders ------------------------------------------------------------------------------

    def submit_order(
        self,
        account: int,
        side: str,
        qty: Number,
        price: Number | None = None,
        *,
        tif: str = "gtc",
        reduce_only: bool = False,
        stp: str = "expire_maker",
    ) -> np.ndarray:
        """Submit a limit order, or a market order when ``price`` is None; returns its events.

        A market order is an IOC limited to the rulebook's price band around the mark.
        Off-lot sizes and off-tick prices are refused with an ORDER_REJECTED event.
        """
        if side not in _SIDE:
            raise InvalidInputError("side", side, "'buy' or 'sell'")
        if tif not in _TIF:
            raise InvalidInputError("tif", tif, f"one of {', '.join(_TIF)}")
        if stp not in _STP:
            raise InvalidInputError("stp", stp, f"one of {', '.join(_STP)}")
        s = _SIDE[side]
        qd = to_decimal(qty, "qty")
        lots_exact = qd / self.scale.lot_size
        lots = int(lots_exact) if lots_exact == lots_exact.to_integral_value() else None
        if price is None:
            mark = int(self.meta[MARK])
            band = mark * int(self.params[P.BAND_PPM]) // 1_000_000
            limit = mark + band if s > 0 else mark - band
            ticks: int | None = min(max(limit, self.min_tick), self.max_tick)
            tif_code = bk.TIF_IOC
        else:
            pd = to_decimal(price, "price")
            t_exact = pd / self.scale.tick_size
            ticks = int(t_exact) if t_exact == t_exact.to_integral_value() else None
            tif_code = _TIF[tif]
        if lots is None or ticks is None:
            reason = RejectReason.OFF_LOT if lots is None else RejectReason.OFF_TICK
            return self._emit(EventKind.ORDER_REJECTED, int(account), reason=int(reason), side=s)
        _, out, n, self._bout = place_order(  # type: ignore[call-arg]
            *self._state,
            self._buffer(),
            0,
            self._bout,
            int(account),
            s,
            ticks,
            lots,
            tif_code,
            _STP[stp],
            reduce_only,
            int(self.params[P.TAKER_FEE_PPM]),
        )
        return self._flush(out, n)

    def submit_orders(
        self,
        accounts: np.ndarray,
        sides: np.ndarray,
        lots: np.ndarray,
        prices: np.ndarray,
        *,
        tifs: np.ndarray | None = None,
        reduce_only: np.ndarray | None = None,
        cancel_first: Sequence[int] = (),
    ) -> np.ndarray:
        """Many orders in one call, in array order, each handled exactly as :meth:`submit_order`.

        Integer arrays: ``sides`` +1/-1, ``lots`` in lots, ``prices`` in ticks (0: a market
        order), ``tifs`` ``TIF_*`` codes of :mod:`margincall.venue.book` (default GTC),
        ``reduce_only`` booleans. Every resting order of the accounts ``cancel_first`` is
        cancelled before them, as :meth:`cancel_accounts` does. This is how agents' commands
        reach the book at scale.
        """
        for i, a in enumerate(cancel_first):
            self._check_account(a, f"cancel_first[{i}]")
        n = len(accounts)
        arrays = {
            "accounts": np.ascontiguousarray(accounts, np.int64),
            "sides": np.ascontiguousarray(sides, np.int64),
            "lots": np.ascontiguousarray(lots, np.int64),
            "prices": np.ascontiguousarray(prices, np.int64),
            "tifs": np.ascontiguousarray(np.zeros(n, np.int64) if tifs is None else tifs, np.int64),
            "reduce_only": np.ascontiguousarray(
                np.zeros(n, np.bool_) if reduce_only is None else reduce_only, np.bool_
            ),
        }
        for name, arr in arrays.items():
            if arr.shape != (n,):
                raise InvalidInputError(name, arr.shape, f"a 1-d array of {n} values")
        if n == 0 and not cancel_first:
            return np.empty(0, EVENT_DTYPE)
        bad = bad_batch_column(arrays["sides"], arrays["tifs"], arrays["prices"])
        if bad >= 0:
            name, expected = (
                ("sides", "+1 (buy) or -1 (sell) values"),
                ("tifs", "TIF_* codes 0..3"),
                ("prices", "ticks >= 0 (0: market)"),
            )[bad]
            raise InvalidInputError(name, arrays[name], expected)
        _, out, m, self._bout = place_orders(  # type: ignore[call-arg]
            *self._state,
            self._buffer(max(64, 4 * n)),
            0,
            self._bout,
            np.array(cancel_first, np.int64),
            arrays["accounts"],
            arrays["sides"],
            arrays["prices"],
            arrays["lots"],
            arrays["tifs"],
            _STP["expire_maker"],
            arrays["reduce_only"],
            int(self.params[P.TAKER_FEE_PPM]),
        )
        return self._flush(out, m)

    def cancel_accounts(self, accounts: Sequence[int]) -> np.ndarray:
        """Cancel every resting order of each account (in order), settled in one call."""
        for i, a in enumerate(accounts):
            self._check_account(a, f"accounts[{i}]")
        none = np.empty(0, np.int64)
        return self.submit_orders(none, none, none, none, cancel_first=accounts)

    def cancel_order(self, order_id: int) -> np.ndarray:
        """Cancel a resting order (an unknown id gives ORDER_REJECTED / UNKNOWN_ORDER)."""
        self._bout, nb = bk.cancel(self.book, int(order_id), self._bout, 0)
        return self._settle(nb)

    def amend_order(self, order_id: int, qty: Number) -> np.ndarray:
        """Change a resting order's size (smaller keeps its queue place)."""
        qd = to_decimal(qty, "qty") / self.scale.lot_size
        if qd != qd.to_integral_value():
            return self._emit(
                EventKind.ORDER_REJECTED, reason=int(RejectReason.OFF_LOT), order_id=int(order_id)
            )
        self._bout, nb = bk.amend(self.book, int(order_id), int(qd), self._bout, 0)
        return self._settle(nb)

    def cancel_all(self, account: int) -> np.ndarray:
        """Cancel every resting order of an account."""
        a = self._check_account(account)
        self._bout, nb = bk.cancel_account(self.book, a, self._bout, 0)
        return self._settle(nb)

    def _settle(self, nb: int) -> np.ndarray:
        out, n, _, _ = settle_book_entry(  # type: ignore[call-arg]
            *self._state,
            self._buffer(),
            0,
            self._bout,
            nb,
            _K_FILLED,
            int(self.params[P.TAKER_FEE_PPM]),
            0,
        )
        return self._flush(out, n)

    def block_trades(
        self, accounts: np.ndarray, lots: np.ndarray, price: Number, counterparty: int
    ) -> np.ndarray:
        """Off-book trades between many accounts and one counterparty at one price.

        How a starting state is built (as an opening auction would): account ``accounts[i]``
        trades ``lots[i]`` (signed: positive buys) with ``counterparty``, no fees. Each side is
        margin-checked like an order; a trade that fails is refused with an event.
        """
        c = self._check_account(counterparty, "counterparty")
        acc_ids = np.asarray(accounts, dtype=np.int64)
        sizes = np.asarray(lots, dtype=np.int64)
        if acc_ids.shape != sizes.shape:
            raise InvalidInputError(
                "lots", sizes.shape, f"the same shape as accounts {acc_ids.shape}"
            )
        bad = (acc_ids < 1) | (acc_ids >= self.meta[N_ACCOUNTS]) | (acc_ids == c)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InvalidInputError(
                f"accounts[{i}]", int(acc_ids[i]), "an open account other than the counterparty"
            )
        if (sizes == 0).any():
            i = int(np.flatnonzero(sizes == 0)[0])
            raise InvalidInputError(f"lots[{i}]", 0, "a non-zero number of lots")
        ticks = self.scale.price_to_ticks(price)
        out, n = block_trades_kernel(  # type: ignore[call-arg]
            *self._state,
            self._buffer(),
            0,
            acc_ids,
            sizes,
            ticks,
            c,
        )
        return self._flush(out, n)

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
        reindex_all(*self._state, n_acc)  # type: ignore[call-arg]
        return np.concatenate(events)

    # ---- liquidations ------------------------------------------------------------------------

    def run_liquidations(self) -> np.ndarray:
        """Cascade rounds at the current mark until a round finds no one; then the fund unloads.

        Between rounds the mark is recomputed (forced fills move the last price, which Binance's
        median mark follows), so one price break can take several rounds. With
        ``keep_events=False`` the returned array is a view of a buffer that the next call reuses.
        """
        follow = self.rulebook.mark == "median"
        p1, p2 = self._mark_inputs
        keep = self.log.keep
        out, n, self._bout, self._cand, _, _ = liquidation_rounds(  # type: ignore[call-arg]
            *self._state,
            self._buffer() if keep else self._liq_out,
            0,
            self._bout,
            self._cand,
            p1,
            p2,
            follow,
        )
        if keep:
            events = self._flush(out, n)
        else:  # nothing is kept: reuse one buffer, and hand out a view the next call overwrites
            self._liq_out = out
            events = out[:n]
            self.log.extend(events)
        unloaded = self._unload_fund()
        return np.concatenate([events, unloaded]) if len(unloaded) else events

    def _unload_fund(self) -> np.ndarray:
        """The fund sells what it took over into the book, inside the price band."""
        p = int(self.acc.pos[INSURANCE_FUND])
        if p == 0:
            return np.empty(0, EVENT_DTYPE)
        mark = int(self.meta[MARK])
        band = mark * int(self.params[P.BAND_PPM]) // 1_000_000
        side = -1 if p > 0 else 1
        limit = min(max(mark - band if p > 0 else mark + band, self.min_tick), self.max_tick)
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

    def depth_micros(self, fraction: float = 0.01) -> tuple[int, int, int]:
        """``(mid, bids, asks)``: the book mid in ticks and the resting notional within
        ``fraction`` of it on each side (micro-dollars)."""
        bid, ask = bk.best_prices(self.book)
        mid = (bid + ask) // 2 if bid and ask else (bid or ask or int(self.meta[MARK]))
        width = int(mid * fraction)
        bids = int(bk.depth_ticklots(self.book, 1, mid, mid - width)) * self.k
        asks = int(bk.depth_ticklots(self.book, -1, mid, mid + width)) * self.k
        return mid, bids, asks

    def snapshot(self) -> np.ndarray:
        """Record the state the reports need as events: ±1% depth, open interest, the insurance
        fund, accounts long and short, and the funding rate in the making."""
        n = int(self.meta[N_ACCOUNTS])
        oi, longs, shorts = position_stats(self.acc.pos, n)
        mid, bids, asks = self.depth_micros(0.01)
        mark = int(self.meta[MARK])
        f = INSURANCE_FUND
        fund = self.acc.iso_margin[f] if self.acc.flags[f] & ISOLATED else self.acc.wallet[f]
        rows = (  # kind, account, price, qty, notional, amount
            (EventKind.DEPTH_SNAPSHOT, -1, mid, 0, bids, asks),
            (EventKind.OPEN_INTEREST_SNAPSHOT, -1, mark, oi, oi * mark * self.k, 0),
            (EventKind.INSURANCE_FUND_SNAPSHOT, f, 0, 0, 0, int(fund)),
            (EventKind.ACCOUNTS_SNAPSHOT, -1, 0, longs, 0, shorts),
            (EventKind.FUNDING_SNAPSHOT, -1, 0, 0, 0, self.predicted_funding_ppb()),
        )
        ts, seq, instrument = (
            int(self.meta[TS]),
            int(self.meta[SEQ]),
            int(self.params[P.INSTRUMENT]),
        )
        rec = np.array(
            [
                (ts, seq + i, kind, 0, instrument, 0, 0, 0, a, -1, -1, price, qty, notional, amount)
                for i, (kind, a, price, qty, notional, amount) in enumerate(rows)
            ],
            EVENT_DTYPE,
        )
        self.meta[SEQ] += 5
        self.log.extend(rec, owned=True)
        return rec

    # ---- views -------------------------------------------------------------------------------

    @property
    def index_price(self) -> Decimal:
        return self.scale.ticks_to_price(int(self.meta[INDEX]))

    @property
    def mark_price(self) -> Decimal:
        return self.scale.ticks_to_price(int(self.meta[MARK]))

    @property
    def insurance_fund_usd(self) -> Decimal:
        return micros_to_usd(int(self.acc.wallet[INSURANCE_FUND]))

    @property
    def open_interest_lots(self) -> int:
        n = int(self.meta[N_ACCOUNTS])
        return int(self.acc.pos[:n][self.acc.pos[:n] > 0].sum())

    def position(self, account: int) -> dict[str, Any]:
        """One account's position and margin, in user units (Decimals)."""
        a = self._check_account(account)
        p, cost, mark = int(self.acc.pos[a]), int(self.acc.cost[a]), int(self.meta[MARK])
        coll = int(collateral(self.acc, a))
        entry = Decimal(cost) / (Decimal(p) * self.k) * self.scale.tick_size if p else Decimal(0)
        return {
            "qty": self.scale.lots_to_qty(p),
            "entry_price": entry,
            "wallet_usd": micros_to_usd(int(self.acc.wallet[a])),
            "isolated_margin_usd": micros_to_usd(int(self.acc.iso_margin[a])),
            "unrealized_pnl_usd": micros_to_usd(p * mark * self.k - cost),
            "margin_balance_usd": micros_to_usd(coll + p * mark * self.k - cost),
            "liquidation_key": self.scale.ticks_to_price(int(self.index.key[a]))
            if self.index.side[a]
            else None,
        }

    def ledger_gap(self) -> int:
        """Money identity residue; 0 whenever the ledger is right.

        sum(wallet + isolated margin) + venue fees - sum(entry cost) - net deposits.
        """
        n = int(self.meta[N_ACCOUNTS])
        held = (
            int(self.acc.wallet[:n].sum())
            + int(self.acc.iso_margin[:n].sum())
            + int(self.meta[FEES])
        )
        return held - int(self.acc.cost[:n].sum()) - int(self.meta[DEPOSITS])

    def check_invariants(self) -> None:
        """Raise :class:`InvariantViolation` if money, open interest or the book is wrong."""
        from margincall.core.errors import InvariantViolation

        n = int(self.meta[N_ACCOUNTS])
        if (gap := self.ledger_gap()) != 0:
            raise InvariantViolation(f"money is not conserved: ledger gap {gap} micro-dollars")
        if (net := int(self.acc.pos[:n].sum())) != 0:
            raise InvariantViolation(f"long and short open interest differ by {net} lots")
        bid, ask = bk.best_bid(self.book), bk.best_ask(self.book)
        if bid and ask and bid >= ask:
            raise InvariantViolation(f"the book is crossed at rest: bid {bid} >= ask {ask}")
        coll = np.where(self.acc.flags[:n] & ISOLATED, self.acc.iso_margin[:n], self.acc.wallet[:n])
        flat_negative = int(-coll[(self.acc.pos[:n] == 0) & (coll < 0)].sum())
        if flat_negative > self.meta[UNCOVERED]:
            raise InvariantViolation(
                f"{flat_negative} micro-dollars below zero without a covering event"
            )

    def digest(self) -> str:
        """SHA-256 of the canonical event log so far."""
        return self.log.digest()
