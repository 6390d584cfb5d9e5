"""Spot indices of several assets from one market factor (a one-factor model).

For asset ``a`` with start price ``S_a(0)``::

    log S_a(t) = log S_a(0) + beta_a * X(t) + Y_a(t)

``X`` is the market factor's log level: the single-venue index process
(:class:`margincall.agents.index.IndexProcess`: GARCH(1,1) with Student-t shocks, news jumps and
the impact of the market's net spot flow, partly transient) started at 1, so ``X(0) = 0``.
``Y_a`` is the asset's own part, the same process again with the asset's idiosyncratic volatility
(the factor's GARCH and tail parameters) and the impact of the asset's own net spot flow
(``impact_bps_per_musd`` of the asset; permanence and half-life are the factor's), with no jumps.
News and market-wide flow move every asset through its beta; an asset's own flow (its
arbitrageurs' hedges, its liquidations' spot sales) moves only that asset, except the flow of
the asset the factor is (``drives_factor``, BTC in the presets: beta 1, no own noise), which is
market-wide flow: BTC's forced selling moves every asset through its beta, as a crash led by
BTC does.

Draws are deterministic from the run's :class:`~margincall.core.rng.RngTree`: the factor from
the stream ``factor``, each asset from ``asset.<symbol>``, so adding an asset never changes the
others' paths. The assets are duck-typed (``symbol``, ``start_price``, ``beta``,
``idio_vol_annual``, ``impact_bps_per_musd``): a market scenario's ``[[assets]]`` fit.

Example:
    >>> from types import SimpleNamespace as NS
    >>> from margincall.core.rng import RngTree
    >>> factor = NS(vol_annual=0.4, garch_alpha=0.06, garch_beta=0.93, t_dof=4.0,
    ...             impact_bps_per_musd=0.4, impact_permanent=0.3, impact_half_life_minutes=30.0,
    ...             noise_usd_per_hour=0.0, noise_minutes=60.0, impact_crossover_bps=0.0)
    >>> btc = NS(symbol="BTCUSDT", start_price=73000.0, beta=1.0, idio_vol_annual=0.0,
    ...          impact_bps_per_musd=0.0)
    >>> fx = FactorIndex(factor, [btc], step_seconds=60, steps=10, tree=RngTree(1))
    >>> p = fx.step(flow_usd=-250e6)  # $250M of market-wide selling: about -1% at once
    >>> bool(0.985 < p[0] / 73000 < 0.995)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np

from margincall.agents.index import IndexProcess
from margincall.core import libm
from margincall.core.errors import InvalidInputError
from margincall.core.rng import RngTree


class FactorIndex:
    """One spot index per asset, stepped together. ``step`` returns the prices, USD, in the
    order of ``assets``."""

    def __init__(
        self, factor, assets: Sequence[Any], *, step_seconds: float, steps: int, tree: RngTree
    ) -> None:
        if not assets:
            raise InvalidInputError("assets", [], "at least one asset")
        self.symbols = tuple(a.symbol for a in assets)
        self.factor = IndexProcess(factor, 1.0, step_seconds, tree.generator("factor"), steps)
        self.beta = np.array([float(a.beta) for a in assets])
        self.log_start = libm.log([float(a.start_price) for a in assets])
        self.own = [
            IndexProcess(
                _own(factor, a), 1.0, step_seconds, tree.generator(f"asset.{a.symbol}"), steps
            )
            for a in assets
        ]
        self.prices = libm.exp(self.log_start)
        drivers = [k for k, a in enumerate(assets) if getattr(a, "drives_factor", False)]
        self.driver = drivers[0] if drivers else -1

    def step(
        self,
        flow_usd: float = 0.0,
        jump: float = 0.0,
        asset_flow_usd: Sequence[float] | None = None,
    ) -> np.ndarray:
        """Advance one step: ``flow_usd`` of market-wide net spot buying (negative: selling) and
        a news ``jump`` (fractional factor move) on the factor, and ``asset_flow_usd`` (one per
        asset, USD) on each asset's own part."""
        own = np.zeros(len(self.own)) if asset_flow_usd is None else np.array(asset_flow_usd)
        if self.driver >= 0:
            flow_usd += float(own[self.driver])
            own[self.driver] = 0.0
        self.factor.step(flow_usd, jump)
        for p, f in zip(self.own, own, strict=True):
            p.step(float(f))
        y = np.array([p.log_level for p in self.own])
        self.prices = libm.exp(self.log_start + self.beta * self.factor.log_level + y)
        return self.prices

    @property
    def factor_log_level(self) -> float:
        """``X(t)``: the market factor's log move since the start."""
        return self.factor.log_level


def _own(factor, asset):
    """The asset's own process: the factor's parameters with the asset's idiosyncratic
    volatility and spot impact and no noise flow (``factor`` a pydantic model or a plain
    namespace)."""
    own = {
        "vol_annual": float(asset.idio_vol_annual),
        "impact_bps_per_musd": float(asset.impact_bps_per_musd),
        "noise_usd_per_hour": 0.0,  # the market's noise flow moves the factor, not each asset
    }
    if hasattr(factor, "model_copy"):
        return factor.model_copy(update=own)  # no validation: a zero volatility is allowed here
    return SimpleNamespace(**(vars(factor) | own))
