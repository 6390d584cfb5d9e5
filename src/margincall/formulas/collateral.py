"""Collateral valuation of a portfolio account: haircut tiers, price sources, Binance's bid/ask
rates and Multi-Assets equity, and auto-exchange (portfolio-margin.md §1.1, §1.3, §2.2; R5-R7).

Exact arithmetic: arguments are ints, Fractions, Decimals or floats (a float is taken at its exact
binary value) and results are ``Fraction``; call ``float()`` to display one. Quantities of an
asset are in its units, prices and values in the settlement asset (USDT, USDC, USD). Bad
arguments raise `InvalidInputError` naming the argument. The rulebook's data for these formulas
is `margincall.venue.collateral_rules.CollateralAsset`.

Tiers are a collateral ratio ``r = 1 - haircut`` by quantity slice: ``[(floor, ratio), ...]``
with floors from 0, increasing, in units of the asset; a bare number is one ratio for any size.
A holding ``x`` in tier k is worth ``price * (x*r_k + cumC_k)``, where ``cumC_1 = 0`` and
``cumC_k = cumC_(k-1) + floor_k*(r_(k-1) - r_k)``: the sum of the slices, continuous at floors.

Example:
    >>> bybit_btc = [(0, "0.98"), (10, "0.95"), (20, "0.90")]
    >>> collateral_value(25, 100_000, bybit_btc)
    Fraction(2380000, 1)
    >>> float(bid_rate("1.92957370", "0.1")), float(ask_rate("1.92957370", "0.1"))
    (1.73661633, 2.12253107)
"""

from __future__ import annotations

import numbers
from bisect import bisect_right
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

from margincall.core.errors import InvalidInputError

Num = int | float | Fraction | Decimal | str
"""A number the formulas accept; strings are decimal text such as ``"0.95"``."""

Tiers = Num | Sequence[tuple[Num, Num]]
"""A collateral ratio, or ``(floor, ratio)`` quantity slices."""


def exact(field: str, value: object) -> Fraction:
    """``value`` as an exact Fraction; InvalidInputError naming ``field`` if it is not a number.

    Example:
        >>> exact("price", "0.65"), exact("qty", 0.5)
        (Fraction(13, 20), Fraction(1, 2))
    """
    if isinstance(value, bool) or not isinstance(value, str | Decimal | numbers.Real):
        raise InvalidInputError(field, value, 'a number (int, float, Fraction, Decimal or "0.95")')
    try:
        return Fraction(value)  # type: ignore[arg-type]
    except (ValueError, OverflowError, ZeroDivisionError, TypeError):
        raise InvalidInputError(field, value, "a finite number") from None


def non_negative(field: str, value: object) -> Fraction:
    """`exact`, refusing values below 0."""
    v = exact(field, value)
    if v < 0:
        raise InvalidInputError(field, value, "a number >= 0")
    return v


def positive(field: str, value: object) -> Fraction:
    """`exact`, refusing values at or below 0."""
    v = exact(field, value)
    if v <= 0:
        raise InvalidInputError(field, value, "a positive number")
    return v


def rate(field: str, value: object, *, below_one: bool = False) -> Fraction:
    """`exact`, refusing values outside [0, 1] (or [0, 1) with ``below_one``)."""
    v = exact(field, value)
    if v < 0 or v > 1 or (below_one and v == 1):
        raise InvalidInputError(field, value, f"a rate in [0, 1{')' if below_one else ']'}")
    return v


def collateral_tiers(tiers: Tiers) -> list[tuple[Fraction, Fraction, Fraction]]:
    """Checked ``(floor, ratio, cumC)`` rows of a tier table (or of one bare ratio).

    Example:
        >>> [str(c) for _, _, c in collateral_tiers([(0, "0.98"), (10, "0.95"), (20, "0.9")])]
        ['0', '3/10', '13/10']
    """
    if isinstance(tiers, str | int | float | Fraction | Decimal) and not isinstance(tiers, bool):
        return [(Fraction(0), rate("ratio", tiers), Fraction(0))]
    rows: list[tuple[Fraction, Fraction, Fraction]] = []
    if isinstance(tiers, bool) or not isinstance(tiers, Sequence) or not tiers:
        raise InvalidInputError("tiers", tiers, "a ratio or a non-empty list of (floor, ratio)")
    for i, row in enumerate(tiers):
        if not isinstance(row, Sequence) or isinstance(row, str) or len(row) != 2:
            raise InvalidInputError(f"tiers[{i}]", row, "a (floor, ratio) pair")
        floor, r = non_negative(f"tiers[{i}].floor", row[0]), rate(f"tiers[{i}].ratio", row[1])
        if i == 0 and floor != 0:
            raise InvalidInputError("tiers[0].floor", row[0], "0 (the first slice starts at 0)")
        if i > 0 and floor <= rows[-1][0]:
            raise InvalidInputError(f"tiers[{i}].floor", row[0], f"above {rows[-1][0]}")
        cum = Fraction(0) if i == 0 else rows[-1][2] + floor * (rows[-1][1] - r)
        rows.append((floor, r, cum))
    return rows


def collateral_units(qty: Num, tiers: Tiers) -> Fraction:
    """Haircut size of a holding, in units of the asset: ``x*r_k + cumC_k`` (the slice sum).

    Example:
        >>> collateral_units(60, [(0, "0.98"), (10, "0.95"), (20, "0.9"), (30, "0.85"),
        ...                       (40, "0.8"), (50, 0)])
        Fraction(224, 5)
    """
    x = non_negative("qty", qty)
    rows = collateral_tiers(tiers)
    k = bisect_right([f for f, _, _ in rows], x) - 1
    return x * rows[k][1] + rows[k][2]


def collateral_value(qty: Num, price: Num, tiers: Tiers) -> Fraction:
    """Collateral value of a positive holding: ``price * (x*r_k + cumC_k)`` (§1.1, R6).

    Args:
        qty: units of the asset held, >= 0 (a negative balance is valued by
            `negative_balance_value`).
        price: the collateral price from the rulebook's source (`collateral_price`), >= 0.
        tiers: the ratio, or ``(floor, ratio)`` slices with floors in units of the asset.

    Example:
        >>> collateral_value(14_000, "0.65", "0.9")
        Fraction(8190, 1)
    """
    return collateral_units(qty, tiers) * non_negative("price", price)


def bid_rate(index: Num, bid_buffer: Num) -> Fraction:
    """Binance's ``bidRate = index * (1 - bidBuffer)``: positive asset equity counts at it (P2)."""
    return non_negative("index", index) * (1 - rate("bid_buffer", bid_buffer, below_one=True))


def ask_rate(index: Num, ask_buffer: Num) -> Fraction:
    """Binance's ``askRate = index * (1 + askBuffer)``: negative asset equity counts at it (P2)."""
    return non_negative("index", index) * (1 + rate("ask_buffer", ask_buffer, below_one=True))


def negative_balance_value(balance: Num, price: Num, rule: str, ask_buffer: Num = 0) -> Fraction:
    """Value (<= 0) of a negative balance under a rulebook's rule (R6).

    ``"ask"``: Binance, at ``price * (1 + ask_buffer)``; ``"par"`` (BitMEX, Hyperliquid, dYdX)
    and ``"full"`` (Bybit, "100%"): at the price with no haircut, the same number.

    Example:
        >>> negative_balance_value(-8_000, 1, "ask", "0.005")
        Fraction(-8040, 1)
    """
    b = exact("balance", balance)
    if b > 0:
        raise InvalidInputError("balance", balance, "a balance <= 0")
    if rule == "ask":
        return b * ask_rate(price, ask_buffer)
    if rule in ("par", "full"):
        return b * non_negative("price", price)
    raise InvalidInputError("rule", rule, '"ask", "par" or "full"')


def collateral_price(weights: Sequence[Num], sources: Sequence[Num], floor: Num = 0) -> Fraction:
    """The collateral price of R5: ``max(floor, sum(w_i * p_i))`` over the price sources.

    Args:
        weights: the rulebook's weights of (own_book, index, redemption, fixed), summing to 1.
        sources: the prices of the same sources, in the same order (``fixed`` is 1).
        floor: the optional price floor (0 for none).

    Example:
        >>> collateral_price([1, 0, 0, 0], ["0.65", 1, 1, 1]), collateral_price(
        ...     [0, 1, 0, 0], ["0.65", 1, 1, 1])
        (Fraction(13, 20), Fraction(1, 1))
    """
    if len(weights) != len(sources) or not weights:
        raise InvalidInputError("sources", sources, f"one price per weight ({len(weights)})")
    w = [rate(f"weights[{i}]", x) for i, x in enumerate(weights)]
    if sum(w) != 1:
        raise InvalidInputError("weights", weights, "weights summing to exactly 1")
    p = sum(
        wi * non_negative(f"sources[{i}]", s)
        for i, (wi, s) in enumerate(zip(w, sources, strict=True))
    )
    return max(non_negative("floor", floor), Fraction(p))


class Collateral(NamedTuple):
    """A positive collateral holding: asset name, quantity, price and ratio tiers."""

    asset: str
    qty: Num
    price: Num
    tiers: Tiers


def collateral_total(holdings: Sequence[Collateral]) -> Fraction:
    """Haircut value of several holdings, ``sum(price * (x*r_k + cumC_k))``, to pass as
    ``collateral`` to :func:`margincall.formulas.portfolio.cross_excess`.

    Example (P10: 0.5 XBT at 95% and 10,000 USDC at 98%, for USDT settlement):
        >>> collateral_total([Collateral("XBT", "0.5", 100_000, "0.95"),
        ...                   Collateral("USDC", 10_000, 1, "0.98")])
        Fraction(57300, 1)
    """
    return sum(
        (collateral_units(h.qty, h.tiers) * non_negative(f"holdings[{i}].price", h.price)
         for i, h in enumerate(holdings)),
        Fraction(0),
    )  # fmt: skip


def co_moving(holdings: Sequence[Collateral], asset: str) -> Fraction:
    """Collateral value gained per unit rise of a leg's mark, when ``asset`` is priced at that
    mark (R5 for BitMEX XBT on XBTUSDT): ``sum(x*r_k + cumC_k)`` over the holdings of ``asset``;
    the ``co_moving`` argument of :func:`margincall.formulas.portfolio.leg_liquidation_price`.

    Example:
        >>> co_moving([Collateral("XBT", "0.5", 100_000, "0.95")], "XBT")
        Fraction(19, 40)
    """
    return sum(
        (collateral_units(h.qty, h.tiers) for h in holdings if h.asset == asset), Fraction(0)
    )


class AssetEquity(NamedTuple):
    """One asset of a Binance Multi-Assets account: wallet + UPNL of the positions settled in it."""

    equity: Num
    index_price: Num
    bid_buffer: Num = 0
    ask_buffer: Num = 0


def binance_multi_assets_equity(assets: Sequence[AssetEquity]) -> Fraction:
    """Binance Multi-Assets account equity ``sum(min(e*bidRate, e*askRate))`` (§2.2, P1).

    Positive asset equity counts at the bid rate, negative at the ask rate.

    Example:
        >>> binance_multi_assets_equity([AssetEquity(200, "0.99", "0.01", "0.005"),
        ...                              AssetEquity(220, 1)])
        Fraction(20801, 50)
    """
    total = Fraction(0)
    for i, a in enumerate(assets):
        e = exact(f"assets[{i}].equity", a.equity)
        total += min(
            e * bid_rate(a.index_price, a.bid_buffer), e * ask_rate(a.index_price, a.ask_buffer)
        )
    return total


def binance_multi_assets_maintenance(requirements: Sequence[tuple[Num, Num]]) -> Fraction:
    """Account requirement in USD, ``sum(amount * askRate of its settlement asset)`` (§2.2, P1).

    Each ``(amount, ask_rate)`` is a position's maintenance margin (or initial margin, for
    available-for-order) in its settlement asset and that asset's ask rate.

    Example:
        >>> binance_multi_assets_maintenance([(80, "0.99495"), (120, 1)])
        Fraction(49899, 250)
    """
    return sum(
        (non_negative(f"requirements[{i}].amount", m) * non_negative(f"requirements[{i}].rate", r)
         for i, (m, r) in enumerate(requirements)),
        Fraction(0),
    )  # fmt: skip


def margin_ratio(maintenance: Num, equity: Num) -> Fraction | None:
    """Account margin ratio ``MM / E``; None when the equity is not positive (always breached).

    Example:
        >>> margin_ratio(910, 190)
        Fraction(91, 19)
    """
    mm, e = non_negative("maintenance", maintenance), exact("equity", equity)
    return mm / e if e > 0 else None


class Holding(NamedTuple):
    """A collateral holding offered to auto-exchange: its bid-rate value and auto-exchange rate."""

    asset: str
    qty: Num
    index_price: Num
    ratio: Num
    auto_exchange_buffer: Num


def auto_exchange(
    deficit: Num, holdings: Sequence[Holding]
) -> tuple[dict[str, Fraction], Fraction]:
    """Binance auto-exchange (R7): sell collateral to cover a negative settlement balance.

    Each holding covers a share of the deficit proportional to its collateral value
    ``qty * index * ratio``, selling ``share / (index * (1 - auto_exchange_buffer))`` units; a
    holding that runs out is sold whole and the rest is shared among the others again.

    Returns:
        ``(units sold per asset, deficit left uncovered)``.

    Example:
        >>> sold, left = auto_exchange(8_000, [Holding("USDE", 14_000, 1, "0.9", "0.05")])
        >>> round(float(sold["USDE"]), 2), left
        (8421.05, Fraction(0, 1))
    """
    need = non_negative("deficit", deficit)
    live: dict[str, tuple[Fraction, Fraction, Fraction]] = {}
    for i, h in enumerate(holdings):
        qty, index = (
            non_negative(f"holdings[{i}].qty", h.qty),
            non_negative(f"holdings[{i}].index_price", h.index_price),
        )
        ratio = rate(f"holdings[{i}].ratio", h.ratio)
        fx = index * (1 - rate(f"holdings[{i}].auto_exchange_buffer", h.auto_exchange_buffer,
                               below_one=True))  # fmt: skip
        if h.asset in live:
            raise InvalidInputError(f"holdings[{i}].asset", h.asset, "each asset once")
        if qty > 0 and fx > 0 and ratio > 0:
            live[h.asset] = (qty, qty * index * ratio, fx)
    sold = {h.asset: Fraction(0) for h in holdings}
    while need > 0 and live:
        total = sum(v for _, v, _ in live.values())
        short = {a: row for a, row in live.items() if need * row[1] / total > row[0] * row[2]}
        if not short:
            for a, (_, v, fx) in live.items():
                sold[a] += need * v / total / fx
            need = Fraction(0)
            break
        for a, (qty, _, fx) in short.items():
            sold[a] += qty
            need -= qty * fx
            del live[a]
    return sold, max(need, Fraction(0))
