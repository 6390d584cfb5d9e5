"""The margincall command: outputs, files, and exit status 2 with a clear message on bad input."""

from __future__ import annotations

import json
from importlib.resources import files

import pytest
from typer.testing import CliRunner

from margincall import __version__
from margincall.cli import app
from margincall.events.log import digest, read_parquet
from margincall.venue.instrument import load_rulebook

runner = CliRunner()


def test_version_prints_alone():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_rulebooks_lists_the_four_venues():
    result = runner.invoke(app, ["rulebooks"])
    assert result.exit_code == 0
    for name in ("binance", "bitmex", "dydx", "hyperliquid"):
        assert name in result.output


def test_liquidation_price_matches_the_binance_faq_formula():
    args = [
        "liquidation-price",
        "--side",
        "long",
        "--qty",
        "1",
        "--entry",
        "60000",
        "--wallet",
        "6000",
    ]
    result = runner.invoke(app, args)
    # (6,000 + 50 - 60,000) / (0.005 - 1) in the second bracket
    assert result.exit_code == 0 and "54,221.11" in result.output and "54,000.00" in result.output


def test_liquidation_price_refuses_an_unknown_side_with_status_2():
    args = [
        "liquidation-price",
        "--side",
        "up",
        "--qty",
        "1",
        "--entry",
        "60000",
        "--wallet",
        "6000",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "side" in result.output and "'up'" in result.output


def test_demo_json_reports_every_step_and_a_consistent_summary():
    result = runner.invoke(app, ["demo", "--accounts", "3000", "--steps", "5", "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    steps, summary = lines[:-1], lines[-1]
    assert [s["step"] for s in steps] == [1, 2, 3, 4, 5]
    assert summary["liquidated_accounts"] == sum(s["liquidated_accounts"] for s in steps)
    assert 0 < summary["liquidated_accounts"] <= 3000
    assert summary["liquidated_short_usd"] == 0.0  # the index only falls: no short is breached
    assert len(summary["event_log_sha256"]) == 64


def test_demo_writes_an_event_file_whose_digest_is_the_one_reported(tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["demo", "--accounts", "2000", "--steps", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    records, meta = read_parquet(out / "events.parquet")
    assert digest(records) == summary["event_log_sha256"]
    assert len(records) == summary["events"] and meta["rulebook"] == "binance"


def test_demo_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    result = runner.invoke(
        app, ["demo", "--accounts", "100", "--steps", "1", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "out" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_demo_refuses_a_drop_out_of_range_with_status_2():
    result = runner.invoke(app, ["demo", "--accounts", "100", "--steps", "1", "--drop", "0.9"])
    assert result.exit_code == 2 and "drop=0.9" in result.output


def test_demo_refuses_an_unknown_rulebook_with_status_2():
    result = runner.invoke(app, ["demo", "--accounts", "100", "--rulebook", "nasdaq"])
    assert result.exit_code == 2 and "nasdaq" in result.output


def _printed_prices(output: str) -> tuple[float, float]:
    prices = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│") if c.strip()]
        if len(cells) == 2 and cells[0] in ("liquidation", "bankruptcy"):
            prices[cells[0]] = float(cells[1].replace(",", ""))
    return prices["liquidation"], prices["bankruptcy"]


@pytest.mark.parametrize("rulebook", ["binance", "bitmex", "dydx", "hyperliquid"])
@pytest.mark.parametrize(
    ("side", "qty", "entry", "wallet"),
    [("long", 1, 60_000, 6_000), ("short", 2, 60_000, 8_000), ("long", 40, 60_000, 400_000)],
)
def test_liquidation_price_is_where_the_rulebooks_own_margin_rule_is_breached(
    rulebook, side, qty, entry, wallet
):
    """At the printed price, the isolated equity equals the maintenance margin of the given
    rulebook's tiers (Instrument.maintenance_margin_usd, exact decimals): each rulebook gives its
    own price, not Binance's."""
    args = ["liquidation-price", "--side", side, "--qty", str(qty), "--entry", str(entry)]
    result = runner.invoke(app, [*args, "--wallet", str(wallet), "--rulebook", rulebook])
    assert result.exit_code == 0, result.output
    lp, bp = _printed_prices(result.output)
    inst = load_rulebook(rulebook).instrument("BTCUSDT")
    sign = 1 if side == "long" else -1
    equity = wallet + sign * qty * (lp - entry)
    assert equity == pytest.approx(float(inst.maintenance_margin_usd(qty * lp)), abs=qty * 0.01)
    assert bp == pytest.approx(entry - sign * wallet / qty, abs=0.005)


def test_liquidation_price_differs_by_rulebook_and_reads_a_rulebook_file(tmp_path):
    args = ["liquidation-price", "--side", "long", "--qty", "1", "--entry", "60000"]
    prices = {}
    for rb in ("binance", "bitmex", "dydx", "hyperliquid"):
        result = runner.invoke(app, [*args, "--wallet", "6000", "--rulebook", rb])
        prices[rb] = _printed_prices(result.output)[0]
    assert len(set(prices.values())) == 4, prices
    text = (files("margincall.venue") / "rulebooks" / "dydx.toml").read_text("utf-8")
    custom = tmp_path / "custom.toml"
    custom.write_text(text.replace('mmr = "0.012"', 'mmr = "0.015"', 1))
    result = runner.invoke(app, [*args, "--wallet", "6000", "--rulebook", str(custom)])
    assert result.exit_code == 0, result.output
    # (60,000 - 6,000) / (1 - 0.015)
    assert _printed_prices(result.output)[0] == pytest.approx(54_822.34, abs=0.005)
