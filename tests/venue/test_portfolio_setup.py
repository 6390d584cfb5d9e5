"""Setting up many portfolio accounts at once (venue/portfolio_setup.py): the bulk forms give the
same state and the same event log as the one-account calls, and refuse what those refuse."""

from __future__ import annotations

import numpy as np
import pytest

from margincall.core.errors import InvalidInputError
from margincall.events.schema import EventKind
from margincall.venue.portfolio import PortfolioVenue
from margincall.venue.portfolio_setup import deposit_collateral_many, isolate_many, withdraw_many

USD = 1_000_000
PRICES = {"BTCUSDT": 100_000, "ETHUSDT": 4_000}


def _venue() -> tuple[PortfolioVenue, int, np.ndarray]:
    pv = PortfolioVenue(
        "binance", PRICES, insurance_fund_usd=10**6, collateral_prices={"BTC": 100_000}
    )
    mm = pv.open_account(100_000_000, leverage=5)
    ids = pv.open_accounts(np.array([3_000, 5_000, 8_000]) * USD, leverage=20)
    return pv, mm, ids


def _events(pv: PortfolioVenue) -> list:
    """The log's events without their sequence numbers, by account (the bulk form writes one
    kind for every account, then the next)."""
    ev = pv.log.records()
    return sorted(tuple(r) for r in ev[[n for n in ev.dtype.names if n != "seq"]].tolist())


def _state(pv: PortfolioVenue) -> tuple:
    legs = tuple((v.acc.wallet.tolist(), v.acc.flags.tolist()) for v in pv.legs)
    return pv.pf.cash.tolist(), pv.pf.coll.tolist(), legs, pv.deposits


def test_isolating_many_is_isolating_each():
    one, mm1, ids = _venue()
    many, mm2, _ = _venue()
    margins = [1_000, 2_500, 8_000]
    for a, m in zip(ids, margins, strict=True):
        one.isolate(int(a), "ETHUSDT", m)
    isolate_many(many, ids, "ETHUSDT", np.array(margins) * USD)
    assert _state(one) == _state(many) and _events(one) == _events(many)
    for pv, mm in ((one, mm1), (many, mm2)):  # the legs then trade and margin as isolated ones
        pv.block_trades("ETHUSDT", ids, ["5", "10", "20"], 4_000, mm)
        assert pv.position(int(ids[0]), "ETHUSDT")["isolated_margin_usd"] == 1_000
        pv.check_invariants()
    assert _state(one) == _state(many)


def test_depositing_collateral_for_many_is_depositing_for_each():
    one, _, ids = _venue()
    many, _, _ = _venue()
    units = [1_000, 250_000, 30_000_000]  # micro-BTC
    for a, u in zip(ids, units, strict=True):
        one.deposit_collateral(int(a), "BTC", u / USD)
    deposit_collateral_many(many, ids, "BTC", np.array(units))
    assert _state(one) == _state(many) and one.digest() == many.digest()
    # 0.25 BTC at 100,000 and the 95% ratio: 23,750 USDT of collateral value
    assert many.margin(int(ids[1])) == (5_000 * USD + 23_750 * USD, 0)
    many.check_invariants()


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda pv, ids, mm: isolate_many(pv, [ids[0], ids[0]], "ETHUSDT", [1, 1]), "ids"),
        (lambda pv, ids, mm: isolate_many(pv, [mm], "ETHUSDT", [1]), "ids"),  # holds positions
        (lambda pv, ids, mm: isolate_many(pv, ids[:1], "ETHUSDT", [3_000 * USD + 1]), "margins"),
        (lambda pv, ids, mm: isolate_many(pv, ids[:1], "ETHUSDT", [0]), "margins"),
        (lambda pv, ids, mm: isolate_many(pv, ids[:1], "SOLUSDT", [1]), "symbol"),
        (lambda pv, ids, mm: isolate_many(pv, ids[:2], "ETHUSDT", [1]), "margins"),
        (lambda pv, ids, mm: isolate_many(pv, ids[:1], "ETHUSDT", [1], [126]), "leverage"),
        (lambda pv, ids, mm: isolate_many(pv, ids[:1], "ETHUSDT", [1], [0]), "leverage"),
        (lambda pv, ids, mm: deposit_collateral_many(pv, ids[:1], "BTC", [-1]), "units"),
        (lambda pv, ids, mm: deposit_collateral_many(pv, ids[:1], "USDE", [1]), "asset"),
        (lambda pv, ids, mm: deposit_collateral_many(pv, [99], "BTC", [1]), "ids"),
        (lambda pv, ids, mm: withdraw_many(pv, ids[:1], [3_000 * USD + 1]), "amounts"),
        (lambda pv, ids, mm: withdraw_many(pv, ids[:1], [-1]), "amounts"),
        (lambda pv, ids, mm: withdraw_many(pv, [99], [1]), "ids"),
        (lambda pv, ids, mm: withdraw_many(pv, [ids[0], ids[0]], [1, 1]), "ids"),
    ],
    ids=["repeated", "not-fresh", "above-cash", "zero", "symbol", "count", "leverage-high",
         "leverage-zero", "negative", "asset", "unknown", "withdraw-above-cash",
         "withdraw-negative", "withdraw-unknown", "withdraw-repeated"],
)  # fmt: skip
def test_bad_bulk_input_is_refused_and_nothing_changes(call, field):
    pv, mm, ids = _venue()
    pv.block_trades("BTCUSDT", [mm], ["-1"], 100_000, int(ids[2]))
    before = _state(pv), pv.digest()
    with pytest.raises(InvalidInputError) as exc:
        call(pv, ids, mm)
    assert exc.value.field == field
    assert (_state(pv), pv.digest()) == before


def test_an_isolated_legs_own_leverage_sets_its_initial_margin():
    pv, mm, ids = _venue()
    isolate_many(pv, ids[:1], "ETHUSDT", [3_000 * USD], [2])
    pv.block_trades("ETHUSDT", ids[:1], ["1.5"], 4_000, mm)  # 6,000 of ETH at 2x: 3,000
    assert pv.position(int(ids[0]), "ETHUSDT")["isolated_margin_usd"] == 3_000
    events = pv.block_trades("ETHUSDT", ids[:1], ["0.001"], 4_000, mm)  # 2 more: refused
    assert (events["kind"] == EventKind.ORDER_REJECTED).any()
    pv.check_invariants()


def test_withdrawing_many_leaves_the_loss_since_entry_on_the_account():
    """A starting state: 0.5 BTC bought at 100,000 at 10x with 5,000 of margin and the 2,500 it
    has lost since (the index now at 95,000); taking the 2,500 back is allowed (no initial-margin
    check, as when a trader never topped up), leaves equity 2,500 against maintenance 190 (0.4%
    of 47,500), and then the account is liquidated once its equity falls below maintenance:
    2,500 - 0.5 * (95,000 - p) < 0.004 * 0.5 * p, below p = 45,000 / 0.498 = 90,361.446."""
    pv, mm, ids = _venue()
    a = int(ids[1])  # 5,000 of cash
    withdraw_many(pv, [], [])  # nothing to take: no event
    pv.deposit(a, 2_500)
    pv.block_trades("BTCUSDT", [a], ["0.5"], 100_000, mm)
    pv.set_index_price("BTCUSDT", 95_000)
    pv.update_marks()
    assert pv.margin(a) == (5_000 * USD, 190 * USD)
    events = withdraw_many(pv, [a], [2_500 * USD])
    assert events["kind"][0] == EventKind.WITHDRAWN and events["amount"][0] == 2_500 * USD
    assert pv.margin(a) == (2_500 * USD, 190 * USD)
    pv.check_invariants()  # the settlement cash that came in, less what went out
    for price, liquidated in (("90361.5", False), ("90361.4", True)):
        pv.set_index_price("BTCUSDT", price)
        pv.update_marks()
        ev = pv.run_liquidations()
        assert (ev["kind"] == EventKind.LIQUIDATION_TRIGGERED).any() == liquidated
