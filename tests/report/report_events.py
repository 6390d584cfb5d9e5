"""A small hand-built event log shared by the report tests (a helper module, not a conftest,
so its name cannot clash with another test folder's ``conftest`` module).

Four 1-minute bars from 2024-01-01T00:00:00Z (tick 0.1 USD, lot 0.001 BTC, 100 micro-dollars per
tick-lot):

- bar 0: snapshots at the start, then three taker trades (each with its maker side);
- bar 1: an account-5 long liquidated through the book and the fund at one instant, an account-7
  short liquidated through the book; no snapshot (the kernel would emit one, the gap tests
  carry-forward);
- bar 2: an ADL of account 9's long and a second snapshot set (insurance fund twice);
- bar 3: nothing but an open-interest snapshot at exactly ``END``.

Noise that must be ignored: events before ``T0`` and after ``END``, an accepted order at a wild
price, maker sides and the fund's side of the takeover.
"""

from __future__ import annotations

import numpy as np

from margincall.events.schema import EVENT_DTYPE, EventKind

NS = 1_000_000_000
T0 = 1_704_067_200 * NS  # 2024-01-01T00:00:00Z
END = T0 + 240 * NS
TICK = 0.1
LOT = 0.001
K = 100  # micro-dollars per tick-lot

K_ = EventKind


def build(rows: list[tuple]) -> np.ndarray:
    """Records from ``(ts_ns, kind, side, liquidity, account, price, qty, notional, amount)``.

    ``seq`` is the row order. A ``notional`` of ``None`` is computed as ``price * qty * K``.
    """
    out = np.zeros(len(rows), EVENT_DTYPE)
    for i, (ts, kind, side, liq, account, price, qty, notional, amount) in enumerate(rows):
        if notional is None:
            notional = abs(price * qty * K)
        out[i] = (ts, i, kind, 0, 0, side, liq, 0, account, -1, -1, price, qty, notional, amount)
    return out


def snapshots(ts: int, mark: int, oi_usd: int, fund_usd: int, longs: int, shorts: int,
              funding_ppb: int, bids_usd: int, asks_usd: int) -> list[tuple]:  # fmt: skip
    """The five snapshot rows the kernel emits at one time."""
    m = 1_000_000
    return [
        (ts, K_.DEPTH_SNAPSHOT, 0, 0, -1, mark, 0, bids_usd * m, asks_usd * m),
        (ts, K_.OPEN_INTEREST_SNAPSHOT, 0, 0, -1, mark, 0, oi_usd * m, 0),
        (ts, K_.INSURANCE_FUND_SNAPSHOT, 0, 0, 0, 0, 0, 0, fund_usd * m),
        (ts, K_.ACCOUNTS_SNAPSHOT, 0, 0, -1, 0, longs, 0, shorts),
        (ts, K_.FUNDING_SNAPSHOT, 0, 0, -1, 0, 0, 0, funding_ppb),
    ]


def trade(ts: int, price: int, qty: int, taker_side: int, kind: int = K_.ORDER_FILLED,
          taker: int = 3, maker: int = 1) -> list[tuple]:  # fmt: skip
    """Both sides of one book trade: the taker (liquidity 2) and the maker (liquidity 1)."""
    return [
        (ts, kind, taker_side, 2, taker, price, qty, None, 0),
        (ts, K_.ORDER_FILLED, -taker_side, 1, maker, price, qty, None, 0),
    ]


def scenario_rows() -> list[tuple]:
    s = NS
    return [
        *trade(T0 - 60 * s, 900_000, 10, 1),  # before the window: ignored
        *snapshots(T0, 600_000, 6_000, 50_000, 30, 10, 100_000, 2_000, 3_000),
        (T0 + 5 * s, K_.ORDER_ACCEPTED, 1, 0, 3, 700_000, 10, 0, 0),  # not a fill
        *trade(T0 + 10 * s, 600_100, 10, 1),
        *trade(T0 + 20 * s, 599_500, 10, -1),
        *trade(T0 + 30 * s, 600_200, 10, 1),
        # bar 1: account 5 (long) liquidated: book, then the fund takes the rest, same instant
        (T0 + 70 * s, K_.LIQUIDATION_TRIGGERED, 0, 0, 5, 598_000, 30, 0, -1_000_000),
        *trade(T0 + 70 * s, 598_000, 20, -1, kind=K_.POSITION_LIQUIDATED, taker=5),
        (T0 + 70 * s, K_.BACKSTOP_TAKEOVER, -1, 2, 5, 597_000, 10, None, 0),
        (T0 + 70 * s, K_.BACKSTOP_TAKEOVER, 1, 1, 0, 597_000, 10, None, 0),
        (T0 + 75 * s, K_.LIQUIDATION_TRIGGERED, 0, 0, 5, 598_000, 0, 0, -1),
        # account 7 (short) liquidated through the book
        (T0 + 80 * s, K_.LIQUIDATION_TRIGGERED, 0, 0, 7, 598_500, -5, 0, -1),
        *trade(T0 + 80 * s, 598_500, 5, 1, kind=K_.POSITION_LIQUIDATED, taker=7),
        # bar 2: snapshots, an ADL of account 9's long, the fund snapshot again
        *snapshots(T0 + 120 * s, 598_000, 5_000, 49_000, 5, 0, -200_000, 1_000, 500),
        (T0 + 130 * s, K_.LIQUIDATION_TRIGGERED, 0, 0, 9, 596_000, 20, 0, -1),
        (T0 + 130 * s, K_.ADL_EXECUTED, -1, 2, 9, 596_000, 20, None, 0),
        (T0 + 130 * s, K_.ADL_EXECUTED, 1, 1, 4, 596_000, 20, None, 0),
        (T0 + 150 * s, K_.INSURANCE_FUND_SNAPSHOT, 0, 0, 0, 0, 0, 0, 48_500_000_000),
        # bar 3: only the closing open-interest snapshot, exactly at END
        (END, K_.OPEN_INTEREST_SNAPSHOT, 0, 0, -1, 598_000, 0, 4_000_000_000, 0),
        *trade(END + 1, 100_000, 10, -1),  # after the window: ignored
    ]


def scenario() -> np.ndarray:
    """The scenario described in the module docstring, as records."""
    return build(scenario_rows())
