"""A portfolio venue's snapshots tally open interest and accounts long and short from the
accounts its events name (when it keeps its events); they must say what a scan of every
account (the venue that keeps none) says, through trades, a liquidation the fund takes over and
the fund's unloading."""

from __future__ import annotations

import numpy as np

from margincall.events.log import EventLog
from margincall.events.schema import EVENT_DTYPE, EventKind
from margincall.venue.portfolio import PortfolioVenue

FIGURES = (EventKind.OPEN_INTEREST_SNAPSHOT, EventKind.ACCOUNTS_SNAPSHOT)


def _figures(events: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Per instrument: (kind, open interest lots or accounts long, 0 or accounts short)."""
    rows = events[np.isin(events["kind"], [int(k) for k in FIGURES])]
    return [(int(r["instrument"]), int(r["kind"]), int(r["qty"]), int(r["amount"])) for r in rows]


def _day(keep: bool) -> list[list[tuple[int, int, int, int]]]:
    pv = PortfolioVenue(
        "binance", {"BTCUSDT": 48_000, "ETHUSDT": 2_500}, insurance_fund_usd=1_000_000,
        keep_events=keep,
    )  # fmt: skip
    mm = pv.open_account(100_000_000)
    a = pv.open_account(50_000)
    b, c = pv.open_account(200_000), pv.open_account(200_000)
    snaps = [pv.snapshot()]
    pv.block_trades("BTCUSDT", [a], ["1"], 48_000, mm)
    pv.block_trades("ETHUSDT", [a], ["80"], 2_500, mm)
    pv.block_trades("ETHUSDT", [b, c], ["-3", "2"], 2_500, mm)
    snaps.append(pv.snapshot())
    pv.submit_order(b, "ETHUSDT", "buy", "3", 2_600)  # rests: nobody sells
    pv.submit_order(c, "ETHUSDT", "sell", "2", 2_600)  # c flat, b long 2 of its 3 short
    snaps.append(pv.snapshot())
    pv.set_index_price("ETHUSDT", "1891.75")  # a breached: the fund takes both its legs
    pv.update_marks()
    liq = pv.run_liquidations()
    assert EventKind.LIQUIDATION_TRIGGERED in [EventKind(int(k)) for k in liq["kind"]]
    snaps.append(pv.snapshot())
    return [_figures(s) for s in snaps]


def test_the_tallied_figures_are_the_scanned_ones() -> None:
    tallied, scanned = _day(True), _day(False)
    assert tallied == scanned
    oi = [[q for _, kind, q, _ in s if kind == EventKind.OPEN_INTEREST_SNAPSHOT] for s in scanned]
    assert oi[0] == [0, 0] and oi[1][0] > 0 and oi[1] != oi[2]  # the days' figures moved


def test_since_gives_the_records_after_a_count_across_chunks_and_joins() -> None:
    log = EventLog(keep=True)
    rec = np.zeros(10, EVENT_DTYPE)
    rec["seq"] = np.arange(10)
    for lo, hi in ((0, 3), (3, 4), (4, 9), (9, 10)):
        log.extend(rec[lo:hi])
    for count in range(11):
        tail = log.since(count)
        got = np.concatenate(tail) if tail else np.empty(0, EVENT_DTYPE)
        assert got["seq"].tolist() == list(range(count, 10))
    log.records()  # joins the chunks into one
    assert np.concatenate(log.since(7))["seq"].tolist() == [7, 8, 9]
