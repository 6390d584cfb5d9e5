"""The event record: one fixed layout for every event the venue emits.

One numpy structured dtype maps one-to-one onto the Arrow schema, so compiled kernels, Python and
Parquet files share the layout with no conversion. All values are integers: prices in ticks,
sizes in lots, money in micro-dollars. ``kind`` says what happened; the meaning of the generic
columns per kind is documented on :class:`EventKind`.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

MAKER = 1  # ``liquidity`` of a fill event: the resting side
TAKER = 2  # ``liquidity`` of a fill event: the side that crossed the book

EVENT_DTYPE = np.dtype(
    [
        ("ts_ns", "<i8"),  # simulated time, nanoseconds since the Unix epoch
        ("seq", "<i8"),  # total order within the log, starting at 0
        ("kind", "<i2"),  # EventKind
        ("reason", "<i2"),  # RejectReason for rejections, else 0
        ("instrument", "<i2"),  # index of the instrument in the venue
        ("side", "<i1"),  # +1 buy/long, -1 sell/short, 0 none
        ("liquidity", "<i1"),  # 1 maker, 2 taker, 0 not a fill
        ("round", "<i4"),  # liquidation cascade round (0 outside the liquidation phase)
        ("account", "<i8"),  # account the event is about, -1 if none
        ("counterparty", "<i8"),  # the other account of a fill or ADL, -1 if none
        ("order_id", "<i8"),  # order the event is about, -1 if none
        ("price", "<i8"),  # ticks
        ("qty", "<i8"),  # lots (signed position for position events)
        ("notional", "<i8"),  # micro-dollars, |price x qty|
        ("amount", "<i8"),  # micro-dollars: fee, PnL, transfer or balance, per kind
    ]
)


class Side(IntEnum):
    """Order side, also the sign of a position."""

    BUY = 1
    SELL = -1


class EventKind(IntEnum):
    """What an event records (``amount`` column meaning in brackets)."""

    ORDER_ACCEPTED = 1
    ORDER_REJECTED = 2  # reason says why
    ORDER_FILLED = 3  # one per side of a trade [fee paid, negative for a rebate]
    ORDER_CANCELLED = 4  # qty = size left that was cancelled
    ORDER_EXPIRED = 5  # IOC/market remainder removed, qty = size removed
    ORDER_AMENDED = 6  # qty = new size left
    DEPOSITED = 10  # [amount credited]
    WITHDRAWN = 11  # [amount debited]
    MARK_PRICE_UPDATED = 20  # price = new mark
    INDEX_PRICE_UPDATED = 21  # price = new index
    FUNDING_RATE_SET = 22  # amount = rate in parts per billion per interval
    FUNDING_PAID = 23  # [payment, positive = received]
    LIQUIDATION_TRIGGERED = 30  # qty = position, amount = margin balance - maintenance
    POSITION_LIQUIDATED = 31  # forced fill of the liquidated account [fee paid]
    LIQUIDATION_FEE_CHARGED = 32  # [fee to the insurance fund]
    INSURANCE_FUND_PAID = 33  # [shortfall paid by the fund to the account]
    BACKSTOP_TAKEOVER = 34  # one per side: fund/vault takes a position at the transfer price
    ADL_EXECUTED = 35  # one per side: winner and bankrupt account close at the ADL price
    BANKRUPTCY_UNCOVERED = 36  # [loss nobody could cover]
    CASCADE_ROUND = 37  # round started: qty = accounts breached in the round
    # collateral of a portfolio account (instrument -1; order_id = the collateral asset's index)
    COLLATERAL_DEPOSITED = 50  # qty = micro-units, price = micro-dollars per unit [value]
    COLLATERAL_REMARKED = 51  # the asset's new price (micro-dollars per unit); account -1
    COLLATERAL_CONVERTED = 52  # qty = micro-units sold, price = rate [settlement cash credited]
    # snapshots of venue state, taken by the simulation kernel (one of each per snapshot time)
    DEPTH_SNAPSHOT = 40  # price = book mid; notional = bids within 1% below [asks within 1% above]
    OPEN_INTEREST_SNAPSHOT = 41  # price = mark; qty = open interest (lots, one side); notional = OI
    INSURANCE_FUND_SNAPSHOT = 42  # [insurance fund balance]
    ACCOUNTS_SNAPSHOT = 43  # qty = accounts holding a long [accounts holding a short]
    FUNDING_SNAPSHOT = 44  # [funding rate the premium samples so far point to, ppb per interval]


class RejectReason(IntEnum):
    """Why an order or command was refused (``reason`` column)."""

    NONE = 0
    NON_POSITIVE_SIZE = 1
    OFF_LOT = 2
    OFF_TICK = 3
    UNKNOWN_ACCOUNT = 4
    INSUFFICIENT_MARGIN = 5
    REDUCE_ONLY_WOULD_INCREASE = 6
    POST_ONLY_WOULD_CROSS = 7
    FOK_NOT_FILLABLE = 8
    OUTSIDE_PRICE_BAND = 9
    UNKNOWN_ORDER = 10
    SELF_TRADE = 11
    NO_LIQUIDITY = 12
    MAX_LEVERAGE = 13
    NON_POSITIVE_PRICE = 14
    BOOK_FULL = 15
    AMEND_NOT_SMALLER = 16
    ACCOUNT_LIQUIDATING = 17


ORDER_LIFECYCLE = (
    EventKind.ORDER_ACCEPTED,
    EventKind.ORDER_REJECTED,
    EventKind.ORDER_CANCELLED,
    EventKind.ORDER_EXPIRED,
    EventKind.ORDER_AMENDED,
)
"""The orders' own lifecycle: what happened to an order, not to a position or to money."""

_LIFECYCLE_KIND = np.zeros(1 << 16, bool)
_LIFECYCLE_KIND[[int(k) for k in ORDER_LIFECYCLE]] = True


def order_detail(records: np.ndarray) -> np.ndarray:
    """Mask of ``records`` (``EVENT_DTYPE``) that only an order book's bookkeeping needs: the
    orders' lifecycle and the maker side of book trades (every trade's taker side names the
    maker as its counterparty). Candles and summaries read none of them.

    Example:
        >>> r = np.zeros(3, EVENT_DTYPE)
        >>> r["kind"] = [EventKind.ORDER_ACCEPTED, EventKind.ORDER_FILLED, EventKind.ORDER_FILLED]
        >>> r["liquidity"] = [0, 1, 2]
        >>> order_detail(r).tolist()
        [True, True, False]
    """
    kind = records["kind"]
    maker_fill = (kind == EventKind.ORDER_FILLED) & (records["liquidity"] == MAKER)
    return _LIFECYCLE_KIND[kind.view(np.uint16)] | maker_fill
