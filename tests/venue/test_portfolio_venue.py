"""The portfolio venue against portfolio-margin.md's vectors, by hand-computed figures.

P4 (contagion): a cross account long BTC and long ETH that no BTC price can liquidate is
liquidated by ETH alone at the first breaching tick 1,891.75 (not at 1,891.76), and both legs
are closed (R3: the fund takes them at their R4 bankruptcy prices, BTC 47,808.06 and ETH
1,877.40, when the book is empty). P5 (collateral): an account whose only collateral is 14,000
of a yield-bearing dollar stablecoin at ratio 0.90, long 4 BTC from 50,000 at a 48,000 mark, is
safe at a 1.00 collateral price and liquidated at 0.65.
"""

from __future__ import annotations

import doctest
from decimal import Decimal
from importlib.resources import files

import pytest
from oracle_mark import oracle_marked

from margincall.core.errors import InvalidInputError
from margincall.events.schema import EventKind, RejectReason
from margincall.venue.instrument import Rulebook, load_rulebook
from margincall.venue.portfolio import PortfolioVenue

USD = 1_000_000  # micro-dollars per dollar


def _p4(eth_price: str) -> tuple[PortfolioVenue, int]:
    """P4's account, with ETH's index and mark moved to ``eth_price`` (BTC stays at 48,000)."""
    pv = PortfolioVenue(
        "binance", {"BTCUSDT": 48_000, "ETHUSDT": 2_500}, insurance_fund_usd=1_000_000
    )
    mm = pv.open_account(100_000_000)
    a = pv.open_account(50_000)
    pv.block_trades("BTCUSDT", [a], ["1"], 48_000, mm)
    pv.block_trades("ETHUSDT", [a], ["80"], 2_500, mm)
    assert pv.margin(a) == (50_000 * USD, 1_827 * USD)
    pv.set_index_price("ETHUSDT", eth_price)
    pv.update_marks()
    return pv, a


def _kinds(events, account):
    return [EventKind(int(e["kind"])) for e in events if e["account"] == account]


def test_p4_safe_at_any_btc_price_with_eth_still() -> None:
    pv, a = _p4("2500")
    for btc in ("12000.1", "24000", "36000", "47999.9", "96000", "191999.9"):
        pv.set_index_price("BTCUSDT", btc)
        pv.update_marks()
        events = pv.run_liquidations()
        assert EventKind.LIQUIDATION_TRIGGERED not in _kinds(events, a), btc
    pv.check_invariants()


def test_p4_eth_one_tick_above_the_breach_is_safe() -> None:
    pv, a = _p4("1891.76")
    events = pv.run_liquidations()
    assert EventKind.LIQUIDATION_TRIGGERED not in _kinds(events, a)
    assert pv.margin(a) == (1_340_800_000, 1_340_408_000)
    pv.check_invariants()


def test_p4_eth_alone_liquidates_both_legs_at_their_r4_prices() -> None:
    pv, a = _p4("1891.76")
    pv.run_liquidations()
    pv.set_index_price("ETHUSDT", "1891.75")
    pv.update_marks()
    assert pv.margin(a) == (1_340 * USD, 1_340_400_000)
    events = pv.run_liquidations()
    takeovers = [
        e for e in events if e["kind"] == EventKind.BACKSTOP_TAKEOVER and e["account"] == a
    ]
    assert [int(e["instrument"]) for e in takeovers] == [0, 1]  # ascending instrument order
    btc, eth = (
        pv.legs[int(e["instrument"])].scale.ticks_to_price(int(e["price"])) for e in takeovers
    )
    # R4 at the trigger tick: BTC 47,808.06, ETH 1,877.40; prices rounded to the tick against
    # the closing order
    assert abs(btc - Decimal("47808.06")) < Decimal("0.1")
    assert abs(eth - Decimal("1877.40")) < Decimal("0.01") + Decimal("0.0001")
    assert pv.position(a, "BTCUSDT")["qty"] == 0 and pv.position(a, "ETHUSDT")["qty"] == 0
    assert 0 <= pv.cash_usd(a) < Decimal("0.2")  # the fund took both legs at bankruptcy
    pv.check_invariants()


def _p5(rulebook: Rulebook, own_book: str, index: str) -> tuple[PortfolioVenue, int, list]:
    """P5's account: 14,000 USDe (ratio 0.90 in the rulebook) and long 4 BTC from 50,000 at a
    48,000 mark; then USDe's sources print ``own_book`` on the venue's own book and ``index``
    outside."""
    pv = PortfolioVenue(
        rulebook, {"BTCUSDT": 50_000}, insurance_fund_usd=1_000_000,
        collateral_prices={"USDE": 1},
    )  # fmt: skip
    mm = pv.open_account(100_000_000)
    a = pv.open_account(0, collateral={"USDE": 14_000})
    pv.block_trades("BTCUSDT", [a], ["4"], 50_000, mm)
    pv.set_index_price("BTCUSDT", 48_000)
    pv.update_marks()
    pv.run_liquidations()
    # 14,000 x 1.00 x 0.9 - 8,000 against 910
    assert pv.margin(a) == (4_600 * USD, 910 * USD)
    events = pv.set_collateral_sources("USDE", own_book=own_book, index=index)
    return pv, a, list(events)


def _index_priced(tmp_path) -> Rulebook:
    """Binance's rulebook with USDe priced from the external index (as after 2025-10-14)."""
    text = (files("margincall.venue.rulebooks") / "binance.toml").read_text()
    own = 'price = { own_book = "1", index = "0", redemption = "0", fixed = "0" }'
    external = 'price = { own_book = "0", index = "1", redemption = "0", fixed = "0" }'
    assert text.count(own) == 1
    path = tmp_path / "binance-index.toml"
    path.write_text(text.replace(own, external))
    return load_rulebook(path)


def test_p5_stablecoin_priced_from_the_external_index_does_not_liquidate(tmp_path) -> None:
    pv, a, events = _p5(_index_priced(tmp_path), own_book="0.65", index="1.00")
    assert EventKind.LIQUIDATION_TRIGGERED not in [EventKind(int(e["kind"])) for e in events]
    assert pv.margin(a) == (4_600 * USD, 910 * USD)
    pv.check_invariants()


def test_p5_stablecoin_marked_at_0_65_on_the_own_book_liquidates() -> None:
    pv, a, events = _p5(load_rulebook("binance"), own_book="0.65", index="1.00")
    kinds = [EventKind(int(e["kind"])) for e in events if e["account"] == a]
    assert EventKind.LIQUIDATION_TRIGGERED in kinds
    trigger = next(e for e in events if e["kind"] == EventKind.LIQUIDATION_TRIGGERED)
    assert int(trigger["amount"]) == (190 - 910) * USD  # 14,000 x 0.65 x 0.9 - 8,000 - 910
    assert pv.position(a, "BTCUSDT")["qty"] == 0
    # the fund took the position at its bankruptcy price 48,000 - 190 / 4 = 47,952.50; the USDT
    # deficit 4 x (50,000 - 47,952.50) = 8,190 is covered by selling USDe at 0.65 x (1 - 0.05)
    takeover = next(e for e in events if e["kind"] == EventKind.BACKSTOP_TAKEOVER)
    assert pv.legs[0].scale.ticks_to_price(int(takeover["price"])) == Decimal("47952.5")
    converted = next(e for e in events if e["kind"] == EventKind.COLLATERAL_CONVERTED)
    assert int(converted["amount"]) == 8_190 * USD
    assert int(converted["qty"]) == 13_263_157_895  # ceil(8,190 / 0.6175) in micro-units
    assert pv.cash_usd(a) >= 0
    pv.check_invariants()


def test_a_collateral_asset_the_rulebook_does_not_define_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="DOGE"):
        PortfolioVenue("binance", {"BTCUSDT": 50_000}, collateral_prices={"DOGE": 1})
    with pytest.raises(InvalidInputError, match="USDE"):  # Hyperliquid takes USDC only
        PortfolioVenue("hyperliquid", {"BTCUSDT": 50_000}, collateral_prices={"USDE": 1})
    with pytest.raises(InvalidInputError, match="settlement"):
        PortfolioVenue("binance", {"BTCUSDT": 50_000}, collateral_prices={"USDT": 1})
    pv = PortfolioVenue("binance", {"BTCUSDT": 50_000}, collateral_prices={"USDE": 1})
    with pytest.raises(InvalidInputError, match="asset='BTC'"):
        pv.open_account(0, collateral={"BTC": 1})


def test_a_cross_order_is_checked_against_the_whole_account() -> None:
    """Initial margin over every leg: with 10,000 USDT at 10x and 90,000 of ETH held (9,000 of
    initial margin), a BTC order needing 2,000 more is rejected naming the shortfall; one
    needing 1,000 fills."""
    pv = PortfolioVenue("binance", {"BTCUSDT": 50_000, "ETHUSDT": 3_000})
    mm = pv.open_account(100_000_000)
    a = pv.open_account(10_000, leverage=10)
    pv.block_trades("ETHUSDT", [a], ["30"], 3_000, mm)
    pv.submit_order(mm, "BTCUSDT", "sell", "1", 50_000)
    events = pv.submit_order(a, "BTCUSDT", "buy", "0.4", 50_000)
    rejected = [e for e in events if e["kind"] == EventKind.ORDER_REJECTED]
    assert [int(e["reason"]) for e in rejected] == [int(RejectReason.INSUFFICIENT_MARGIN)]
    assert int(rejected[0]["amount"]) == 1_000 * USD  # 9,000 + 2,000 - 10,000
    assert pv.position(a, "BTCUSDT")["qty"] == 0
    events = pv.submit_order(a, "BTCUSDT", "buy", "0.2", 50_000)
    assert pv.position(a, "BTCUSDT")["qty"] == Decimal("0.2")
    pv.check_invariants()


def test_an_instrument_the_rulebook_does_not_define_is_refused() -> None:
    with pytest.raises(Exception, match="DOGEUSDT"):
        PortfolioVenue("binance", {"BTCUSDT": 50_000, "DOGEUSDT": 0.2})
    pv = PortfolioVenue("binance", {"BTCUSDT": 50_000})
    a = pv.open_account(1_000)
    with pytest.raises(Exception, match="symbol='ETHUSDT'"):
        pv.submit_order(a, "ETHUSDT", "buy", "1")


def test_the_module_example_runs() -> None:
    import margincall.venue.portfolio as module

    assert doctest.testmod(module).failed == 0


def _p7(marks: dict[str, int]) -> tuple[PortfolioVenue, int, list]:
    """P6's Hyperliquid account (30,000 USDC; long 1 BTC at 100,000, short 30 ETH at 3,500, long
    500 SOL at 200), its marks moved to ``marks``, one block of liquidations."""
    start = {"BTCUSDT": 100_000, "ETHUSDT": 3_500, "SOLUSDT": 200}
    pv = PortfolioVenue(oracle_marked("hyperliquid"), start, insurance_fund_usd=1_000_000)
    mm = pv.open_account(1_000_000_000, leverage=5)
    a = pv.open_account(30_000, leverage=20)
    for sym, qty in (("BTCUSDT", "1"), ("ETHUSDT", "-30"), ("SOLUSDT", "500")):
        pv.block_trades(sym, [a], [qty], start[sym], mm)
    for sym in ("SOLUSDT", "ETHUSDT", "BTCUSDT"):  # in this order no earlier state breaches
        pv.set_index_price(sym, marks[sym])
    pv.update_marks()
    return pv, a, list(pv.run_liquidations())


def _orders(pv, events, a) -> dict[str, Decimal]:
    """The liquidation orders' sizes per instrument."""
    sizes = {}
    for e in events:
        if e["kind"] == EventKind.ORDER_ACCEPTED and e["account"] == a:
            v = pv.legs[int(e["instrument"])]
            sizes[pv.symbols[int(e["instrument"])]] = v.scale.lots_to_qty(int(e["qty"]))
    return sizes


def test_p7_hyperliquid_book_liquidation_slices_the_large_leg() -> None:
    """State B: account value 5,500 < maintenance 5,650, above 2/3 of it: market orders for
    every leg, ETH's a 20% slice (notional 112,500 > 100,000), no backstop."""
    pv, a, events = _p7({"BTCUSDT": 94_000, "ETHUSDT": 3_750, "SOLUSDT": 178})
    assert _orders(pv, events, a) == {"BTCUSDT": 1, "ETHUSDT": 6, "SOLUSDT": 500}
    assert not [e for e in events if e["kind"] == EventKind.BACKSTOP_TAKEOVER]
    assert pv.position(a, "ETHUSDT")["qty"] == -30  # the book was empty: nothing filled
    pv.check_invariants()


def test_p7_hyperliquid_backstop_below_two_thirds_of_maintenance() -> None:
    """State C: account value 3,000 < 2/3 x 5,680: the book orders first, then the backstop
    vault takes every remaining leg."""
    pv, a, events = _p7({"BTCUSDT": 92_000, "ETHUSDT": 3_800, "SOLUSDT": 180})
    assert _orders(pv, events, a) == {"BTCUSDT": 1, "ETHUSDT": 6, "SOLUSDT": 500}
    taken = [int(e["instrument"]) for e in events
             if e["kind"] == EventKind.BACKSTOP_TAKEOVER and e["account"] == a]  # fmt: skip
    assert taken == [0, 1, 2]
    assert all(pv.position(a, s)["qty"] == 0 for s in pv.symbols)
    pv.check_invariants()


def test_p9_bitmex_takes_every_cross_leg_at_once_at_r4_prices(tmp_path) -> None:
    """P9: 10,000 USDT, long 1 BTC at 100,000 (MM 0.5%, a fixture in place of BitMEX's 0.35%)
    and long 20 ETH at 4,000 (MM 1%); at marks 97,000 / 3,700 equity 1,000 < maintenance
    1,225, so the fund takes both legs together at BTC 96,604.08 and ETH 3,669.80 (R4)."""
    text = (files("margincall.venue.rulebooks") / "bitmex.toml").read_text()
    line = '{ floor_usd = "0",        max_leverage = 100, mmr = "0.0035" }'
    assert text.count(line) == 1
    path = tmp_path / "bitmex-p9.toml"
    path.write_text(text.replace(line, line.replace('"0.0035"', '"0.005"')))
    start = {"BTCUSDT": 100_000, "ETHUSDT": 4_000}
    pv = PortfolioVenue(load_rulebook(path), start, insurance_fund_usd=1_000_000)
    mm = pv.open_account(1_000_000_000, leverage=5)
    a = pv.open_account(10_000, leverage=20)
    pv.block_trades("BTCUSDT", [a], ["1"], 100_000, mm)
    pv.block_trades("ETHUSDT", [a], ["20"], 4_000, mm)
    assert pv.margin(a) == (10_000 * USD, 1_300 * USD)
    pv.set_index_price("ETHUSDT", 3_700)
    pv.set_index_price("BTCUSDT", 97_000)
    pv.update_marks()
    assert pv.margin(a) == (1_000 * USD, 1_225 * USD)
    events = pv.run_liquidations()
    taken = {
        pv.symbols[int(e["instrument"])]: pv.legs[int(e["instrument"])].scale.ticks_to_price(
            int(e["price"])
        )
        for e in events
        if e["kind"] == EventKind.BACKSTOP_TAKEOVER and e["account"] == a
    }
    assert set(taken) == {"BTCUSDT", "ETHUSDT"}
    assert abs(taken["BTCUSDT"] - Decimal("96604.08")) <= Decimal("0.5")  # tick 0.5
    assert abs(taken["ETHUSDT"] - Decimal("3669.80")) <= Decimal("0.05")  # tick 0.05
    assert not [e for e in events if e["kind"] == EventKind.ORDER_ACCEPTED and e["account"] == a]
    pv.check_invariants()


def test_an_account_flat_below_zero_after_its_own_sell_is_covered_by_the_fund() -> None:
    """A cross account long 0.2 BTC from 48,000 with 300 of cash sells into the only bid, at
    46,000: loss 400, taker fee 0.2 x 46,000 x 0.05% = 4.60, so it is flat at -104.60. The
    fund of the leg where the loss was made pays it (one event), the account ends at zero and
    the invariants hold (before: no event, 'below zero without a covering event')."""
    pv = PortfolioVenue("binance", {"BTCUSDT": 48_000, "ETHUSDT": 2_500}, insurance_fund_usd=1e6)
    mm = pv.open_account(100_000_000)
    a = pv.open_account(300, leverage=100)
    pv.block_trades("BTCUSDT", [a], ["0.2"], 48_000, mm)
    pv.submit_order(mm, "BTCUSDT", "buy", "1", 46_000)
    events = pv.submit_order(a, "BTCUSDT", "sell", "0.2")
    paid = events[events["kind"] == EventKind.INSURANCE_FUND_PAID]
    assert [(int(e["account"]), int(e["amount"])) for e in paid] == [(a, 104_600_000)]
    assert pv.margin(a) == (0, 0)
    pv.check_invariants()


def test_a_conversion_of_more_than_9_2_million_dollars_does_not_overflow() -> None:
    """R7 for a deficit whose micro-dollars times 10^6 pass int64: long 1,000 BTC from 50,000 on
    28M USDe, BTC at 40,000 and USDe marked at 0.40 leave $10.08M to cover; the units sold
    are ceil(deficit / rate) as Python's integers compute them (before: a negative number)."""
    pv = PortfolioVenue(
        "binance", {"BTCUSDT": 50_000}, insurance_fund_usd=1_000_000_000,
        collateral_prices={"USDE": 1},
    )  # fmt: skip
    mm = pv.open_account(1_000_000_000, leverage=1)
    a = pv.open_account(0, collateral={"USDE": 28_000_000}, leverage=2)
    pv.block_trades("BTCUSDT", [a], ["1000"], 50_000, mm)
    pv.set_index_price("BTCUSDT", 40_000)
    pv.update_marks()
    assert len(pv.run_liquidations()) == 0
    events = pv.set_collateral_sources("USDE", own_book="0.4", index="1")
    conv = [e for e in events if e["kind"] == EventKind.COLLATERAL_CONVERTED]
    assert len(conv) == 1
    deficit, qty, rate = int(conv[0]["amount"]), int(conv[0]["qty"]), int(conv[0]["price"])
    assert deficit == 10_080_000 * USD and deficit * 10**6 > 2**63
    assert rate == 380_000  # 0.40 x (1 - 0.05)
    assert qty == -(-deficit * 10**6 // rate) == 26_526_315_789_474
    assert int(pv.pf.converted[0]) == qty
    pv.check_invariants()
