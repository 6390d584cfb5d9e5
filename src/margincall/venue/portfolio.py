"""A venue of several instruments with one set of accounts: cross margin over an account's legs,
collateral in several assets, and the rulebook's portfolio liquidation.

Each instrument is a :class:`~margincall.venue.engine.Venue` (its book, mark, funding, fund,
liquidation index and single-position waterfall); account ``a`` is row ``a`` of every one of
them. A cross account is a *portfolio* account: its rows carry the PORTFOLIO flag, its
settlement cash and collateral live here, and each leg's row books only the leg's own cash flows
(realised PnL, fees, funding). The instruments' kernels hand a portfolio account here wherever
they would check or key it (:func:`margincall.venue.liq_index.defer`); the compiled pass
(:mod:`margincall.venue.portfolio_pass`) evaluates it over all its legs
(:mod:`margincall.venue.portfolio_margin`) and either keys its legs again or liquidates it by
the rulebook's procedure (portfolio-margin.md R3, R4, R7). docs/portfolio-engine.md has the
design.

Events of every instrument go to one log in one sequence; account-level events (deposits,
collateral) carry instrument -1.

Example:
    >>> pv = PortfolioVenue("binance", {"BTCUSDT": 48_000, "ETHUSDT": 2_500})
    >>> mm = pv.open_account(10_000_000, leverage=5)
    >>> for sym, px, qty in (("BTCUSDT", 48_000, "10"), ("ETHUSDT", 2_500, "500")):
    ...     _ = pv.submit_order(mm, sym, "sell", qty, px)
    >>> a = pv.open_account(50_000)
    >>> _ = pv.submit_order(a, "BTCUSDT", "buy", "1")
    >>> _ = pv.submit_order(a, "ETHUSDT", "buy", "80")
    >>> pv.margin(a)  # micro-dollars: 50,000 USDT less 124 of fees; 192 + 1,635 USDT
    (49876000000, 1827000000)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import numpy as np

from margincall.core.errors import InvalidInputError
from margincall.core.rng import RngTree
from margincall.core.units import Number, micros_to_usd, to_decimal, usd_to_micros
from margincall.events.log import EventLog, join_records
from margincall.events.schema import EVENT_DTYPE, EventKind
from margincall.venue import liq_index
from margincall.venue import params as P
from margincall.venue import portfolio_margin as PM
from margincall.venue.accounts import EXISTS, MARK, N_ACCOUNTS, OUT_N, PORTFOLIO, SEQ, TS
from margincall.venue.book import BOOK_EVENT_DTYPE
from margincall.venue.engine import Venue
from margincall.venue.instrument import Rulebook, load_rulebook
from margincall.venue.ledger import INSURANCE_FUND
from margincall.venue.portfolio_checks import check_portfolio
from margincall.venue.portfolio_funds import fund_groups, lend_fund_rows
from margincall.venue.portfolio_handle import (
    handle_evaluate,
    handle_lend,
    handle_margin,
    make_handle,
    submit_and_evaluate,
)
from margincall.venue.portfolio_margin import PortfolioState, asset_value
from margincall.venue.portfolio_pass import next_block
from margincall.venue.portfolio_setup import to_isolated
from margincall.venue.position_tally import PositionTally, named_accounts


def _tier_arrays(specs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The assets' ratio tiers as ``[asset, tier]`` arrays (floors and cum in micro-units),
    padded with tiers that never start."""
    depth = max((len(spec.tiers) for spec in specs), default=1)
    floor = np.full((len(specs), depth), np.iinfo(np.int64).max, np.int64)
    ppm = np.zeros((len(specs), depth), np.int64)
    cum = np.zeros((len(specs), depth), np.int64)
    for c, spec in enumerate(specs):
        for t, tier in enumerate(spec.tiers):
            floor[c, t] = usd_to_micros(tier.floor)
            ppm[c, t] = spec.tier_ratio_ppm[t]
            cum[c, t] = int(tier.cum * 1_000_000)
    return floor, ppm, cum


def _positive_micros(field: str, value: Number) -> int:
    m = usd_to_micros(value)
    if m <= 0:
        raise InvalidInputError(field, value, "a positive price")
    return m


VOL_START = 1e-3
"""An instrument's move per block before any is seen (then an average of the moves seen)."""
VOL_DECAY = 0.8
"""Weight of the previous average in the next (per block)."""

MAX_PASSES = 1000
"""Evaluation passes per :meth:`PortfolioVenue.run_liquidations` before it stops (each pass
evaluates the accounts the instruments handed on; a cascade needs one per step of its chain)."""


class PortfolioVenue:
    """Several instruments of one exchange sharing accounts; see the module docstring.

    Args:
        rulebook: a rulebook name, path or loaded :class:`Rulebook`.
        prices: the instruments, in order, with their starting index prices.
        capacity: accounts the venue can hold (account 0 is each instrument's fund).
        insurance_fund_usd: each insurance fund's starting balance (instruments the
            rulebook's fund map puts in one fund share one; R9).
        collateral_prices: the collateral assets the accounts may hold besides the settlement
            asset (each one the rulebook defines, with its ratio tiers and conversion buffer),
            with their starting prices in dollars (``{"USDE": 1}``).
        seed: the venue's seed (an integer or a seed tree), one child per instrument.
        price_window: each instrument's book accepts prices in this range of its start price.
        keep_events: keep the event log in memory (else only count and hash it).
        reports_only: keep only the events reports read (:class:`~margincall.events.log.EventLog`).
    """

    def __init__(
        self,
        rulebook: str | Rulebook,
        prices: Mapping[str, Number],
        *,
        capacity: int = 1024,
        insurance_fund_usd: Number = 0,
        collateral_prices: Mapping[str, Number] | None = None,
        seed: int | RngTree = 0,
        price_window: tuple[float, float] = (0.25, 4.0),
        keep_events: bool = True,
        reports_only: bool = False,
    ) -> None:
        self.rulebook = rulebook if isinstance(rulebook, Rulebook) else load_rulebook(rulebook)
        if not 1 <= len(prices) <= PM.MAX_INSTRUMENTS:
            raise InvalidInputError(
                "prices", dict(prices), f"1 to {PM.MAX_INSTRUMENTS} instruments with their prices"
            )
        tree = seed if isinstance(seed, RngTree) else RngTree(seed).child("venue")
        self.symbols = tuple(prices)
        self.log = EventLog(keep=keep_events, reports_only=reports_only)
        self.legs: list[Venue] = []
        self.fund_ids = tuple(self.rulebook.fund_for(sym) for sym in self.symbols)
        for j, sym in enumerate(self.symbols):
            first = self.fund_ids.index(self.fund_ids[j]) == j  # a shared fund seeds once
            v = Venue(
                self.rulebook,
                sym,
                price=prices[sym],
                capacity=capacity,
                insurance_fund_usd=insurance_fund_usd if first else 0,
                seed=tree.child(sym),
                price_window=price_window,
                keep_events=keep_events,
            )
            v.params[P.INSTRUMENT] = j
            v.log = self.log
            self.legs.append(v)
        self.capacity = capacity + 1
        prices_in = dict(collateral_prices or {})
        specs = [self.rulebook.collateral_asset(name) for name in prices_in]
        for spec in specs:
            if spec.settlement:
                raise InvalidInputError(
                    "collateral_prices", spec.asset,
                    "assets besides the settlement asset (its cash is deposited with deposit())",
                )  # fmt: skip
        self.assets = tuple(spec.asset for spec in specs)
        n, cap = len(specs), self.capacity
        floor, ppm, cum = _tier_arrays(specs)
        self.pf = PortfolioState(
            cash=np.zeros(cap, np.int64),
            coll=np.zeros((cap, n), np.int64),
            price=np.array(
                [_positive_micros(f"collateral_prices.{k}", v) for k, v in prices_in.items()],
                np.int64,
            ),
            tier_floor=floor,
            tier_ppm=ppm,
            tier_cum=cum,
            buffer_ppm=np.array([spec.buffers_ppm[1] for spec in specs], np.int64),
            converted=np.zeros(n, np.int64),
            meta=np.zeros(PM.META_SIZE, np.int64),
            flags=np.zeros(cap, np.int8),
            vol=np.full(PM.MAX_INSTRUMENTS, VOL_START),
            pending=np.zeros(cap, np.int64),
            done=np.zeros(cap, np.int64),
            fund_group=fund_groups(self.fund_ids),
        )  # fmt: skip
        self._fund_group = self.pf.fund_group[: len(self.legs)].tolist()
        self.pf.meta[PM.STRICT] = self.legs[0].params[P.STRICT]
        self.pf.meta[PM.POLICY] = self.legs[0].params[P.POLICY]
        self.pf.meta[PM.N_LEGS] = len(self.legs)
        self._marks = [int(v.meta[MARK]) for v in self.legs]
        self.deposits = 0
        self.coll_deposits = np.zeros(n, np.int64)
        self._out = np.empty(1 << 10, EVENT_DTYPE)
        self._bout = np.zeros(1 << 10, BOOK_EVENT_DTYPE)
        self._h = make_handle(self._legs(), self.pf)  # the kernels' one argument for both
        self._tallies = [PositionTally(v.acc.pos) for v in self.legs if keep_events]
        self._tallied = self.log.kept  # the kept events the tallies have seen
        self._sync()

    # ---- one log, one sequence --------------------------------------------------------------

    def _sync(self, j: int | None = None) -> None:
        """Carry the log's sequence number into (``j`` given: out of) the instruments."""
        if j is not None:
            self.pf.meta[PM.SEQ] = self.legs[j].meta[SEQ]
        seq = self.pf.meta[PM.SEQ]
        for v in self.legs:
            v.meta[SEQ] = seq

    def _on(self, j: int, call, *args, **kwargs) -> np.ndarray:
        """Run a call on instrument ``j`` in the log's sequence."""
        self._sync()
        events = call(*args, **kwargs)
        self._sync(j)
        return events

    def _emit(self, kind: EventKind, account: int, **columns: int) -> np.ndarray:
        """One account-level event."""
        return self._bulk(kind, np.array([account], np.int64), **columns)

    def _bulk(self, kind: EventKind, accounts: np.ndarray, **columns: object) -> np.ndarray:
        """One account-level event per account, built column-wise."""
        n = len(accounts)
        rec = np.zeros(n, EVENT_DTYPE)
        seq = int(self.pf.meta[PM.SEQ])
        rec["ts_ns"] = self.legs[0].meta[TS]
        rec["seq"] = np.arange(seq, seq + n)
        rec["kind"] = int(kind)
        rec["instrument"] = -1
        rec["account"] = accounts
        rec["counterparty"] = rec["order_id"] = -1
        for name, values in columns.items():
            rec[name] = values
        self.pf.meta[PM.SEQ] = seq + n
        self._sync()
        self.log.extend(rec, owned=True)
        return rec

    # ---- accounts -----------------------------------------------------------------------------

    def _index(self, symbol: str) -> int:
        if symbol not in self.symbols:
            raise InvalidInputError("symbol", symbol, f"one of {', '.join(self.symbols)}")
        return self.symbols.index(symbol)

    def _asset(self, asset: str) -> int:
        if asset not in self.assets:
            raise InvalidInputError(
                "asset",
                asset,
                f"a collateral asset of the venue: {', '.join(self.assets) or 'none'}",
            )
        return self.assets.index(asset)

    def _check_account(self, account: int) -> int:
        n = int(self.legs[0].meta[N_ACCOUNTS])
        if isinstance(account, bool) or not isinstance(account, (int, np.integer)):
            raise InvalidInputError("account", account, "an account id")
        if not 1 <= int(account) < n:
            raise InvalidInputError("account", account, f"an open account id from 1 to {n - 1}")
        return int(account)

    def open_account(
        self, deposit_usd: Number = 0, *, collateral: Mapping[str, Number] | None = None,
        leverage: int = 20,
    ) -> int:  # fmt: skip
        """Open a cross (portfolio) account with settlement cash and collateral; returns its
        id (the same row on every instrument). ``leverage`` sets the initial margin of new
        exposure on every instrument, capped at each one's maximum."""
        if isinstance(leverage, bool) or not isinstance(leverage, int):
            raise InvalidInputError("leverage", leverage, "an integer")
        m = usd_to_micros(deposit_usd)
        if m < 0:
            raise InvalidInputError("deposit_usd", deposit_usd, "a non-negative amount")
        a = int(self.open_accounts(np.array([m], np.int64), leverage=leverage)[0])
        for asset, qty in (collateral or {}).items():
            self.deposit_collateral(a, asset, qty)
        return a

    def open_accounts(
        self, deposits_micros: np.ndarray, *, leverage: int | np.ndarray = 20
    ) -> np.ndarray:
        """Open many cross accounts at once (settlement cash in micro-dollars); returns their
        ids."""
        dep = np.asarray(deposits_micros, dtype=np.int64)
        first = int(self.legs[0].meta[N_ACCOUNTS])
        if first + len(dep) > self.capacity:
            raise InvalidInputError(
                "accounts", first + len(dep), f"at most {self.capacity - 1} accounts"
            )
        if (dep < 0).any():
            bad = int(np.flatnonzero(dep < 0)[0])
            raise InvalidInputError(f"deposits[{bad}]", int(dep[bad]), "a non-negative amount")
        lev = np.broadcast_to(np.asarray(leverage, dtype=np.int64), dep.shape)
        top = max(int(v.instrument.tiers[0].max_leverage) for v in self.legs)
        if ((lev < 1) | (lev > top)).any():
            bad = int(np.flatnonzero((lev < 1) | (lev > top))[0])
            raise InvalidInputError(
                f"leverage[{bad}]", int(lev[bad]), f"an integer from 1 to {top}"
            )
        ids = np.arange(first, first + len(dep), dtype=np.int64)
        for v in self.legs:
            v.acc.flags[ids] = EXISTS | PORTFOLIO
            v.acc.leverage[ids] = np.minimum(lev, int(v.instrument.tiers[0].max_leverage))
            v.meta[N_ACCOUNTS] = first + len(dep)
        self.pf.cash[ids] = dep
        self.deposits += int(dep.sum())
        self._bulk(EventKind.DEPOSITED, ids, amount=dep)
        return ids

    def deposit(self, account: int, amount_usd: Number) -> np.ndarray:
        """Add settlement-asset cash to an account."""
        a = self._check_account(account)
        m = usd_to_micros(amount_usd)
        if m < 0:
            raise InvalidInputError("amount_usd", amount_usd, "a non-negative amount")
        self.pf.cash[a] += m
        self.deposits += m
        events = self._emit(EventKind.DEPOSITED, a, amount=m)
        return join_records([events, self._evaluate([a])])

    def deposit_collateral(self, account: int, asset: str, qty: Number) -> np.ndarray:
        """Add ``qty`` units of a collateral asset to an account."""
        a = self._check_account(account)
        c = self._asset(asset)
        units = usd_to_micros(qty)  # micro-units: the same scaling as micro-dollars
        if units < 0:
            raise InvalidInputError("qty", qty, "a non-negative quantity")
        self.pf.coll[a, c] += units
        self.coll_deposits[c] += units
        events = self._emit(
            EventKind.COLLATERAL_DEPOSITED, a, qty=units, price=int(self.pf.price[c]),
            order_id=c, amount=asset_value(self.pf, c, units),
        )  # fmt: skip
        return join_records([events, self._evaluate([a])])

    def isolate(self, account: int, symbol: str, margin_usd: Number) -> np.ndarray:
        """Put an account's (flat) leg on ``symbol`` in isolated mode with ``margin_usd`` of its
        settlement cash: from then on the instrument margins and liquidates that leg alone, on
        that margin only, and it never counts in the account's cross equity or maintenance."""
        a = self._check_account(account)
        j = self._index(symbol)
        v = self.legs[j]
        if v.acc.pos[a] != 0 or not v.acc.flags[a] & PORTFOLIO:
            raise InvalidInputError(
                "symbol", symbol, f"a flat cross leg of account {a} (this one is open or isolated)"
            )
        m = usd_to_micros(margin_usd)
        e, _ = handle_margin(self._h, a)
        others = sum(-(-abs(int(w.acc.pos[a])) * int(w.meta[MARK]) * w.k  # cross legs' IM
                       // max(1, int(w.acc.leverage[a])))
                     for w in self.legs if w.acc.flags[a] & PORTFOLIO)  # fmt: skip
        if not 0 < m <= min(int(self.pf.cash[a]), e - others):
            raise InvalidInputError(
                "margin_usd", margin_usd,
                "a positive amount the account's cash and cross initial margin can spare",
            )  # fmt: skip
        events = [self._on(j, v.cancel_all, a)]
        events.append(to_isolated(self, j, np.array([a], np.int64), np.array([m], np.int64)))
        events.append(self._on(j, v.deposit, a, micros_to_usd(m)))
        events.append(self._evaluate([a]))
        return join_records(events)

    def set_collateral_price(self, asset: str, price_usd: Number) -> np.ndarray:
        """A new price for a collateral asset (from the source the rulebook names): every
        account holding it is re-marked at once."""
        c = self._asset(asset)
        price = usd_to_micros(price_usd)
        if price <= 0:
            raise InvalidInputError("price_usd", price_usd, "a positive price")
        self.pf.price[c] = price
        events = [self._emit(EventKind.COLLATERAL_REMARKED, -1, price=price, order_id=c)]
        events.append(self._evaluate(np.flatnonzero(self.pf.coll[:, c])))
        return join_records(events)

    def set_collateral_sources(
        self, asset: str, *, own_book: Number = 0, index: Number = 0, redemption: Number = 0
    ) -> np.ndarray:
        """The collateral asset's price from its sources, weighted as the rulebook says (R5:
        the venue's own spot book, an external index, a redemption or conversion rate, a fixed
        1), at least its floor; every account holding it is re-marked."""
        spec = self.rulebook.collateral_asset(asset)
        price = spec.price.price(
            to_decimal(own_book, "own_book"), to_decimal(index, "index"),
            to_decimal(redemption, "redemption"),
        )  # fmt: skip
        return self.set_collateral_price(asset, max(price, spec.price_floor))

    def margin(self, account: int) -> tuple[int, int]:
        """An account's ``(equity, maintenance)`` in micro-dollars at the current marks."""
        a = self._check_account(account)
        return handle_margin(self._h, a)

    def _legs(self) -> tuple:
        """The instruments' states for the kernels, padded to ``MAX_INSTRUMENTS``."""
        states = [v._kernel_state() for v in self.legs]
        return tuple(states + states[-1:] * (PM.MAX_INSTRUMENTS - len(states)))

    # ---- orders -------------------------------------------------------------------------------

    def submit_order(
        self, account: int, symbol: str, side: str, qty: Number, price: Number | None = None,
        **order: object,
    ) -> np.ndarray:  # fmt: skip
        """An order on one instrument, margin-checked over the whole account: the initial
        margin of every leg (the new one at its size after the order) against the account's
        equity."""
        a = self._check_account(account)
        j = self._index(symbol)
        v = self.legs[j]
        handle_lend(self._h, np.array([a], np.int64), np.int64(j))
        events = self._on(j, v.submit_order, a, side, qty, price, **order)
        return join_records([events, self._evaluate([a])])

    def submit_orders(
        self, symbol: str, accounts: np.ndarray, sides: np.ndarray, lots: np.ndarray,
        prices: np.ndarray, **batch: object,
    ) -> np.ndarray:  # fmt: skip
        """Many orders on one instrument in one call, in array order, each checked over its
        whole account as :meth:`submit_order` does (integer arrays as
        :meth:`Venue.submit_orders <margincall.venue.venue_orders.VenueOrders.submit_orders>`
        takes them: prices in ticks, 0 for a market order)."""
        j = self._index(symbol)
        # np.unique's result; a set is several times faster on a step's few dozen accounts
        ids = np.array(sorted(set(np.asarray(accounts, dtype=np.int64).tolist())), np.int64)
        if len(ids) and (ids[0] < 1 or ids[-1] >= self.legs[0].meta[N_ACCOUNTS]):
            bad = int(ids[0] if ids[0] < 1 else ids[-1])
            self._check_account(bad)
        v = self.legs[j]
        orders = v.order_batch(accounts, sides, lots, prices, **batch)
        if orders is None:
            return self._evaluate(ids)
        self._sync()
        vout = v._buffer(max(64, 4 * len(accounts)))
        self.pf.meta[PM.OUT_N] = 0
        placed, vout, v._bout, self._out, self._bout = submit_and_evaluate(
            self._h, np.int64(j), vout, v._bout, (ids, *orders), self._out, self._bout
        )
        v.meta[OUT_N] = placed
        return join_records([v._flush(vout), self._flush_pass()])

    def cancel_all(self, account: int) -> np.ndarray:
        """Cancel every resting order of an account, on every instrument."""
        a = self._check_account(account)
        return join_records([self._on(j, v.cancel_all, a) for j, v in enumerate(self.legs)])

    def block_trades(
        self, symbol: str, accounts: Sequence[int] | np.ndarray, qtys: Sequence[Number] | np.ndarray,
        price: Number, counterparty: int,
    ) -> np.ndarray:  # fmt: skip
        """Off-book trades at one price between accounts and one counterparty, no fees (how a
        starting state is built), each side margin-checked over its whole account. ``qtys``
        are sizes (signed, buys positive), or integer lots when given as an integer array."""
        j = self._index(symbol)
        v = self.legs[j]
        ids = np.asarray(accounts, dtype=np.int64)
        c = self._check_account(counterparty)
        q = np.asarray(qtys)
        lots = q if q.dtype.kind == "i" else np.array([v.scale.qty_to_lots(x) for x in qtys])
        for a in (ids[:1], ids[-1:]):  # the venue's own check names any other bad account
            if len(a):
                self._check_account(int(a[0]))
        handle_lend(self._h, np.append(ids, c), np.int64(j))
        events = self._on(j, v.block_trades, ids, lots, price, c)
        return join_records([events, self._evaluate(np.append(ids, c))])

    # ---- prices and the clock -------------------------------------------------------------------

    def advance(self, ts_ns: int) -> None:
        """Move every instrument's clock forward."""
        for v in self.legs:
            v.advance(ts_ns)

    def set_index_price(self, symbol: str, price: Number) -> np.ndarray:
        return self._on(j := self._index(symbol), self.legs[j].set_index_price, price)

    def set_index_ticks(self, symbol: str, ticks: int) -> np.ndarray:
        """:meth:`set_index_price` with the price in whole ticks of the instrument."""
        j = self._index(symbol)
        return self._on(j, self.legs[j].set_index_ticks, ticks)

    def set_external_mid(self, symbol: str, ticks: int) -> None:
        """Other venues' weighted median perp mid for ``symbol``, in its ticks (0 = none), which
        its later marks use (:meth:`margincall.venue.engine.Venue.set_external_mid`)."""
        self.legs[self._index(symbol)].set_external_mid(ticks)

    def update_marks(self) -> np.ndarray:
        """Every instrument's mark by the rulebook's method."""
        return join_records([self._on(j, v.update_mark) for j, v in enumerate(self.legs)])

    def snapshot(self) -> np.ndarray:
        """Every instrument's snapshot events (±1% depth, open interest, its fund's balance
        here, accounts long and short, the funding rate in the making), what the reports read;
        the positions' figures tallied when the events are kept (:mod:`.position_tally`)."""
        stats: list[tuple[int, int, int] | None] = [None] * len(self.legs)
        if self.log.keep:  # the accounts named since the last snapshot counted again
            ids = named_accounts(self.log.since(self._tallied))
            stats = [t.update(self.legs[j].acc.pos, ids) for j, t in enumerate(self._tallies)]
            self._tallied = self.log.kept
        return join_records([self._on(j, v.snapshot, stats[j]) for j, v in enumerate(self.legs)])

    # ---- funding ------------------------------------------------------------------------------

    def sample_premiums(self) -> None:
        """One premium sample from every instrument's book (what its funding rate averages)."""
        for v in self.legs:
            v.sample_premium()

    def settle_funding(self, symbol: str | None = None, rate_ppb: int | None = None) -> np.ndarray:
        """End a funding interval on ``symbol`` (every instrument when None): the rate from its
        samples (or ``rate_ppb``), payments between its longs and shorts
        (:meth:`Venue.settle_funding <margincall.venue.engine.Venue.settle_funding>`). A cross
        account's payment is booked on its leg's row, so it counts in the whole account's
        equity; the accounts it moves are evaluated over all their legs by the next
        :meth:`run_liquidations`."""
        js = range(len(self.legs)) if symbol is None else [self._index(symbol)]
        return join_records([self._on(j, self.legs[j].settle_funding, rate_ppb) for j in js])

    # ---- liquidations -------------------------------------------------------------------------

    def run_liquidations(self) -> np.ndarray:
        """A block: the accounts left breached by the last one first, then each instrument's
        liquidation rounds and every portfolio account they hand on evaluated over all its legs
        (liquidated, or keyed again), until no instrument hands one on. An account is
        liquidated at most once per block."""
        self._follow_moves()
        events = [self._evaluate(next_block(self.pf))]
        for _ in range(MAX_PASSES):
            for j, v in enumerate(self.legs):
                self._lend_funds()  # for the isolated legs it liquidates
                events.append(self._on(j, v.run_liquidations))
            if not self._handed_on():
                break
            events.append(self._evaluate(np.empty(0, np.int64)))
        return join_records(events)

    def _lend_funds(self) -> None:
        lend_fund_rows([v.acc for v in self.legs], self._fund_group)

    def _handed_on(self) -> bool:
        """Whether an instrument has handed on a portfolio account not yet evaluated."""
        return any(int(v.index.meta[liq_index.DEFERRED]) for v in self.legs)

    def _follow_moves(self) -> None:
        """Each instrument's move since the last block into its average (the budgets'
        weights)."""
        for j, v in enumerate(self.legs):
            mark = int(v.meta[MARK])
            move = abs(mark - self._marks[j]) / max(self._marks[j], 1)
            self._marks[j] = mark
            self.pf.vol[j] = max(VOL_DECAY * self.pf.vol[j] + (1 - VOL_DECAY) * move, 1e-6)

    def _evaluate(self, ids) -> np.ndarray:
        """The compiled pass over accounts ``ids`` and those handed on; returns its events."""
        self.pf.meta[PM.OUT_N] = 0
        ids = np.asarray(ids, np.int64)
        if len(ids) == 0 and not self._handed_on():  # the pass would find no one
            self._sync()
            return np.empty(0, EVENT_DTYPE)
        self._out, self._bout = handle_evaluate(self._h, ids, self._out, self._bout)
        return self._flush_pass()

    def _flush_pass(self) -> np.ndarray:
        """The events the compiled pass wrote, into the log."""
        n = int(self.pf.meta[PM.OUT_N])
        self._sync()
        if 2 * n >= len(self._out):  # most of the buffer: handed over, a new one for the next
            events, self._out = self._out[:n], np.empty(len(self._out), EVENT_DTYPE)
        else:
            events = self._out[:n].copy()
        self.log.extend(events, owned=True)
        return events

    # ---- checks -----------------------------------------------------------------------------

    def position(self, account: int, symbol: str) -> dict:
        a = self._check_account(account)
        return self.legs[self._index(symbol)].position(a)

    def check_invariants(self) -> None:
        """Every instrument's own invariants (money, open interest, book), and money in every
        collateral asset (:func:`margincall.venue.portfolio_checks.check_portfolio`)."""
        self._lend_funds()  # shared funds' lent balances as they are now
        check_portfolio(self)

    def fund_usd(self, symbol: str) -> Decimal:
        """The balance of the insurance fund that covers ``symbol`` (the rulebook's fund map:
        the sum over the instruments sharing it)."""
        fund = self.fund_ids[self._index(symbol)]
        return micros_to_usd(
            sum(int(v.acc.wallet[INSURANCE_FUND]) for v, f in zip(self.legs, self.fund_ids,
                strict=True) if f == fund)
        )  # fmt: skip

    def digest(self) -> str:
        return self.log.digest()

    def cash_usd(self, account: int) -> Decimal:
        a = self._check_account(account)
        return micros_to_usd(int(self.pf.cash[a]) + sum(int(v.acc.wallet[a]) for v in self.legs))
