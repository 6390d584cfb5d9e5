"""The venue's arrays, the plumbing between them and the compiled kernels, and read-only views.

:class:`~margincall.venue.engine.Venue` builds the state; this base class holds what every part
of it uses: the kernel state handle (:class:`~margincall.venue.state.VenueState`), the event
buffers, events written from Python, argument checks, and the queries that change nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

from margincall.core.errors import InvalidInputError
from margincall.core.units import Number, Scale, micros_to_usd, usd_to_micros
from margincall.events.log import EventLog
from margincall.events.schema import EVENT_DTYPE, EventKind
from margincall.venue import book as bk
from margincall.venue import params as P
from margincall.venue.accounts import (
    BOOK_N,
    DEPOSITS,
    FEES,
    INDEX,
    ISOLATED,
    LAST,
    MARK,
    N_ACCOUNTS,
    OUT_N,
    PORTFOLIO,
    SEQ,
    TS,
    UNCOVERED,
    Accounts,
)
from margincall.venue.instrument import Instrument, Rulebook
from margincall.venue.ledger import INSURANCE_FUND, collateral
from margincall.venue.liq_index import LiqIndex
from margincall.venue.orders import (
    position_stats,
)
from margincall.venue.state import Tiers, VenueState

MAX_ROUNDS = 100
"""Liquidation rounds per :meth:`Venue.run_liquidations` call unless :attr:`Venue.max_rounds`
is set."""
EVENT_BLOCK = 1 << 17
"""Events per block of a venue's event memory (about 11 MB). Kernels write their events in place
into it and the log keeps them there: one large block gets huge pages, so writing millions of
events does not take a page fault every few dozen."""


class VenueBase:
    """The state of one venue and what reads it; see :class:`~margincall.venue.engine.Venue`."""

    rulebook: Rulebook
    instrument: Instrument
    scale: Scale
    min_tick: int
    max_tick: int
    params: np.ndarray
    tiers: Tiers
    k: int
    capacity: int
    acc: Accounts
    book: bk.BookState
    index: LiqIndex
    meta: np.ndarray
    log: EventLog
    _block: np.ndarray
    _free: int
    _room: np.ndarray
    _liq_out: np.ndarray
    _bout: np.ndarray

    def predicted_funding_ppb(self) -> int:
        raise NotImplementedError  # the venue's funding rule (engine.Venue)

    # ---- plumbing ------------------------------------------------------------------------

    def _kernel_state(self, out: np.ndarray | None = None, records: int = 0) -> VenueState:
        """What every kernel takes: the state writing events into ``out`` from its start (the
        spare liquidation buffer when None), with ``records`` book records waiting in the
        book-record buffer to be settled."""
        self.meta[OUT_N] = 0
        self.meta[BOOK_N] = records
        return VenueState(
            self.acc,
            self.index,
            self.book,
            self.meta,
            self.params,
            self.tiers,
            self._liq_out if out is None else out,
            self._bout,
        )

    def _state_into(self, out: np.ndarray) -> VenueState:
        """The state writing on into ``out`` after the ``meta[OUT_N]`` events already there (a
        kernel called again within one operation)."""
        return VenueState(
            self.acc, self.index, self.book, self.meta, self.params, self.tiers, out, self._bout
        )

    @property
    def _state(self) -> tuple[VenueState]:
        """``(state,)``, so that ``kernel(*self._state, ...)`` passes the state first."""
        return (self._kernel_state(),)

    def _buffer(self, size: int = 64) -> np.ndarray:
        """Room for at least ``size`` events for one kernel call: the free end of the current
        event block (kernels grow it when they need more)."""
        if self._block.shape[0] - self._free < size:
            self._block = np.empty(max(EVENT_BLOCK, size), EVENT_DTYPE)
            self._free = 0
        self._room = self._block[self._free :]
        return self._room

    def _flush(self, out: np.ndarray) -> np.ndarray:
        """The events a kernel wrote into ``out`` (``meta[OUT_N]`` of them), into the log."""
        n = int(self.meta[OUT_N])
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
    def max_rounds(self) -> int:
        """Liquidation rounds per :meth:`run_liquidations` call, at most."""
        return int(self.params[P.MAX_ROUNDS])

    @max_rounds.setter
    def max_rounds(self, rounds: int) -> None:
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise InvalidInputError("max_rounds", rounds, "a positive number of rounds")
        self.params[P.MAX_ROUNDS] = rounds

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

    # ---- depth and snapshots ------------------------------------------------------------

    def depth_micros(self, fraction: float = 0.01) -> tuple[int, int, int]:
        """``(mid, bids, asks)``: the book mid in ticks and the resting notional within
        ``fraction`` of it on each side (micro-dollars)."""
        bid, ask = bk.best_prices(self.book)
        mid = (bid + ask) // 2 if bid and ask else (bid or ask or int(self.meta[MARK]))
        width = int(mid * fraction)
        bids = int(bk.depth_ticklots(self.book, 1, mid, mid - width)) * self.k
        asks = int(bk.depth_ticklots(self.book, -1, mid, mid + width)) * self.k
        return mid, bids, asks

    def snapshot(self, stats: tuple[int, int, int] | None = None) -> np.ndarray:
        """Record the state the reports need as events: ±1% depth, open interest, the insurance
        fund, accounts long and short, and the funding rate in the making. ``stats``: the
        ``(open interest lots, accounts long, accounts short)`` when the caller keeps them
        (else a scan of every account)."""
        if stats is None:
            stats = position_stats(self.acc.pos, int(self.meta[N_ACCOUNTS]))
        oi, longs, shorts = stats
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
        flags = self.acc.flags[:n]
        coll = np.where(flags & ISOLATED, self.acc.iso_margin[:n], self.acc.wallet[:n])
        coll[INSURANCE_FUND] += self.acc.rest[INSURANCE_FUND]  # a shared fund: what others lend
        # a portfolio leg's wallet holds the leg's cash flows only: the portfolio checks accounts
        alone = (self.acc.pos[:n] == 0) & (coll < 0) & ((flags & PORTFOLIO) == 0)
        flat_negative = int(-coll[alone].sum())
        if flat_negative > self.meta[UNCOVERED]:
            raise InvariantViolation(
                f"{flat_negative} micro-dollars below zero without a covering event"
            )

    def digest(self) -> str:
        """SHA-256 of the canonical event log so far."""
        return self.log.digest()
