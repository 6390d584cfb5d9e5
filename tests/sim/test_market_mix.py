"""A market population's portfolio mix applied (issue 16 item 1): isolated accounts by
``mix.cross_share``, collateral assets by ``mix.collateral``, each marked from its asset's spot
index during the run, and a venue's fee overrides; the market's invariants every 5 minutes."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from margincall.core.errors import InvalidInputError
from margincall.events.schema import EventKind
from margincall.sim.market import parse_market
from margincall.sim.market_kernel import REMARK_MOVE, MarketSimulation
from margincall.venue.accounts import ISOLATED, PORTFOLIO

TWO = Path(__file__).parent / "data" / "two-venue-market.toml"
BTC_RATIO = 0.95  # the Binance rulebook's BTC collateral ratio


def _data() -> dict:
    data = tomllib.loads(TWO.read_text())
    data["populations"][0]["mix"].update(
        cross_share=0.5, collateral={"USDT": 0.6, "BTC": 0.3, "USDE": 0.1}
    )
    data["populations"][1]["mix"].update(cross_share=0.75, collateral={"USDC": 1.0})
    data["venues"][1]["fees"] = {"taker_fee": 0.0007, "maker_fee": 0.0}
    data["flow"]["shocks"][0]["move"] = -0.05
    return data


@pytest.fixture(scope="module")
def run() -> tuple[MarketSimulation, list]:
    sim = MarketSimulation(parse_market(_data()), 1, accounts=2000)
    start = [_start(vr) for vr in sim.venues]
    sim.run(check_every=60)  # every venue's invariants, collateral included, and the money
    return sim, start


def _start(vr) -> dict:
    pv = vr.pv
    owners = np.unique(vr.legs.account)
    iso = np.zeros(len(owners), bool)
    cross = np.zeros(len(owners), bool)
    for v in pv.legs:
        held = v.acc.pos[owners] != 0
        iso |= held & ((v.acc.flags[owners] & ISOLATED) != 0)
        cross |= held & ((v.acc.flags[owners] & PORTFOLIO) != 0)
    return {"owners": owners, "iso": iso, "cross": cross, "coll": pv.pf.coll[owners].copy(),
            "cash": pv.pf.cash[owners].copy()}  # fmt: skip


def test_no_account_of_the_mix_starts_below_maintenance():
    """An isolated leg carries its loss since entry on its isolated margin alone (its leverage
    chosen for that); before, the panel's BTC longs entered near 97,000 and isolated at their
    cross leverage were liquidated in the first step of feb-2026-market ($164M in a minute)."""
    sim = MarketSimulation(parse_market(_data()), 3, accounts=2000)
    for vr in sim.venues:
        ev = vr.pv.run_liquidations()
        assert not (ev["kind"] == EventKind.LIQUIDATION_TRIGGERED).any()
        vr.pv.check_invariants()


def test_an_account_is_cross_or_isolated_in_the_mix_shares(run):
    _, start = run
    for s, share in zip(start, (0.5, 0.75), strict=True):
        assert not (s["iso"] & s["cross"]).any()  # never both
        n = len(s["owners"])
        assert abs(s["cross"].mean() - share) < 4 * np.sqrt(share * (1 - share) / n)
        assert (s["cash"][s["iso"]] == 0).all()  # an isolated account's money is in its legs


def test_cross_accounts_deposit_in_the_collateral_shares(run):
    sim, start = run
    s, pv = start[0], sim.venues[0].pv
    assert pv.assets == ("BTC", "USDE")
    held = s["coll"] > 0
    assert not held[s["iso"]].any()  # isolated accounts hold the settlement asset only
    assert ((held.sum(axis=1) <= 1) & ((s["cash"] == 0) == held.any(axis=1)))[s["cross"]].all()
    n = s["cross"].sum()
    for c, share in enumerate((0.3, 0.1)):
        got = held[s["cross"], c].mean()
        assert abs(got - share) < 4 * np.sqrt(share * (1 - share) / n)
    assert sim.venues[1].pv.assets == ()  # USDC is Hyperliquid's settlement asset


def test_btc_collateral_follows_btcs_spot_index(run):
    sim, _ = run
    pv = sim.venues[0].pv
    btc = float(pv.pf.price[0]) / 1e6
    index = sim.index.prices[sim.symbols.index("BTCUSDT")]
    assert abs(btc / index - 1) < REMARK_MOVE
    ev = pv.log.records()
    remarks = ev[ev["kind"] == EventKind.COLLATERAL_REMARKED]
    assert len(remarks) > 10 and (remarks["order_id"] == 0).all()  # BTC only; USDE stays at $1
    assert pv.pf.price[1] == 1_000_000


def test_btc_collateral_falls_with_the_longs_it_margins(run):
    """The 5% news drop: cross accounts whose collateral is BTC lose on it as well as on their
    longs, so more of them are liquidated than of those holding dollars."""
    sim, start = run
    s, pv = start[0], sim.venues[0].pv
    ev = pv.log.records()
    hit = np.isin(s["owners"], ev["account"][ev["kind"] == EventKind.LIQUIDATION_TRIGGERED])
    btc = s["cross"] & (s["coll"][:, 0] > 0)
    usd = s["cross"] & (s["coll"].sum(axis=1) == 0)
    assert hit[btc].mean() > hit[usd].mean() > 0


def test_a_venues_fees_replace_its_rulebooks(run):
    sim, _ = run
    ev = sim.venues[1].pv.log.records()
    fills = ev[(ev["kind"] == EventKind.ORDER_FILLED) & (ev["liquidity"] == 2)]
    fills = fills[(fills["ts_ns"] > sim.start_ns) & (fills["account"] != 0)]  # no block trades,
    assert len(fills) > 1000  # nor the vault's own unloading
    # every taker pays 0.07% of the notional (to the micro-dollar), not the rulebook's 0.045%
    assert (np.abs(fills["amount"] - fills["notional"] * 700 / 1e6) <= 1).all()
    makers = ev[(ev["kind"] == EventKind.ORDER_FILLED) & (ev["liquidity"] == 1)]
    assert len(makers) > 0 and (makers["amount"] == 0).all()


def test_collateral_with_no_asset_to_price_it_is_refused():
    data = _data()
    data["populations"][0]["mix"]["collateral"] = {"USDT": 0.9, "BTC": 0.1}
    data["assets"] = [a for a in data["assets"] if a["symbol"] != "BTCUSDT"]
    for v in data["venues"]:
        v["instruments"] = ["ETHUSDT"]
    for p in data["populations"]:
        p["instruments"] = ["ETHUSDT"]
        p["mix"]["holding_shares"] = [1.0, 0.0, 0.0]
    with pytest.raises(InvalidInputError) as exc:
        parse_market(data, "m.toml")
    assert exc.value.field == "m.toml: populations.0.mix.collateral"
    assert exc.value.value == "BTC" and "BTCUSDT" in exc.value.expected
