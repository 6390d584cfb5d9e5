"""A leveraged population from market data: the positions the market map places before the start.

Each level alive at the start (:meth:`margincall.agents.leverage_levels.MarketLevels.positions`:
an hour's open-interest increase at one entry price and one leverage bucket, not yet crossed,
reduced by later closes) becomes accounts holding that notional at that entry and leverage, in
the array form of :func:`margincall.agents.population.draw_cohort` (``side``, ``notional``,
``leverage``, ``entry``, ``stop``, ``isolated``) plus ``liq``, the level's liquidation price.
So the population's notional by liquidation price is the map's, number for number.

What stays a choice: the map's assumptions (:class:`~.leverage_levels.MarketMapParams`: the
leverage buckets and weights, the long/short split from funding, the entry spread, the flat
``mmr``); that positions carry no stop-loss; that they are isolated (the map's liquidation
formula); and how a level's notional is divided into accounts (equal accounts, their number
proportional to the level's notional).
"""

from __future__ import annotations

import numpy as np

from margincall.agents.leverage_levels import MarketLevels
from margincall.core.errors import InvalidInputError


def population_from_levels(
    levels: MarketLevels, u: int, accounts: int | None = None
) -> dict[str, np.ndarray]:
    """The positions alive at the open of hour ``u`` of ``levels``, as population arrays.

    ``accounts`` (optional) divides each level into equal accounts, about ``accounts`` in all
    and at least one per level, their number proportional to the level's notional; without it,
    one account per level.
    """
    parts = []
    for sign, side in ((1, "long"), (-1, "short")):
        p = levels.positions(side, u)
        p["side"] = np.full(len(p["notional"]), sign, np.int64)
        parts.append(p)
    d = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    if len(d["notional"]) == 0:
        raise InvalidInputError("panel", u, "an hour after some open-interest increase")
    if accounts is not None:
        if accounts < 1:
            raise InvalidInputError("accounts", accounts, "at least 1")
        share = d["notional"] / d["notional"].sum()
        count = np.maximum(np.round(share * accounts).astype(np.int64), 1)
        d = {k: np.repeat(v, count) for k, v in d.items()}
        d["notional"] = d["notional"] / np.repeat(count, count)
    n = len(d["notional"])
    d["stop"] = np.zeros(n)
    d["isolated"] = np.ones(n, bool)
    return d
