"""Issue 17's "Must show", line by line: :data:`MUST_SHOW` names the test of each line (most
live beside the code they test); the lines without one elsewhere are tested here. Figures are
asserted from the files in ``../shared/data`` read with the csv module, never from constants
copied into ``src``."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from margincall.cli import app

TESTS = Path(__file__).resolve().parents[1]
runner = CliRunner()

MUST_SHOW = {
    "report of 2026-02-05: total market cap $2.14T (the file's value), -49% from the peak of "
    "2025-10-06, the market excluding BTC about $0.89T, under $1T": [
        "monitor/test_market_report.py::test_market_figures_from_the_file",
    ],
    "ETF flows -$544.9M on 2026-02-04 with IBIT -$373.4M and FBTC -$86.4M, -$434.1M on "
    "2026-02-05, cumulative $54.3B, cost basis in [79,000, 86,000], the monthly sums of "
    "2025-11, 2025-12 and 2026-01 equal the file's": [
        "monitor/test_market_report.py::test_etf_flows_of_feb_4",
        "monitor/test_market_report.py::test_etf_figures_from_the_file",
        "monitor/test_market_report.py::test_etf_figures_on_a_small_table",
    ],
    "assets table: ETH's 7-day fall to 2026-02-05 larger than BTC's": [
        "monitor/test_market_report.py::test_eth_fell_more_than_btc_over_the_week",
    ],
    "RSI/MACD/CMF on every timeframe agree with TA-Lib on the resampled bars (1e-9)": [
        "monitor/test_timeframes.py::test_indicators_on_every_timeframe_agree_with_talib",
        "monitor/test_timeframes.py::test_assets_four_hour_rsi_and_macd_from_hourly_bars",
        "monitor/test_indicators.py",
    ],
    "the sentiment index beside Fear & Greed, Spearman on Dec 2025-Feb 2026 in the report": [
        "monitor/test_must_show_17.py::test_spearman_on_dec_2025_to_feb_2026_is_in_the_report",
        "monitor/test_daily_sentiment.py::test_weights_refit_on_dec_2025_to_feb_2026_only",
        "monitor/test_daily_sentiment.py::test_the_report_gives_the_components_and_weights",
    ],
    "watch mode: --every 1s on appended files, two refreshes, one alert once, SIGINT, never a "
    "half-written report": [
        "monitor/test_watch.py::test_watch_rewrites_in_place_fires_an_alert_once_and_stops_on_sigint",
    ],
    "live fetchers on stored responses (alternative.me, CoinGecko, ccxt) with a timeout and a "
    "rate-limit response": [
        "sources/test_fetch.py::test_fear_greed_fetched_cached_and_read_like_a_file",
        "sources/test_fetch.py::test_coingecko_global_and_market_chart",
        "sources/test_fetch.py::test_a_rate_limit_is_retried_after_retry_after",
        "sources/test_fetch.py::test_a_timeout_every_time_is_a_clear_offline_error_and_nothing_is_cached",
        "sources/test_fetch.py::test_rate_limited_every_time",
        "sources/test_fetch.py::test_coingecko_market_cap_history_with_the_key_in_a_header_never_cached",
        "monitor/test_live.py::test_ccxt_timeout_and_rate_limit_are_retried_then_read",
        "monitor/test_live.py::test_ccxt_timeout_or_rate_limit_every_time_is_one_clear_error",
    ],
    "bad input: a Total that is not the funds' sum is warned with its rows": [
        "monitor/test_market_report.py::test_a_total_that_is_not_the_funds_sum_is_warned_with_its_rows",
        "sources/test_sources.py::test_flows_total_that_is_not_the_sum_is_kept_and_warned_with_its_lines",
    ],
    "bad input: a non-date, an empty file, a non-UTF-8 file, an unknown symbol, a window with no "
    "rows: exit 2 with the file, row and field, nothing written": [
        "monitor/test_must_show_17.py::test_bad_files_of_every_kind_exit_2_naming_file_line_and_field",
        "monitor/test_must_show_17.py::test_unknown_symbols_and_an_empty_window_exit_2",
        "cli/test_bad_inputs.py",
    ],
    "README: the report section shows the market report of 2026-02-05 as printed": [
        "monitor/test_market_report.py::test_the_readme_shows_the_market_report_as_printed",
    ],
}
"""Each Must-show line of issue 17 -> the tests that show it (``FILE::TEST`` under tests/)."""


def test_every_must_show_line_names_tests_that_exist():
    for line, refs in MUST_SHOW.items():
        assert refs, line
        for ref in refs:
            file, _, name = ref.partition("::")
            path = TESTS / file
            assert path.is_file(), (line, ref)
            if name:
                tree = ast.parse(path.read_text())
                names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
                assert name in names, (line, ref)


def test_spearman_on_dec_2025_to_feb_2026_is_in_the_report(
    shared_data, real_csv, fear_greed_csv, tmp_path
):
    out = tmp_path / "r"
    btc = next(shared_data.glob("coinbase_btc_usd_daily_close_*.csv"))
    args = [str(real_csv), "--fear-greed", str(fear_greed_csv), "--closes", f"BTC={btc}"]
    result = runner.invoke(app, ["monitor", "--out", str(out), *args, "--as-of", "2026-02-28"])
    assert result.exit_code == 0, result.output
    sp = json.loads((out / "summary.json").read_text())["daily"]["fear_greed"]["spearman"]
    published = fear_greed_csv.read_text().splitlines()[1:]
    assert (sp["date_from"], sp["date_to"]) == ("2025-12-01", "2026-02-28")
    assert sp["days"] == len(published) == 90
    assert 0.5 < sp["rho"] <= 1.0
    md = (out / "report.md").read_text()
    row = f"| Spearman correlation | {sp['rho']:.3f} over 90 days (2025-12-01 to 2026-02-28) |"
    assert row in md
    assert f"their Spearman correlation is {sp['rho']:.2f} over 90 days" in md


FLOWS = "date,IBIT,FBTC,Total\n2026-02-04,-373.4,-86.4,-459.8\n2026-02-05,-175.3,-109.5,-284.8\n"
GOOD = {
    "--etf-flows": ("BTC", FLOWS),
    "--closes": ("BTC", "date,close\n2026-02-04,72998\n2026-02-05,62791\n"),
    "--market-cap": ("", "date,total\n2026-02-04,2.45e12\n2026-02-05,2.14e12\n"),
    "--fear-greed": ("", "date,value\n2026-02-04,14\n2026-02-05,12\n"),
}


@pytest.mark.parametrize("option", list(GOOD))
@pytest.mark.parametrize("defect", ["not-a-date", "empty", "not-utf8"])
def test_bad_files_of_every_kind_exit_2_naming_file_line_and_field(option, defect, tmp_path):
    symbol, text = GOOD[option]
    path = tmp_path / "source.csv"
    if defect == "not-a-date":
        path.write_text(text.replace("2026-02-05", "2026-02-31"))
        named = ["source.csv", "line 3", "column date", "'2026-02-31'"]
    elif defect == "empty":
        path.write_text("")
        named = ["source.csv", "(empty file)"]
    else:
        path.write_bytes(text.encode().replace(b"2026-02-05,", b"2026-02-05,\xff"))
        named = ["source.csv", "line 3", "UTF-8"]
    out = tmp_path / "r"
    spec = f"{symbol}={path}" if symbol else str(path)
    result = runner.invoke(app, ["monitor", "--out", str(out), option, spec])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for needle in named:
        assert needle in lines[0], (needle, lines[0])
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["source.csv"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--etf-flows", "XRP={flows}"], ["btc_flows.csv", "asset='XRP'"]),
        (["--closes", "{prices}"], ["prices.csv", "symbol="]),
        (["--live-closes", "QQQ", "--cache", "{cache}"], ["--live-closes='QQQ'"]),
        (["--etf-flows", "{flows}", "--as-of", "2026-01-31"], ["btc_flows.csv", "2026-01-31"]),
        (["--closes", "BTC={prices}", "--as-of", "2026-02-01"], ["prices.csv", "2026-02-01"]),
    ],
)
def test_unknown_symbols_and_an_empty_window_exit_2(args, named, tmp_path):
    (tmp_path / "btc_flows.csv").write_text(FLOWS)
    (tmp_path / "prices.csv").write_text(GOOD["--closes"][1])
    where = {"flows": tmp_path / "btc_flows.csv", "prices": tmp_path / "prices.csv"}
    where["cache"] = tmp_path / "cache"
    out = tmp_path / "r"
    result = runner.invoke(app, ["monitor", "--out", str(out), *(a.format(**where) for a in args)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in named:
        assert needle in lines[0], (needle, lines[0])
    assert not out.exists() and not (tmp_path / "cache").exists()
