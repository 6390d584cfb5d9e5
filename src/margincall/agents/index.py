"""The spot (index) price: stylized-fact returns plus the impact of net spot flow.

log S = log F + I. The fundamental part F is a GARCH(1,1) random walk with Student-t shocks
(heavy tails and volatility clustering, the facts perps inherit from spot) and news jumps.
The impact part I is the price impact of net spot flow (the exogenous spot/ETF schedule and
the arbitrageur's hedges): linear in dollars, a share of it permanent, the rest decaying with a
half-life (the spot book refilling). All draws come from one named stream of the seed.

A zero-mean noise flow can be added (``noise_usd_per_hour`` > 0): the net buying and selling
nobody schedules, an AR(1) process in USD per hour with standard deviation
``noise_usd_per_hour`` and correlation time ``noise_minutes``. Its impact is wholly transient:
uninformed flow moves the price while the book refills and leaves no level behind, so it adds
hour-scale swings without moving where the day goes (the scheduled flows and the news do that).
Its draws follow the shocks' on the same stream, so a path without noise is unchanged by it.

The transient impact can be concave (``impact_crossover_bps`` > 0): linear up to that many basis
points and growing as the square root beyond, ``sign(T) sqrt(c |T|)`` for a linear transient
``T`` past the crossover ``c`` (continuous, with the same slope at ``c``). It is the
square-root law of metaorder impact (Donier and Bonart on Bitcoin; the linear regime for small
flows, cascade-models.md §2.1) applied to the flow the spot book has not yet absorbed: a flow ten
times larger moves the price about three times as far, not ten. The permanent part stays linear
in the flow (what the flow told the market stays told). At 0 the transient part is linear
throughout, as before.
"""

from __future__ import annotations

import math

import numpy as np

from margincall.core.units import SECONDS_PER_YEAR


class IndexProcess:
    """Spot price per kernel step. ``step(spot_flow_usd, jump)`` returns the new price."""

    def __init__(
        self, params, start_price: float, step_seconds: float, rng: np.random.Generator, steps: int
    ) -> None:
        self.p = params
        self.dt = step_seconds
        var_step = params.vol_annual**2 * step_seconds / SECONDS_PER_YEAR
        self.omega = var_step * (1 - params.garch_alpha - params.garch_beta)
        self.var = var_step
        nu = params.t_dof
        # unit-variance Student-t shocks, drawn up front (one stream, fixed order), cut at
        # 12 sd: heavy tails, but no single 5-second step worth a month of volatility
        self.shocks = np.clip(rng.standard_t(nu, steps + 1) * math.sqrt((nu - 2) / nu), -12, 12)
        self.i = 0
        self.log_f = math.log(start_price)
        self.permanent = 0.0
        self.transient = 0.0
        self.decay = 0.5 ** (step_seconds / (params.impact_half_life_minutes * 60))
        self.price = start_price
        self.crossover = params.impact_crossover_bps * 1e-4
        sd = params.noise_usd_per_hour
        self.noise = 0.0
        if sd > 0:
            self.noise_phi = math.exp(-step_seconds / (params.noise_minutes * 60))
            # log move of one step of the flow, per USD an hour of it
            self.noise_impact = params.impact_bps_per_musd * 1e-4 / 1e6 * step_seconds / 3600
            self.noise_draws = (
                rng.standard_normal(steps + 1) * sd * math.sqrt(1 - self.noise_phi**2)
            )
        else:
            self.noise_draws = None

    def step(self, spot_flow_usd: float, jump: float = 0.0) -> float:
        """Advance one step with ``spot_flow_usd`` of net spot buying (negative: selling) and a
        news ``jump`` (fractional move); returns the new spot price."""
        z = self.shocks[self.i]
        self.i += 1
        r = math.sqrt(self.var) * z
        self.var = self.omega + self.p.garch_alpha * r * r + self.p.garch_beta * self.var
        self.log_f += r + (math.log1p(jump) if jump else 0.0)
        impact = self.p.impact_bps_per_musd * 1e-4 * spot_flow_usd / 1e6
        self.permanent += impact * self.p.impact_permanent
        self.transient = self.transient * self.decay + impact * (1 - self.p.impact_permanent)
        if self.noise_draws is not None:  # the noise flow, USD per hour: transient impact only
            self.noise = self.noise * self.noise_phi + self.noise_draws[self.i - 1]
            self.transient += self.noise_impact * self.noise
        self.price = math.exp(self.log_level)
        return self.price

    @property
    def log_level(self) -> float:
        """log of the price: the fundamental part plus the permanent and transient impact."""
        return self.log_f + self.permanent + self.transient_impact

    @property
    def transient_impact(self) -> float:
        """The transient part's log move: ``transient`` itself, or past the crossover its
        square-root law."""
        t, c = self.transient, self.crossover
        if c <= 0 or abs(t) <= c:
            return t
        return math.copysign(math.sqrt(c * abs(t)), t)
