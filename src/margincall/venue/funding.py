"""Funding on integers: the one home of the rules the engine settles funding with.

Rates are in parts per billion (ppb, 1e-9; 0.01% = 100,000 ppb) and rounded toward zero;
prices in ticks; payments in micro-dollars. Same rules as the readable float formulas of
:mod:`margincall.formulas.funding` (``tests/formulas/test_funding.py`` holds one against the
other, case by case): premium samples from impact prices, their weighted average (later samples
weigh more), the clamped rate (Binance, BitMEX, Hyperliquid) or dYdX's mean plus default, and
`funding_payments_micros`, which settles a whole instrument so that the payments plus a dust
residual (to the insurance fund) sum exactly to zero.

Example:
    >>> funding_rate_ppb(weighted_premium_ppb(2, 0 * 1 + 3_000_000 * 2))
    1500000
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from margincall.core.errors import InvalidInputError

PPB = 1_000_000_000


def _div_toward_zero(num: int, den: int) -> int:
    q = abs(num) // abs(den)
    return q if (num >= 0) == (den > 0) else -q


def premium_index_ppb(impact_bid_ticks: int, impact_ask_ticks: int, index_ticks: int) -> int:
    """`formulas.funding.premium_index` on integer tick prices, in ppb, rounded toward zero."""
    if index_ticks <= 0:
        raise InvalidInputError("index_ticks", index_ticks, "a positive price in ticks")
    num = max(0, impact_bid_ticks - index_ticks) - max(0, index_ticks - impact_ask_ticks)
    return _div_toward_zero(num * PPB, index_ticks)


def impact_price_ticks(filled_lots: int, ticklots: int, lots: int, side: int) -> int:
    """Average fill price of an impact walk, in ticks, or 0 when the book is too thin.

    ``filled_lots`` of the wanted ``lots`` filled for ``ticklots`` (price x lots summed). A bid
    (``side`` -1, selling into the bids) rounds down and an ask (+1) rounds up: away from the
    index, so rounding never makes a premium out of nothing.
    """
    if filled_lots != lots or lots <= 0:
        return 0
    return ticklots // filled_lots if side < 0 else -(-ticklots // filled_lots)


def add_premium_sample(sums: tuple[int, int, int], premium_ppb: int) -> tuple[int, int, int]:
    """The running ``(count, sum, weighted sum)`` of the interval's samples after one more; the
    i-th sample (1-based) has weight i."""
    n, total, weighted = sums
    return n + 1, total + premium_ppb, weighted + (n + 1) * premium_ppb


def weighted_premium_ppb(n: int, weighted: int) -> int:
    """`formulas.funding.weighted_average_premium` of ``n`` samples whose weighted sum
    (weights 1..n) is ``weighted``, floored; 0 with no samples."""
    return weighted // (n * (n + 1) // 2) if n else 0


def dydx_funding_rate_ppb(
    n: int, total: int, default_ppb: int, clamp_ppb: int, interval_hours: int
) -> int:
    """dYdX's rate for one interval: mean of the ``n`` samples (summing to ``total``, floored)
    plus the default rate, clamped to ±``clamp_ppb`` as an 8 h rate, then scaled to
    ``interval_hours`` rounding toward zero. See `formulas.funding.dydx_funding_rate`.

    Example:
        >>> dydx_funding_rate_ppb(2, 4_000_000, 100_000, 48_000_000, 1)  # (2e6 + 1e5) / 8
        262500
    """
    p8 = (total // n if n else 0) + default_ppb
    p8 = max(-clamp_ppb, min(clamp_ppb, p8))
    return (1 if p8 >= 0 else -1) * (abs(p8) * interval_hours // 8)


def funding_rate_ppb(
    premium_ppb: int,
    interest_ppb: int = 100_000,
    clamp_ppb: int = 500_000,
    interval_hours: int = 8,
    cap_ppb: int | None = None,
) -> int:
    """`formulas.funding.funding_rate` in integer ppb: [P + clamp(I − P, ±c)]·N/8 rounded toward zero, then ±cap.

    Example:
        >>> funding_rate_ppb(3_000_001, interval_hours=1)  # (3,000,001 − 500,000) / 8 = 312,500.125
        312500
    """
    if interval_hours <= 0:
        raise InvalidInputError("interval_hours", interval_hours, "a positive number of hours")
    if clamp_ppb < 0:
        raise InvalidInputError("clamp_ppb", clamp_ppb, "a non-negative rate")
    f8 = premium_ppb + max(-clamp_ppb, min(clamp_ppb, interest_ppb - premium_ppb))
    f = _div_toward_zero(f8 * interval_hours, 8)
    if cap_ppb is not None:
        if cap_ppb <= 0:
            raise InvalidInputError("cap_ppb", cap_ppb, "a positive rate or None")
        f = max(-cap_ppb, min(cap_ppb, f))
    return f


def funding_payments_micros(
    positions_lots: np.ndarray | Sequence[int],
    mark_ticks: int,
    micros_per_tick_lot: int,
    rate_ppb: int,
) -> tuple[np.ndarray, int]:
    """Settle one funding interval of one instrument, exactly, in micro-dollars.

    Each account owes a = lots·mark·micros_per_tick_lot·rate/1e9 (signed: longs owe when the
    rate is positive). Payers pay ⌈a⌉, receivers get ⌊|a|⌋, so the returned cash flows are
    −⌈a⌉ for everyone. Because long and short lots net to zero, Σa = 0 and the payments sum to
    −dust, where dust = Σ⌈a⌉ ∈ [0, accounts) goes to the insurance fund.

    Args:
        positions_lots: signed positions (long > 0) of every account holding the instrument; must
            sum to zero (include the insurance fund / backstop account if it holds a position).
        mark_ticks: mark price in ticks (> 0).
        micros_per_tick_lot: `Scale.micros_per_tick_lot`.
        rate_ppb: funding rate for the interval, |rate| ≤ 1e9.

    Returns:
        (int64 cash flows per account, dust) with ``payments.sum() + dust == 0``.

    Example:
        >>> p, dust = funding_payments_micros([3, -1, -2], 1_000, 1, 333_333_333)
        >>> p.tolist(), dust
        ([-1000, 333, 666], 1)
    """
    lots = np.asarray(positions_lots, dtype=np.int64)
    if lots.ndim != 1:
        raise InvalidInputError("positions_lots", lots.shape, "a 1-d array of lots")
    if int(lots.sum(dtype=object)) != 0:
        raise InvalidInputError(
            "positions_lots", int(lots.sum()), "long and short lots netting to 0"
        )
    if mark_ticks <= 0 or micros_per_tick_lot <= 0:
        raise InvalidInputError("mark_ticks", mark_ticks, "a positive price and tick-lot value")
    if abs(rate_ppb) > PPB:
        raise InvalidInputError("rate_ppb", rate_ppb, "a rate within ±1e9 ppb (±100%)")
    per_lot = mark_ticks * micros_per_tick_lot
    biggest = int(np.abs(lots).max(initial=0)) * per_lot
    if biggest >= 2**62:
        raise InvalidInputError("positions_lots", biggest, "notionals below 2**62 micro-dollars")
    notional = lots * np.int64(per_lot)
    # a = notional·rate/1e9 = q·rate + r·rate/1e9 with notional = q·1e9 + r, 0 ≤ r < 1e9:
    # every product stays below 2**63.
    q, r = np.divmod(notional, np.int64(PPB))
    rest = r * np.int64(rate_ppb)
    ceil_a = q * np.int64(rate_ppb) - (-rest // np.int64(PPB))
    payments = -ceil_a
    dust = int(ceil_a.sum(dtype=np.int64))
    return payments, dust
