"""Compile the venue's kernels on two cores when the kernel cache is cold (a first run).

numba compiles in the process that calls a kernel, one kernel after another, on one core. Most
of a first run's compile time goes to three entry kernels: the liquidation rounds (about half),
order entry and the opening block trades. :func:`compile_on_two_cores` starts a child process
that compiles the liquidation path while this process compiles order entry, and returns when both
are in the cache; the run then loads the liquidation kernels from the cache instead of compiling
them. With a warm cache it does nothing. The results do not depend on it: the same kernels, the
same machine code, compiled in another process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from margincall.core.kernel_cache import cache_is_warm

_CHILD = "from margincall.venue.warm import _child; _child({pid})"


def _tiny_venue():
    from margincall.venue.engine import Venue

    v = Venue("binance", price=60_000, capacity=8, insurance_fund_usd=1_000)
    ids = v.open_accounts(np.full(4, 10_000_000_000, np.int64), leverage=10)
    return v, ids


def _order_entry() -> None:
    """Every order-entry kernel a run calls: block trades, order batches (with cancels),
    funding's re-keying of the index."""
    v, ids = _tiny_venue()
    v.block_trades(ids[1:2], np.array([1], np.int64), 60_000, int(ids[0]))
    one = np.ones(2, np.int64)
    sides = np.array([1, -1], np.int64)
    ticks = v.index_ticks
    prices = np.array([ticks - 10, ticks + 10], np.int64)
    v.submit_orders(ids[2:4], sides, one, prices, cancel_first=[int(ids[2])])
    v.settle_funding(0)


def _liquidation_path() -> None:
    v, _ = _tiny_venue()
    v.cascade()  # (run_liquidations would skip the rounds: no account is reached)


def _child(parent_pid: int) -> None:
    from margincall.core.orphans import die_with_parent

    die_with_parent(parent_pid)
    _liquidation_path()


def compile_on_two_cores(cache: Path | None = None) -> bool:
    """With a cold kernel cache (``cache``: the configured folder by default), compile the
    liquidation path in a child process while this one compiles order entry. Returns whether the
    child compiled its part (False with a warm cache, or when the child failed: the run then
    compiles what is missing itself)."""
    if cache_is_warm(cache):
        return False
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD.format(pid=os.getpid())],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _order_entry()
    finally:
        code = child.wait()
    return code == 0
