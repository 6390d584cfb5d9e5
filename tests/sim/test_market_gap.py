"""The gap between venues in a market summary, on hand-made snapshot arrays: on book mids, over
the venues listing the asset, a minute with an empty book side counted over the others, and its
value at the end the median of the last 10 minutes."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from margincall.sim.market_summary import END_MINUTES, _gap


def _sim(mids: list[list[float]], marks: list[list[float]] | None = None) -> SimpleNamespace:
    """One asset: ``mids[minute][venue]``; the marks are 100 wherever not given (listed)."""
    m = np.array(mids, float)[:, :, None]
    k = np.full_like(m, 100.0) if marks is None else np.array(marks, float)[:, :, None]
    return SimpleNamespace(mids=m, marks=k, _snaps=len(m))


def test_the_gap_is_on_mids_and_its_end_is_the_median_of_the_last_ten_minutes():
    """Twelve minutes of two venues: calm at 100 / 100.02 (0.02 / 100.01 apart), a crash minute
    at 100 / 98 (2 / 99 = 2.0202%), nine minutes at 100 / 100.04 (0.04 / 100.02) and a last one at
    100 / 100.1. The marks stay at 100: on marks there would be no gap at all. The end: the
    median of the last 10 minutes, nine of them 0.04 / 100.02, not the last minute's 0.1%."""
    mids = [[100, 100.02], [100, 98]] + [[100, 100.04]] * 9 + [[100, 100.1]]
    g = _gap(_sim(mids), 0)
    assert g["venues"] == 2 and g["max_minute"] == 1
    assert g["max_pct"] == pytest.approx(2 / 99 * 100)
    assert END_MINUTES == 10
    assert g["end_pct"] == pytest.approx(0.04 / 100.02 * 100)


def test_a_book_without_a_side_leaves_the_minute_to_the_other_venues():
    """Three venues; in minute 1 venue 2's book has no mid (NaN): the gap there is the other two's
    (100 / 101: 1 / 100.5); in minute 2 only one venue has a mid: no gap (0). A venue whose mark
    is missing does not list the asset and is left out whatever its mid."""
    mids = [[100, 100, 100], [100, 101, np.nan], [100, np.nan, np.nan]]
    g = _gap(_sim(mids), 0)
    assert g["max_minute"] == 1 and g["max_pct"] == pytest.approx(1 / 100.5 * 100)
    assert g["end_pct"] == pytest.approx(0.0)  # the median of 0, 0.995%, 0
    unlisted = _gap(_sim([[100, 90]], marks=[[100, np.nan]]), 0)
    assert unlisted == {"venues": 1, "max_pct": None, "max_minute": None, "end_pct": None}
