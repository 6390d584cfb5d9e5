"""A stablecoin book in a market run (issue 16: a collateral depeg comes out of the model): the
venue's desk sells what its conversions took, the book's price marks the collateral, and a thin
book's depeg liquidates accounts a deep book leaves alone; the market's invariants every 5
minutes."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from margincall.events.schema import EventKind
from margincall.sim.market import parse_market
from margincall.sim.market_kernel import MarketSimulation
from margincall.sim.market_summary import market_summary, venue_candles
from margincall.sim.stablecoin_book import PEG, UNIT

TWO = Path(__file__).parent / "data" / "two-venue-market.toml"
THIN = (3e6, 3e7)  # the book's ±1% depth and its maker's dollars
DEEP = (1e9, 1e10)


def _sim(book: tuple[float, float] | None) -> MarketSimulation:
    data = tomllib.loads(TWO.read_text())
    data["populations"][0]["mix"].update(collateral={"USDT": 0.6, "USDE": 0.4})
    data["flow"]["shocks"][0]["move"] = -0.06
    if book is not None:
        data["stablecoin_books"] = [
            {"venue": "cex", "asset": "USDE", "depth_1pct_usd": book[0], "capital_usd": book[1]}
        ]
    sim = MarketSimulation(parse_market(data), 1, accounts=2000)
    sim.run(check_every=60)  # the venues' invariants, the books' and the market's money
    return sim


@pytest.fixture(scope="module")
def runs() -> dict[str, MarketSimulation]:
    return {"none": _sim(None), "deep": _sim(DEEP), "thin": _sim(THIN)}


def _usde(sim: MarketSimulation, kind: EventKind) -> np.ndarray:
    vr = sim.venues[0]
    ev = vr.pv.log.records()
    return ev[(ev["kind"] == int(kind)) & (ev["order_id"] == vr.pv.assets.index("USDE"))]


def _liquidated(sim: MarketSimulation) -> int:
    ev = sim.venues[0].pv.log.records()
    return np.unique(ev["account"][ev["kind"] == int(EventKind.LIQUIDATION_TRIGGERED)]).size


def test_a_book_the_desk_cannot_move_leaves_the_event_log_unchanged(runs):
    assert len(_usde(runs["none"], EventKind.COLLATERAL_CONVERTED)) > 0  # the desk has work
    assert runs["deep"].digest() == runs["none"].digest()
    book = runs["deep"].venues[0].stablecoins[0].book
    assert book.low > PEG - 5  # under the 0.05% that marks again


def test_the_desk_sells_every_whole_unit_converted_or_keeps_it_for_the_bids(runs):
    for name in ("deep", "thin"):
        vr = runs[name].venues[0]
        c, book = vr.stablecoins[0].place, vr.stablecoins[0].book
        converted = int(vr.pv.pf.converted[c]) // UNIT
        assert book.sold + book.unsold == converted and book.sold > 0
        assert int(_usde(runs[name], EventKind.COLLATERAL_CONVERTED)["qty"].sum()) == int(
            vr.pv.pf.converted[c]
        )


def test_a_thin_books_price_marks_the_collateral_and_the_depeg_liquidates_more(runs):
    thin = runs["thin"]
    book = thin.venues[0].stablecoins[0].book
    marks = _usde(thin, EventKind.COLLATERAL_REMARKED)
    assert book.low < 0.95 * PEG  # a depeg beyond the USDE haircut's 10%... at least 5%
    assert len(marks) >= 2 and int(marks["price"].min()) == book.low * 100
    assert np.all(marks["price"] % 100 == 0)  # book prices, whole ticks of $0.0001
    assert _liquidated(thin) > _liquidated(runs["none"])
    assert int(_usde(thin, EventKind.COLLATERAL_CONVERTED)["qty"].sum()) > int(
        _usde(runs["none"], EventKind.COLLATERAL_CONVERTED)["qty"].sum()
    )


def test_the_summary_gives_each_book_its_low_and_the_desks_sales(runs):
    thin = runs["thin"]
    s = market_summary(thin, venue_candles(thin))
    x = s["by_venue"]["cex"]["stablecoins"]["USDE"]
    book = thin.venues[0].stablecoins[0].book
    assert x["price"]["low"] == book.low / PEG and x["price"]["low_at"].startswith("2026-02-05T")
    assert x["desk_sold_units"] == book.sold and x["desk_proceeds_usd"] == book.proceeds / 1e6
    assert x["converted_units"] >= x["desk_sold_units"]
    assert s["by_venue"]["dex"]["stablecoins"] == {}
