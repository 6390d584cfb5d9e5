"""The readers of :mod:`margincall.sources`: each format into its schema, and each bad input
refused with the file, the line and the field named."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest

from margincall.core.errors import InvalidInputError
from margincall.sources.closes import CLOSES_SCHEMA, check_symbol, read_closes
from margincall.sources.fear_greed import FEAR_GREED_SCHEMA, read_fear_greed
from margincall.sources.flows import read_etf_flows
from margincall.sources.market_cap import MARKET_CAP_SCHEMA, read_market_cap

FLOWS = """date,IBIT,FBTC,GBTC,Total
2024-01-11,111.7,227.0,-95.1,243.6
2024-01-15,,,,0.0
2024-01-16,(10.0),"1,000.0",,990.0
2024-01-17,5.0,,-2.0,3.0
"""

FNG_JSON = {
    "name": "Fear and Greed Index",
    "data": [
        {"value": "9", "value_classification": "Extreme Fear", "timestamp": "1770336000"},
        {"value": "12", "value_classification": "Extreme Fear", "timestamp": "1770249600"},
    ],
    "metadata": {"error": None},
}

GLOBAL_JSON = {
    "data": {
        "active_cryptocurrencies": 17000,
        "total_market_cap": {"usd": 2.3e12, "btc": 3.3e7},
        "market_cap_percentage": {"btc": 58.5, "eth": 10.25},
        "updated_at": 1770300000,
    }
}

CHART_JSON = {
    "market_cap_chart": {
        "market_cap": [
            [1770163200000, 2.5e12],
            [1770206400000, 2.45e12],
            [1770249600000, 2.3e12],
        ],
        "volume": [[1770163200000, 1e11]],
    }
}

COIN_CHART_JSON = {
    "prices": [[1770163200000, 73000.0], [1770249600000, 70000.0], [1770290000000, 62800.0]],
    "market_caps": [[1770163200000, 1.45e12]],
    "total_volumes": [[1770163200000, 5e10]],
}


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text if isinstance(text, str) else json.dumps(text))
    return p


def test_flows_drop_holidays_read_accounting_negatives_and_convert_to_dollars(tmp_path):
    f = read_etf_flows(write(tmp_path, "farside_btc.csv", FLOWS))
    assert f.asset == "BTC"
    assert f.dropped == [3]
    assert f.days["date"].to_list() == [date(2024, 1, 11), date(2024, 1, 16), date(2024, 1, 17)]
    assert f.days["line"].to_list() == [2, 4, 5]
    assert f.days["total_usd"].to_list() == pytest.approx([243.6e6, 990e6, 3e6])
    day = f.funds.filter(pl.col("line") == 4)
    assert dict(zip(day["fund"], day["flow_usd"], strict=True)) == {
        "FBTC": 1000e6,
        "IBIT": -10e6,
    }
    assert f.warnings == []


def test_flows_total_that_is_not_the_sum_is_kept_and_warned_with_its_lines(tmp_path):
    bad = FLOWS.replace("2024-01-17,5.0,,-2.0,3.0", "2024-01-17,5.0,,-2.0,7.0")
    f = read_etf_flows(write(tmp_path, "x_btc_flows.csv", bad))
    assert f.days["total_usd"][-1] == pytest.approx(7e6)
    (w,) = f.warnings
    assert w["kind"] == "total_mismatch" and w["rows"] == [5]
    assert "line 5 (2024-01-17: Total 7.0, funds 3.0)" in w["message"]


def test_a_quoted_header_cell_is_read_as_csv_quotes_it(tmp_path):
    flows = read_etf_flows(
        write(tmp_path, "btc_flows.csv", 'date,"Fund ""A"", Inc",Total\n2026-02-04,-1.5,-1.5\n')
    )
    assert flows.funds["fund"].to_list() == ['Fund "A", Inc']


def test_flows_parquet_with_a_mapping(tmp_path):
    p = tmp_path / "eth.parquet"
    pl.DataFrame(
        {"Day": [date(2026, 2, 4), date(2026, 2, 5)], "ETHA": [-10.0, 5.0], "Net": [-10.0, 5.0]}
    ).write_parquet(p)
    f = read_etf_flows(p, mapping={"date": "Day", "total": "Net"})
    assert f.asset == "ETH" and f.days["total_usd"].to_list() == [-10e6, 5e6]
    assert f.days["line"].to_list() == [1, 2]


@pytest.mark.parametrize(
    ("name", "text", "named"),
    [
        (
            "btc_a.csv",
            FLOWS.replace("2024-01-16", "2024-13-16"),
            ["line 4, column date", "2024-13-16"],
        ),
        ("btc_b.csv", FLOWS.replace("(10.0)", "ten"), ["line 4, column IBIT", "ten"]),
        ("btc_c.csv", "", ["btc_c.csv", "empty"]),
        ("btc_d.csv", FLOWS.replace("2024-01-17", "2024-01-11"), ["line 5, column date"]),
        ("xrp_e.csv", FLOWS, ["asset", "none in the file name"]),
        ("btc_f.csv", "date,IBIT\n2024-01-11,1\n", ["Total column"]),
    ],
)
def test_flows_bad_input_names_file_line_and_field(tmp_path, name, text, named):
    p = write(tmp_path, name, text)
    with pytest.raises(InvalidInputError) as e:
        read_etf_flows(p)
    msg = str(e.value)
    assert name in msg and "formats tried" in msg
    for part in named:
        assert part in msg


def test_not_utf8_is_refused_with_the_line(tmp_path):
    p = tmp_path / "btc_flows.csv"
    p.write_bytes(b"date,IBIT,Total\n2024-01-11,1.0,1.0\n2024-01-12,caf\xe9,1\n")
    with pytest.raises(InvalidInputError, match=r"line 3.*byte 49.*UTF-8"):
        read_etf_flows(p)


def test_market_cap_table_from_dominance(tmp_path):
    p = write(
        tmp_path,
        "mcap.csv",
        "date,total,btc_dominance_pct\n2026-02-04,2.0e12,60\n2026-02-05,1.0e12,50\n",
    )
    m = read_market_cap(p)
    assert m.schema == pl.Schema(MARKET_CAP_SCHEMA)
    assert m["btc_usd"].to_list() == [1.2e12, 0.5e12] and m["eth_usd"].null_count() == 2


def test_market_cap_coingecko_global_and_chart(tmp_path):
    g = read_market_cap(write(tmp_path, "global.json", GLOBAL_JSON))
    assert g.row(0, named=True) == {
        "date": date(2026, 2, 5),
        "total_usd": 2.3e12,
        "btc_usd": pytest.approx(2.3e12 * 0.585),
        "eth_usd": pytest.approx(2.3e12 * 0.1025),
        "line": 1,
    }
    c = read_market_cap(write(tmp_path, "chart.json", CHART_JSON))
    # a point at 00:00 UTC is the end of the day before: 02-04 00:00 closes 02-03, and the
    # last point up to 02-05 00:00 closes 02-04
    assert c["date"].to_list() == [date(2026, 2, 3), date(2026, 2, 4)]
    assert c["total_usd"].to_list() == [2.5e12, 2.3e12]
    assert c["line"].to_list() == [1, 3]


def test_market_cap_json_of_another_shape_names_the_formats(tmp_path):
    with pytest.raises(InvalidInputError, match=r"formats tried.*market_cap_chart"):
        read_market_cap(write(tmp_path, "x.json", {"prices": []}))


def test_closes_coinbase_generic_coingecko_and_klines(tmp_path):
    cb = read_closes(write(tmp_path, "cb.csv", "as_of,value,status\n2026-02-04,72998,ok\n"))
    assert cb.schema == pl.Schema(CLOSES_SCHEMA) and cb["close"].to_list() == [72998.0]
    cg = read_closes(write(tmp_path, "bitcoin.json", COIN_CHART_JSON))
    assert cg["date"].to_list() == [date(2026, 2, 3), date(2026, 2, 4), date(2026, 2, 5)]
    assert cg["close"].to_list() == [73000.0, 70000.0, 62800.0]  # 02-05 11:13: the day so far
    t0 = 1_770_249_600_000  # 2026-02-05
    rows = [
        f"{t0 + h * 43_200_000},{100 + h},{110 + h},{90 - h},{105 + h},{2.0},0,0,0,0,0,0"
        for h in range(3)
    ]
    k = read_closes(write(tmp_path, "SOLUSDT-12h.csv", "\n".join(rows) + "\n"))
    assert k.rows() == [
        (date(2026, 2, 5), 106.0, 111.0, 89.0, 4.0, 2),
        (date(2026, 2, 6), 107.0, 112.0, 88.0, 2.0, 3),
    ]


def test_closes_mapping_and_bad_price(tmp_path):
    p = write(tmp_path, "x.csv", "Day,Last\n2026-02-04,1.5\n2026-02-05,-1\n")
    with pytest.raises(InvalidInputError, match=r"line 3, column close.*a positive price"):
        read_closes(p, mapping={"date": "Day", "close": "Last"})


def test_symbols_from_names_and_unknown_ones(tmp_path):
    assert check_symbol(None, "coinbase_eth_usd_daily.csv") == "ETH"
    assert check_symbol(None, "BTCUSDT-1d-2026-02.csv") == "BTC"
    assert check_symbol("sol", "anything.csv") == "SOL"
    with pytest.raises(InvalidInputError, match=r"symbol.*none in the file name"):
        check_symbol(None, "prices.csv")
    with pytest.raises(InvalidInputError, match="a ticker"):
        check_symbol("not a ticker", "prices.csv")


def test_fear_greed_json_and_csv(tmp_path):
    j = read_fear_greed(write(tmp_path, "fng.json", FNG_JSON))
    assert j.schema == pl.Schema(FEAR_GREED_SCHEMA)
    assert j.rows() == [(date(2026, 2, 5), 12.0, 2), (date(2026, 2, 6), 9.0, 1)]
    c = read_fear_greed(write(tmp_path, "fng.csv", "date,value\n2026-02-05,12\n"))
    assert c.rows() == [(date(2026, 2, 5), 12.0, 2)]
    with pytest.raises(InvalidInputError, match=r"line 2, column value.*0 to 100"):
        read_fear_greed(write(tmp_path, "bad.csv", "date,value\n2026-02-05,120\n"))


def test_real_files_read_into_their_schemas(shared_data):
    f = read_etf_flows(shared_data / "farside_btc_etf_flows_daily_2024-01-11_2026-04-10.csv")
    assert f.warnings == [] and len(f.dropped) == 16  # holiday rows up to 2025-06-19
    assert f.days.filter(pl.col("line").is_in(f.dropped)).height == 0
    e = read_etf_flows(shared_data / "farside_eth_etf_flows_daily_2024-07-23_2026-04-10.csv")
    assert e.asset == "ETH" and e.warnings == []
    m = read_market_cap(
        shared_data / "crypto_total_mcap_daily_derived_tradingview_2024-01-01_2026-04-19.csv"
    )
    row = m.filter(pl.col("date") == date(2026, 2, 5)).row(0, named=True)
    assert (
        round(row["total_usd"] / 1e9) == 2144
        and round((row["total_usd"] - row["btc_usd"]) / 1e9) == 890
    )
    b = read_closes(shared_data / "coinbase_btc_usd_daily_close_2015-07-20_2026-08-21.csv")
    assert b.filter(pl.col("date") == date(2026, 2, 5))["close"].item() == 62_791.0
