"""A liquidation sweep at exchange scale: 10,000,000 accounts, price down 15% in 100 steps.

The market of ``margincall demo`` (:func:`margincall.sim.scripted_drop.build_market`): BTCUSDT positions (80%
long, 0.001 to 0.1 BTC) opened at 60,000 with leverage drawn uniformly from 2x to the rulebook's
maximum. A market maker re-quotes a ladder of bids at every step; the index falls 0.15% per step
and every breached account goes through the engine's waterfall of its rulebook: trigger, forced
order against the book, fees, fund takeover or ADL. The timed part is the 100 steps; the event
log is hashed, not kept.

One sweep line per rulebook (``liquidation_sweep_seconds`` is Binance's), each the median of
``REPEATS`` sweeps of a freshly built market; ``liquidation_sweep_peak_mib`` is the process's
peak resident memory (one market is alive at a time).

    python benchmarks/bench_liquidation.py [accounts] [repeats] [rulebook,...]
"""

from __future__ import annotations

import gc
import resource
import statistics
import time

from margincall.events.schema import EventKind
from margincall.sim.scripted_drop import START_PRICE, build_market, drop_to

GROUP = "venue"
N_ACCOUNTS = 10_000_000
STEPS = 100
DROP = 0.15
REPEATS = 3
RULEBOOKS = ("binance", "bitmex", "dydx", "hyperliquid")


def sweep(v, mm: int) -> tuple[float, int, int]:
    liq = int(EventKind.LIQUIDATION_TRIGGERED)
    liquidations = 0
    t0 = time.perf_counter()
    for s in range(1, STEPS + 1):
        v.advance(s * 1_000_000_000)
        events = drop_to(v, mm, START_PRICE * (1 - DROP * s / STEPS))
        liquidations += int((events["kind"] == liq).sum())
    return time.perf_counter() - t0, liquidations, len(v.log)


def build(n: int, rulebook: str):
    gc.unfreeze()
    gc.collect()
    v, mm = build_market(n, rulebook=rulebook, keep_events=False)
    gc.freeze()  # the sweep allocates few Python objects: keep the collector off the set-up's heap
    return v, mm


def measure(rulebook: str, n: int, repeats: int) -> tuple[float, int, int]:
    """Median seconds of ``repeats`` sweeps; the liquidations and events of the last one."""
    times = []
    for _ in range(repeats):
        v, mm = build(n, rulebook)
        v.check_invariants()
        seconds, liquidations, events = sweep(v, mm)
        v.check_invariants()
        times.append(seconds)
        del v
    return statistics.median(times), liquidations, events


def run(
    n: int = N_ACCOUNTS, repeats: int = REPEATS, rulebooks: tuple[str, ...] = RULEBOOKS
) -> list[dict]:
    for rulebook in rulebooks:  # compile every kernel the sweeps time
        small, mm = build(20_000, rulebook)
        sweep(small, mm)
    del small
    rows = []
    for rulebook in rulebooks:
        seconds, liquidations, events = measure(rulebook, n, repeats)
        suffix = "" if rulebook == "binance" else f"_{rulebook}"
        rows.append(
            {"name": f"liquidation_sweep_seconds{suffix}", "value": round(seconds, 3), "unit": "s"}
        )
        if rulebook == "binance":
            rows += [
                {
                    "name": "liquidation_sweep_liquidations",
                    "value": liquidations,
                    "unit": "accounts",
                },
                {
                    "name": "liquidation_sweep_rate",
                    "value": round(liquidations / seconds),
                    "unit": "liquidations/s",
                },
                {"name": "liquidation_sweep_events", "value": events, "unit": "events"},
            ]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append({"name": "liquidation_sweep_peak_mib", "value": round(peak, 1), "unit": "MiB"})
    return rows


if __name__ == "__main__":
    import json
    import sys

    args = sys.argv[1:]
    for row in run(
        int(args[0]) if args else N_ACCOUNTS,
        int(args[1]) if len(args) > 1 else REPEATS,
        tuple(args[2].split(",")) if len(args) > 2 else RULEBOOKS,
    ):
        print(json.dumps(row))
