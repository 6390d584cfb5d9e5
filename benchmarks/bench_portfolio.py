"""A portfolio liquidation sweep: 2,000,000 cross accounts on one Binance venue, each holding two
or three of its four perpetuals, all four prices falling together over 100 steps.

Each account holds BTCUSDT and ETHUSDT, SOLUSDT or the thin altcoin (WIFUSDT), a third of them
a third leg, 80% of the legs long, 1,000 to 50,000 USDT of notional per leg, at a leverage drawn
from 2x to 20x over the whole account. The index of BTC falls 10%, ETH 15%, SOL 20% and the
altcoin 30% (three times BTC) in 100 equal steps; a market maker re-quotes a bid ladder under
each index at every step, so the marks follow, and the venue liquidates every account its
legs' keys hand on, by the rulebook's portfolio procedure. The timed part is the 100 steps; the
event log is hashed, not kept.

``portfolio_sweep_seconds`` is the median of ``REPEATS`` sweeps of a freshly built venue;
``portfolio_sweep_peak_mib`` the process's peak resident memory (one venue alive at a time).

    python benchmarks/bench_portfolio.py [accounts] [repeats]
"""

from __future__ import annotations

import gc
import resource
import statistics
import time

import numpy as np

from margincall.core.rng import RngTree
from margincall.events.schema import EventKind
from margincall.venue.portfolio import PortfolioVenue

GROUP = "venue"
N_ACCOUNTS = 2_000_000
STEPS = 100
REPEATS = 3
START = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 150.0, "WIFUSDT": 2.0}
FALL = {"BTCUSDT": 0.10, "ETHUSDT": 0.15, "SOLUSDT": 0.20, "WIFUSDT": 0.30}
LEVELS = 20
LEVEL_USD = 120_000_000  # per level, as the one-instrument sweep (2,000 BTC at 60,000)


def build(n: int, seed: int = 7) -> tuple[PortfolioVenue, int]:
    """The venue with ``n`` portfolio accounts; returns it and the maker's account."""
    rng = RngTree(seed).generator("bench.portfolio")
    pv = PortfolioVenue(
        "binance", START, capacity=n + 1, insurance_fund_usd=50_000_000,
        price_window=(0.5, 1.5), keep_events=False,
    )  # fmt: skip
    mm = int(pv.open_accounts(np.array([10**17], np.int64), leverage=1)[0])
    second = rng.integers(1, 4, n)  # ETH, SOL or the altcoin
    third = np.where(rng.random(n) < 1 / 3, (second % 3) + 1, 0)  # another one, for a third
    notional = rng.integers(1_000, 50_001, (n, 4)).astype(np.float64)
    held = np.zeros((n, 4), bool)
    held[:, 0] = True
    held[np.arange(n), second] = True
    held[np.arange(n)[third > 0], third[third > 0]] = True
    lev = rng.uniform(2.0, 20.0, n)
    gross = (notional * held).sum(axis=1)
    deposits = (gross / lev * 1.001 * 1_000_000).astype(np.int64) + 1_000_000
    ids = pv.open_accounts(deposits, leverage=np.ceil(lev).astype(np.int64))
    side = np.where(rng.random((n, 4)) < 0.8, 1, -1)
    for j, sym in enumerate(START):
        v = pv.legs[j]
        mask = held[:, j]
        lots = np.maximum(
            (notional[mask, j] / START[sym] / float(v.scale.lot_size)).astype(np.int64), 1
        )
        pv.block_trades(sym, ids[mask], side[mask, j] * lots, START[sym], mm)
    gc.collect()
    return pv, mm


def step(pv: PortfolioVenue, mm: int, s: int) -> np.ndarray:
    """Step ``s``: the maker's bid ladders under the new indexes, the marks, the liquidations."""
    pv.cancel_all(mm)
    for j, sym in enumerate(START):
        v = pv.legs[j]
        price = START[sym] * (1 - FALL[sym] * s / STEPS)
        index = round(price / float(v.scale.tick_size))
        lots = max(1, int(LEVEL_USD / price / float(v.scale.lot_size)))
        levels = np.round(index * (1 - 0.0005 * np.arange(LEVELS))).astype(np.int64)
        one = np.ones(LEVELS, np.int64)
        pv.submit_orders(sym, mm * one, one, lots * one, levels)
        pv.set_index_price(sym, v.scale.ticks_to_price(index))
    pv.update_marks()
    return pv.run_liquidations()


def sweep(pv: PortfolioVenue, mm: int) -> tuple[float, int]:
    liq = int(EventKind.LIQUIDATION_TRIGGERED)
    liquidations = 0
    t0 = time.perf_counter()
    for s in range(1, STEPS + 1):
        pv.advance(s * 1_000_000_000)
        liquidations += int((step(pv, mm, s)["kind"] == liq).sum())
    return time.perf_counter() - t0, liquidations


def run(n: int = N_ACCOUNTS, repeats: int = REPEATS) -> list[dict]:
    small, mm = build(5_000)  # compile every kernel the sweeps time
    sweep(small, mm)
    del small
    times = []
    liquidations = 0
    for _ in range(repeats):
        gc.collect()
        pv, mm = build(n)
        pv.check_invariants()
        seconds, liquidations = sweep(pv, mm)
        pv.check_invariants()
        times.append(seconds)
        del pv
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return [
        {
            "name": "portfolio_sweep_seconds",
            "value": round(statistics.median(times), 3),
            "unit": "s",
        },
        {"name": "portfolio_sweep_liquidations", "value": liquidations, "unit": "legs"},
        {"name": "portfolio_sweep_peak_mib", "value": round(peak, 1), "unit": "MiB"},
    ]


if __name__ == "__main__":
    import json
    import sys

    args = sys.argv[1:]
    for row in run(
        int(args[0]) if args else N_ACCOUNTS, int(args[1]) if len(args) > 1 else REPEATS
    ):
        print(json.dumps(row))
