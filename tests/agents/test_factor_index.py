"""Spot indices per asset from one market factor: deterministic by seed, betas load on the factor,
realised volatility matches the inputs, and a beta-1 asset with no own noise is the factor."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest

from margincall.agents import factor_index
from margincall.agents.factor_index import FactorIndex
from margincall.core.rng import RngTree
from margincall.core.units import SECONDS_PER_YEAR
from margincall.sim.market import Asset
from margincall.sim.scenario import IndexProcess

FACTOR = IndexProcess(vol_annual=0.4, garch_alpha=0.06, garch_beta=0.93, t_dof=4.0)
# for the statistical tests: tails and persistence whose sample moments settle (with t(4) shocks
# the fourth moment is infinite and sample correlations and variances wander far from their
# means at any affordable sample size)
STATS = IndexProcess(vol_annual=0.4, garch_alpha=0.05, garch_beta=0.8, t_dof=10.0)


def _asset(symbol: str, beta: float, idio: float, impact: float = 0.0) -> Asset:
    return Asset(
        symbol=symbol, start_price=100.0, beta=beta, idio_vol_annual=idio,
        impact_bps_per_musd=impact,
    )  # fmt: skip


def _paths(assets, seed: int, steps: int, step_seconds: float = 300.0, flows=None, factor=FACTOR):
    """Prices (assets x steps+1) and the factor's log level (steps+1) of one run."""
    fx = FactorIndex(factor, assets, step_seconds=step_seconds, steps=steps, tree=RngTree(seed))
    prices = [fx.prices.copy()]
    factor = [fx.factor_log_level]
    for i in range(steps):
        flow = flows[i] if flows is not None else 0.0
        prices.append(fx.step(flow_usd=flow).copy())
        factor.append(fx.factor_log_level)
    return np.array(prices).T, np.array(factor)


def test_the_doc_example_runs():
    assert doctest.testmod(factor_index).failed == 0


def test_same_seed_same_paths_and_another_seed_other_paths():
    assets = [_asset("BTCUSDT", 1.0, 0.1), _asset("ETHUSDT", 1.5, 0.4)]
    a, fa = _paths(assets, 7, 200)
    b, fb = _paths(assets, 7, 200)
    c, _ = _paths(assets, 8, 200)
    assert np.array_equal(a, b) and np.array_equal(fa, fb)
    assert not np.array_equal(a, c)


def test_adding_an_asset_leaves_the_others_paths_alone():
    btc = _asset("BTCUSDT", 1.0, 0.1)
    alone, _ = _paths([btc], 3, 100)
    with_eth, _ = _paths([btc, _asset("ETHUSDT", 1.5, 0.4)], 3, 100)
    assert np.array_equal(alone[0], with_eth[0])


def test_beta_one_and_no_own_volatility_is_the_factor():
    prices, factor = _paths([_asset("BTCUSDT", 1.0, 0.0)], 5, 500, flows=np.full(500, -1e8))
    np.testing.assert_allclose(np.log(prices[0] / 100.0), factor, rtol=0, atol=1e-12)
    assert factor[-1] < -0.01  # the flow moved it, so the comparison is not of two flat lines


def test_beta_zero_is_uncorrelated_and_beta_one_loads_on_the_factor():
    n = 4000
    prices, factor = _paths(
        [_asset("ZERO", 0.0, 0.4), _asset("ONE", 1.0, 0.4)], 11, n, 3600.0, factor=STATS
    )
    rf = np.diff(factor)
    r0, r1 = (np.diff(np.log(p)) for p in prices)
    tol = 4.0 / math.sqrt(n)  # a sample correlation's standard error is about 1/sqrt(n)
    assert abs(np.corrcoef(r0, rf)[0, 1]) < tol
    # equal factor and own volatility: corr = 1 / sqrt(2)
    assert abs(np.corrcoef(r1, rf)[0, 1] - 1 / math.sqrt(2)) < tol
    assert np.polyfit(rf, r1, 1)[0] == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize(("beta", "idio"), [(1.5, 0.41), (2.26, 0.99), (0.0, 0.3)])
def test_realised_daily_volatility_matches_the_inputs_over_many_paths(beta, idio):
    """Each path's realised daily variance (the sum of squared 5-minute log returns over a day)
    has mean (beta^2 sigma_f^2 + sigma_i^2) x 1 day / 365.25 days; the tolerance is four
    standard errors of that mean over the paths, from the sample's own spread."""
    paths, steps = 400, 288
    realised = np.empty(paths)
    for seed in range(paths):
        prices, _ = _paths([_asset("X", beta, idio)], seed, steps, factor=STATS)
        realised[seed] = np.sum(np.diff(np.log(prices[0])) ** 2)
    expected = (beta**2 * STATS.vol_annual**2 + idio**2) * steps * 300.0 / SECONDS_PER_YEAR
    se = realised.std(ddof=1) / math.sqrt(paths)
    assert abs(realised.mean() - expected) < 4 * se
    assert 4 * se < 0.1 * expected  # the test can tell a 10% error in the variance


def test_an_assets_own_flow_moves_only_that_asset():
    assets = [_asset("BTCUSDT", 1.0, 0.0), _asset("WIFUSDT", 2.0, 0.0, impact=40.0)]
    fx = FactorIndex(FACTOR.model_copy(update={"vol_annual": 1e-12}), assets, step_seconds=5,
                     steps=2, tree=RngTree(1))  # fmt: skip
    p = fx.step(asset_flow_usd=[0.0, -1e6])  # $1M of WIF selling: -40 bps at once
    assert p[0] == pytest.approx(100.0, rel=1e-9)
    assert math.log(p[1] / 100.0) == pytest.approx(-40e-4, rel=1e-6)


def test_the_flow_of_the_asset_the_factor_is_moves_every_asset_through_its_beta():
    btc = _asset("BTCUSDT", 1.0, 0.0, impact=99.0).model_copy(update={"drives_factor": True})
    assets = [btc, _asset("ETHUSDT", 1.5, 0.0, impact=40.0)]
    quiet = FACTOR.model_copy(update={"vol_annual": 1e-12, "impact_bps_per_musd": 0.4,
                                      "impact_permanent": 1.0})  # fmt: skip
    fx = FactorIndex(quiet, assets, step_seconds=5, steps=2, tree=RngTree(1))
    p = fx.step(asset_flow_usd=[-25e6, 0.0])  # $25M of BTC selling at the factor's 0.4 bps/$1M
    assert math.log(p[0] / 100.0) == pytest.approx(-10e-4, rel=1e-6)  # not BTC's own 99
    assert math.log(p[1] / 100.0) == pytest.approx(-15e-4, rel=1e-6)  # ETH through beta 1.5
    p = fx.step(asset_flow_usd=[0.0, -1e6])  # ETH's own flow stays its own
    assert math.log(p[0] / 100.0) == pytest.approx(-10e-4, rel=1e-6)
    assert math.log(p[1] / 100.0) == pytest.approx(-55e-4, rel=1e-6)
