"""Batch order entry and snapshot events."""

from __future__ import annotations

import numpy as np
import pytest

from margincall.core.errors import InvalidInputError
from margincall.events.schema import EventKind
from margincall.venue.engine import Venue


def market():
    v = Venue("binance", "BTCUSDT", price=60_000, capacity=16, insurance_fund_usd=1_000_000)
    mm = v.open_account(10_000_000, leverage=5)
    t = v.open_account(100_000, leverage=10)
    return v, mm, t


def test_a_batch_equals_the_same_orders_one_by_one():
    def run(batch: bool) -> str:
        v, mm, t = market()
        acc = np.array([mm, mm, t, t])
        sides = np.array([1, -1, 1, -1])
        lots = np.array([2_000, 2_000, 500, 200])
        prices = np.array([599_000, 601_000, 0, 0])  # ticks; 0 is a market order
        if batch:
            v.submit_orders(acc, sides, lots, prices)
        else:
            for a, s, q, p in zip(acc, sides, lots, prices, strict=True):
                side = "buy" if s > 0 else "sell"
                v.submit_order(int(a), side, f"{q / 1000}", None if p == 0 else p / 10)
        v.check_invariants()
        return v.digest()

    assert run(True) == run(False)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("sides", {"sides": np.array([2])}),
        ("lots", {"lots": np.array([1, 2])}),
        ("prices", {"prices": np.array([-5])}),
        ("tifs", {"tifs": np.array([9])}),
    ],
)
def test_bad_batches_are_refused_before_anything_happens(field, kwargs):
    v, mm, _ = market()
    args = {"sides": np.array([1]), "lots": np.array([10]), "prices": np.array([590_000])}
    args.update(kwargs)
    before = len(v.log)
    with pytest.raises(InvalidInputError) as exc:
        v.submit_orders(
            np.array([mm]), args.pop("sides"), args.pop("lots"), args.pop("prices"), **args
        )
    assert field in str(exc.value)
    assert len(v.log) == before


def test_snapshot_records_depth_open_interest_fund_accounts_and_funding():
    v, mm, t = market()
    v.submit_orders(
        np.array([mm, mm, mm]),
        np.array([1, 1, -1]),
        np.array([1_000, 3_000, 1_000]),
        np.array([599_500, 590_000, 600_500]),  # the 590,000 bid is outside 1%
    )
    v.submit_order(t, "buy", "0.5")  # 30,050 USD at 60,050
    rec = v.snapshot()
    kinds = [EventKind(int(k)) for k in rec["kind"]]
    assert kinds == [
        EventKind.DEPTH_SNAPSHOT,
        EventKind.OPEN_INTEREST_SNAPSHOT,
        EventKind.INSURANCE_FUND_SNAPSHOT,
        EventKind.ACCOUNTS_SNAPSHOT,
        EventKind.FUNDING_SNAPSHOT,
    ]
    depth, oi, fund, accounts, funding = rec
    assert depth["price"] == 600_000  # mid of 59,950 and 60,050
    assert depth["notional"] == 1_000 * 599_500 * v.k  # bids within 1% below the mid
    assert depth["amount"] == 500 * 600_500 * v.k  # what is left of the ask
    assert oi["qty"] == 500 and oi["notional"] == 500 * int(v.meta[5]) * v.k
    assert fund["amount"] == 1_000_000 * 10**6 and fund["account"] == 0
    assert (accounts["qty"], accounts["amount"]) == (1, 1)
    assert funding["amount"] == v.predicted_funding_ppb()
    assert np.all(np.diff(rec["seq"]) == 1)
    assert v.log.records()[-5:].tobytes() == rec.tobytes()
