"""The populations act during a market run: stop-losses per leg, intraday entrants, momentum per
book, funding per venue; the market's invariants hold every 5 minutes throughout."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from margincall.core.errors import InvalidInputError
from margincall.events.schema import EventKind
from margincall.sim.market import parse_market
from margincall.sim.market_kernel import MarketSimulation

TWO = Path(__file__).parent / "data" / "two-venue-market.toml"


def _data() -> dict:
    data = tomllib.loads(TWO.read_text())
    data["cohorts"] = {
        "retail": {"share_of_open_interest": 0.1, "share_of_accounts": 0.8, "long_share": 0.6,
                   "leverage_min": 10, "leverage_max": 40, "stop_loss_share": 0.5,
                   "stop_distance_min": 0.01, "stop_distance_max": 0.04, "entry_days": 1,
                   "intraday_share": 0.5, "intraday_long_share": 0.2},
        "capital": {"share_of_open_interest": 0.5, "share_of_accounts": 0.2, "long_share": 0.5,
                    "leverage_min": 2, "leverage_max": 10},
    }  # fmt: skip
    data["momentum"] = {"accounts": 40, "usd_per_bps": 1e5, "max_usd_per_step": 5e6,
                        "leverage": 20, "capital_usd": 20_000}  # fmt: skip
    return data


@pytest.fixture(scope="module")
def run() -> MarketSimulation:
    sim = MarketSimulation(parse_market(_data()), 1, accounts=1200)
    sim.run(check_every=60)
    return sim


def _records(vr):
    return vr.pv.log.records()


def test_each_book_holds_the_stops_of_its_legs(run):
    for vr in run.venues:
        for j in range(len(vr.symbols)):
            ids, side, stop = vr.legs.of(j)
            book = vr.stops[j]
            assert len(book.long_ids) + len(book.short_ids) == np.count_nonzero(stop) > 0
            assert set(book.long_ids) == set(ids[(stop > 0) & (side > 0)])


def test_a_stop_crossed_sends_its_legs_reduce_only_close_before_the_venue_acts(run):
    """Every long stop the price reached on an opened leg: either the venue liquidated the
    account first, or the stop sent a market close of the leg (the population's accounts send no
    other order) that sold it or found no bid inside the venue's band and expired (a stop is
    sent once, as in the single-venue kernel: the shocked cex book is empty for a while)."""
    checked = 0
    sold_any = 0
    for vr in run.venues:
        ev = _records(vr)
        for j in range(len(vr.symbols)):
            book = vr.stops[j]
            for a in book.long_ids[: book.li]:
                mine = ev[(ev["account"] == a) & (ev["instrument"] == j)]
                kinds = list(mine["kind"])
                if kinds[0] != EventKind.ORDER_FILLED:
                    continue  # its leg's opening trade was refused (margin): nothing to close
                acts = mine[1:][mine["kind"][1:] != EventKind.FUNDING_PAID]
                assert len(acts), (vr.name, a)  # the stop or the venue acted on the leg
                if acts["kind"][0] == EventKind.LIQUIDATION_TRIGGERED:
                    continue  # the venue took it first; the stop then found the leg closed
                assert acts["kind"][0] == EventKind.ORDER_ACCEPTED, (vr.name, a)
                sold = (acts["kind"][1] == EventKind.ORDER_FILLED) & (acts["side"][1] < 0)
                assert sold or acts["kind"][1] == EventKind.ORDER_EXPIRED, (vr.name, a)
                sold_any += int(sold)
                checked += 1
    assert checked > 100 and sold_any > 10


def test_the_intraday_entrants_open_their_legs_when_due(run):
    opened = due = 0
    for vr in run.venues:
        ev = _records(vr)
        for j, ent in enumerate(vr.entrants):
            assert ent is not None
            assert (np.diff(ent.step) >= 0).all()
            assert ent.next == len(ent.ids)  # a 2-hour run: every step came
            filled = np.isin(ent.ids, ev["account"][(ev["kind"] == EventKind.ORDER_FILLED)
                                                   & (ev["instrument"] == j)])  # fmt: skip
            opened += int(filled.sum())
            due += len(ent.ids)
    assert due > 100
    assert opened >= 0.9 * due  # a market order in a book a crash thinned may find nothing


def test_trend_following_entrants_open_on_the_side_of_the_last_hours_move():
    """Every retail entrant drawn long but following the trend (intraday_trend_share 1): in the
    first hour there is no hour-long move yet, so they buy; after it, each opens on the side of
    its book's mark against the mark an hour (720 steps of 5 s) before its entry, which the
    test rebuilds from the mark events."""
    data = _data()
    data["cohorts"]["retail"] |= {"intraday_long_share": 1.0, "intraday_trend_share": 1.0}
    data["cohorts"]["capital"] |= {"intraday_share": 0.0}
    sim = MarketSimulation(parse_market(data), 1, accounts=1200)
    sim.run(check_every=0)
    window = 3600 // 5
    sells = 0
    for vr in sim.venues:
        ev = _records(vr)
        for j, ent in enumerate(vr.entrants):
            assert ent.chase is not None and ent.chase.all() and (ent.side == 1).all()
            marks = ev[(ev["kind"] == EventKind.MARK_PRICE_UPDATED) & (ev["instrument"] == j)]
            fills = ev[(ev["kind"] == EventKind.ORDER_FILLED) & (ev["instrument"] == j)
                       & (ev["liquidity"] == 2)]  # fmt: skip
            for a, step in zip(ent.ids, ent.step, strict=True):
                mine = fills[fills["account"] == a]
                if len(mine) == 0:
                    continue
                side = int(mine["side"][0])
                if step <= window:
                    assert side == 1  # no hour-long move yet: the drawn side
                    continue
                now = _mark_at(marks, int(mine["ts_ns"][0]))
                then = _mark_at(marks, int(mine["ts_ns"][0]) - window * 5 * 10**9)
                if now != then:
                    assert side == (1 if now > then else -1), (vr.name, j, a)
                sells += side == -1
    assert sells > 10  # the crash: most entrants of the second hour sell


def _mark_at(marks, ts: int) -> int:
    """The mark in force before anything at ``ts`` (the kernel reads the mark of the step
    before its agents act)."""
    i = int(np.searchsorted(marks["ts_ns"], ts, side="left")) - 1
    return int(marks["price"][max(i, 0)])


def test_momentum_trades_each_book_within_its_share(run):
    sc = run.scenario
    total = 0
    for vr in run.venues:
        ev = _records(vr)
        for j, mom in enumerate(vr.momentum):
            share = sc.momentum_share(vr.name, vr.symbols[j])
            assert len(mom.accounts) == round(40 * share)
            assert mom.p.usd_per_bps == pytest.approx(1e5 * share)
            traded = ev[(ev["kind"] == EventKind.ORDER_FILLED) & (ev["instrument"] == j)
                        & np.isin(ev["account"], mom.accounts)]  # fmt: skip
            total += len(traded)
    assert total > 0


def test_funding_follows_each_venues_interval(run):
    # 2 hours: Hyperliquid settles hourly (2 per instrument), the Binance venue every 8 hours
    rates = {vr.name: int(np.count_nonzero(_records(vr)["kind"] == EventKind.FUNDING_RATE_SET))
             for vr in run.venues}  # fmt: skip
    assert rates == {"cex": 0, "dex": 4}


def test_a_market_scenario_refuses_perp_flow_and_maker_capital():
    data = _data()
    data["flow"]["perp"] = [{"start_hour": 0, "end_hour": 1, "usd_per_hour": -1e8}]
    with pytest.raises(InvalidInputError, match=r"flow\.perp"):
        parse_market(data)
    data = _data()
    data["makers"] = {"capital_usd": 1e9}
    with pytest.raises(InvalidInputError, match=r"makers\.capital_usd"):
        parse_market(data)


def test_a_books_makers_scale_the_reference_to_its_depth():
    data = _data()
    data["makers"] = {"count": 4, "depth_1pct_usd": 90e6, "skew_bps_per_musd": 1.5,
                      "loss_withdraw_usd": 40e6}  # fmt: skip
    sc = parse_market(data)
    m = sc.book_makers("cex", "ETHUSDT")  # cex: BTC 15M and ETH 10M of depth
    assert (m.count, m.depth_1pct_usd) == (1, 10e6)
    assert m.skew_bps_per_musd == pytest.approx(1.5 * 90 / 10 / 4)
    assert m.loss_withdraw_usd == pytest.approx(40e6 * 4 * 25 / 90)


def test_an_assets_leverage_scale_multiplies_its_holders_leverage():
    data = _data()
    data["assets"][1]["leverage_scale"] = 2.0  # ETHUSDT
    sc = parse_market(data)
    pop = sc.populations[0]
    eth, btc = sc.cohorts_of(pop, "ETHUSDT"), sc.cohorts_of(pop, "BTCUSDT")
    assert (eth.retail.leverage_min, eth.retail.leverage_max) == (20, 80)
    assert (eth.capital.leverage_min, eth.capital.leverage_max) == (4, 20)
    assert btc == sc.cohorts_of(pop) == parse_market(_data()).cohorts_of(pop, "ETHUSDT")
    sim = MarketSimulation(sc, 1, accounts=400)
    base = MarketSimulation(parse_market(_data()), 1, accounts=400)
    for s in (sim, base):
        s.check_market()
    # the same open interest held at higher leverage: less margin deposited on every venue
    for a, b in zip(sim.venues, base.venues, strict=True):
        assert a.pv.deposits < b.pv.deposits
