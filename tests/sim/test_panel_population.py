"""A population built from the shared hourly BTC panel before the start: the same numbers as the
estimator's market map at that hour, and nothing from the start on is used."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from margincall.agents.leverage_levels import MarketMapParams
from margincall.core.errors import InvalidInputError
from margincall.estimate.market_map import map_from_file
from margincall.sim.panel_population import panel_path, population_from_panel
from margincall.sources.panel import read_panel

START = datetime(2026, 2, 5, tzinfo=UTC)
EDGES = np.arange(20_000.0, 200_000.0, 250.0)  # liquidation-price buckets, USD


def _by_bucket(liq: np.ndarray, usd: np.ndarray) -> np.ndarray:
    assert liq.min() > EDGES[0] and liq.max() < EDGES[-1]  # every level lands in a bucket
    return np.histogram(liq, EDGES, weights=usd)[0]


def test_the_population_is_the_market_maps_notional_by_price_bucket(real_csv):
    pop = population_from_panel(real_csv, START)
    m = map_from_file(real_csv, at=START)
    for sign, liq, micros in ((1, m.long_liq, m.long_micros), (-1, m.short_liq, m.short_micros)):
        mine = pop["side"] == sign
        ours = _by_bucket(pop["liq"][mine], pop["notional"][mine])
        theirs = _by_bucket(np.asarray(liq, float), np.asarray(micros, float) / 1e6)
        # the map holds micro-dollars: one micro-dollar of rounding per level at most
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6 * mine.sum())
        assert ours.sum() > 1e8  # a real population, not two empty ones
    assert set(np.unique(pop["leverage"])) <= set(MarketMapParams().leverage)
    long_ = pop["side"] > 0  # a long's liquidation price is below its entry
    assert np.all(pop["liq"][long_] < pop["entry"][long_])
    assert np.all(pop["liq"][~long_] > pop["entry"][~long_])


def test_accounts_divide_each_level_without_moving_notional(real_csv):
    one = population_from_panel(real_csv, START)
    many = population_from_panel(real_csv, START, accounts=100_000)
    assert 100_000 <= len(many["notional"]) < 100_000 + len(one["notional"])
    for sign in (1, -1):
        a, b = one["side"] == sign, many["side"] == sign
        np.testing.assert_allclose(
            _by_bucket(one["liq"][a], one["notional"][a]),
            _by_bucket(many["liq"][b], many["notional"][b]),
            rtol=1e-9,
        )


GENERIC = {"oi_usd": "open_interest_usd", "funding": "funding_rate"}


def _changed(tmp_path, real_csv, change) -> dict[str, np.ndarray]:
    """The population of the shared panel changed by ``change``, written as a generic panel
    file and read back by the same reader."""
    path = tmp_path / "changed.parquet"
    change(read_panel(real_csv)).rename(GENERIC).write_parquet(path)
    return population_from_panel(path, START)


def test_nothing_at_or_after_the_start_is_used(tmp_path, real_csv):
    base = population_from_panel(real_csv, START)
    ts, cols = pl.col("ts"), ["open", "high", "low", "close", "funding", "liq_long_usd"]

    def after(p: pl.DataFrame) -> pl.DataFrame:
        """Every value from the start on changed (a crash to a tenth of the price, funding
        shrunk, open interest doubled after the start), except the open interest at the start
        instant (the start hour's open)."""
        return p.with_columns(
            [pl.when(ts >= START).then(pl.col(c) * 0.1).otherwise(pl.col(c)).alias(c) for c in cols]
            + [pl.when(ts > START).then(pl.col("oi_usd") * 2).otherwise("oi_usd").alias("oi_usd")]
        )

    changed = _changed(tmp_path, real_csv, after)
    for key, values in base.items():
        assert np.array_equal(values, changed[key]), key

    def before(p: pl.DataFrame) -> pl.DataFrame:  # the same kind of change a day earlier counts
        day = (ts > START.replace(day=4)) & (ts < START)
        return p.with_columns(pl.when(day).then(pl.col("low") * 0.5).otherwise("low").alias("low"))

    assert not np.array_equal(base["notional"], _changed(tmp_path, real_csv, before)["notional"])


def test_a_start_outside_the_panel_is_refused(real_csv):
    with pytest.raises(InvalidInputError, match="an hour of the panel"):
        population_from_panel(real_csv, datetime(2030, 1, 1, tzinfo=UTC))


def test_a_presets_relative_panel_path_is_found_from_any_folder(tmp_path, monkeypatch, real_csv):
    """The presets name ``../shared/data/...`` (the data beside a clone); run from another
    folder, the path is taken from the checkout's root; a path found nowhere stays as given
    (the reader then names it)."""
    monkeypatch.chdir(tmp_path)
    given = f"../shared/data/{real_csv.name}"
    assert panel_path(given).resolve() == real_csv.resolve()
    assert panel_path("no/such.csv") == Path("no/such.csv")
