"""Funding in a portfolio venue: each instrument's payments land on the legs' rows and count in
the whole account's equity; an account funding pushes under maintenance is liquidated.

Binance, BTCUSDT and ETHUSDT. Account ``a`` deposits 5,100 USDT and buys 1 BTC from the maker at
100,000 (20x: initial margin 5,000). BTC's index falls to 95,500: equity 5,100 - 4,500 = 600,
maintenance 0.5% x 95,500 - 50 = 427.50. A rate of 0.1% (1,000,000 ppb) costs the long
95,500 x 0.001 = 95.50 (equity 504.50, safe) and the maker, short, receives it; a second one of
0.2% costs 191 (equity 409 < 427.50): the next block liquidates it.
"""

from __future__ import annotations

from decimal import Decimal

from margincall.events.schema import EventKind
from margincall.venue.portfolio import PortfolioVenue

USD = 1_000_000


def _venue() -> tuple[PortfolioVenue, int, int]:
    pv = PortfolioVenue("binance", {"BTCUSDT": 100_000, "ETHUSDT": 4_000}, insurance_fund_usd=10**6)
    mm = pv.open_account(10_000_000, leverage=5)
    a = pv.open_account(5_100, leverage=20)
    pv.block_trades("BTCUSDT", [a], ["1"], 100_000, mm)
    pv.set_index_price("BTCUSDT", 95_500)
    pv.update_marks()
    assert pv.run_liquidations().size == 0
    return pv, mm, a


def test_funding_is_paid_by_the_leg_and_counts_in_the_account() -> None:
    pv, mm, a = _venue()
    before = pv.cash_usd(mm)
    events = pv.settle_funding("BTCUSDT", rate_ppb=1_000_000)
    paid = {int(e["account"]): int(e["amount"]) for e in events
            if e["kind"] == EventKind.FUNDING_PAID}  # fmt: skip
    assert paid[a] == -95_500_000
    assert paid[mm] == 95_500_000
    assert pv.cash_usd(a) == Decimal("5004.5")
    assert pv.cash_usd(mm) - before == Decimal("95.5")
    assert pv.margin(a) == (int(504.5 * USD), int(427.5 * USD))
    assert not any(e["kind"] == EventKind.FUNDING_PAID for e in pv.settle_funding("ETHUSDT", 0)
                   if e["account"] == a)  # fmt: skip
    pv.check_invariants()
    assert pv.run_liquidations().size == 0


def test_an_account_funding_pushes_under_maintenance_is_liquidated() -> None:
    pv, _, a = _venue()
    pv.settle_funding("BTCUSDT", rate_ppb=2_000_000)
    assert pv.margin(a) == (int(409 * USD), int(427.5 * USD))
    events = pv.run_liquidations()
    hit = [e for e in events if e["kind"] == EventKind.LIQUIDATION_TRIGGERED]
    assert [int(e["account"]) for e in hit] == [a]
    assert pv.position(a, "BTCUSDT")["qty"] == 0
    pv.check_invariants()


def test_the_rate_comes_from_each_instruments_samples() -> None:
    pv, _, _ = _venue()
    for _ in range(3):
        pv.sample_premiums()
    predicted = [leg.predicted_funding_ppb() for leg in pv.legs]
    events = pv.settle_funding()
    rates = [int(e["amount"]) for e in events if e["kind"] == EventKind.FUNDING_RATE_SET]
    assert rates == predicted
    pv.check_invariants()
