"""Commands to the venue (imperative names). Agents build these; the venue answers with events.

Sizes and prices are in the user's units (base currency, quote currency) and are converted
exactly onto the instrument's grid: an off-lot size or off-tick price is refused with an
ORDER_REJECTED event, never rounded silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from margincall.core.units import Number

TimeInForce = Literal["gtc", "ioc", "fok", "post_only"]
SelfTradePrevention = Literal["none", "expire_taker", "expire_maker", "expire_both"]


@dataclass(frozen=True)
class OpenAccount:
    """Open an account with a first deposit (USD)."""

    deposit_usd: Number = 0
    isolated: bool = False
    leverage: int = 20


@dataclass(frozen=True)
class Deposit:
    account: int
    amount_usd: Number


@dataclass(frozen=True)
class Withdraw:
    account: int
    amount_usd: Number


@dataclass(frozen=True)
class SetLeverage:
    account: int
    leverage: int


@dataclass(frozen=True)
class SubmitOrder:
    """A limit order (``price`` given) or a market order (``price`` None: IOC inside the band)."""

    account: int
    side: Literal["buy", "sell"]
    qty: Number
    price: Number | None = None
    tif: TimeInForce = "gtc"
    reduce_only: bool = False
    stp: SelfTradePrevention = "expire_maker"


@dataclass(frozen=True)
class CancelOrder:
    order_id: int


@dataclass(frozen=True)
class AmendOrder:
    """Change an order's size: smaller keeps its place in the queue, larger goes to the back."""

    order_id: int
    qty: Number


@dataclass(frozen=True)
class CancelAll:
    account: int


@dataclass(frozen=True)
class SetIndexPrice:
    """The index (Binance, BitMEX) or oracle (dYdX, Hyperliquid) price from outside the venue."""

    price: Number


Command = (
    OpenAccount
    | Deposit
    | Withdraw
    | SetLeverage
    | SubmitOrder
    | CancelOrder
    | AmendOrder
    | CancelAll
    | SetIndexPrice
)
