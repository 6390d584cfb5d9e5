"""Exact liquidation maps: each account's tick is where the venue's own check first breaches."""

from __future__ import annotations

import numpy as np
import pytest

from margincall.core.errors import InvalidInputError
from margincall.estimate.positions import (
    NEVER,
    Rules,
    account_liquidation_ticks,
    liquidation_ticks,
    map_from_positions_file,
    map_from_venue,
    venue_positions,
)
from margincall.formulas.margin import binance_liquidation_price_tiered
from margincall.inputs.maps import map_from_run_folder
from margincall.sim.scenario import load_scenario
from margincall.venue import params as P
from margincall.venue.accounts import ISOLATED
from margincall.venue.margin_int import is_breached, margin_excess


def _market(rulebook: str, n: int = 600, seed: int = 3):
    """Accounts across every margin tier, cross and isolated, long and short."""
    from margincall.venue.engine import Venue

    rng = np.random.default_rng(seed)
    v = Venue(rulebook, "BTCUSDT", price=60_000, capacity=n + 2, insurance_fund_usd=1e6)
    desk = v.open_account(10_000_000_000, leverage=1)
    max_lev = int(v.instrument.tiers[0].max_leverage)
    notional = np.exp(rng.uniform(np.log(200), np.log(3e8), n))
    lev = np.minimum(rng.integers(1, max_lev + 1, n), max_lev)
    side = np.where(rng.random(n) < 0.6, 1, -1)
    lot = float(v.scale.lot_size)
    lots = np.maximum(np.rint(notional / 60_000 / lot), 1).astype(np.int64)
    dep = (lots * lot * 60_000 / lev * rng.uniform(1.0, 3.0, n) * 1e6).astype(np.int64)
    ids = v.open_accounts(dep, isolated=rng.random(n) < 0.3, leverage=lev)
    v.block_trades(ids, side * lots, 60_000, desk)
    return v


def _check_exact(v) -> int:
    ids, ticks = account_liquidation_ticks(v)
    strict = bool(v.params[P.STRICT])
    t = v.tiers
    checked = 0
    for a, x in zip(ids, ticks, strict=True):
        a = int(a)
        c = int(v.acc.iso_margin[a] if v.acc.flags[a] & ISOLATED else v.acc.wallet[a])
        p, cost = int(v.acc.pos[a]), int(v.acc.cost[a])

        def br(price, c=c, p=p, cost=cost):
            e = margin_excess(c, p, cost, price, v.k, t.floor, t.mmr_ppm, t.cum)
            return is_breached(e, strict)

        if x == NEVER:
            assert p > 0 and not br(1)
            continue
        assert br(x), (a, x)
        if p > 0:
            assert not br(x + 1), (a, x)
        else:
            assert x == 1 or not br(x - 1), (a, x)
        checked += 1
    return checked


@pytest.mark.parametrize("rulebook", ["binance", "bitmex", "dydx", "hyperliquid"])
def test_each_account_breaches_exactly_at_its_tick(rulebook):
    v = _market(rulebook)
    held = len(venue_positions(v)[0])  # the venue refuses sizes its tiers do not allow
    assert held >= 300
    assert _check_exact(v) >= 0.95 * held


def test_simulated_start_state_is_exact_and_map_sums_positions():
    sc = load_scenario("feb-2026").with_overrides(accounts=2000)
    from margincall.sim.kernel import Simulation

    v = Simulation(sc, 2).venue
    assert _check_exact(v) > 1500
    ids, ticks = account_liquidation_ticks(v)
    pos = v.acc.pos[ids]
    m = map_from_venue(v)
    longs = (pos > 0) & (ticks > 0)
    assert m.long_total_micros == int((pos[longs] * ticks[longs] * v.k).sum())
    shorts = pos < 0
    assert m.short_total_micros == int((-pos[shorts] * ticks[shorts] * v.k).sum())
    assert m.price == float(v.mark_price)
    # levels are distinct ticks, sorted, the nearest first
    assert np.all(np.diff(m.long_liq) < 0) and np.all(np.diff(m.short_liq) > 0)


def test_matches_the_readable_tiered_formula_within_a_tick():
    rules = Rules.of_rulebook("binance")
    floors = [float(f) / 1e6 for f in rules.floors]
    rates = [float(r) / 1e6 for r in rules.mmr_ppm]
    rng = np.random.default_rng(1)
    n = 300
    side = np.where(rng.random(n) < 0.5, 1, -1)
    lots = rng.integers(1, 2_000_000, n)
    entry = rng.integers(400_000, 800_000, n)  # ticks of 0.1
    cost = side * lots * entry * rules.k
    coll = (lots * entry * rules.k / rng.uniform(1.5, 100, n)).astype(np.int64)
    ticks = liquidation_ticks(coll, side * lots, cost, rules)
    for i in range(n):
        q = lots[i] * rules.lot_size
        want = binance_liquidation_price_tiered(
            "long" if side[i] > 0 else "short",
            q,
            entry[i] * rules.tick_size,
            coll[i] / 1e6,
            floors,
            rates,
        )
        if np.isnan(want) or want <= 0:
            assert ticks[i] == NEVER
            continue
        assert abs(ticks[i] * rules.tick_size - want) <= rules.tick_size + 1e-9 * want


def test_positions_file_csv_and_parquet(tmp_path):
    import polars as pl

    df = pl.DataFrame(
        {
            "side": ["long", "short", "long", "SHORT"],
            "qty": [0.5, 1.0, 2.0, 0.25],
            "entry": [60_000.0, 61_000.0, 59_000.0, 60_500.0],
            "leverage": [10, 20, 5, 50],
        }
    )
    csv = tmp_path / "p.csv"
    df.write_csv(csv)
    pq = tmp_path / "p.parquet"
    df.write_parquet(pq)
    a = map_from_positions_file(csv, price=60_000)
    b = map_from_positions_file(pq, price=60_000)
    assert np.array_equal(a.long_liq, b.long_liq) and np.array_equal(a.short_micros, b.short_micros)
    assert len(a.long_liq) == 2 and len(a.short_liq) == 2
    # 10x long at 60,000, mmr 0.4%: (1 - 1/10)/(1 - 0.004) x 60,000 = 54,216.87
    assert a.long_liq[0] == pytest.approx(54_216.8, abs=0.11)
    # wallet column instead of leverage: same collateral, same map
    w = df.with_columns((pl.col("qty") * pl.col("entry") / pl.col("leverage")).alias("wallet"))
    w.drop("leverage").write_csv(tmp_path / "w.csv")
    c = map_from_positions_file(tmp_path / "w.csv", price=60_000)
    assert np.allclose(c.long_liq, a.long_liq, atol=0.11)


@pytest.mark.parametrize(
    ("columns", "needle"),
    [
        ({"side": ["long"], "qty": [1.0], "entry": [60_000.0]}, "wallet or leverage"),
        ({"side": ["long"], "size": [1.0], "entry": [1.0], "leverage": [2]}, "missing: qty"),
        ({"side": ["up"], "qty": [1.0], "entry": [60_000.0], "leverage": [2]}, "side (row 1)"),
        ({"side": ["long"], "qty": [-1.0], "entry": [60_000.0], "leverage": [2]}, "qty (row 1)"),
        ({"side": ["long"], "qty": [1.0], "entry": [60_000.0], "leverage": [0]}, "leverage"),
    ],
)
def test_positions_file_bad_columns_are_named(tmp_path, columns, needle):
    import polars as pl

    f = tmp_path / "bad.csv"
    pl.DataFrame(columns).write_csv(f)
    with pytest.raises(InvalidInputError) as e:
        map_from_positions_file(f)
    assert needle in str(e.value)


def test_run_folder_map_is_the_scenario_start_state(tmp_path):
    import json

    sc = load_scenario("calm").with_overrides(accounts=1000)
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "manifest.json").write_text(
        json.dumps({"scenario": sc.model_dump(mode="json"), "seed": 4})
    )
    m, sim = map_from_run_folder(folder)
    direct = map_from_venue(sim.venue)
    assert np.array_equal(m.long_micros, direct.long_micros)
    assert m.long_total_micros > 0 and "run folder" in m.source
    with pytest.raises(InvalidInputError, match=r"manifest\.json"):
        map_from_run_folder(tmp_path)


def test_insurance_fund_is_not_in_the_map():
    v = _market("binance", n=20)
    ids, _, pos, _ = venue_positions(v)
    assert 0 not in ids and np.all(pos != 0)
