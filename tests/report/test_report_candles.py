"""Candles from a hand-built log: exact OHLC, volume, forced closes, snapshots, carry-forward.

Every value is compared with ``==``: the conversions divide exact integers once, so each USD value
is the double nearest its decimal value.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from report_events import END, LOT, NS, T0, TICK, build, scenario, snapshots, trade

from margincall.core.errors import InvalidInputError
from margincall.events.schema import EVENT_DTYPE
from margincall.report.candles import COLUMNS, candles


@pytest.fixture
def events() -> np.ndarray:
    return scenario()


def test_columns_types_and_one_row_per_minute(events):
    df = candles(events, TICK, LOT, T0, END)
    assert tuple(df.columns) == COLUMNS
    assert df.schema["ts"] == pl.Datetime("ns", "UTC")
    assert all(df.schema[c] == pl.Float64 for c in COLUMNS[1:])
    assert df["ts"].to_list() == [datetime(2024, 1, 1, 0, m, tzinfo=UTC) for m in range(4)]


def test_prices_and_volume_come_from_taker_side_of_book_trades(events):
    df = candles(events, TICK, LOT, T0, END)
    assert df["open"].to_list() == [60_010.0, 59_800.0, 59_850.0, 59_850.0]
    assert df["high"].to_list() == [60_020.0, 59_850.0, 59_850.0, 59_850.0]
    assert df["low"].to_list() == [59_950.0, 59_800.0, 59_850.0, 59_850.0]
    assert df["close"].to_list() == [60_020.0, 59_850.0, 59_850.0, 59_850.0]
    # 600.1 + 599.5 + 600.2; then the two liquidation fills 1,196 + 299.25; ADL is no trade
    assert df["volume_usd"].to_list() == [1_799.8, 1_495.25, 0.0, 0.0]


def test_prices_are_the_nearest_double_to_the_decimal_price():
    rows = trade(T0, 599_922, 1, 1) + trade(T0 + 1, 123_456_789, 1, 1)
    df = candles(build(rows), TICK, LOT, T0, T0 + 60 * NS)
    assert (df["low"][0], df["high"][0]) == (59_992.2, 12_345_678.9)  # not 59,992.200000000004


def test_forced_closes_by_side(events):
    df = candles(events, TICK, LOT, T0, END)
    # bar 1: book 1,196 + fund takeover 597 of the long; bar 2: ADL 1,192 of a long
    assert df["liq_long_usd"].to_list() == [0.0, 1_793.0, 1_192.0, 0.0]
    assert df["liq_short_usd"].to_list() == [0.0, 299.25, 0.0, 0.0]


def test_snapshots_last_in_bar_and_carried_forward(events):
    df = candles(events, TICK, LOT, T0, END)
    assert df["open_interest_usd"].to_list() == [6_000.0, 6_000.0, 5_000.0, 4_000.0]
    assert df["funding_rate"].to_list() == [1e-4, 1e-4, -2e-4, -2e-4]
    assert df["insurance_fund_usd"].to_list() == [50_000.0, 50_000.0, 48_500.0, 48_500.0]
    assert df["depth_1pct_usd"].to_list() == [5_000.0, 5_000.0, 1_500.0, 1_500.0]
    ratio = df["long_short_account_ratio"].to_list()
    assert ratio[:2] == [3.0, 3.0]
    assert math.isnan(ratio[2]) and math.isnan(ratio[3])  # no short account: NaN, carried


def test_open_and_close_follow_seq_not_array_order(events):
    shuffled = events[np.random.default_rng(1).permutation(len(events))]
    assert candles(shuffled, TICK, LOT, T0, END).equals(candles(events, TICK, LOT, T0, END))


def test_bars_before_the_first_trade_use_the_first_mark():
    rows = [
        *snapshots(T0, 600_000, 6_000, 50_000, 1, 1, 0, 1, 1),
        *snapshots(T0 + 60 * NS, 610_000, 6_000, 50_000, 1, 1, 0, 1, 1),
        *trade(T0 + 150 * NS, 601_000, 10, 1),
    ]
    df = candles(build(rows), TICK, LOT, T0, T0 + 180 * NS)
    for column in ("open", "high", "low", "close"):
        assert df[column].to_list() == [60_000.0, 60_000.0, 60_100.0]
    assert df["volume_usd"].to_list() == [0.0, 0.0, 601.0]


def test_empty_log_gives_nan_rows_and_zero_sums():
    df = candles(np.zeros(0, EVENT_DTYPE), TICK, LOT, T0, T0 + 150 * NS)
    assert df.height == 3  # 150 s in 60 s bars: the last bar is partial
    assert all(math.isnan(v) for v in df["close"].to_list() + df["open_interest_usd"].to_list())
    assert df["volume_usd"].to_list() == [0.0, 0.0, 0.0]
    assert df["liq_long_usd"].sum() == 0.0


def test_other_bar_width(events):
    df = candles(events, TICK, LOT, T0, END, freq_s=120)
    assert df.height == 2
    assert df["open"].to_list() == [60_010.0, 59_850.0]
    assert df["low"].to_list() == [59_800.0, 59_850.0]
    assert df["liq_long_usd"].to_list() == [1_793.0, 1_192.0]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"tick_size": 0.0}, "tick_size"),
        ({"lot_size": -1.0}, "lot_size"),
        ({"freq_s": 0}, "freq_s"),
        ({"freq_s": 1.5}, "freq_s"),
        ({"end_ns": T0 - 1}, "end_ns"),
    ],
)
def test_bad_arguments_name_the_field(events, kwargs, field):
    args = {"tick_size": TICK, "lot_size": LOT, "start_ns": T0, "end_ns": END} | kwargs
    with pytest.raises(InvalidInputError) as info:
        candles(events, **args)
    assert info.value.field == field


def test_wrong_dtype_is_refused():
    with pytest.raises(InvalidInputError):
        candles(np.zeros(3, np.int64), TICK, LOT, T0, END)
