"""A venue of several instruments with one set of accounts: cross margin over an account's legs,
collateral in several assets, and the rulebook's portfolio liquidation.

Each instrument is a :class:`~margincall.venue.engine.Venue` (its book, mark, funding, fund,
liquidation index and single-position waterfall); account ``a`` is row ``a`` of every one of
them. A cross account is a *portfolio* account: its rows carry the PORTFOLIO flag, its
settlement cash and collateral live here, and each leg's row books only the leg's own cash flows
(realised PnL, fees, funding). The instruments' kernels hand a portfolio account here wherever
they would check or key it (:func:`margincall.venue.liq_index.defer`); this class evaluates it
over all its legs (:mod:`margincall.venue.portfolio_margin`) and either keys its legs again or
liquidates it by the rulebook's procedure (portfolio-margin.md R3, R4):

- one open leg: the instrument's own waterfall, with the rest of the account lent to the leg
  (the one-instrument engine, unchanged);
- Binance, several legs: each leg in ascending instrument order gets a full-size IOC at its R4
  bankruptcy price (recomputed before each leg), a clearance fee, and the leg's fund takes what
  is left at that price;
- BitMEX: the fund takes every leg at once at its R4 price;
- Hyperliquid: a market order per leg (a slice of a large one), then the backstop vault takes
  every remaining leg at its R4 price if equity is below its share of maintenance;
- dYdX: one leg per block, chosen by the protocol's rotation from a pseudo-random offset, through
  the instrument's own waterfall with the leg's R4 share of the account.

A flat account left below zero converts its collateral into the settlement asset (R7, at the
collateral price less the auto-exchange buffer); what is still missing is paid by the fund of the
leg with the largest maintenance, or recorded as uncovered.

Events of every instrument go to one log in one sequence; account-level events (deposits,
collateral) carry instrument -1.

Example:
    >>> pv = PortfolioVenue("binance", {"BTCUSDT": 48_000, "ETHUSDT": 2_500})
    >>> mm = pv.open_account(10_000_000)
    >>> for sym, px, qty in (("BTCUSDT", 48_000, "10"), ("ETHUSDT", 2_500, "500")):
    ...     _ = pv.submit_order(mm, sym, "sell", qty, px)
    >>> a = pv.open_account(50_000)
    >>> _ = pv.submit_order(a, "BTCUSDT", "buy", "1")
    >>> _ = pv.submit_order(a, "ETHUSDT", "buy", "80")
    >>> m = pv.margin(a)
    >>> m.equity, m.maintenance  # micro-dollars: 50,000 USDT less fees; 192 + 1,635 USDT
    (49876000000, 1827000000)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import NamedTuple

import numpy as np

from margincall.core.errors import InvalidInputError
from margincall.core.rng import RngTree
from margincall.core.units import Number, micros_to_usd, to_decimal, usd_to_micros
from margincall.events.log import EventLog
from margincall.events.schema import EVENT_DTYPE, EventKind
from margincall.venue import liq_index
from margincall.venue import params as P
from margincall.venue.accounts import EXISTS, MARK, N_ACCOUNTS, PORTFOLIO, SEQ, TS, UNCOVERED
from margincall.venue.adl import next_random
from margincall.venue.engine import Venue
from margincall.venue.instrument import Rulebook, load_rulebook
from margincall.venue.ledger import INSURANCE_FUND
from margincall.venue.leg_close import (
    CLOSE_IOC,
    CLOSE_MARKET,
    CLOSE_TAKEOVER,
    CLOSE_WATERFALL,
    close_leg,
    rekey,
)
from margincall.venue.portfolio_margin import (
    Margin,
    budget_rests,
    exact_rest,
    is_breached,
    margin,
    r4_rest,
)


class Collateral(NamedTuple):
    """A collateral asset other than the settlement asset: its price in dollars (from the
    source the rulebook names), its collateral ratio (1 - haircut) and the buffer taken off the
    price when the venue converts it (auto-exchange)."""

    price: Number
    ratio: Number
    conversion_buffer: Number = 0


def _ppm(field: str, value: Number) -> int:
    r = to_decimal(value, field)
    if not 0 <= r <= 1:
        raise InvalidInputError(field, value, "a ratio in [0, 1]")
    return int(r * 1_000_000)


def _positive_micros(field: str, value: Number) -> int:
    m = usd_to_micros(value)
    if m <= 0:
        raise InvalidInputError(field, value, "a positive price")
    return m


MAX_PASSES = 1000
"""Evaluation passes per :meth:`PortfolioVenue.run_liquidations` before it stops (each pass
evaluates the accounts the instruments handed on; a cascade needs one per step of its chain)."""


class PortfolioVenue:
    """Several instruments of one exchange sharing accounts; see the module docstring.

    Args:
        rulebook: a rulebook name, path or loaded :class:`Rulebook`.
        prices: the instruments, in order, with their starting index prices.
        capacity: accounts the venue can hold (account 0 is each instrument's fund).
        insurance_fund_usd: each instrument fund's starting balance.
        collateral: the collateral assets other than the settlement asset, each with its
            starting price in dollars, collateral ratio and conversion buffer
            (``{"USDE": Collateral(1, "0.9", "0.05")}``).
        seed: the venue's seed (an integer or a seed tree), one child per instrument.
    """

    def __init__(
        self,
        rulebook: str | Rulebook,
        prices: Mapping[str, Number],
        *,
        capacity: int = 1024,
        insurance_fund_usd: Number = 0,
        collateral: Mapping[str, Collateral | tuple] | None = None,
        seed: int | RngTree = 0,
    ) -> None:
        self.rulebook = rulebook if isinstance(rulebook, Rulebook) else load_rulebook(rulebook)
        if not prices:
            raise InvalidInputError("prices", dict(prices), "at least one instrument")
        tree = seed if isinstance(seed, RngTree) else RngTree(seed).child("venue")
        self.symbols = tuple(prices)
        self.log = EventLog()
        self.legs: list[Venue] = []
        for j, sym in enumerate(self.symbols):
            v = Venue(
                self.rulebook,
                sym,
                price=prices[sym],
                capacity=capacity,
                insurance_fund_usd=insurance_fund_usd,
                seed=tree.child(sym),
            )
            v.params[P.INSTRUMENT] = j
            v.log = self.log
            self.legs.append(v)
        self._seq = 0
        self._sync()
        self.capacity = capacity + 1
        specs = {name: Collateral(*spec) for name, spec in (collateral or {}).items()}
        self.assets = tuple(specs)
        n = len(self.assets)
        self.coll = np.zeros((self.capacity, n), np.int64)  # micro-units held per account
        self.coll_price = np.zeros(n, np.int64)  # micro-dollars per unit
        self.coll_ratio_ppm = np.zeros(n, np.int64)
        self.coll_buffer_ppm = np.zeros(n, np.int64)
        for c, (name, spec) in enumerate(specs.items()):
            self.coll_price[c] = _positive_micros(f"collateral.{name}.price", spec.price)
            self.coll_ratio_ppm[c] = _ppm(f"collateral.{name}.ratio", spec.ratio)
            self.coll_buffer_ppm[c] = _ppm(
                f"collateral.{name}.conversion_buffer", spec.conversion_buffer
            )
        self.converted = np.zeros(n, np.int64)  # units the venue took in conversions
        self.desk_cash = 0  # settlement cash the venue paid for them (negative)
        self.cash = np.zeros(self.capacity, np.int64)  # settlement asset, micro-dollars
        self.deposits = 0
        self.coll_deposits = np.zeros(len(self.assets), np.int64)
        self.uncovered = 0
        self._pending: dict[int, None] = {}  # breached accounts to evaluate at the next block

    # ---- one log, one sequence --------------------------------------------------------------

    def _sync(self, j: int | None = None) -> None:
        """Carry the log's sequence number into (``j`` given: out of) the instruments."""
        if j is not None:
            self._seq = int(self.legs[j].meta[SEQ])
        for v in self.legs:
            v.meta[SEQ] = self._seq

    def _on(self, j: int, call, *args, **kwargs) -> np.ndarray:
        """Run a call on instrument ``j`` in the log's sequence."""
        self._sync()
        events = call(*args, **kwargs)
        self._sync(j)
        return events

    def _emit(self, kind: EventKind, account: int, **columns: int) -> np.ndarray:
        rec = np.zeros(1, EVENT_DTYPE)
        rec["ts_ns"] = self.legs[0].meta[TS]
        rec["seq"] = self._seq
        rec["kind"] = int(kind)
        rec["instrument"] = -1
        rec["account"] = account
        rec["counterparty"] = rec["order_id"] = -1
        for name, value in columns.items():
            rec[name] = value
        self._seq += 1
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
        id (the same row on every instrument)."""
        for v in self.legs:
            max_lev = int(v.instrument.tiers[0].max_leverage)
            if (
                isinstance(leverage, bool)
                or not isinstance(leverage, int)
                or not 1 <= leverage <= max_lev
            ):
                raise InvalidInputError("leverage", leverage, f"an integer from 1 to {max_lev}")
        n = int(self.legs[0].meta[N_ACCOUNTS])
        if n >= self.capacity:
            raise InvalidInputError("accounts", n, f"at most {self.capacity - 1} accounts")
        for v in self.legs:
            v.acc.flags[n] = EXISTS | PORTFOLIO
            v.acc.leverage[n] = leverage
            v.meta[N_ACCOUNTS] = n + 1
        self.deposit(n, deposit_usd)
        for asset, qty in (collateral or {}).items():
            self.deposit_collateral(n, asset, qty)
        return n

    def deposit(self, account: int, amount_usd: Number) -> np.ndarray:
        """Add settlement-asset cash to an account."""
        a = self._check_account(account)
        m = usd_to_micros(amount_usd)
        if m < 0:
            raise InvalidInputError("amount_usd", amount_usd, "a non-negative amount")
        self.cash[a] += m
        self.deposits += m
        events = self._emit(EventKind.DEPOSITED, a, amount=m)
        return np.concatenate([events, self._evaluate([a])])

    def deposit_collateral(self, account: int, asset: str, qty: Number) -> np.ndarray:
        """Add ``qty`` units of a collateral asset to an account."""
        a = self._check_account(account)
        c = self._asset(asset)
        units = usd_to_micros(qty)  # micro-units: the same scaling as micro-dollars
        if units < 0:
            raise InvalidInputError("qty", qty, "a non-negative quantity")
        self.coll[a, c] += units
        self.coll_deposits[c] += units
        events = self._emit(
            EventKind.COLLATERAL_DEPOSITED, a, qty=units, price=int(self.coll_price[c]),
            order_id=c, amount=self._value(units, c),
        )  # fmt: skip
        return np.concatenate([events, self._evaluate([a])])

    def set_collateral_price(self, asset: str, price_usd: Number) -> np.ndarray:
        """A new price for a collateral asset (from the source the rulebook names): every
        account holding it is re-marked at once."""
        c = self._asset(asset)
        price = usd_to_micros(price_usd)
        if price <= 0:
            raise InvalidInputError("price_usd", price_usd, "a positive price")
        self.coll_price[c] = price
        events = [self._emit(EventKind.COLLATERAL_REMARKED, -1, price=price, order_id=c)]
        holders = np.flatnonzero(self.coll[:, c]).tolist()
        events.append(self._evaluate(holders))
        return np.concatenate(events)

    def _value(self, units: int, c: int) -> int:
        """Collateral value in micro-dollars, at price and ratio (rounded down)."""
        return units * int(self.coll_price[c]) * int(self.coll_ratio_ppm[c]) // 10**12

    def margin(self, account: int) -> Margin:
        """An account's equity, maintenance and legs at the current marks."""
        a = self._check_account(account)
        return self._margin(a)

    def _margin(self, a: int) -> Margin:
        value = sum(self._value(int(self.coll[a, c]), c) for c in range(len(self.assets)))
        return margin(self.legs, a, int(self.cash[a]), value)

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
        self._lend_for_orders(a, j)
        events = self._on(j, v.submit_order, a, side, qty, price, **order)
        return np.concatenate([events, self._evaluate([a])])

    def cancel_all(self, account: int) -> np.ndarray:
        """Cancel every resting order of an account, on every instrument."""
        a = self._check_account(account)
        return np.concatenate([self._on(j, v.cancel_all, a) for j, v in enumerate(self.legs)])

    def block_trades(
        self, symbol: str, accounts: Sequence[int], qtys: Sequence[Number], price: Number,
        counterparty: int,
    ) -> np.ndarray:  # fmt: skip
        """Off-book trades at one price between accounts and one counterparty, no fees (how a
        starting state is built), each side margin-checked over its whole account."""
        j = self._index(symbol)
        v = self.legs[j]
        ids = [self._check_account(a) for a in accounts]
        c = self._check_account(counterparty)
        lots = [v.scale.qty_to_lots(q) for q in qtys]
        for a in (*ids, c):
            self._lend_for_orders(a, j)
        events = self._on(j, v.block_trades, np.array(ids, np.int64), np.array(lots), price, c)
        return np.concatenate([events, self._evaluate([*ids, c])])

    def _lend_for_orders(self, a: int, j: int) -> None:
        """Set leg ``j``'s ``rest`` so that its own order check is the account's: equity less
        the other legs' initial margin."""
        v = self.legs[j]
        m = self._margin(a)
        others_im = sum(self._initial(g.instrument, a) for g in m.legs if g.instrument != j)
        own = next((g for g in m.legs if g.instrument == j), None)
        upnl, wallet = (own.upnl, own.wallet) if own else (0, int(v.acc.wallet[a]))
        v.acc.rest[a] = m.equity - others_im - upnl - wallet

    def _initial(self, j: int, a: int) -> int:
        v = self.legs[j]
        notional = abs(int(v.acc.pos[a])) * int(v.meta[MARK]) * v.k
        lev = max(1, int(v.acc.leverage[a]))
        return -(-notional // lev)

    # ---- prices and the clock -------------------------------------------------------------------

    def advance(self, ts_ns: int) -> None:
        """Move every instrument's clock forward."""
        for v in self.legs:
            v.advance(ts_ns)

    def set_index_price(self, symbol: str, price: Number) -> np.ndarray:
        j = self._index(symbol)
        return self._on(j, self.legs[j].set_index_price, price)

    def update_marks(self) -> np.ndarray:
        """Every instrument's mark by the rulebook's method."""
        return np.concatenate([self._on(j, v.update_mark) for j, v in enumerate(self.legs)])

    # ---- liquidations -------------------------------------------------------------------------

    def run_liquidations(self) -> np.ndarray:
        """Each instrument's liquidation rounds, then every portfolio account they handed on
        evaluated over all its legs (liquidated, or keyed again); repeated until nothing is
        handed on. An account is liquidated at most once per call (one block); one still
        breached after it is evaluated again at the next call."""
        done: set[int] = set()
        pending, self._pending = self._pending, {}
        events = [self._evaluate(list(pending), done)]
        for _ in range(MAX_PASSES):
            for j, v in enumerate(self.legs):
                events.append(self._on(j, v.run_liquidations))
            ids = self._deferred()
            if not ids:
                break
            events.append(self._evaluate(ids, done))
        return np.concatenate(events)

    def _deferred(self) -> list[int]:
        seen: dict[int, None] = {}
        for v in self.legs:
            for a in liq_index.take_deferred(v.index, v.acc.flags).tolist():
                seen[a] = None
        return list(seen)

    def _evaluate(self, ids: Sequence[int], done: set[int] | None = None) -> np.ndarray:
        """Evaluate portfolio accounts, and those their trades hand on: liquidate the breached
        ones (each once: ``done``), key every one's legs again."""
        done = set() if done is None else done
        events = [np.empty(0, EVENT_DTYPE)]
        todo = list(ids)
        while todo:
            for a in todo:
                if a == INSURANCE_FUND:
                    continue
                m = self._margin(a)
                if is_breached(m, self.legs[0].params):
                    if a in done:
                        self._pending[a] = None
                    else:
                        done.add(a)
                        events.append(self._liquidate(a, m))
                self._key(a)
            todo = self._deferred()
        return np.concatenate(events)

    def _key(self, a: int) -> None:
        """Set every leg's budget and put the account's legs back in their indexes."""
        m = self._margin(a)
        rests = budget_rests(m)
        ids = np.array([a], np.int64)
        for j, v in enumerate(self.legs):
            v.acc.rest[a] = rests.get(j, 0)
            rekey(v._kernel_state(), ids)

    def _close(self, j: int, a: int, how: int, rest: int, size: int = 0) -> np.ndarray:
        v = self.legs[j]
        v.acc.rest[a] = rest
        self._sync()
        out, v._bout = close_leg(v._kernel_state(v._buffer()), a, np.int64(how), np.int64(size))
        events = v._flush(out)
        self._sync(j)
        return events

    def _liquidate(self, a: int, m: Margin) -> np.ndarray:
        """Take a breached account through its rulebook's portfolio procedure."""
        policy = int(self.legs[0].params[P.POLICY])
        events = []
        if len(m.legs) == 1:
            g = m.legs[0]
            events.append(self._close(g.instrument, a, CLOSE_WATERFALL, exact_rest(m, g)))
        elif policy == P.POLICY_BINANCE:
            for j in [g.instrument for g in m.legs]:
                m = self._margin(a)
                g = next(g for g in m.legs if g.instrument == j)
                events.append(self._close(j, a, CLOSE_IOC, r4_rest(m, g)))
        elif policy == P.POLICY_BITMEX:
            for g in m.legs:
                events.append(self._close(g.instrument, a, CLOSE_TAKEOVER, r4_rest(m, g)))
        elif policy == P.POLICY_HYPERLIQUID:
            events.extend(self._hyperliquid(a, m))
        else:
            j = self._rotation(a, m)
            g = next(g for g in m.legs if g.instrument == j)
            events.append(self._close(j, a, CLOSE_WATERFALL, r4_rest(m, g)))
        payer = max(m.legs, key=lambda g: g.maintenance).instrument
        events.append(self._settle_loss(a, payer))
        return np.concatenate(events)

    def _hyperliquid(self, a: int, m: Margin) -> list[np.ndarray]:
        events = []
        now = int(self.legs[0].meta[TS])
        for g in m.legs:
            v = self.legs[g.instrument]
            q = abs(g.pos)
            size = q
            if (
                g.notional > v.params[P.PARTIAL_THRESHOLD]
                and now - int(v.acc.last_partial_ns[a]) >= v.params[P.COOLDOWN_NS]
            ):
                size = max(1, q * int(v.params[P.PARTIAL_PPM]) // 1_000_000)
                v.acc.last_partial_ns[a] = now
            events.append(self._close(g.instrument, a, CLOSE_MARKET, r4_rest(m, g), size))
        m = self._margin(a)
        num, den = (
            int(self.legs[0].params[P.BACKSTOP_NUM]),
            int(self.legs[0].params[P.BACKSTOP_DEN]),
        )
        if m.legs and m.equity * den < num * m.maintenance:
            for g in m.legs:
                m = self._margin(a)
                g = next(h for h in m.legs if h.instrument == g.instrument)
                events.append(self._close(g.instrument, a, CLOSE_TAKEOVER, r4_rest(m, g)))
        return events

    def _rotation(self, a: int, m: Margin) -> int:
        """dYdX: the leg tried first, walking the positions (by instrument) from a pseudo-random
        offset drawn from the venue's generator."""
        offset = int(next_random(self.legs[0].meta)) % len(m.legs)
        return m.legs[offset].instrument

    def _settle_loss(self, a: int, payer: int) -> np.ndarray:
        """A flat account below zero: its collateral converted into the settlement asset in
        proportion to value (R7), then the fund of instrument ``payer`` pays what is missing,
        or the loss is recorded as uncovered."""
        m = self._margin(a)
        short = -(int(self.cash[a]) + sum(int(v.acc.wallet[a]) for v in self.legs))
        if m.legs or short <= 0:
            return np.empty(0, EVENT_DTYPE)
        events = []
        values = [self._value(int(self.coll[a, c]), c) for c in range(len(self.assets))]
        total = sum(values)
        for c, value in enumerate(values):
            if value <= 0:
                continue
            rate = self._conversion_rate(c)
            want = -(-short * value // total)  # this asset's share of the shortfall
            units = min(int(self.coll[a, c]), -(-want * 1_000_000 // rate))
            cash = units * rate // 1_000_000
            self.coll[a, c] -= units
            self.converted[c] += units
            self.cash[a] += cash
            self.desk_cash -= cash
            events.append(self._emit(
                EventKind.COLLATERAL_CONVERTED, a, qty=units, price=rate, order_id=c, amount=cash
            ))  # fmt: skip
        short = -(int(self.cash[a]) + sum(int(v.acc.wallet[a]) for v in self.legs))
        if short > 0:
            v = self.legs[payer]
            pay = min(short, max(int(v.acc.wallet[INSURANCE_FUND]), 0))
            if pay > 0:
                v.acc.wallet[INSURANCE_FUND] -= pay
                v.acc.wallet[a] += pay
                events.append(self._emit(
                    EventKind.INSURANCE_FUND_PAID, a, amount=pay, counterparty=INSURANCE_FUND,
                    instrument=payer,
                ))  # fmt: skip
            left = short - pay
            if left > 0:
                v.meta[UNCOVERED] += left
                self.uncovered += left
                events.append(
                    self._emit(EventKind.BANKRUPTCY_UNCOVERED, a, amount=left, instrument=payer)
                )
        return np.concatenate(events) if events else np.empty(0, EVENT_DTYPE)

    def _conversion_rate(self, c: int) -> int:
        """Micro-dollars paid per unit when asset ``c`` is converted: its price less the
        auto-exchange buffer."""
        return int(self.coll_price[c]) * (1_000_000 - int(self.coll_buffer_ppm[c])) // 1_000_000

    # ---- checks -----------------------------------------------------------------------------

    def position(self, account: int, symbol: str) -> dict:
        a = self._check_account(account)
        return self.legs[self._index(symbol)].position(a)

    def check_invariants(self) -> None:
        """Every instrument's own invariants (money, open interest, book), and money in every
        collateral asset."""
        from margincall.core.errors import InvariantViolation

        for v in self.legs:
            v.check_invariants()
        held = self.coll.sum(axis=0) + self.converted
        if (held != self.coll_deposits).any():
            raise InvariantViolation(
                f"collateral not conserved: {held.tolist()} held, {self.coll_deposits.tolist()} in"
            )
        if (gap := int(self.cash.sum()) + self.desk_cash - self.deposits) != 0:
            raise InvariantViolation(f"settlement cash not conserved: gap {gap} micro-dollars")
        n = int(self.legs[0].meta[N_ACCOUNTS])
        flat = np.ones(n, bool)
        total = self.cash[:n].copy()
        for v in self.legs:
            flat &= v.acc.pos[:n] == 0
            total += v.acc.wallet[:n]
        flat[INSURANCE_FUND] = False
        below = int(-total[flat & (total < 0)].sum())
        if below > self.uncovered:
            raise InvariantViolation(f"{below} micro-dollars below zero without a covering event")

    def digest(self) -> str:
        return self.log.digest()

    def cash_usd(self, account: int) -> Decimal:
        a = self._check_account(account)
        return micros_to_usd(int(self.cash[a]) + sum(int(v.acc.wallet[a]) for v in self.legs))
