"""Per-call overhead of the venue's kernels, in nanoseconds per call (median of 5 timings).

- ``kernel_call_ns``: one compiled kernel calling another that takes the venue state and does
  nothing (settling an empty batch of book records), as the hot paths do many times per
  liquidation: the cost of passing the state (one ``VenueState``, borrowed views, no reference
  counting).
- ``entry_call_ns``: Python calling an entry kernel with the venue state (a liquidation pass
  that finds no one), as the simulator does a few times per step: numba's dispatch.

    python benchmarks/call_overhead.py
"""

from __future__ import annotations

import json
import statistics
import time

import numpy as np
from numba import njit

from margincall.events.schema import EVENT_DTYPE, EventKind
from margincall.venue.accounts import BOOK_N, OUT_N
from margincall.venue.engine import Venue
from margincall.venue.orders import settle
from margincall.venue.state import borrow_state

K_FILLED = int(EventKind.ORDER_FILLED)


@njit(cache=True)
def _loop(s, reps):
    s = borrow_state(s)
    total = 0
    for i in range(reps):
        s.meta[OUT_N] = i & 1
        s.meta[BOOK_N] = 0
        filled, _ = settle(s, K_FILLED)
        total += s.meta[OUT_N] + filled
    return total


def _median_ns(fn, reps: int) -> float:
    fn(10)
    samples = []
    for _ in range(5):
        t0 = time.perf_counter()
        fn(reps)
        samples.append((time.perf_counter() - t0) / reps * 1e9)
    return statistics.median(samples)


def main() -> list[dict]:
    v = Venue("binance", "BTCUSDT", price=60_000, capacity=1_000, insurance_fund_usd=1_000_000)
    out = np.empty(64, EVENT_DTYPE)
    kernel = _median_ns(lambda r: _loop(v._kernel_state(out), r), 2_000_000)
    entry = _median_ns(lambda r: [v.run_liquidations() for _ in range(r)], 20_000)
    return [
        {"name": "kernel_call_ns", "value": round(kernel, 1), "unit": "ns"},
        {"name": "entry_call_ns", "value": round(entry, 1), "unit": "ns"},
    ]


if __name__ == "__main__":
    for row in main():
        print(json.dumps(row))
