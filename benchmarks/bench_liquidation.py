"""A liquidation sweep at exchange scale: 10,000,000 accounts, price down 15% in 100 steps.

Accounts hold BTCUSDT positions (80% long, 20% short, 0.001 to 0.1 BTC) opened at 60,000 with
leverage drawn from 2x to 125x under the Binance rulebook. A market maker re-quotes a ladder of
bids at every step; the index falls 0.15% per step and every breached account goes through the
engine: trigger, forced IOC order at the bankruptcy price against the book, clearance fee,
fund takeover or ADL. The timed part is the 100 steps; the event log is hashed, not kept.
"""

from __future__ import annotations

import gc
import time

import numpy as np

from margincall.events.schema import EventKind
from margincall.venue.engine import Venue

GROUP = "venue"
N_ACCOUNTS = 10_000_000
STEPS = 100
DROP = 0.15
START = 60_000


def build(n: int, seed: int = 7, rulebook: str = "binance") -> tuple[Venue, int]:
    rng = np.random.default_rng(seed)
    v = Venue(
        rulebook,
        "BTCUSDT",
        price=START,
        capacity=n + 1,
        insurance_fund_usd=50_000_000,
        keep_events=False,
        order_capacity=1 << 12,
        price_window=(0.5, 1.5),
    )
    mm = v.open_account(10_000_000_000, leverage=1)
    lots = rng.integers(1, 101, n)  # 0.001 .. 0.1 BTC
    side = np.where(rng.random(n) < 0.8, 1, -1)
    lev = np.minimum(rng.integers(2, 126, n), int(v.instrument.tiers[0].max_leverage))
    ticks = v.scale.price_to_ticks(START)
    notional = lots * ticks * v.k
    deposits = -(-notional // lev) + notional // 1000  # initial margin plus 0.1% for fees
    step = 1_000_000
    for i in range(0, n, step):  # in chunks, so the set-up events never pile up in memory
        ids = v.open_accounts(deposits[i : i + step], leverage=lev[i : i + step])
        v.block_trades(ids, side[i : i + step] * lots[i : i + step], START, mm)
    del lots, side, lev, notional, deposits
    gc.collect()
    gc.freeze()  # the sweep allocates few Python objects: keep the collector off the set-up's heap
    return v, mm


def sweep(v: Venue, mm: int) -> tuple[float, int, int]:
    liq = int(EventKind.LIQUIDATION_TRIGGERED)
    liquidations = 0
    t0 = time.perf_counter()
    for s in range(1, STEPS + 1):
        price = START * (1 - DROP * s / STEPS)
        v.advance(s * 1_000_000_000)
        v.cancel_all(mm)
        for j in range(20):  # 20 levels, 0.05% apart, 2,000 BTC each
            v.submit_order(mm, "buy", "2000", round(price * (1 - 0.0005 * j), 1))
        v.set_index_price(round(price, 1))
        v.update_mark()
        events = v.run_liquidations()
        liquidations += int((events["kind"] == liq).sum())
    return time.perf_counter() - t0, liquidations, len(v.log)


def run() -> list[dict]:
    small, mm = build(20_000)
    sweep(small, mm)  # compile everything first
    v, mm = build(N_ACCOUNTS)
    v.check_invariants()
    seconds, liquidations, events = sweep(v, mm)
    v.check_invariants()
    return [
        {"name": "liquidation_sweep_seconds", "value": round(seconds, 3), "unit": "s"},
        {"name": "liquidation_sweep_liquidations", "value": liquidations, "unit": "accounts"},
        {
            "name": "liquidation_sweep_rate",
            "value": round(liquidations / seconds),
            "unit": "liquidations/s",
        },
        {"name": "liquidation_sweep_events", "value": events, "unit": "events"},
    ]


if __name__ == "__main__":
    import json
    import sys

    if len(sys.argv) > 1:
        N_ACCOUNTS = int(sys.argv[1])
    for row in run():
        print(json.dumps(row))
