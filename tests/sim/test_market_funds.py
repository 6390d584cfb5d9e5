"""ADL and backstops in a market: one venue's fund runs out and that venue deleverages its
winners while the other venue's vault covers its own losses (issue 16, Must show). The run
checks every venue's invariants and the market's money every 5 minutes: before the fund stopped
unloading past its own bankruptcy price (Venue._unload_fund) the emptied fund's wallet went
below zero at the shock and the money check failed."""

from __future__ import annotations

import tomllib
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from margincall.events.schema import EventKind
from margincall.formulas.portfolio import Leg, hyperliquid_classify, leg_maintenance
from margincall.sim.market import parse_market
from margincall.sim.market_kernel import MarketSimulation
from margincall.sim.market_summary import market_summary, venue_candles

TWO = Path(__file__).parent / "data" / "two-venue-market.toml"


@pytest.fixture(scope="module")
def crash() -> MarketSimulation:
    """The two-venue test market with an almost empty fund on the Binance-rule venue, retail at
    50-125x holding most of the open interest, and a 6% news drop."""
    data = tomllib.loads(TWO.read_text())
    data["venues"][0]["insurance_fund_usd"] = 1_000.0
    data["flow"]["shocks"][0]["move"] = -0.06
    data["cohorts"] = {
        "retail": {"share_of_open_interest": 0.5, "share_of_accounts": 0.8, "long_share": 0.9,
                   "leverage_min": 50, "leverage_max": 125, "entry_days": 0.5},
        "capital": {"share_of_open_interest": 0.3, "share_of_accounts": 0.2, "long_share": 0.5,
                    "leverage_min": 2, "leverage_max": 10},
    }  # fmt: skip
    sim = MarketSimulation(parse_market(data), 1, accounts=1500)
    sim.takeovers = _record_takeovers(sim.venues[1].pv)
    sim.run(check_every=60)  # every venue's invariants and the market's money every 5 minutes
    return sim


def _record_takeovers(pv) -> list:
    """Around each liquidation phase of the Hyperliquid venue, the account value and maintenance
    (micro-dollars, exact) of every account its vault took over, at the moment the rule decides:
    after the account's market orders of that phase (the state before the phase, moved by those
    fills at the marks). Filled as the run goes."""
    seen: list = []
    run = pv.run_liquidations

    def recorded():
        legs = pv.legs
        before = [(v.acc.pos.copy(), v.acc.wallet.copy(), v.acc.cost.copy()) for v in legs]
        cash = pv.pf.cash.copy()
        events = run()
        taken = events[(events["kind"] == EventKind.BACKSTOP_TAKEOVER) & (events["account"] != 0)]
        for a in np.unique(taken["account"]):
            first = taken["seq"][taken["account"] == a].min()
            mine = events[(events["account"] == a) & (events["seq"] < first)]
            value, mm = Fraction(int(cash[a])), Fraction(0)
            for j, v in enumerate(legs):
                pos, wallet, cost = (int(x[a]) for x in before[j])
                mark, k = v.mark_ticks, v.k
                value += wallet + pos * mark * k - cost
                for e in mine[(mine["instrument"] == j)
                              & (mine["kind"] == EventKind.POSITION_LIQUIDATED)]:  # fmt: skip
                    dq = int(e["side"]) * int(e["qty"])  # a fill at the price, not the mark
                    value += dq * (mark - int(e["price"])) * k - int(e["amount"])
                    pos += dq
                if pos:
                    tiers = [(t.floor_usd, t.mmr) for t in v.instrument.tiers]
                    mark_usd = v.scale.ticks_to_price(mark)
                    qty = abs(pos) * v.scale.lot_size
                    mm += leg_maintenance(Leg("long", qty, mark_usd, mark_usd, tiers)) * 10**6
            seen.append((int(a), value, mm))
        return events

    pv.run_liquidations = recorded
    return seen


def _kind(vr, kind: EventKind) -> np.ndarray:
    ev = vr.pv.log.records()
    return ev[ev["kind"] == kind]


def test_the_venue_whose_fund_ran_out_deleverages_its_winners(crash):
    cex, dex = crash.venues
    adl = _kind(cex, EventKind.ADL_EXECUTED)
    assert len(adl) > 0
    for j in np.unique(adl["instrument"]):
        # one event per side, each pair at one price: a position closed against an opposite one
        one = adl[adl["instrument"] == j]
        sells, buys = one[one["side"] < 0], one[one["side"] > 0]
        assert len(sells) == len(buys) and sells["qty"].sum() == buys["qty"].sum()
        assert set(sells["account"]).isdisjoint(buys["account"])
    assert len(_kind(dex, EventKind.ADL_EXECUTED)) == 0  # its vault covered its own losses


def test_the_hyperliquid_vault_takes_only_accounts_below_two_thirds_of_maintenance(crash):
    """Each account the vault took over had, after its market orders, an account value below
    2/3 of its maintenance (the rulebook's backstop_ratio), by the pure rule on the exact
    figures."""
    assert len(crash.takeovers) > 0
    for _a, value, mm in crash.takeovers:
        assert hyperliquid_classify(value, mm, "2/3") == "backstop"


def test_the_hyperliquid_vault_takes_over_and_keeps_its_own_balance(crash):
    dex = crash.venues[1]
    taken = _kind(dex, EventKind.BACKSTOP_TAKEOVER)
    assert (taken["account"] == 0).any() and (taken["account"] != 0).any()
    assert dex.pv.rulebook.name == "hyperliquid"
    for sym in dex.symbols:  # the vault holds what it took, its balance its own
        assert float(dex.pv.fund_usd(sym)) > 0


def test_the_summary_gives_each_fund_the_sum_of_its_members_rows(crash):
    """Hyperliquid's vault is one fund over both instruments, the Binance-rule venue's BTCUSDT and
    ETHUSDT funds their own (R9): each fund's balance in the summary is the sum of its
    instruments' rows, a vault row may go below zero while the vault's balance does not."""
    summary = market_summary(crash, venue_candles(crash))
    for vr in crash.venues:
        venue = summary["by_venue"][vr.name]
        funds, rows = venue["insurance_funds"], venue["instruments"]
        assert sorted(funds) == sorted(set(vr.pv.fund_ids))
        for fund, f in funds.items():
            members = [s for s, i in zip(vr.symbols, vr.pv.fund_ids, strict=True) if i == fund]
            assert f["instruments"] == members
            assert f["end_usd"] == pytest.approx(
                sum(rows[s]["insurance_fund_usd"]["end"] for s in members), abs=1e-6
            )
            assert f["start_usd"] == sum(rows[s]["insurance_fund_usd"]["start"] for s in members)
            assert f["end_usd"] >= 0
    vault = summary["by_venue"][crash.venues[1].name]["insurance_funds"]
    assert list(vault) == ["backstop"]
    assert vault["backstop"]["instruments"] == ["BTCUSDT", "ETHUSDT"]
    assert vault["backstop"]["end_usd"] == float(crash.venues[1].pv.fund_usd("BTCUSDT"))
