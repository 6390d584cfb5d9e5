"""R8: ADL ranks a portfolio leg by its account (portfolio-margin.md §2.6, §3.3, §5.3, P9, P12).

P12 (Binance): BTC marks 97,000. Account A: 10,000 USDT, short 1 BTC from 98,000, long 40 ETH
from 3,000; account B: 10,000 USDT, short 3 BTC from 99,000 (LeveragePnL 0.060375). A's BTC
short has LeveragePnL 0.012600, 0.030000 and 0.065444 at ETH 2,975, 2,825 and 2,770: behind B,
behind B, ahead of B (its ETH loss raises its margin ratio). In the engine a third account C,
long 1 BTC from 100,000 with 2,000 USDT, is bankrupt at 97,000 with an empty book and an empty
fund: its long is deleveraged against the first short of the queue.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from oracle_mark import oracle_marked

from margincall.events.schema import EventKind
from margincall.formulas.portfolio import (
    BINANCE_BTC,
    BINANCE_ETH,
    Leg,
    binance_cross_leverage_pnl,
    single_leg_bankruptcy_price,
)
from margincall.venue.portfolio import PortfolioVenue
from margincall.venue.portfolio_adl import ranked

USD = 1_000_000
LONGS, SHORTS = np.int64(1), np.int64(-1)


def _p12(eth: int) -> tuple[PortfolioVenue, int, int, int]:
    """P12's accounts A and B, and the bankrupt C, at BTC 97,000 and ETH ``eth``."""
    pv = PortfolioVenue("binance", {"BTCUSDT": 100_000, "ETHUSDT": 3_000})
    mm = pv.open_account(100_000_000, leverage=5)
    a = pv.open_account(10_000, leverage=50)
    b = pv.open_account(10_000, leverage=50)
    c = pv.open_account(2_000, leverage=100)
    pv.block_trades("BTCUSDT", [a], ["-1"], 98_000, mm)
    pv.block_trades("BTCUSDT", [b], ["-3"], 99_000, mm)
    pv.block_trades("ETHUSDT", [a], ["40"], 3_000, mm)
    pv.block_trades("BTCUSDT", [c], ["1"], 100_000, mm)
    pv.set_index_price("BTCUSDT", 97_000)
    pv.set_index_price("ETHUSDT", eth)
    pv.update_marks()
    return pv, a, b, c


ROWS = [  # ETH mark, A's equity and maintenance, A's LeveragePnL, A ahead of B
    pytest.param(2_975, 10_000, 1_260, "0.012600", False, id="P12-2975"),
    pytest.param(2_825, 4_000, 1_200, "0.030000", False, id="P12-2825"),
    pytest.param(2_770, 1_800, 1_178, "0.065444", True, id="P12-2770"),
]


@pytest.mark.parametrize(("eth", "equity", "mm", "score", "ahead"), ROWS)
def test_p12_queue_ranks_the_btc_short_by_the_account(eth, equity, mm, score, ahead) -> None:
    pv, a, b, _ = _p12(eth)
    assert pv.margin(a) == (equity * USD, mm * USD)
    assert pv.margin(b) == (16_000 * USD, 1_610 * USD)
    accounts, scores = ranked(pv._legs(), pv.pf, np.int64(0), SHORTS)
    assert sorted(accounts.tolist()) == [a, b]  # the BTC shorts (the maker is long)
    got = dict(zip(accounts.tolist(), scores.tolist(), strict=True))
    legs = [Leg("short", 1, 98_000, 97_000, BINANCE_BTC), Leg("long", 40, 3_000, eth, BINANCE_ETH)]
    expected = binance_cross_leverage_pnl(legs, 0, 10_000)
    assert round(expected, 6) == Decimal(score)
    assert got[a] == pytest.approx(float(expected), rel=1e-12)
    assert got[b] == pytest.approx(0.060375, rel=1e-12)
    assert (accounts.tolist() == [a, b]) is ahead


@pytest.mark.parametrize(("eth", "equity", "mm", "score", "ahead"), ROWS)
def test_p12_adl_takes_the_higher_ranked_account_first(eth, equity, mm, score, ahead) -> None:
    """C's bankrupt long (the fund is empty, the book too) closes against the first BTC short
    of the queue: A at ETH 2,770, B at 2,975 and 2,825."""
    pv, a, b, c = _p12(eth)
    events = pv.run_liquidations()
    adl = [e for e in events if e["kind"] == EventKind.ADL_EXECUTED and e["account"] != c]
    assert adl, "C's long was not deleveraged"
    first = a if ahead else b
    assert {int(e["account"]) for e in adl} == {first}  # one BTC: the first short covers it
    assert pv.position(c, "BTCUSDT")["qty"] == 0
    assert pv.position(a, "BTCUSDT")["qty"] == (0 if ahead else -1)
    assert pv.position(b, "BTCUSDT")["qty"] == (-3 if ahead else -2)
    pv.check_invariants()


def test_bitmex_ranks_a_cross_leg_by_its_single_leg_bankruptcy_value(tmp_path) -> None:
    """P9's account at marks 97,000 / 3,700 (equity 1,000): effective leverage of each leg is
    MarkValue / (MarkValue - BankruptValue) with the single-leg bankruptcy prices 96,000.00 and
    3,650.00; both legs lose, so the score is PnL% / leverage."""
    from importlib.resources import files

    from margincall.venue.instrument import load_rulebook

    text = (files("margincall.venue.rulebooks") / "bitmex.toml").read_text()
    line = '{ floor_usd = "0",        max_leverage = 100, mmr = "0.0035" }'
    path = tmp_path / "bitmex-p9.toml"
    path.write_text(text.replace(line, line.replace('"0.0035"', '"0.005"')))
    pv = PortfolioVenue(load_rulebook(path), {"BTCUSDT": 100_000, "ETHUSDT": 4_000})
    mm = pv.open_account(1_000_000_000, leverage=5)
    a = pv.open_account(10_000, leverage=20)
    pv.block_trades("BTCUSDT", [a], ["1"], 100_000, mm)
    pv.block_trades("ETHUSDT", [a], ["20"], 4_000, mm)
    pv.set_index_price("ETHUSDT", 3_700)
    pv.set_index_price("BTCUSDT", 97_000)
    pv.update_marks()
    assert pv.margin(a) == (1_000 * USD, 1_225 * USD)
    legs = [Leg("long", 1, 100_000, 97_000, "0.005"), Leg("long", 20, 4_000, 3_700, "0.01")]
    for j, (qty, entry, mark, bankrupt) in enumerate(
        ((1, 100_000, 97_000, 96_000), (20, 4_000, 3_700, 3_650))
    ):
        assert single_leg_bankruptcy_price(legs, j, 10_000) == bankrupt
        pnl_pct = (mark - entry) / entry
        leverage = mark / (mark - bankrupt)
        accounts, scores = ranked(pv._legs(), pv.pf, np.int64(j), LONGS)
        assert accounts.tolist() == [a]
        assert scores[0] == pytest.approx(pnl_pct / leverage, rel=1e-12), qty


def test_hyperliquid_ranks_a_cross_leg_by_the_whole_account_value() -> None:
    """Long 1 BTC from 100,000 and short 30 ETH from 3,500 with 30,000 USDC; at 104,000 /
    3,600 the account value is 31,000 and the BTC leg's index (mark/entry) x (notional /
    account value) = 1.04 x 104,000 / 31,000."""
    pv = PortfolioVenue(oracle_marked("hyperliquid"), {"BTCUSDT": 100_000, "ETHUSDT": 3_500})
    mm = pv.open_account(1_000_000_000, leverage=5)
    a = pv.open_account(30_000, leverage=20)
    pv.block_trades("BTCUSDT", [a], ["1"], 100_000, mm)
    pv.block_trades("ETHUSDT", [a], ["-30"], 3_500, mm)
    pv.set_index_price("BTCUSDT", 104_000)
    pv.set_index_price("ETHUSDT", 3_600)
    pv.update_marks()
    equity, _ = pv.margin(a)
    assert equity == 31_000 * USD
    accounts, scores = ranked(pv._legs(), pv.pf, np.int64(0), LONGS)
    assert accounts.tolist() == [a]
    assert scores[0] == pytest.approx(1.04 * 104_000 / 31_000, rel=1e-12)
