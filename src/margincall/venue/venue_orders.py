"""Orders on the venue from Python: limit and market orders, batches, cancels, amends and the
off-book block trades that build a starting state. Each call checks its input, runs one
entry kernel of :mod:`margincall.venue.orders` and returns the events."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from margincall.core.errors import InvalidInputError
from margincall.core.units import Number, to_decimal
from margincall.events.schema import EVENT_DTYPE, EventKind, RejectReason
from margincall.venue import book as bk
from margincall.venue import params as P
from margincall.venue.accounts import (
    MARK,
    N_ACCOUNTS,
)
from margincall.venue.band import band_limit_ticks
from margincall.venue.orders import (
    bad_batch_column,
    place_order,
    place_orders,
    settle_records,
)
from margincall.venue.orders import block_trades as block_trades_kernel
from margincall.venue.venue_base import VenueBase

_TIF = {"gtc": bk.TIF_GTC, "ioc": bk.TIF_IOC, "fok": bk.TIF_FOK, "post_only": bk.TIF_POST_ONLY}
_STP = {
    "none": bk.STP_NONE,
    "expire_taker": bk.STP_EXPIRE_TAKER,
    "expire_maker": bk.STP_EXPIRE_MAKER,
    "expire_both": bk.STP_EXPIRE_BOTH,
}
_SIDE = {"buy": 1, "sell": -1, "long": 1, "short": -1}


class VenueOrders(VenueBase):
    """Order entry of :class:`~margincall.venue.engine.Venue`."""

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
            limit = band_limit_ticks(mark, int(self.params[P.BAND_PPM]), s)
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
        state = self._kernel_state(self._buffer())
        _, out, self._bout = place_order(
            state, int(account), s, ticks, lots, tif_code, _STP[stp], reduce_only
        )
        return self._flush(out)

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
        batch = self.order_batch(accounts, sides, lots, prices, tifs, reduce_only, cancel_first)
        if batch is None:
            return np.empty(0, EVENT_DTYPE)
        state = self._kernel_state(self._buffer(max(64, 4 * len(accounts))))
        _, out, self._bout = place_orders(state, *batch)
        return self._flush(out)

    def order_batch(
        self, accounts, sides, lots, prices, tifs=None, reduce_only=None, cancel_first=()
    ) -> tuple[np.ndarray, tuple, int] | None:
        """:meth:`submit_orders`' input checked and laid out for :func:`place_orders`
        (``(cancels, orders, stp)``), or None when there is nothing to do."""
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
            return None
        bad = bad_batch_column(arrays["sides"], arrays["tifs"], arrays["prices"])
        if bad >= 0:
            name, expected = (
                ("sides", "+1 (buy) or -1 (sell) values"),
                ("tifs", "TIF_* codes 0..3"),
                ("prices", "ticks >= 0 (0: market)"),
            )[bad]
            raise InvalidInputError(name, arrays[name], expected)
        orders = tuple(
            arrays[name] for name in ("accounts", "sides", "prices", "lots", "tifs", "reduce_only")
        )
        return np.array(cancel_first, np.int64), orders, _STP["expire_maker"]

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
        """Settle the ``nb`` records a book kernel wrote into the book-record buffer."""
        out, self._bout = settle_records(self._kernel_state(self._buffer(), nb))
        return self._flush(out)

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
        out, self._bout = block_trades_kernel(
            self._kernel_state(self._buffer()), acc_ids, sizes, ticks, c
        )
        return self._flush(out)
