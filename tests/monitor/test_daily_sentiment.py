"""The daily index with ETF-flow and breadth components: each component by hand, the index
without them (the bar index alone), and the weights refitted on Dec 2025 - Feb 2026 only (rows
after 2026-02-28 changed: the same fit)."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from margincall.monitor import daily_sentiment as ds
from margincall.monitor.ingest import read_coinglass
from margincall.monitor.sentiment import sentiment_daily
from margincall.sources.closes import read_closes
from margincall.sources.fear_greed import read_fear_greed
from margincall.sources.flows import read_etf_flows

D0 = date(2025, 10, 1)


def days(n: int) -> list[date]:
    return [D0 + timedelta(days=i) for i in range(n)]


def test_etf_component_by_hand():
    flows = [100.0 * ((i * 37) % 11 - 5) for i in range(40)]
    f = pl.DataFrame({"date": days(40), "total_usd": flows})
    got = ds.etf_component([f])
    s5 = np.convolve(flows, np.ones(5), "valid")  # s5[k] ends at day k + 4
    i = 39
    window = s5[: i - 4 + 1][-ds.ETF_SPREAD_DAYS :]
    want = 50 + 50 * math.tanh(s5[i - 4] / np.std(window, ddof=1))
    assert got["date"][-1] == days(40)[-1]
    assert got["s_etf_flows"][-1] == pytest.approx(want, rel=1e-12)
    # the spread needs ETF_MIN_DAYS five-day sums: the first score is on day 4 + 19
    assert got["date"][0] == days(40)[4 + ds.ETF_MIN_DAYS - 1]
    # two assets' flows are added per day
    both = ds.etf_component([f, f])
    assert both["s_etf_flows"].to_list() == pytest.approx(got["s_etf_flows"].to_list())


def test_breadth_by_hand():
    up = pl.DataFrame({"date": days(35), "close": [float(i) for i in range(35)]})
    down = pl.DataFrame({"date": days(35), "close": [float(100 - i) for i in range(35)]})
    late = pl.DataFrame({"date": days(35)[5:], "close": [1.0] * 30})  # flat: never above
    got = ds.breadth_component([up, down, late])
    first = got.filter(pl.col("date") == days(35)[29])
    assert first["s_breadth"][0] == pytest.approx(50.0) and first["symbols"][0] == 2
    last = got.tail(1)
    assert last["s_breadth"][0] == pytest.approx(100 / 3) and last["symbols"][0] == 3


def test_the_index_without_the_new_components_is_the_bar_index():
    bars = pl.DataFrame({"date": days(10), "sentiment": [float(10 * i) for i in range(10)]})
    alone = ds.daily_index(bars, None, None)
    assert alone["sentiment"].to_list() == bars["sentiment"].to_list()
    etf = pl.DataFrame({"date": [days(10)[2]], "s_etf_flows": [80.0]})
    mixed = ds.daily_index(bars, etf, None)
    w = ds.DAILY_WEIGHTS
    want = (w["bars"] * 30.0 + w["etf_flows"] * 80.0) / (w["bars"] + w["etf_flows"])
    assert mixed.filter(pl.col("date") == days(10)[3])["sentiment"][0] == pytest.approx(want)
    assert mixed["sentiment"][0] == 0.0  # before the first flow day: bars alone
    only_etf = ds.daily_index(None, etf, None)
    assert only_etf["sentiment"].to_list() == [80.0]


@pytest.fixture(scope="module")
def shared_inputs(shared_data, real_csv, fear_greed_csv):
    def f(name: str):
        hits = sorted(shared_data.glob(name))
        if not hits:
            pytest.skip(f"{name} not in ../shared/data")
        return hits[0]

    bars = sentiment_daily(read_coinglass(real_csv))
    etf = read_etf_flows(f("farside_btc_etf_flows_daily_*.csv"), "BTC").days
    closes = [read_closes(f("coinbase_btc_usd_daily_close_*.csv"))]
    closes.append(read_closes(f("coinbase_eth_usd_daily_close_*.csv")))
    return bars, etf, closes, read_fear_greed(fear_greed_csv)


def test_weights_refit_on_dec_2025_to_feb_2026_only(shared_inputs):
    bars, etf, closes, fg = shared_inputs
    weights, rho = ds.fit_weights(bars, ds.etf_component([etf]), ds.breadth_component(closes), fg)
    assert weights == ds.DAILY_WEIGHTS
    assert rho == pytest.approx(0.8394, abs=5e-4)
    # rows after 2026-02-28 play no part: scramble them and fit again
    late = pl.col("date") > ds.FIT_TO
    etf2 = etf.with_columns(pl.when(late).then(-pl.col("total_usd") * 7).otherwise("total_usd"))
    closes2 = [
        c.with_columns(pl.when(late).then(pl.col("close") * 3).otherwise("close")) for c in closes
    ]
    fg2 = fg.with_columns(pl.when(late).then(100 - pl.col("value")).otherwise("value"))
    again = ds.fit_weights(bars, ds.etf_component([etf2]), ds.breadth_component(closes2), fg2)
    assert again == (weights, rho)
    # the fitted index beats the bar index alone on the fit's days
    cut = fg.filter((pl.col("date") >= ds.FIT_FROM) & (pl.col("date") <= ds.FIT_TO))
    alone, _ = ds.spearman_with(bars.filter(pl.col("date") <= ds.FIT_TO), cut)
    assert rho > alone


def test_the_report_gives_the_components_and_weights(shared_data, fear_greed_csv, tmp_path):
    import json

    from typer.testing import CliRunner

    from margincall.cli import app

    btc = sorted(shared_data.glob("coinbase_btc_usd_daily_close_*.csv"))
    if not btc:
        pytest.skip("no BTC closes in ../shared/data")
    out = tmp_path / "r"
    args = ["monitor", "--out", str(out), "--closes", str(btc[0])]
    res = CliRunner().invoke(
        app, [*args, "--fear-greed", str(fear_greed_csv), "--as-of", "2026-02-05"]
    )
    assert res.exit_code == 0, res.output
    own = json.loads((out / "summary.json").read_text())["fear_greed"]["own"]
    assert own["weights"] == ds.DAILY_WEIGHTS and own["weights_fitted_on"] == ds.FIT_SPAN
    assert own["components"]["bars"] is None and own["components"]["breadth"] in (0.0, 100.0)
    assert own["value"] == own["components"]["breadth"]  # the only component present
    md = (out / "report.md").read_text()
    assert f"x {ds.DAILY_WEIGHTS['breadth']:g} (weights fitted on Dec 2025 - Feb 2026)" in md
