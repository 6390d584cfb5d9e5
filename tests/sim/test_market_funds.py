"""ADL and backstops in a market: one venue's fund runs out and that venue deleverages its
winners while the other venue's vault covers its own losses (issue 16, Must show). The run
checks every venue's invariants and the market's money every 5 minutes: before the fund stopped
unloading past its own bankruptcy price (Venue._unload_fund) the emptied fund's wallet went
below zero at the shock and the money check failed."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from margincall.events.schema import EventKind
from margincall.sim.market import parse_market
from margincall.sim.market_kernel import MarketSimulation

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
    sim.run(check_every=60)  # every venue's invariants and the market's money every 5 minutes
    return sim


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


def test_the_hyperliquid_vault_takes_over_and_keeps_its_own_balance(crash):
    dex = crash.venues[1]
    taken = _kind(dex, EventKind.BACKSTOP_TAKEOVER)
    assert (taken["account"] == 0).any() and (taken["account"] != 0).any()
    assert dex.pv.rulebook.name == "hyperliquid"
    for sym in dex.symbols:  # the vault holds what it took, its balance its own
        assert float(dex.pv.fund_usd(sym)) > 0
