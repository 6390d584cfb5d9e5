"""The daily market report from ``../shared/data`` as of 2026-02-05 (issue 17's Must-show
figures, asserted from the files), and a report with only some sources."""

from __future__ import annotations

import csv
import json
import re
from datetime import date

import pytest
from typer.testing import CliRunner

from margincall.cli import app
from margincall.monitor.market_report import DAILY_SECTIONS
from margincall.monitor.report import SECTIONS

runner = CliRunner()
AS_OF = "2026-02-05"
FILES = {
    "btc_flows": "farside_btc_etf_flows_daily_2024-01-11_2026-04-10.csv",
    "eth_flows": "farside_eth_etf_flows_daily_2024-07-23_2026-04-10.csv",
    "mcap": "crypto_total_mcap_daily_derived_tradingview_2024-01-01_2026-04-19.csv",
    "btc": "coinbase_btc_usd_daily_close_2015-07-20_2026-08-21.csv",
    "eth": "coinbase_eth_usd_daily_close_2016-05-18_2026-08-21.csv",
    "fng": "fear_greed_daily_2025-12_2026-02.csv",
}


def daily_args(d) -> list[str]:
    return [
        "--market-cap",
        str(d / FILES["mcap"]),
        "--etf-flows",
        str(d / FILES["btc_flows"]),
        "--etf-flows",
        str(d / FILES["eth_flows"]),
        "--closes",
        f"BTC={d / FILES['btc']}",
        "--closes",
        str(d / FILES["eth"]),
        "--fear-greed",
        str(d / FILES["fng"]),
    ]


@pytest.fixture(scope="module")
def report(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("market") / "report"
    args = ["monitor", "--out", str(out), *daily_args(shared_data), "--as-of", AS_OF, "--json"]
    result = runner.invoke(app, [*args, "--since", "2026-01-14"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output), out


def raw_rows(path) -> list[dict[str, str]]:
    """The file read with the csv module (a code path apart from margincall.sources)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_market_figures_from_the_file(report, shared_data):
    s, _ = report
    m = s["market"]
    row = next(r for r in raw_rows(shared_data / FILES["mcap"]) if r["date"] == AS_OF)
    assert m["date"] == AS_OF
    assert m["total_usd"] == float(row["total_mcap_usd"])
    assert round(m["total_usd"] / 1e9) == 2144  # $2.14T, the file's own value to the billion
    assert m["peak"]["date"] == "2025-10-06"
    assert m["peak"]["drawdown_pct"] == pytest.approx(-0.49, abs=0.005)
    assert m["ex_btc_usd"] < 1e12
    assert m["ex_btc_usd"] == pytest.approx(0.89e12, rel=0.005)
    assert m["since"]["date"] == "2026-01-14" and m["since"]["days"] == 22
    assert m["since"]["daily_drain_usd"] == pytest.approx(m["since"]["usd"] / 22)


def test_etf_figures_from_the_file(report, shared_data):
    s, out = report
    e = s["etf_flows"]["BTC"]
    assert e["last_day"]["date"] == AS_OF
    assert e["last_day"]["total_usd"] == pytest.approx(-434.1e6)
    rows = raw_rows(shared_data / FILES["btc_flows"])
    upto = [r for r in rows if r["date"] <= AS_OF]
    assert e["cumulative_usd"] == pytest.approx(sum(float(r["Total"]) for r in upto) * 1e6)
    assert round(e["cumulative_usd"] / 1e8) / 10 == 54.3  # $54.3B
    basis = e["holdings"]["cost_basis"]
    assert 79_000 < basis < 86_000
    for month in e["months"]:
        raw = sum(float(r["Total"]) for r in rows if r["date"].startswith(month["month"]))
        assert month["usd"] == pytest.approx(raw * 1e6, abs=1.0)
    assert [x["month"] for x in e["months"]] == ["2025-11", "2025-12", "2026-01"]
    feb4 = next(x for x in e["sum_5d"]["each"] if x["date"] == "2026-02-04")
    assert feb4["total_usd"] == pytest.approx(-544.9e6)
    md = (out / "report.md").read_text()
    assert "2026-02-04 -$544.90M" in md
    assert "Flow-weighted cost basis" in md and "GBTC's conversion" in md
    assert "preferred to these flow-derived figures" in md


def test_etf_flows_of_feb_4(shared_data, tmp_path):
    out = tmp_path / "r"
    args = ["--etf-flows", str(shared_data / FILES["btc_flows"]), "--as-of", "2026-02-04"]
    result = runner.invoke(app, ["monitor", "--out", str(out), *args, "--json"])
    assert result.exit_code == 0, result.output
    last = json.loads(result.output)["etf_flows"]["BTC"]["last_day"]
    assert last["total_usd"] == pytest.approx(-544.9e6)
    funds = {f["fund"]: f["flow_usd"] for f in last["funds"]}
    assert funds["IBIT"] == pytest.approx(-373.4e6) and funds["FBTC"] == pytest.approx(-86.4e6)
    assert "-$544.90M" in (out / "report.md").read_text()


def test_eth_fell_more_than_btc_over_the_week(report, shared_data):
    s, _ = report
    by = {r["symbol"]: r for r in s["assets"]["symbols"]}
    closes = {}
    for sym in ("btc", "eth"):
        rows = {r["as_of"]: float(r["value"]) for r in raw_rows(shared_data / FILES[sym])}
        closes[sym] = rows[AS_OF] / rows["2026-01-29"] - 1.0
    assert by["ETH"]["change_7d"]["pct"] == pytest.approx(closes["eth"])
    assert by["BTC"]["change_7d"]["pct"] == pytest.approx(closes["btc"])
    assert by["ETH"]["change_7d"]["pct"] < by["BTC"]["change_7d"]["pct"]
    assert s["assets"]["ranked_by_7d_fall"] == ["ETH", "BTC"]
    assert by["BTC"]["cmf_20"] is None  # close-only source
    assert by["BTC"]["beta_30d"] == 1.0 and by["ETH"]["beta_30d"] > 0


def test_nothing_after_the_report_day_is_read(report):
    s, out = report
    for src in s["sources"]:
        assert src["to"] <= AS_OF
    assert s["fear_greed"]["published"]["date"] == AS_OF
    for name in ("summary.json", "report.md", "report.html"):
        text = (out / name).read_text()
        for file in FILES.values():  # their names hold their last dates
            text = text.replace(file, "")
        later = sorted({d for d in re.findall(r"20\d\d-\d\d-\d\d", text) if d > AS_OF})
        assert later == [], (name, later[:5])
    assert "total crypto market cap (USD trillions)" in (out / "report.html").read_text()


def test_every_table_row_names_its_file_lines(report):
    _, out = report
    md = (out / "report.md").read_text()
    assert [h for h in md.splitlines() if h.startswith("## ")] == [
        f"## {h}" for h in (SECTIONS[0], *DAILY_SECTIONS, SECTIONS[5], SECTIONS[6])
    ]
    assert re.search(r"\| Total market cap \| \$2\.14T .* line 768 \|", md)
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "report.md", "summary.json"]


def test_only_the_given_sources_show(shared_data, tmp_path):
    out = tmp_path / "r"
    result = runner.invoke(
        app, ["monitor", "--out", str(out), "--fear-greed", str(shared_data / FILES["fng"])]
    )
    assert result.exit_code == 0, result.output
    md = (out / "report.md").read_text()
    assert "## Sentiment and Fear & Greed" in md
    assert "## Market" not in md and "## ETF flows" not in md and "## Assets" not in md
    assert "2026-02-28" in md  # the file's last day without --as-of


def test_bars_and_daily_sources_together(shared_data, real_csv, tmp_path):
    out = tmp_path / "r"
    args = [str(real_csv), "--fear-greed", str(shared_data / FILES["fng"]), "--as-of", AS_OF]
    result = runner.invoke(app, ["monitor", "--out", str(out), *args, "--json"])
    assert result.exit_code == 0, result.output
    s = json.loads(result.output)
    assert s["at"] == "2026-02-05T23:00:00Z"
    f = s["daily"]["fear_greed"]
    assert f["own"]["date"] == AS_OF and f["spearman"]["days"] >= 60
    assert f["spearman"]["rho"] > 0.3
    assert date.fromisoformat(f["spearman"]["date_to"]) <= date(2026, 2, 5)


def test_a_total_that_is_not_the_funds_sum_is_warned_with_its_rows(tmp_path):
    flows = tmp_path / "btc_flows.csv"
    flows.write_text(
        "date,IBIT,FBTC,Total\n2026-02-04,-373.4,-86.4,-459.8\n2026-02-05,-175.3,-109.5,-300.0\n"
    )
    out = tmp_path / "r"
    result = runner.invoke(app, ["monitor", "--out", str(out), "--etf-flows", str(flows)])
    assert result.exit_code == 0, result.output
    assert "warning: btc_flows.csv: 1 row(s) with a Total that differs" in result.output
    assert "line 3 (2026-02-05: Total -300.0, funds -284.8)" in result.output
    s = json.loads((out / "summary.json").read_text())
    (w,) = s["warnings"]
    assert w["kind"] == "total_mismatch" and w["rows"] == [3]
    assert s["etf_flows"]["BTC"]["last_day"]["total_usd"] == pytest.approx(-300e6)  # as published
    assert "total_mismatch (Total)" in (out / "report.md").read_text()


def test_since_outside_the_data_is_refused_and_nothing_written(shared_data, tmp_path):
    out = tmp_path / "r"
    args = ["--market-cap", str(shared_data / FILES["mcap"]), "--as-of", AS_OF]
    result = runner.invoke(app, ["monitor", "--out", str(out), *args, "--since", "2026-02-06"])
    assert result.exit_code == 2
    assert "--since='2026-02-06'" in result.stderr and not out.exists()


def test_the_readme_shows_the_market_report_as_printed(shared_data, tmp_path):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("#### The market report") :]
    start = section.index("```sh\n") + 6
    command = section[start : section.index("\n```", start)]
    text = section[section.index("```text\n") + 8 :]
    text = text[: text.index("```")]
    args = command.replace("\\\n", " ").split()[1:]
    out = tmp_path / "market"
    args = [
        str(out) if a == "runs/market-2026-02-05" else a.replace("../shared/data", str(shared_data))
        for a in args
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.output.replace(str(out), "runs/market-2026-02-05") == text


def test_etf_figures_on_a_small_table(tmp_path):
    """Streak, sums, months and holdings by hand: flows of 100, 200, -50, -30 (US$ M) on four
    days, closes 10, (none), 20, 25 USD (the second flow day takes the first close)."""
    flows = tmp_path / "btc_flows.csv"
    flows.write_text(
        "date,A,B,Total\n2025-12-30,100,,100\n2025-12-31,150,50,200\n"
        "2026-01-02,-50,,-50\n2026-01-05,-40,10,-30\n"
    )
    closes = tmp_path / "closes.csv"
    closes.write_text("date,close\n2025-12-30,10\n2026-01-02,20\n2026-01-05,25\n")
    out = tmp_path / "r"
    args = ["--etf-flows", str(flows), "--closes", f"BTC={closes}", "--as-of", "2026-01-05"]
    result = runner.invoke(app, ["monitor", "--out", str(out), *args, "--json"])
    assert result.exit_code == 0, result.output
    e = json.loads(result.output)["etf_flows"]["BTC"]
    assert e["last_day"]["funds"] == [
        {"fund": "A", "flow_usd": -40e6},
        {"fund": "B", "flow_usd": 10e6},
    ]
    assert (e["streak"]["days"], e["streak"]["kind"]) == (2, "outflow")
    assert e["streak"]["usd"] == pytest.approx(-80e6)
    assert e["sum_5d"]["usd"] == pytest.approx(220e6) and e["sum_5d"]["days"] == 4
    assert e["month_to_date"]["usd"] == pytest.approx(-80e6)
    assert [(m["month"], m["days"]) for m in e["months"]] == [
        ("2025-10", 0),
        ("2025-11", 0),
        ("2025-12", 2),
    ]
    assert e["months"][2]["usd"] == pytest.approx(300e6)
    h = e["holdings"]
    coins = 100e6 / 10 + 200e6 / 10 - 50e6 / 20 - 30e6 / 25
    assert h["coins"] == pytest.approx(coins)
    assert h["cost_basis"] == pytest.approx(220e6 / coins)
    assert h["value_usd"] == pytest.approx(coins * 25)
    assert h["distance_from_cost_basis"] == pytest.approx(25 / (220e6 / coins) - 1)
    assert h["from"]["closes"]["lines"] == "2-4"
