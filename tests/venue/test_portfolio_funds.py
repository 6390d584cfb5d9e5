"""R9: the rulebook's fund map in the portfolio venue (portfolio-margin.md §2.6, §8).

Binance: BTCUSDT and ETHUSDT have their own insurance funds, SOLUSDT and WIFUSDT share one
(1,000,000 USDT each fund, the shared one seeded once). A long 100 SOL from 200 with 1,000
USDT is bankrupt at 188 (equity -200, bankruptcy price 190); a long 10,000 WIF from 2 with
2,100 USDT at 1.78 (equity -100, bankruptcy price 1.79). The book's only bids are below those
prices, so the fund takes both positions there and sells them into the bids (185 and 1.75),
realising losses of 500 and 400 (the fund pays no trading fee). WIFUSDT's own row holds nothing: its takeover is possible only with the
shared fund's money. The shared fund falls by both losses; BTCUSDT's and ETHUSDT's do not move.
"""

from __future__ import annotations

from decimal import Decimal

from margincall.events.schema import EventKind
from margincall.venue.portfolio import PortfolioVenue

START = {"BTCUSDT": 100_000, "ETHUSDT": 4_000, "SOLUSDT": 200, "WIFUSDT": 2}


def test_binance_fund_map() -> None:
    pv = PortfolioVenue("binance", START, insurance_fund_usd=1_000_000)
    assert pv.fund_ids == ("BTCUSDT", "ETHUSDT", "shared", "shared")
    assert [pv.fund_usd(s) for s in START] == [1_000_000] * 4  # the shared one seeded once
    assert sum(int(v.acc.wallet[0]) for v in pv.legs) == 3_000_000 * 1_000_000
    for name, funds in (("bitmex", {"USDT"}), ("dydx", {"insurance-fund"}),
                        ("hyperliquid", {"backstop"})):  # fmt: skip
        two = {"BTCUSDT": 100_000, "ETHUSDT": 4_000}
        assert set(PortfolioVenue(name, two).fund_ids) == funds


def test_losses_on_sol_and_wif_are_paid_from_one_shared_fund() -> None:
    pv = PortfolioVenue("binance", START, insurance_fund_usd=1_000_000)
    mm = pv.open_account(100_000_000, leverage=5)
    x = pv.open_account(1_000, leverage=20)
    y = pv.open_account(2_100, leverage=10)
    pv.block_trades("SOLUSDT", [x], ["100"], 200, mm)
    pv.block_trades("WIFUSDT", [y], ["10000"], 2, mm)
    pv.submit_order(mm, "SOLUSDT", "buy", "100", 185)
    pv.submit_order(mm, "WIFUSDT", "buy", "10000", "1.75")
    pv.set_index_price("SOLUSDT", 188)
    pv.set_index_price("WIFUSDT", "1.78")
    pv.update_marks()
    events = pv.run_liquidations()
    taken = {
        pv.symbols[int(e["instrument"])]: pv.legs[int(e["instrument"])].scale.ticks_to_price(
            int(e["price"])
        )
        for e in events
        if e["kind"] == EventKind.BACKSTOP_TAKEOVER and e["account"] in (x, y)
    }
    assert taken == {"SOLUSDT": Decimal(190), "WIFUSDT": Decimal("1.79")}
    assert not [e for e in events if e["kind"] == EventKind.ADL_EXECUTED]
    assert int(pv.legs[2].acc.pos[0]) == 0 and int(pv.legs[3].acc.pos[0]) == 0  # sold
    loss = 100 * (190 - 185) + 10_000 * (Decimal("1.79") - Decimal("1.75"))  # the fund pays no fee
    assert pv.fund_usd("SOLUSDT") == pv.fund_usd("WIFUSDT") == 1_000_000 - loss
    assert pv.fund_usd("BTCUSDT") == pv.fund_usd("ETHUSDT") == 1_000_000
    assert pv.legs[3].acc.wallet[0] < 0  # WIF's row paid with SOL's row's money
    pv.check_invariants()


def test_the_funds_lent_from_python_are_the_compiled_rule() -> None:
    from margincall.venue.portfolio_funds import lend_fund_rows, lend_funds

    pv = PortfolioVenue("binance", START, insurance_fund_usd=1_000_000)
    for j, v in enumerate(pv.legs):
        v.acc.wallet[0] = (j + 1) * 7_000_000 - 12_000_000  # one member below zero
    lend_funds(pv._legs(), pv.pf)
    compiled = [int(v.acc.rest[0]) for v in pv.legs]
    for v in pv.legs:
        v.acc.rest[0] = 0
    lend_fund_rows([v.acc for v in pv.legs], pv.pf.fund_group[:4].tolist())
    assert [int(v.acc.rest[0]) for v in pv.legs] == compiled == [0, 0, 16_000_000, 9_000_000]
