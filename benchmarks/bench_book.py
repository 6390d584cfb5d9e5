"""Order book throughput: the compiled book against the pure-Python reference.

The stream is seeded and generated vectorised (outside the timing): 60% GTC limit orders placed
around a fixed mid within a band (a few ticks may cross), 30% cancels of live limit orders
picked by the RNG (each cancel refers to its target by message index through
``MESSAGE_DTYPE.ref``; targets filled in the meantime are rejected UNKNOWN_ORDER, as in a real
feed), 10% market orders
(IOC with a far limit price). Only ``process_messages`` is timed.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

from margincall.venue.book import (
    BOOK_EVENT_DTYPE,
    MESSAGE_DTYPE,
    OP_CANCEL,
    OP_SUBMIT,
    TIF_GTC,
    TIF_IOC,
    new_book,
    process_messages,
)

TESTS = Path(__file__).resolve().parents[1] / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))  # the pure-Python reference book is a test oracle

from oracles.reference_book import ReferenceOrderBook  # noqa: E402

GROUP = "venue"

SEED = 20240501
N_MESSAGES = 2_000_000
N_REFERENCE = 200_000
N_ACCOUNTS = 1_000
MID = 100_000
BAND = 50  # limit orders rest up to BAND ticks behind the mid
MIN_TICK = MID - 1_000
MAX_TICK = MID + 1_000
MEAN_LIFETIME = 2_000  # mean messages between a limit order and its cancel


def make_stream(n: int = N_MESSAGES, seed: int = SEED) -> np.ndarray:
    """The seeded benchmark message stream (``MESSAGE_DTYPE``)."""
    rng = np.random.default_rng(seed)
    n_limit = round(0.6 * n)
    n_market = round(0.1 * n)
    n_cancel = n - n_limit - n_market
    n_base = n_limit + n_market
    # limit and market orders in random order; each cancel is due a seeded lifetime after a
    # distinct limit order, so it targets a live order unless that one was filled meanwhile
    base_is_market = rng.permutation(np.arange(n_base) >= n_limit)
    doomed = rng.choice(np.flatnonzero(~base_is_market), n_cancel, replace=False)
    due = doomed + 0.5 + rng.exponential(MEAN_LIFETIME * n_base / n, n_cancel)
    order = np.argsort(np.concatenate([np.arange(n_base, dtype=np.float64), due]), kind="stable")
    position = np.empty(n, np.int64)
    position[order] = np.arange(n)  # final message index of each base order and cancel

    msgs = np.zeros(n, MESSAGE_DTYPE)
    msgs["order_id"] = -1
    msgs["ref"] = -1
    base = position[:n_base]
    side = rng.choice(np.array([-1, 1], np.int64), n_base)
    offset = rng.integers(-2, BAND, n_base)
    msgs["op"][base] = OP_SUBMIT
    msgs["side"][base] = side
    msgs["account"][base] = rng.integers(0, N_ACCOUNTS, n_base)
    msgs["price"][base] = np.where(base_is_market, MID + side * (4 * BAND), MID - side * offset)
    msgs["qty"][base] = np.where(
        base_is_market, rng.integers(1, 11, n_base), rng.integers(1, 11, n_base)
    )
    msgs["tif"][base] = np.where(base_is_market, TIF_IOC, TIF_GTC)
    cancels = position[n_base:]
    msgs["op"][cancels] = OP_CANCEL
    msgs["ref"][cancels] = base[doomed]
    return msgs


def _run_book(msgs: np.ndarray, out: np.ndarray) -> tuple[float, np.ndarray, int]:
    state = new_book(MIN_TICK, MAX_TICK, int(msgs.shape[0]), N_ACCOUNTS)
    t0 = time.perf_counter()
    out, n_out = process_messages(state, msgs, out, 0)
    return time.perf_counter() - t0, out, n_out


def run() -> list[dict]:
    """Measure and return the results as JSON-able dicts."""
    msgs = make_stream()
    # warm-up: compiles (or loads the cache) and sizes the output array, which is then reused
    _, out, _ = _run_book(msgs[:1000], np.empty(1024, BOOK_EVENT_DTYPE))
    _, out, _ = _run_book(msgs, out)
    times = [_run_book(msgs, out)[0] for _ in range(5)]
    book_rate = msgs.shape[0] / statistics.median(times)

    sub = msgs[:N_REFERENCE]
    ref_times = []
    for _ in range(3):
        ref = ReferenceOrderBook(MIN_TICK, MAX_TICK, N_REFERENCE, N_ACCOUNTS)
        t0 = time.perf_counter()
        ref.process_messages(sub)
        ref_times.append(time.perf_counter() - t0)
    ref_rate = sub.shape[0] / statistics.median(ref_times)
    return [
        {"name": "book_throughput", "value": round(book_rate), "unit": "messages/s"},
        {"name": "reference_book_throughput", "value": round(ref_rate), "unit": "messages/s"},
        {"name": "book_speedup_vs_reference", "value": round(book_rate / ref_rate, 1), "unit": "x"},
    ]


if __name__ == "__main__":
    import json

    [print(json.dumps(r)) for r in run()]
