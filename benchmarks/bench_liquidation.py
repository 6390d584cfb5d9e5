"""A liquidation sweep at exchange scale: 10,000,000 accounts, price down 15% in 100 steps.

The market of ``margincall demo`` (:func:`margincall.sim.scripted_drop.build_market`): BTCUSDT positions (80%
long, 0.001 to 0.1 BTC) opened at 60,000 with leverage drawn uniformly from 2x to 125x under the
Binance rulebook. A market maker re-quotes a ladder of bids at every step; the index falls 0.15%
per step and every breached account goes through the engine: trigger, forced IOC order at the
bankruptcy price against the book, clearance fee, fund takeover or ADL. The timed part is the
100 steps; the event log is hashed, not kept.
"""

from __future__ import annotations

import gc
import time

from margincall.events.schema import EventKind
from margincall.sim.scripted_drop import START_PRICE, build_market, drop_to

GROUP = "venue"
N_ACCOUNTS = 10_000_000
STEPS = 100
DROP = 0.15


def sweep(v, mm: int) -> tuple[float, int, int]:
    liq = int(EventKind.LIQUIDATION_TRIGGERED)
    liquidations = 0
    t0 = time.perf_counter()
    for s in range(1, STEPS + 1):
        v.advance(s * 1_000_000_000)
        events = drop_to(v, mm, START_PRICE * (1 - DROP * s / STEPS))
        liquidations += int((events["kind"] == liq).sum())
    return time.perf_counter() - t0, liquidations, len(v.log)


def build(n: int):
    v, mm = build_market(n, keep_events=False)
    gc.freeze()  # the sweep allocates few Python objects: keep the collector off the set-up's heap
    return v, mm


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
