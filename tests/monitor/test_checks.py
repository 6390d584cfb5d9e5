"""Data checks: each problem is reported with its rows, nothing is dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from margincall.monitor.checks import check_bars
from margincall.monitor.ingest import read_coinglass
from margincall.monitor.schema import BAR_SCHEMA, conform


def bars(hours: list[int], **cols) -> pl.DataFrame:
    n = len(hours)
    ts = [datetime(2026, 2, 5, tzinfo=UTC) + timedelta(hours=h) for h in hours]
    p = np.full(n, 100.0)
    base = {"ts": ts, "open": p, "high": p + 1, "low": p - 1, "close": p, "volume": p}
    base.update(cols)
    return conform(pl.DataFrame(base), "test")


def kinds(warnings):
    return {(w.kind, w.column): w.rows for w in warnings}


def test_clean_bars_have_no_warning():
    assert check_bars(bars(list(range(6)))) == []


def test_gap_duplicate_and_out_of_order_rows():
    frame = bars([0, 1, 2, 5, 6, 6, 4, 7, 8, 9])
    got = kinds(check_bars(frame))
    assert got[("gap", "ts")] == (3, 7)
    assert got[("duplicate", "ts")] == (5,)
    assert got[("out_of_order", "ts")] == (6,)
    assert frame.height == 10  # nothing dropped
    gap = next(w for w in check_bars(frame) if w.kind == "gap")
    assert "4 missing" in gap.message  # 2->5 and 4->7 each skip two hours


def test_explicit_period_finds_gaps_in_regular_data():
    frame = bars([0, 2, 4, 6])
    assert check_bars(frame) == []
    assert kinds(check_bars(frame, period=timedelta(hours=1)))[("gap", "ts")] == (1, 2, 3)


def test_all_zero_negative_and_high_low():
    n = 5
    frame = bars(
        list(range(n)),
        liq_long_usd=np.zeros(n),
        volume=np.array([1.0, -2.0, 3.0, -1.0, 0.0]),
        funding=np.array([-1e-4] * n),
    )
    frame = frame.with_columns(
        pl.when(pl.int_range(n) == 2).then(98.0).otherwise(pl.col("high")).alias("high")
    )
    got = kinds(check_bars(frame))
    assert got[("all_zero", "liq_long_usd")] == ()
    assert got[("negative", "volume")] == (1, 3)
    assert got[("high_low", "high")] == (2,)
    assert ("negative", "funding") not in got  # funding may be negative
    assert ("all_zero", "oi_usd") not in got  # all null is not all zero


def test_warning_schema_columns_only_numeric_checked():
    frame = bars(list(range(3)))
    assert set(frame.columns) == set(BAR_SCHEMA)
    w = check_bars(frame.with_columns(pl.lit(-1.0).alias("close")))
    assert kinds(w)[("negative", "close")] == (0, 1, 2)
    assert "close is negative in 3 row(s)" in w[0].message


def test_real_file_gaps_match_the_timestamps(real_csv):
    frame = read_coinglass(real_csv)
    ts = frame["ts"].dt.epoch("s").to_numpy()
    expected = tuple(int(i) + 1 for i in np.flatnonzero(np.diff(ts) > 3600))
    got = kinds(check_bars(frame))
    assert expected  # the README says there are a few one-hour gaps
    assert got[("gap", "ts")] == expected
    assert ("duplicate", "ts") not in got
