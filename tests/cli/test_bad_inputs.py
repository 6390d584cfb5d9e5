"""Bad inputs across every command: each is refused with exit status 2 and one stderr line that
names the field or path, with no traceback and nothing left in --out (issue 18, defects 4, 5, 9).

The table below is the list of the inputs tried; ``bad_inputs.md`` beside this file shows the
message each gets (regenerate it with ``MARGINCALL_WRITE_MESSAGES=1 pytest -n 0 THIS_FILE``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cli_helpers import assert_refused, invoke, leftovers

from margincall.store.rows import write_rows

NOT_UTF8 = b'name = "caf\xe9"\n[run]\nhours = 1\n'

MARKET = """
[[venues]]
name = "a"
rulebook = "binance"
instruments = ["BTCUSDT"]
insurance_fund_usd = 1e9
[[assets]]
symbol = "BTCUSDT"
start_price = 73000
[[assets.venues]]
venue = "a"
open_interest_usd = 7e9
depth_1pct_usd = 90e6
[[populations]]
venue = "a"
instruments = ["BTCUSDT"]
"""
# the market scenario's bad inputs of issue 16: file name -> (text replaced, by)
MARKET_BAD = {
    "market_rulebook.toml": ('"binance"', '"nasdaq"'),
    "market_instrument.toml": (
        'instruments = ["BTCUSDT"]\ninsurance',
        'instruments = ["BTCUSDT", "DOGEUSDT"]\ninsurance',
    ),
    "market_no_venue.toml": (
        '[[assets.venues]]\nvenue = "a"\nopen_interest_usd = 7e9\ndepth_1pct_usd = 90e6\n',
        "",
    ),
    "market_population.toml": (
        'venue = "a"\ninstruments = ["BTCUSDT"]\n',
        'venue = "a"\ninstruments = ["ETHUSDT"]\n',
    ),
    "market_weight.toml": (
        "insurance_fund_usd = 1e9\n",
        "insurance_fund_usd = 1e9\nperp_mid_weight = -3\n",
    ),
    # a USDE book on a venue whose population deposits no USDE
    "market_stablecoin.toml": (
        'venue = "a"\ninstruments = ["BTCUSDT"]\n',
        'venue = "a"\ninstruments = ["BTCUSDT"]\n[[stablecoin_books]]\nvenue = "a"\n'
        'asset = "USDE"\ndepth_1pct_usd = 5e6\ncapital_usd = 5e7\n',
    ),
}

SPEC = """
kind = "simulate"
name = "tiny"
scenario = "calm"
seeds = 1
[set]
"run.accounts" = 100
"run.hours" = 0.01
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory, readonly_dir) -> dict[str, str]:
    d = tmp_path_factory.mktemp("inputs")
    (d / "not_utf8.toml").write_bytes(NOT_UTF8)
    (d / "market.toml").write_text(MARKET)
    for name, (old, new) in MARKET_BAD.items():
        assert old in MARKET, name
        (d / name).write_text(MARKET.replace(old, new))
    (d / "market_shares.toml").write_text(
        MARKET + "[populations.mix]\nholding_shares = [0.5, 0.4, 0.0]\n"
    )
    (d / "empty.toml").write_text("# nothing but a comment\n")
    (d / "oi_inf.toml").write_text("[market]\nopen_interest_usd = inf\n")
    (d / "oi_huge.toml").write_text("[market]\nopen_interest_usd = 1e300\n")
    (d / "price_huge.toml").write_text("[market]\nstart_price = 3e7\n")
    (d / "lookback_huge.toml").write_text("[momentum]\nlookback_minutes = 1e12\n")
    (d / "spread_huge.toml").write_text("[makers]\nhalf_spread_bps = 1e17\n")
    (d / "oi_2t.toml").write_text("[market]\nopen_interest_usd = 2e12\n")
    (d / "flow_nan.toml").write_text(
        "[[flow.spot]]\nstart_hour = 0\nend_hour = 1\nusd_per_hour = nan\n"
    )
    (d / "money.toml").write_text("[makers]\ncount = 64\ncapital_usd = 1e12\n")
    (d / "rulebook_not_utf8.toml").write_bytes(b'[rulebook]\nname = "\xff"\n')
    (d / "spec_empty.toml").write_text("\n")
    (d / "spec_not_utf8.toml").write_bytes(NOT_UTF8)
    (d / "spec_shocks.toml").write_text('kind = "stress"\n[stress]\nshocks = "-5%:abc"\n')
    (d / "spec_depths.toml").write_text('kind = "stress"\n[stress]\ndepth_scales = []\n')
    (d / "spec_rulebook.toml").write_text(
        'kind = "stress"\n[stress]\npositions = "positions_1000x.csv"\nrulebook = "nasdaq"\n'
    )
    (d / "spec_inf.toml").write_text(SPEC + '[grid]\n"market.insurance_fund_usd" = [1e9, inf]\n')
    (d / "positions_negative.csv").write_text("side,qty,entry,wallet\nlong,-1,60000,100\n")
    (d / "positions_1000x.csv").write_text("side,qty,entry,leverage\nlong,1,60000,1000\n")
    (d / "corrupt.parquet").write_bytes(b"PAR1 this is not a parquet file PAR1")
    (d / "not_utf8.csv").write_bytes(b"ts,close\n2026-01-01,\xff\xfe\n")
    (d / "afile").write_text("a file, not a folder\n")
    flows = (
        "date,IBIT,FBTC,Total\n2026-02-04,-373.4,-86.4,-459.8\n2026-02-05,-175.3,-109.5,-284.8\n"
    )
    (d / "btc_flows.csv").write_text(flows)
    (d / "flows_baddate.csv").write_text(flows.replace("2026-02-05", "2026-02-31"))
    (d / "flows_empty.csv").write_text("")
    (d / "flows_not_utf8.csv").write_bytes(flows.encode().replace(b"-109.5", b"-10\xff.5"))
    (d / "prices.csv").write_text("date,close\n2026-02-04,72998\n2026-02-05,62791\n")
    (d / "mcap_bad.csv").write_text("date,total\n2026-02-04,2.45e12\n2026-02-05,n/a\n")
    (d / "alert_figure.toml").write_text('[alerts]\nbig = "liq_2h_usd > 250e6"\n')
    (d / "alert_op.toml").write_text('[alerts]\nlow = "close =< 60000"\n')
    (d / "alert_number.toml").write_text('[alerts]\nlow = "close < 60k"\n')
    (d / "alert_empty.toml").write_text("# no rules\n")
    full = d / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    store = d / "store"
    for i in range(3):
        row = {"run_id": f"0000{i}-aaaa", "run_index": i, "status": "ok", "x": i, "y": 2.0 * i}
        write_rows(store, row["run_id"], [row])
    broken = d / "broken_store"
    (broken / "rows").mkdir(parents=True)
    (broken / "rows" / "00000-bbbb.parquet").write_bytes(b"PAR1 garbage PAR1")
    return {"d": str(d), "ro": str(readonly_dir / "margincall-out")}


LP = ["liquidation-price", "--side", "long", "--qty", "1", "--entry", "60000"]

# (id, arguments, what the one line must name). {d}: the inputs, {out}: a fresh --out,
# {ro}: a path in a folder nobody can write to.
CASES = [
    # simulate and its scenario files
    ("simulate-not-utf8", ["simulate", "{d}/not_utf8.toml"], ["not_utf8.toml", "UTF-8"]),
    ("simulate-empty", ["simulate", "{d}/empty.toml"], ["empty.toml", "empty"]),
    ("simulate-oi-inf", ["simulate", "{d}/oi_inf.toml"], ["market.open_interest_usd"]),
    ("simulate-oi-1e300", ["simulate", "{d}/oi_huge.toml"], ["market.open_interest_usd"]),
    # a book spanning 3e7 x 1.7 / 0.1 ticks would take about 32 GB (the fuzz test found it)
    ("simulate-price-3e7", ["simulate", "{d}/price_huge.toml"], ["market.start_price"]),
    ("simulate-lookback-1e12", ["simulate", "{d}/lookback_huge.toml"], ["lookback_minutes"]),
    ("simulate-half-spread-1e17", ["simulate", "{d}/spread_huge.toml"], ["half_spread_bps"]),
    ("simulate-oi-2T", ["simulate", "{d}/oi_2t.toml"], ["market.open_interest_usd"]),
    ("simulate-flow-nan", ["simulate", "{d}/flow_nan.toml"], ["usd_per_hour"]),
    ("simulate-money", ["simulate", "{d}/money.toml"], ["capital_usd"]),
    ("simulate-rulebook", ["simulate", "calm", "--rulebook", "nasdaq"], ["rulebook", "nasdaq"]),
    (
        "simulate-rulebook-not-utf8",
        ["simulate", "calm", "--rulebook", "{d}/rulebook_not_utf8.toml"],
        ["run.rulebook", "rulebook_not_utf8.toml"],
    ),
    ("simulate-seed", ["simulate", "calm", "--seed", "-1", "--accounts", "100"], ["seed"]),
    ("simulate-accounts", ["simulate", "calm", "--accounts", "5"], ["run.accounts"]),
    ("simulate-hours", ["simulate", "calm", "--hours", "inf"], ["run.hours"]),
    ("simulate-read-only-out", ["simulate", "calm", "--out", "{ro}"], ["--out", "{ro}"]),
    ("scenario-show", ["scenario", "show", "nope"], ["scenario", "nope"]),
    # market scenarios (issue 16): refused by `scenario show` and by `simulate`
    (
        "market-rulebook",
        ["scenario", "show", "{d}/market_rulebook.toml"],
        ["venues.0.rulebook", "nasdaq"],
    ),
    (
        "market-instrument",
        ["scenario", "show", "{d}/market_instrument.toml"],
        ["venues.0.instruments.1", "DOGEUSDT"],
    ),
    (
        "market-asset-without-venue",
        ["scenario", "show", "{d}/market_no_venue.toml"],
        ["assets.0.venues", "BTCUSDT"],
    ),
    (
        "market-population-instrument",
        ["scenario", "show", "{d}/market_population.toml"],
        ["populations.0.instruments.0", "ETHUSDT"],
    ),
    (
        "market-perp-mid-weight",
        ["scenario", "show", "{d}/market_weight.toml"],
        ["venues.0.perp_mid_weight", "-3"],
    ),
    (
        "market-shares",
        ["scenario", "show", "{d}/market_shares.toml"],
        ["populations.0.mix.holding_shares", "0.9"],
    ),
    (
        "market-simulate-shares",
        ["simulate", "{d}/market_shares.toml"],
        ["populations.0.mix.holding_shares", "0.9"],
    ),
    (
        "market-simulate-rulebook",
        ["simulate", "{d}/market_rulebook.toml"],
        ["venues.0.rulebook", "nasdaq"],
    ),
    (
        "market-stablecoin-book",
        ["simulate", "{d}/market_stablecoin.toml", "--out", "{out}"],
        ["stablecoin_books.0.asset", "USDE", "population deposits"],
    ),
    (
        "market-simulate-accounts",
        ["simulate", "{d}/market.toml", "--accounts", "5"],
        ["--accounts", "5"],
    ),
    (
        "market-simulate-rulebook-option",
        ["simulate", "{d}/market.toml", "--rulebook", "bitmex"],
        ["--rulebook", "bitmex"],
    ),
    # demo
    ("demo-read-only-out", ["demo", "--accounts", "100", "--out", "{ro}"], ["--out", "{ro}"]),
    ("demo-drop", ["demo", "--accounts", "100", "--drop", "0.9"], ["drop"]),
    ("demo-accounts", ["demo", "--accounts", "0"], ["accounts"]),
    ("demo-full-out", ["demo", "--accounts", "100", "--out", "{d}/full"], ["--out", "full"]),
    # liquidation-price
    ("lp-wallet-negative", [*LP, "--wallet", "-1"], ["--wallet"]),
    ("lp-1000x", [*LP, "--wallet", "60"], ["leverage", "100x", "binance"]),
    ("lp-1000x-hyperliquid", [*LP, "--wallet", "60", "--rulebook", "hyperliquid"], ["40x"]),
    ("lp-side", [*LP[:2], "up", *LP[3:], "--wallet", "6000"], ["side", "up"]),
    ("lp-entry-nan", [*LP[:-1], "nan", "--wallet", "6000"], ["entry_price"]),
    (
        "lp-rulebook-not-utf8",
        [*LP, "--wallet", "6000", "--rulebook", "{d}/rulebook_not_utf8.toml"],
        ["--rulebook", "rulebook_not_utf8.toml"],
    ),
    # sweep and its store
    ("sweep-empty-spec", ["sweep", "{d}/spec_empty.toml", "--out", "{out}"], ["spec_empty.toml"]),
    ("sweep-not-utf8", ["sweep", "{d}/spec_not_utf8.toml", "--out", "{out}"], ["SPEC", "UTF-8"]),
    ("sweep-shocks", ["sweep", "{d}/spec_shocks.toml", "--out", "{out}"], ["stress.shocks"]),
    ("sweep-depths", ["sweep", "{d}/spec_depths.toml", "--out", "{out}"], ["depth_scales"]),
    ("sweep-rulebook", ["sweep", "{d}/spec_rulebook.toml", "--out", "{out}"], ["stress.rulebook"]),
    ("sweep-inf", ["sweep", "{d}/spec_inf.toml", "--out", "{out}"], ["grid"]),
    ("runs-query-empty-sql", ["runs", "query", "{d}/store", ""], ["SQL"]),
    ("runs-query-not-a-store", ["runs", "query", "{d}", "SELECT 1"], ["DIR"]),
    (
        "runs-query-corrupt",
        ["runs", "query", "{d}/broken_store", "SELECT * FROM runs"],
        ["broken_store"],
    ),
    ("runs-plot-corrupt", ["runs", "plot", "{d}/broken_store", "x", "x"], ["broken_store"]),
    ("runs-plot-read-only", ["runs", "plot", "{d}/store", "x", "y", "--html", "{ro}"], ["--html"]),
    # stress and forecast
    ("stress-shocks", ["stress", "calm", "--shocks=-1%:2"], ["--shocks", "start:end:step"]),
    ("stress-read-only-out", ["stress", "calm", "--out", "{ro}"], ["--out", "{ro}"]),
    (
        "stress-positions-qty",
        ["stress", "--positions", "{d}/positions_negative.csv"],
        ["qty (row 1)", "-1.0"],
    ),
    (
        "stress-positions-1000x",
        ["stress", "--positions", "{d}/positions_1000x.csv"],
        ["leverage", "binance"],
    ),
    (
        "stress-positions-corrupt",
        ["stress", "--positions", "{d}/corrupt.parquet"],
        ["corrupt.parquet"],
    ),
    ("stress-depth-inf", ["stress", "calm", "--depth-1pct", "inf"], ["--depth-1pct"]),
    (
        "stress-price-nan",
        ["stress", "--positions", "{d}/positions_1000x.csv", "--price", "nan"],
        ["--price"],
    ),
    (
        "forecast-read-only-out",
        ["forecast", "--from-data", "{d}/corrupt.parquet", "--out", "{ro}"],
        ["--out"],
    ),
    (
        "forecast-corrupt",
        ["forecast", "--from-data", "{d}/corrupt.parquet", "--out", "{out}"],
        ["corrupt.parquet"],
    ),
    (
        "forecast-missing",
        ["forecast", "--from-data", "{d}/nope.csv", "--out", "{out}"],
        ["--from-data"],
    ),
    # monitor and serve
    (
        "monitor-flows-not-a-date",
        ["monitor", "--etf-flows", "BTC={d}/flows_baddate.csv", "--out", "{out}"],
        ["flows_baddate.csv", "line 3, column date", "2026-02-31"],
    ),
    (
        "monitor-flows-empty",
        ["monitor", "--etf-flows", "BTC={d}/flows_empty.csv", "--out", "{out}"],
        ["flows_empty.csv", "empty"],
    ),
    (
        "monitor-flows-not-utf8",
        ["monitor", "--etf-flows", "BTC={d}/flows_not_utf8.csv", "--out", "{out}"],
        ["flows_not_utf8.csv", "line 3", "UTF-8"],
    ),
    (
        "monitor-flows-unknown-asset",
        ["monitor", "--etf-flows", "XRP={d}/btc_flows.csv", "--out", "{out}"],
        ["btc_flows.csv", "asset", "XRP"],
    ),
    (
        "monitor-closes-unknown-symbol",
        ["monitor", "--closes", "{d}/prices.csv", "--out", "{out}"],
        ["prices.csv", "symbol"],
    ),
    (
        "monitor-market-cap-not-a-number",
        ["monitor", "--market-cap", "{d}/mcap_bad.csv", "--out", "{out}"],
        ["mcap_bad.csv", "line 3, column total", "n/a"],
    ),
    (
        "monitor-window-without-rows",
        ["monitor", "--etf-flows", "{d}/btc_flows.csv", "--as-of", "2026-01-31", "--out", "{out}"],
        ["btc_flows.csv", "2026-01-31", "2026-02-04"],
    ),
    (
        "monitor-as-of-not-a-day",
        ["monitor", "--etf-flows", "{d}/btc_flows.csv", "--as-of", "2026-02-30", "--out", "{out}"],
        ["--as-of", "2026-02-30"],
    ),
    (
        "monitor-live-closes-unknown-symbol",
        ["monitor", "--live-closes", "QQQ", "--cache", "{out}-cache", "--out", "{out}"],
        ["--live-closes", "QQQ", "coingecko-id"],
    ),
    (
        "monitor-file-and-live",
        ["monitor", "--fear-greed", "{d}/prices.csv", "--live-fear-greed", "--out", "{out}"],
        ["--fear-greed and --live-fear-greed", "prices.csv"],
    ),
    (
        "monitor-timeframe-unknown",
        ["monitor", "--closes", "BTC={d}/prices.csv", "--timeframe", "2h", "--out", "{out}"],
        ["--timeframe", "2h", "1h, 4h, 1d"],
    ),
    (
        "monitor-every-not-a-period",
        ["monitor", "--closes", "BTC={d}/prices.csv", "--every", "5 minutes", "--out", "{out}"],
        ["--every", "5 minutes"],
    ),
    (
        "monitor-every-zero",
        ["monitor", "--closes", "BTC={d}/prices.csv", "--every", "0s", "--out", "{out}"],
        ["--every", "0s"],
    ),
    (
        "monitor-alert-unknown-figure",
        [
            "monitor",
            "--closes",
            "BTC={d}/prices.csv",
            "--alert",
            "{d}/alert_figure.toml",
            "--out",
            "{out}",
        ],
        ["alert_figure.toml", "alerts.big", "liq_2h_usd", "liq_1h_usd"],
    ),
    (
        "monitor-alert-bad-operator",
        [
            "monitor",
            "--closes",
            "BTC={d}/prices.csv",
            "--alert",
            "{d}/alert_op.toml",
            "--out",
            "{out}",
        ],
        ["alert_op.toml", "alerts.low", "operator", "=<"],
    ),
    (
        "monitor-alert-bad-number",
        [
            "monitor",
            "--closes",
            "BTC={d}/prices.csv",
            "--alert",
            "{d}/alert_number.toml",
            "--out",
            "{out}",
        ],
        ["alert_number.toml", "threshold", "60k"],
    ),
    (
        "monitor-alert-no-rules",
        [
            "monitor",
            "--closes",
            "BTC={d}/prices.csv",
            "--alert",
            "{d}/alert_empty.toml",
            "--out",
            "{out}",
        ],
        ["alert_empty.toml", "[alerts]"],
    ),
    (
        "monitor-alert-missing",
        ["monitor", "--closes", "BTC={d}/prices.csv", "--alert", "{d}/nope.toml", "--out", "{out}"],
        ["--alert", "nope.toml"],
    ),
    ("monitor-read-only-out", ["monitor", "{d}/not_utf8.csv", "--out", "{ro}"], ["--out", "{ro}"]),
    ("monitor-not-utf8", ["monitor", "{d}/not_utf8.csv", "--out", "{out}"], ["not_utf8.csv"]),
    (
        "monitor-mapping",
        ["monitor", "{d}/not_utf8.csv", "--mapping", "close", "--out", "{out}"],
        ["--mapping"],
    ),
    ("serve-runs-file", ["serve", "--runs", "{d}/afile"], ["--runs", "afile"]),
]


@pytest.mark.parametrize(("args", "needles"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_in_one_line_and_nothing_is_written(files, tmp_path, args, needles):
    paths = {**files, "out": str(tmp_path / "out")}
    before = sorted(p.name for p in Path(files["d"]).iterdir())
    result = invoke([a.format(**paths) for a in args])
    line = assert_refused(result, *(n.format(**paths) for n in needles))
    for key in ("out", "ro", "d"):
        line = line.replace(paths[key], "{" + key + "}")
    MESSAGES[" ".join(a if a else '""' for a in args)] = line
    assert not (tmp_path / "out").exists()
    assert leftovers(tmp_path) == [] and leftovers(Path(files["d"])) == []
    assert sorted(p.name for p in Path(files["d"]).iterdir()) == before
    assert (Path(files["d"]) / "full" / "keep.txt").read_text() == "mine"
    assert not Path(files["ro"]).exists()


MESSAGES: dict[str, str] = {}
LIST = Path(__file__).with_name("bad_inputs.md")


@pytest.fixture(scope="module", autouse=True)
def _write_messages():
    yield
    if os.environ.get("MARGINCALL_WRITE_MESSAGES") and len(MESSAGES) == len(CASES):
        rows = [f"| `margincall {args}` | `{line}` |" for args, line in MESSAGES.items()]
        LIST.write_text(
            "# Bad inputs and the message each gets\n\n"
            "Written by `tests/cli/test_bad_inputs.py` (`{d}`: its input files, `{out}`: a new "
            "folder, `{ro}`: a folder nobody can write to). Every one exits with status 2.\n\n"
            "| input | message |\n|---|---|\n" + "\n".join(rows) + "\n"
        )


@pytest.mark.skipif(bool(os.environ.get("MARGINCALL_WRITE_MESSAGES")), reason="being written")
def test_the_list_of_inputs_and_messages_covers_every_case():
    text = LIST.read_text()
    for _, args, _ in CASES:
        assert f"`margincall {' '.join(a if a else chr(34) * 2 for a in args)}`" in text, args


def test_at_least_thirty_bad_inputs_over_every_command():
    assert len(CASES) >= 30
    commands = {c[1][0] for c in CASES}
    assert commands >= {
        "simulate", "scenario", "demo", "liquidation-price", "sweep", "runs", "stress",
        "forecast", "monitor", "serve",
    }  # fmt: skip


def test_a_sweep_folder_with_a_corrupted_rows_file_is_refused_on_resume(tmp_path):
    from margincall.sweep import runner

    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC)
    out = tmp_path / "sweep"
    runner.prepare(spec, out, workers=1)  # the folder of a started sweep, nothing run yet
    (out / "rows").mkdir(exist_ok=True)
    (out / "rows" / "00000-cccc.parquet").write_bytes(b"PAR1 garbage PAR1")
    assert_refused(invoke(["sweep", spec, "--out", out]), "store file", str(out))
    (out / "study.json").write_text("{not json")
    assert_refused(invoke(["sweep", spec, "--out", out]), "--out")


def test_an_unexpected_error_is_one_line_and_status_1_and_debug_shows_its_traceback(
    monkeypatch,
):
    from margincall.formulas import margin

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(margin, "bankruptcy_price", broken)
    args = [*LP, "--wallet", "6000"]
    result = invoke(args)
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "internal error" in result.stderr and "ZeroDivisionError" in result.stderr
    assert "--debug" in result.stderr
    result = invoke(["--debug", *args])
    assert isinstance(result.exception, ZeroDivisionError)


def test_debug_shows_the_traceback_of_a_refused_input_too():
    result = invoke(["--debug", *LP, "--wallet", "-1"])
    assert result.exit_code == 2
    assert "Traceback" in result.stderr and result.stderr.strip().splitlines()[-1].startswith(
        "error: --wallet"
    )


def test_the_sweep_dry_run_counts_runs_and_writes_nothing(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC + '[grid]\n"market.insurance_fund_usd" = [1e9, 2e9]\n')
    result = invoke(["sweep", spec, "--out", tmp_path / "out", "--dry-run"])
    assert result.exit_code == 0 and "2 runs" in result.stdout
    assert not (tmp_path / "out").exists()


def test_messages_print_plain_numbers_and_rich_codes_as_text(files):
    # a numpy value in a message reads as a number (was np.float64(-1.0)), and "start:end:step"
    # is not turned into an emoji (rich's :end: code)
    line = assert_refused(invoke(["stress", "--positions", f"{files['d']}/positions_negative.csv"]))
    assert "=-1.0:" in line
    line = assert_refused(invoke(["stress", "calm", "--shocks=-1%:2"]))
    assert "start:end:step" in line and "\N{END WITH LEFTWARDS ARROW ABOVE}" not in line
    help_text = invoke(["stress", "--help"]).stdout
    assert "start:stop:step" in help_text and "\N{END WITH LEFTWARDS ARROW ABOVE}" not in help_text


def test_a_close_only_table_gets_a_report(tmp_path):
    rows = ["Date,Close,volume"] + [
        f"2026-01-{1 + i // 24:02d}T{i % 24:02d}:00:00Z,{60_000 + 300 * (i % 7)},"
        for i in range(72)
    ]
    (tmp_path / "prices.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "report"
    result = invoke(
        ["monitor", tmp_path / "prices.csv", "--mapping", "close=Close,ts=Date", "--out", out]
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["price"]["window_low"] == 60_000 and summary["price"]["window_high"] == 61_800


def test_serve_refuses_a_runs_file_before_binding(files):
    assert_refused(invoke(["serve", "--runs", f"{files['d']}/afile", "--port", "1"]), "--runs")


def test_scenario_show_validates_a_market_file_and_prints_it(files):
    result = invoke(["scenario", "show", f"{files['d']}/market.toml"])
    assert result.exit_code == 0 and result.stdout == MARKET
