"""An isolated leg inside a portfolio account: margined alone, never in the cross equity.

Binance, 12,000 USDT. 3,000 of it goes to an isolated ETHUSDT leg, long 10 ETH from 4,000 at
20x (initial margin 2,000 moves to the leg's isolated margin, 1,000 stays in its wallet); the
cross part holds 9,000 and long 1 BTC from 100,000 (maintenance 0.5% - 50 = 450). ETH at 3,820:
the leg's margin 2,000 - 1,800 = 200 is below its maintenance 38,200 x 0.65% - 15 = 233.30, so
ETHUSDT liquidates it alone, and the cross account does not move. BTC: the cross account
(9,000 + P - 100,000 against 0.005 P - 50) breaches at P <= 90,950 / 0.995 = 91,407.035..., so
at the tick 91,407.0 and not at 91,407.1; with the isolated leg's 1,000 counted it would not
breach before about 90,402.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from margincall.core.errors import InvalidInputError
from margincall.events.schema import EventKind
from margincall.venue.portfolio import PortfolioVenue

USD = 1_000_000


def _triggered(events, a) -> list[int]:
    return [int(e["instrument"]) for e in events
            if e["kind"] == EventKind.LIQUIDATION_TRIGGERED and e["account"] == a]  # fmt: skip


def test_an_isolated_leg_is_margined_alone() -> None:
    pv = PortfolioVenue("binance", {"BTCUSDT": 100_000, "ETHUSDT": 4_000}, insurance_fund_usd=10**6)
    mm = pv.open_account(100_000_000, leverage=5)
    a = pv.open_account(12_000, leverage=20)
    with pytest.raises(InvalidInputError, match="margin_usd"):
        pv.isolate(a, "ETHUSDT", 12_001)
    pv.isolate(a, "ETHUSDT", 3_000)
    pv.block_trades("ETHUSDT", [a], ["10"], 4_000, mm)
    pv.block_trades("BTCUSDT", [a], ["1"], 100_000, mm)
    eth = pv.position(a, "ETHUSDT")
    assert (eth["isolated_margin_usd"], eth["wallet_usd"]) == (2_000, 1_000)
    assert pv.margin(a) == (9_000 * USD, 450 * USD)  # the cross part only
    with pytest.raises(InvalidInputError, match="symbol"):
        pv.isolate(a, "BTCUSDT", 100)  # open

    pv.set_index_price("ETHUSDT", 3_820)
    pv.update_marks()
    events = pv.run_liquidations()
    assert _triggered(events, a) == [1]  # ETHUSDT alone
    assert pv.position(a, "ETHUSDT")["qty"] == 0
    assert pv.position(a, "ETHUSDT")["wallet_usd"] == 1_000  # lost its isolated margin only
    assert pv.margin(a) == (9_000 * USD, 450 * USD)
    assert pv.position(a, "BTCUSDT")["qty"] == 1
    pv.check_invariants()

    pv.set_index_price("BTCUSDT", "91407.1")
    pv.update_marks()
    assert not _triggered(pv.run_liquidations(), a)
    pv.set_index_price("BTCUSDT", "91407.0")
    pv.update_marks()
    assert pv.margin(a) == (407 * USD, 407_035_000)
    assert _triggered(pv.run_liquidations(), a) == [0]
    assert pv.position(a, "ETHUSDT")["wallet_usd"] == Decimal(1_000)  # untouched
    pv.check_invariants()
