"""Reading market-data panels: the CoinGlass file as is, generic CSV/Parquet, run folders, and
errors that name the columns, the row and the file."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from margincall.core.errors import InvalidInputError
from margincall.sources.panel import PANEL_SCHEMA, panel_gaps, read_panel


def generic(n: int = 5, start: int = 1_767_225_600) -> pl.DataFrame:
    ts = [datetime.fromtimestamp(start + 3600 * i, UTC).isoformat() for i in range(n)]
    p = 100.0 + np.arange(n)
    return pl.DataFrame(
        {
            "ts": ts,
            "open": p,
            "high": p + 2,
            "low": p - 2,
            "close": p + 1,
            "open_interest_usd": 1e6 + 1e4 * np.arange(n),
            "funding_rate": np.full(n, 0.0001),
        }
    )


def test_coinglass_file_is_read_as_is_into_the_canonical_schema(real_csv):
    panel = read_panel(real_csv)
    assert panel.height == 2078
    assert dict(panel.schema) == PANEL_SCHEMA
    raw = pl.read_csv(real_csv)
    assert panel["funding"][0] == pytest.approx(raw["funding_open"][0] / 100)  # percent units
    assert panel["oi_usd"][0] == raw["oi_open"][0]
    assert panel["liq_long_usd"][0] == raw["liquidation_long_usd"][0]
    assert panel["ts"][0] == datetime(2025, 12, 4, 6, tzinfo=UTC)
    assert panel["long_short_ratio"].null_count() == panel.height


def test_real_file_gaps_are_reported_not_refused(real_csv):
    gaps = panel_gaps(read_panel(real_csv))
    assert gaps.height == 4 and gaps["missing"].to_list() == [1, 1, 1, 1]


def test_generic_csv_and_parquet_read_the_same(tmp_path):
    frame = generic()
    frame.write_csv(tmp_path / "p.csv")
    ms = frame.with_columns(
        pl.col("ts").str.to_datetime(time_zone="UTC").dt.epoch("ms").alias("timestamp")
    ).drop("ts")
    ms.write_parquet(tmp_path / "p.parquet")
    a, b = read_panel(tmp_path / "p.csv"), read_panel(tmp_path / "p.parquet")
    assert a.equals(b)
    assert a["funding"].to_list() == [0.0001] * 5  # already a fraction: not rescaled
    assert a["liq_long_usd"].null_count() == 5


def test_run_folder_minute_candles_are_aggregated_to_hours(tmp_path):
    n = 120
    ts = pl.datetime_range(
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 1, 1, 1, 59, tzinfo=UTC),
        "1m",
        eager=True,
        time_zone="UTC",
    )
    p = 100.0 + np.arange(n, dtype=float)
    pl.DataFrame(
        {
            "ts": ts,
            "open": p,
            "high": p + 0.5,
            "low": p - 0.5,
            "close": p + 0.25,
            "liq_long_usd": np.ones(n),
            "liq_short_usd": np.zeros(n),
            "open_interest_usd": 1e6 + np.arange(n),
            "funding_rate": np.full(n, 1e-4),
            "long_short_account_ratio": np.full(n, 1.5),
        }
    ).write_parquet(tmp_path / "candles.parquet")
    panel = read_panel(tmp_path)
    assert panel.height == 2
    assert panel["open"].to_list() == [100.0, 160.0]
    assert panel["high"].to_list() == [159.5, 219.5]
    assert panel["low"].to_list() == [99.5, 159.5]
    assert panel["close"].to_list() == [159.25, 219.25]
    assert panel["liq_long_usd"].to_list() == [60.0, 60.0]
    assert panel["oi_usd"].to_list() == [1e6, 1e6 + 60]
    assert panel["long_short_ratio"].to_list() == [1.5, 1.5]


def test_missing_columns_are_named_with_the_accepted_formats(tmp_path):
    generic().drop("open_interest_usd", "low").write_csv(tmp_path / "bad.csv")
    with pytest.raises(InvalidInputError) as e:
        read_panel(tmp_path / "bad.csv")
    msg = str(e.value)
    assert "low" in msg and "open_interest_usd" in msg and "bad.csv" in msg
    assert "CoinGlass" in msg and "generic" in msg and "run folder" in msg


def test_coinglass_missing_columns_are_named(tmp_path):
    pl.DataFrame(
        {"timestamp": [1, 2], "price_open": [1.0, 2.0], "price_high": [1.0, 2.0]}
    ).write_csv(tmp_path / "cg.csv")
    with pytest.raises(InvalidInputError, match=r"price_low.*oi_open.*funding_open"):
        read_panel(tmp_path / "cg.csv")


def test_duplicated_timestamp_reports_the_first_offending_row(tmp_path):
    frame = generic(6)
    ts = frame["ts"].to_list()
    ts[3] = ts[2]
    ts[5] = ts[4]
    frame.with_columns(pl.Series("ts", ts)).write_csv(tmp_path / "dup.csv")
    with pytest.raises(InvalidInputError) as e:
        read_panel(tmp_path / "dup.csv")
    msg = str(e.value)
    assert "row 4" in msg and "duplicated" in msg and ts[3][:19] in msg


def test_non_monotonic_timestamp_reports_the_first_offending_row(tmp_path):
    frame = generic(6)
    ts = frame["ts"].to_list()
    ts[1], ts[2] = ts[2], ts[1]
    frame.with_columns(pl.Series("ts", ts)).write_csv(tmp_path / "order.csv")
    with pytest.raises(InvalidInputError) as e:
        read_panel(tmp_path / "order.csv")
    msg = str(e.value)
    assert "row 3" in msg and "not increasing" in msg and ts[2][:19] in msg


def test_unreadable_file_names_the_file(tmp_path):
    bad = tmp_path / "garbage.parquet"
    bad.write_bytes(b"not a parquet file")
    with pytest.raises(InvalidInputError, match=r"garbage\.parquet"):
        read_panel(bad)
    with pytest.raises(InvalidInputError, match=r"nothing\.csv"):
        read_panel(tmp_path / "nothing.csv")


def test_non_positive_price_names_the_row(tmp_path):
    frame = generic(4).with_columns(pl.Series("open", [100.0, 101.0, -1.0, 103.0]))
    frame.write_csv(tmp_path / "neg.csv")
    with pytest.raises(InvalidInputError, match="row 3 open"):
        read_panel(tmp_path / "neg.csv")
