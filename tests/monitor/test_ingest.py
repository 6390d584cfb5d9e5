"""Readers: Binance klines (header or not, ms or us), the CoinGlass panel, generic tables with a
mapping, run folders, and read_source's detection and its error naming the formats tried."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from margincall.core.errors import InvalidInputError
from margincall.monitor.ingest import (
    read_binance_klines,
    read_coinglass,
    read_run_folder,
    read_source,
    read_table,
)
from margincall.monitor.schema import BAR_SCHEMA

T0_MS = 1_770_249_600_000  # 2026-02-05T00:00:00Z


def kline_rows(n: int = 4, unit: int = 1) -> list[str]:
    """Rows as data.binance.vision writes them; ``unit`` 1 for ms, 1000 for us."""
    rows = []
    for i in range(n):
        t = (T0_MS + 3_600_000 * i) * unit
        o = 70_000.0 - 100 * i
        rows.append(
            f"{t},{o},{o + 50},{o - 150},{o - 100},{10.5 + i},{t + 3_599_999 * unit},"
            f"{(10.5 + i) * o},{1000 + i},5.0,{5.0 * o},0"
        )
    return rows


HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore"
)


@pytest.mark.parametrize(("header", "unit"), [(False, 1), (True, 1), (False, 1000), (True, 1000)])
def test_binance_klines_header_and_time_unit(tmp_path, header, unit):
    f = tmp_path / "BTCUSDT-1h-2026-02-05.csv"
    f.write_text("\n".join(([HEADER] if header else []) + kline_rows(4, unit)) + "\n")
    for bars in (read_binance_klines(f), read_source(f)):
        assert bars.schema == pl.Schema(BAR_SCHEMA)
        assert bars.height == 4
        assert bars["ts"][0] == datetime(2026, 2, 5, tzinfo=UTC)
        assert bars["ts"][3] == datetime(2026, 2, 5, 3, tzinfo=UTC)
        assert bars["close"].to_list() == [69_900.0, 69_800.0, 69_700.0, 69_600.0]
        assert bars["volume"][1] == 11.5
        assert bars["volume_usd"][1] == pytest.approx(11.5 * 69_900.0)
        assert bars["oi_usd"].null_count() == 4


def test_binance_klines_mixed_units_in_one_file_are_each_read_by_magnitude(tmp_path):
    f = tmp_path / "k.csv"
    f.write_text("\n".join(kline_rows(2, 1)[:1] + kline_rows(2, 1000)[1:]) + "\n")
    assert read_binance_klines(f)["ts"].diff()[1].total_seconds() == 3600


def test_binance_klines_keep_rows_as_given(tmp_path):
    rows = kline_rows(3)
    f = tmp_path / "k.csv"
    f.write_text("\n".join([rows[0], rows[2], rows[1], rows[1]]) + "\n")
    ts = read_binance_klines(f)["ts"].dt.hour().to_list()
    assert ts == [0, 2, 1, 1]


def test_coinglass_panel_read_as_is(real_csv):
    bars = read_coinglass(real_csv)
    raw = pl.read_csv(real_csv)
    assert bars.schema == pl.Schema(BAR_SCHEMA)
    assert bars.height == raw.height == 2078
    assert bars["close"].to_list() == raw["price_close"].cast(pl.Float64).to_list()
    assert bars["liq_long_usd"].sum() == pytest.approx(raw["liquidation_long_usd"].sum())
    assert bars["funding"][0] == pytest.approx(raw["funding_open"][0] / 100)
    assert bars["volume"].null_count() == bars.height
    assert read_source(real_csv).equals(bars)


def ohlcv(n: int = 6) -> pl.DataFrame:
    ts = [datetime(2026, 1, 1, h, tzinfo=UTC).replace(tzinfo=None).isoformat() for h in range(n)]
    p = 100.0 + np.arange(n)
    return pl.DataFrame(
        {"Date": ts, "Open": p, "High": p + 1, "Low": p - 1, "Close": p + 0.5, "Vol": p * 10}
    )


def test_generic_table_found_by_name_case_insensitively(tmp_path):
    frame = ohlcv().rename({"Date": "timestamp", "Vol": "Volume"})
    frame.write_csv(tmp_path / "t.csv")
    bars = read_table(tmp_path / "t.csv")
    assert bars["close"].to_list() == frame["Close"].to_list()
    assert bars["volume"].to_list() == frame["Volume"].to_list()
    assert bars["ts"][1] == datetime(2026, 1, 1, 1, tzinfo=UTC)


def test_generic_table_with_mapping_csv_and_parquet_agree(tmp_path):
    frame = ohlcv()
    frame.write_csv(tmp_path / "t.csv")
    frame.write_parquet(tmp_path / "t.parquet")
    mapping = {"ts": "Date", "volume": "Vol"}
    a = read_source(tmp_path / "t.csv", mapping=mapping)
    b = read_table(tmp_path / "t.parquet", mapping)
    assert a.equals(b)
    assert a["volume"].to_list() == frame["Vol"].to_list()
    assert a["high"].to_list() == frame["High"].to_list()


def test_derivatives_table_epoch_seconds(tmp_path):
    t = 1_770_249_600 + 28_800 * np.arange(3)
    pl.DataFrame({"time": t, "fundingRate": [0.0001, -0.0002, 0.0003]}).write_parquet(
        tmp_path / "f.parquet"
    )
    bars = read_table(tmp_path / "f.parquet", {"funding": "fundingRate"})
    assert bars["ts"][2] == datetime(2026, 2, 5, 16, tzinfo=UTC)
    assert bars["funding"].to_list() == [0.0001, -0.0002, 0.0003]
    assert bars["close"].null_count() == 3


def test_mapping_errors_name_the_key_and_the_column(tmp_path):
    ohlcv().write_csv(tmp_path / "t.csv")
    with pytest.raises(InvalidInputError, match="mapping key"):
        read_table(tmp_path / "t.csv", {"price": "Close"})
    with pytest.raises(InvalidInputError, match=r"mapping\['close'\].*Last"):
        read_table(tmp_path / "t.csv", {"close": "Last"})


def test_non_numeric_value_column_is_named(tmp_path):
    ohlcv().with_columns(pl.lit("x").alias("Close")).write_csv(tmp_path / "t.csv")
    with pytest.raises(InvalidInputError, match="close"):
        read_table(tmp_path / "t.csv")


def minute_candles(n: int = 120) -> pl.DataFrame:
    ts = [datetime(2026, 2, 5, m // 60, m % 60, tzinfo=UTC) for m in range(n)]
    p = 70_000.0 - np.arange(n)
    return pl.DataFrame(
        {
            "ts": ts,
            "open": p,
            "high": p + 5,
            "low": p - 5,
            "close": p - 1,
            "volume_usd": np.full(n, 1e6),
            "liq_long_usd": np.arange(n, dtype=float),
            "liq_short_usd": np.zeros(n),
            "open_interest_usd": 4e10 - 1e6 * np.arange(n),
            "funding_rate": np.full(n, 1e-4),
            "insurance_fund_usd": np.full(n, 1e9),
            "depth_1pct_usd": np.full(n, 1e8),
            "long_short_account_ratio": np.full(n, 1.5),
        }
    )


def test_run_folder_hourly_and_minutes(tmp_path):
    c = minute_candles()
    c.write_parquet(tmp_path / "candles.parquet")
    bars = read_source(tmp_path)
    assert bars.schema == pl.Schema(BAR_SCHEMA)
    assert bars.height == 2
    assert bars["volume_usd"].to_list() == [60e6, 60e6]
    assert bars["liq_long_usd"].to_list() == [float(sum(range(60))), float(sum(range(60, 120)))]
    assert bars["oi_usd"][1] == c["open_interest_usd"][60]
    assert bars["close"][0] == c["close"][59]
    minutes = read_run_folder(tmp_path, hourly=False)
    assert minutes.height == 120
    assert minutes["oi_usd"].to_list() == c["open_interest_usd"].to_list()
    assert minutes["long_short_ratio"][0] == 1.5


def test_unrecognised_file_names_the_file_and_the_formats_tried(tmp_path):
    f = tmp_path / "notes.csv"
    f.write_text("a,b\n1,2\n")
    with pytest.raises(InvalidInputError) as err:
        read_source(f)
    msg = str(err.value)
    assert "notes.csv" in msg
    for fmt in ("run folder", "CoinGlass", "Binance kline", "generic", "ccxt:"):
        assert fmt in msg


def test_unreadable_and_missing_sources(tmp_path):
    f = tmp_path / "bad.parquet"
    f.write_bytes(b"not parquet")
    with pytest.raises(InvalidInputError, match=r"bad\.parquet"):
        read_source(f)
    with pytest.raises(InvalidInputError, match="nothing-here"):
        read_source(tmp_path / "nothing-here.csv")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(InvalidInputError, match=r"candles\.parquet"):
        read_source(tmp_path / "empty_dir")
