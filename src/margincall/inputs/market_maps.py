"""The liquidation map of one (venue, instrument) of a market run folder's start state.

The folder's market scenario, seed and accounts (``manifest.json``) are rebuilt to the state
before the first step, as :func:`margincall.inputs.maps.map_from_run_folder` does for one venue,
and the picked instrument's leveraged positions are mapped exactly under its venue's rulebook.
An isolated leg is mapped on its own margin. A cross (portfolio) leg is mapped on what its
account could lose on that leg alone: the account's equity less the maintenance of its other
legs and less this leg's own open PnL, with the other instruments' marks held where they are
(the leg's liquidation price if only its own instrument moved). The makers, arbitrageurs, noise
traders and the population's counterparty desk are left out: the map is the population's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from margincall.core.errors import InvalidInputError
from margincall.estimate.maps import LiquidationMap
from margincall.estimate.positions import Rules, map_from_arrays, venue_positions
from margincall.sources.market_run import MarketPick
from margincall.venue.accounts import PORTFOLIO


@dataclass(frozen=True)
class PairBook:
    """What the stress estimator reads of a picked pair's scenario: its makers (the listing's
    ±1% depth, with the depth curve the market kernel's makers quote)."""

    makers: Any


def map_from_market_folder(
    folder: Path, manifest: dict[str, Any], pick: MarketPick
) -> tuple[LiquidationMap, PairBook]:
    """The exact map of the picked pair's start state (module docstring) and its book."""
    from margincall.sim import scenario as single
    from margincall.sim.market import parse_market
    from margincall.sim.market_kernel import MarketSimulation
    from margincall.venue.portfolio_margin import account_margin, leg_terms

    venue, symbol = pick.of(folder)
    try:
        sc = parse_market(manifest["scenario"], str(folder / "manifest.json"))
        seed = int(manifest["seed"])
        accounts = manifest.get("accounts")
        accounts = None if accounts is None else int(accounts)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(
            str(folder / "manifest.json"), type(exc).__name__, "a manifest with scenario and seed"
        ) from None
    sim = MarketSimulation(sc, seed, accounts=accounts, keep_events=False)
    vr = next(v for v in sim.venues if v.name == venue)
    j = vr.symbols.index(symbol)
    leg = vr.pv.legs[j]
    ids, coll, pos, cost = venue_positions(leg)
    keep = np.isin(ids, vr.legs.account)
    ids, coll, pos, cost = ids[keep], coll[keep], pos[keep], cost[keep]
    cross = (np.asarray(leg.acc.flags[ids]) & PORTFOLIO) != 0
    states = vr.pv._legs()
    for i in np.flatnonzero(cross):
        a = int(ids[i])
        equity, mm_total = account_margin(states, vr.pv.pf, a)
        _, upnl, mm, _, _ = leg_terms(states[j], a)
        coll[i] = equity - (mm_total - mm) - upnl
    rules = Rules.of_venue(leg)
    listing = vr.listing[j]
    m = map_from_arrays(
        coll, pos, cost, rules, leg.mark_ticks * rules.tick_size,
        source=f"market run folder {folder}, {symbol} on {venue} (start state)",
        assumptions={
            "reference": "mark price",
            "venue": venue,
            "cross_legs": "equity less the other legs' maintenance, other marks held",
            "accounts": int(np.unique(vr.legs.account).size),
        },
    )  # fmt: skip
    makers = single.Makers(depth_1pct_usd=listing.depth_1pct_usd, count=1, capital_usd=1.0)
    return m, PairBook(makers)
