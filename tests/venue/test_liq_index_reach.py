"""reaches_none: the plain-Python check that lets an instrument skip its liquidation rounds."""

from __future__ import annotations

import numpy as np

from margincall.venue import liq_index as li


def _index(rng: np.random.Generator) -> li.LiqIndex:
    idx = li.new_index(300, max_tick=100_000, buckets=64)
    for a in range(1, 300):
        side = int(rng.choice([-1, 1]))
        centre = 40_000 if side > 0 else 60_000  # longs break below, shorts above
        li.insert(idx, a, side, int(rng.normal(centre, 2_000)))
    return idx


def test_reaches_none_only_when_collect_takes_no_one():
    rng = np.random.default_rng(11)
    idx = _index(rng)
    out = np.empty(16, np.int64)
    skipped = taken = 0
    marks = rng.integers(1, 100_000, 300).tolist() + rng.integers(44_000, 56_000, 100).tolist()
    for mark in [*marks, 0, 50_000, 99_999, 100_000]:
        copy = li.LiqIndex(*(a.copy() for a in idx))
        _, n = li.collect(copy, mark, out)
        if li.reaches_none(idx, mark):
            assert n == 0, mark
            skipped += 1
        taken += n > 0
    assert skipped > 20 and taken > 20  # both sides of the check were exercised
    empty = li.new_index(10, max_tick=100_000, buckets=64)
    assert li.reaches_none(empty, 50_000)
