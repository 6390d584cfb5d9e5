"""The index's zero-mean noise flow (agents/index.py): absent by default and then invisible, the
fundamental path unchanged by it, its impact transient only, its spread the AR(1) formula's, and
in a market only the factor carries it."""

from __future__ import annotations

import math

import numpy as np

from margincall.agents.factor_index import FactorIndex
from margincall.agents.index import IndexProcess
from margincall.core.rng import RngTree
from margincall.sim.market import Asset
from margincall.sim.scenario import IndexProcess as Params

CALM = Params(vol_annual=0.2, garch_alpha=0.06, garch_beta=0.93, t_dof=4.0, impact_bps_per_musd=0.4,
              impact_permanent=0.3, impact_half_life_minutes=30.0)  # fmt: skip
NOISY = CALM.model_copy(update={"noise_usd_per_hour": 0.5e9, "noise_minutes": 60.0})


def _run(params, steps: int, seed: int = 7, flow: float = 0.0) -> tuple[np.ndarray, IndexProcess]:
    p = IndexProcess(params, 100.0, 5.0, RngTree(seed).generator("factor"), steps)
    levels = np.array([p.step(flow) for _ in range(steps)])
    return np.log(levels / 100.0), p


def test_without_noise_the_path_is_the_old_one():
    """noise 0 draws nothing: the transient part is the scheduled flow's alone, the geometric sum
    of its constant per-step impact (1 - permanent share) c F (1 - d^n) / (1 - d)."""
    _, p = _run(CALM, 500, flow=-1e6)
    assert p.noise_draws is None and p.noise == 0.0
    d = 0.5 ** (5.0 / 1800)
    assert math.isclose(p.transient, 0.7 * 0.4e-4 * -1.0 * (1 - d**500) / (1 - d), rel_tol=1e-9)


def test_noise_leaves_the_fundamental_path_and_the_permanent_level_alone():
    """The noise draws come after the shocks: the GARCH-t walk is the same with and without it,
    and the noise moves only the transient part (scheduled flow keeps its permanent share)."""
    quiet, q = _run(CALM, 2000, flow=-2e6)
    noisy, n = _run(NOISY, 2000, flow=-2e6)
    assert n.log_f == q.log_f
    assert n.permanent == q.permanent
    assert n.transient != q.transient
    assert not np.array_equal(quiet, noisy)


def test_the_same_seed_gives_the_same_noise_and_another_seed_another():
    a, _ = _run(NOISY, 300, seed=3)
    b, _ = _run(NOISY, 300, seed=3)
    c, _ = _run(NOISY, 300, seed=4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_the_noise_is_zero_mean_and_its_spread_is_the_ar1_formula():
    """Flow f_t = phi f_(t-1) + e_t (sd of f: s), transient T_t = d T_(t-1) + c f_t with
    c = impact x step: stationary sd of T is c s sqrt((1 + d phi) / ((1 - d^2)(1 - d phi))).
    Over 40 days of 5-second steps the sample sd is within 10% of it and the mean near 0."""
    flat = NOISY.model_copy(update={"vol_annual": 1e-12})
    steps = 40 * 17_280
    p = IndexProcess(flat, 100.0, 5.0, RngTree(11).generator("factor"), steps)
    t = np.empty(steps)
    for i in range(steps):
        p.step(0.0)
        t[i] = p.transient
    phi = math.exp(-5.0 / 3600)
    d = 0.5 ** (5.0 / 1800)
    c = 0.4e-4 / 1e6 * 5.0 / 3600
    sd = c * 0.5e9 * math.sqrt((1 + d * phi) / ((1 - d * d) * (1 - d * phi)))
    assert p.permanent == 0.0
    assert abs(t.std() / sd - 1) < 0.10
    assert abs(t.mean()) < 0.2 * sd


def test_in_a_market_only_the_factor_carries_the_noise():
    """Each asset's own process has no noise flow: the market's noise moves every asset through
    its beta, once."""
    assets = [
        Asset(symbol="BTCUSDT", start_price=100.0, beta=1.0, idio_vol_annual=0.0,
              impact_bps_per_musd=0.4),
        Asset(symbol="ETHUSDT", start_price=100.0, beta=1.2, idio_vol_annual=0.3,
              impact_bps_per_musd=0.9),
    ]  # fmt: skip
    fx = FactorIndex(NOISY, assets, step_seconds=5, steps=10, tree=RngTree(1))
    assert fx.factor.noise_draws is not None
    assert all(p.noise_draws is None for p in fx.own)
