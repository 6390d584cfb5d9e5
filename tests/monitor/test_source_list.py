"""A column mapping per source: a sources TOML (``--sources``) and ``--mapping FILE:col=name``
read a closes file and a liquidations file with different column names together, and daily
files of every kind with their own names; a bad TOML is refused (exit 2, nothing written)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from typer.testing import CliRunner

from margincall.cli import app
from margincall.monitor.source_list import split_file_mapping

runner = CliRunner()
T0 = datetime(2026, 2, 1, tzinfo=UTC)
HOURS = 60
DAY0 = date(2026, 1, 1)


def write_files(d):
    """Hourly closes (Date, Close), hourly liquidations (time, longs, shorts) and daily files
    whose columns no reader knows by name."""
    times = [T0 + timedelta(hours=i) for i in range(HOURS)]
    (d / "closes.csv").write_text(
        "Date,Close\n"
        + "".join(f"{t:%Y-%m-%dT%H:%M:%SZ},{70000 - 50 * i}\n" for i, t in enumerate(times))
    )
    (d / "liqs.csv").write_text(
        "time,longs,shorts\n"
        + "".join(f"{t:%Y-%m-%dT%H:%M:%SZ},{1e6 * i},{2e5}\n" for i, t in enumerate(times))
    )
    days = [DAY0 + timedelta(days=i) for i in range(40)]
    (d / "eth_px.csv").write_text(
        "Day,Last\n" + "".join(f"{x},{3000 - 10 * i}\n" for i, x in enumerate(days))
    )
    (d / "cap.csv").write_text(
        "Day,Cap\n" + "".join(f"{x},{3e12 - 1e10 * i}\n" for i, x in enumerate(days))
    )
    (d / "mood.csv").write_text(
        "Day,Score\n" + "".join(f"{x},{50 - i}\n" for i, x in enumerate(days))
    )
    (d / "flows.csv").write_text(
        "Day,IBIT,Net\n" + "".join(f"{x},{10 - i},{10 - i}\n" for i, x in enumerate(days))
    )


SOURCES = """
[[source]]
kind = "bars"
path = "closes.csv"
symbol = "BTC"
columns = { ts = "Date", close = "Close" }

[[source]]
kind = "bars"
path = "liqs.csv"
columns = { ts = "time", liq_long_usd = "longs", liq_short_usd = "shorts" }

[[source]]
kind = "closes"
path = "eth_px.csv"
symbol = "ETH"
columns = { date = "Day", close = "Last" }

[[source]]
kind = "market_cap"
path = "cap.csv"
columns = { date = "Day", total = "Cap" }

[[source]]
kind = "fear_greed"
path = "mood.csv"
columns = { date = "Day", value = "Score" }

[[source]]
kind = "etf_flows"
path = "flows.csv"
symbol = "BTC"
columns = { date = "Day", total = "Net" }
"""


def run(args):
    return runner.invoke(app, ["monitor", *map(str, args)])


def test_a_closes_and_a_liquidations_file_with_other_names_read_together(tmp_path):
    write_files(tmp_path)
    (tmp_path / "sources.toml").write_text(SOURCES)
    out = tmp_path / "r"
    res = run(["--sources", tmp_path / "sources.toml", "--out", out, "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.output)
    assert s["symbol"] == "BTC" and s["rows"] == HOURS
    m = pl.read_parquet(out / "metrics.parquet")
    assert m["close"].to_list() == [70000 - 50 * i for i in range(HOURS)]
    assert m["liq_long_usd"].to_list() == [1e6 * i for i in range(HOURS)]
    d = s["daily"]
    i = (date.fromisoformat(d["market"]["date"]) - DAY0).days
    assert d["market"]["date"] == "2026-02-02"  # the bars' last full day (they end 02-03 11:00)
    assert d["market"]["total_usd"] == 3e12 - 1e10 * i
    assert d["fear_greed"]["published"]["value"] == 50 - i
    assert d["etf_flows"]["BTC"]["last_day"]["total_usd"] == pytest.approx((10 - i) * 1e6)
    assert {r["symbol"] for r in d["assets"]["symbols"]} == {"ETH"}
    assert {x["file"] for x in d["sources"]} == {"eth_px.csv", "cap.csv", "mood.csv", "flows.csv"}
    # the short form gives the same report
    short = tmp_path / "r2"
    args = [tmp_path / "closes.csv", tmp_path / "liqs.csv", "--out", short, "--json"]
    args += ["--symbol", "BTC", "--mapping", f"{tmp_path / 'closes.csv'}:ts=Date,close=Close"]
    args += ["--mapping", f"{tmp_path / 'liqs.csv'}:ts=time,liq_long_usd=longs"]
    args += [
        "--mapping",
        f"{tmp_path / 'liqs.csv'}:ts=time,liq_long_usd=longs,liq_short_usd=shorts",
    ]
    args += ["--closes", f"ETH={tmp_path / 'eth_px.csv'}"]
    args += ["--mapping", f"{tmp_path / 'eth_px.csv'}:date=Day,close=Last"]
    args += [
        "--market-cap",
        tmp_path / "cap.csv",
        "--mapping",
        f"{tmp_path / 'cap.csv'}:date=Day,total=Cap",
    ]
    args += [
        "--fear-greed",
        tmp_path / "mood.csv",
        "--mapping",
        f"{tmp_path / 'mood.csv'}:date=Day,value=Score",
    ]
    args += [
        "--etf-flows",
        f"BTC={tmp_path / 'flows.csv'}",
        "--mapping",
        f"{tmp_path / 'flows.csv'}:date=Day,total=Net",
    ]
    res2 = run(args)
    assert res2.exit_code == 0, res2.output
    assert pl.read_parquet(short / "metrics.parquet").equals(m)
    s2 = json.loads(res2.output)
    assert s2["daily"]["market"] == d["market"] and s2["daily"]["assets"] == d["assets"]


def test_one_mapping_for_every_file_still_cannot_read_both(tmp_path):
    """Why the mapping per source is needed: a single --mapping applies to every bar table."""
    write_files(tmp_path)
    args = [tmp_path / "closes.csv", tmp_path / "liqs.csv", "--out", tmp_path / "r"]
    res = run([*args, "--mapping", "ts=Date,close=Close"])
    assert res.exit_code == 2 and "liqs.csv" in res.stderr


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ('[[source]]\nkind = "closes"\npath = "eth_px.csv"\nfile = "x"\n', "source 1: key='file'"),
        ('[[source]]\nkind = "prices"\npath = "eth_px.csv"\n', "source 1: kind='prices'"),
        (
            '[[source]]\nkind = "closes"\npath = "eth_px.csv"\ncolumns = { ts = "Day" }\n',
            "source 1 (closes): columns.ts='ts'",
        ),
        (
            '[[source]]\nkind = "closes"\npath = "eth_px.csv"\nsymbol = "ETH"\n'
            'columns = { date = "Day", close = "Price" }\n',
            "eth_px.csv: columns.close='Price'",
        ),
        (
            '[[source]]\nkind = "market_cap"\npath = "cap.csv"\nsymbol = "BTC"\n',
            "source 1 (market_cap): symbol='BTC'",
        ),
        (
            '[[source]]\nkind = "fear_greed"\npath = "mood.csv"\n'
            '[[source]]\nkind = "fear_greed"\npath = "mood.csv"\n',
            "source 2 (fear_greed): kind='fear_greed'",
        ),
        ('[source]\nkind = "closes"\n', "[[source]]"),
        ('[[sources]]\nkind = "closes"\n', "sources.toml: sources='sources'"),
        ("[[source]\n", "a readable UTF-8 TOML file"),
    ],
)
def test_a_bad_sources_toml_is_refused_and_nothing_written(tmp_path, toml, named):
    write_files(tmp_path)
    (tmp_path / "sources.toml").write_text(toml)
    out = tmp_path / "r"
    res = run(["--sources", tmp_path / "sources.toml", "--out", out])
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and named in lines[0], lines
    assert not out.exists()


def test_a_bad_short_form_mapping_names_the_file_and_key(tmp_path):
    write_files(tmp_path)
    path = tmp_path / "eth_px.csv"
    out = tmp_path / "r"
    res = run(["--closes", f"ETH={path}", "--mapping", f"{path}:day=Day", "--out", out])
    assert res.exit_code == 2 and "closes column mapping key='day'" in res.stderr
    res = run(["--closes", f"ETH={path}", "--mapping", f"{path}:Day", "--out", out])
    assert res.exit_code == 2 and "expected canonical=column pairs" in res.stderr
    assert not out.exists()


def test_split_file_mapping():
    assert split_file_mapping("close=Close,ts=Date") == (None, "close=Close,ts=Date")
    assert split_file_mapping("data/a.csv:close=Close") == ("data/a.csv", "close=Close")
    assert split_file_mapping("a.csv:ts=t,close=c:x") == ("a.csv", "ts=t,close=c:x")


def test_the_readme_example_prints_what_the_readme_shows(shared_data, tmp_path):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("#### Columns per source") :]
    toml = section[section.index("```toml\n") + 8 :]
    toml = toml[: toml.index("```")]
    command = section[section.index("```sh\n") + 6 :]
    command = command[: command.index("\n```")]
    printed = section[section.index("```text\n") + 8 :]
    printed = printed[: printed.index("```")]
    (tmp_path / "eth_sources.toml").write_text(toml.replace("../shared/data", str(shared_data)))
    (tmp_path / "runs").mkdir()
    args = command.split()[2:]
    args = [str(tmp_path / a) if a.endswith((".toml", "2026-02-05")) else a for a in args]
    res = runner.invoke(app, ["monitor", *args])
    assert res.exit_code == 0, res.output
    assert res.output.replace(f"{tmp_path}/", "") == printed
