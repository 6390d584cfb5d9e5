"""The market-data liquidation map: its invariants, removal by crossing and by closing, the
heatmap, and map_from_file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from margincall.core.errors import InvalidInputError
from margincall.estimate.maps import LiquidationMap
from margincall.estimate.market_map import (
    MarketMapParams,
    build_levels,
    heatmap,
    map_at,
    map_from_file,
)
from margincall.sources.panel import PANEL_SCHEMA, read_panel

ONE_POINT = dict(spread=0.0, points=1)


def panel(open_, high, low, close, oi, funding=None, ratio=None) -> pl.DataFrame:
    n = len(open_)
    ts = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=h) for h in range(n)]
    return pl.DataFrame(
        {
            "ts": ts,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "oi_usd": oi,
            "funding": funding if funding is not None else [0.0001] * n,
            "liq_long_usd": [0.0] * n,
            "liq_short_usd": [0.0] * n,
            "long_short_ratio": ratio if ratio is not None else [None] * n,
        },
        schema=PANEL_SCHEMA,
    )


def random_panel(n: int = 300, seed: int = 3) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    high = np.maximum(open_, close) * (1 + rng.exponential(0.004, n))
    low = np.minimum(open_, close) * (1 - rng.exponential(0.004, n))
    oi = 1e9 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    return panel(open_, high, low, close, oi, list(rng.normal(0.0001, 0.0001, n)))


def test_new_open_interest_is_split_by_leverage_and_ratio():
    p = panel(
        [100.0, 100.0], [100.0] * 2, [100.0] * 2, [100.0] * 2, [0.0, 1000.0], ratio=[3.0, 3.0]
    )
    params = MarketMapParams(leverage=(5.0, 10.0), weights=(0.6, 0.4), mmr=0.005, **ONE_POINT)
    m = map_at(build_levels(p, params), 2)
    assert m.long_total_micros == 750_000_000 and m.short_total_micros == 250_000_000
    assert np.allclose(sorted(m.long_liq), [100 * 0.8 / 0.995, 100 * 0.9 / 0.995])
    assert np.allclose(sorted(m.short_liq), [100 * 1.1 / 1.005, 100 * 1.2 / 1.005])
    assert dict(zip(m.long_liq, m.long_micros, strict=True)) == pytest.approx(
        {100 * 0.8 / 0.995: 450e6, 100 * 0.9 / 0.995: 300e6}
    )


def test_levels_are_removed_once_crossed_and_not_in_their_own_hour():
    # hour 0 adds OI at 100; hour 1 dips to 85: the 10x long (90.45) goes, the 5x (80.4) stays
    p = panel(
        [100.0, 100.0, 95.0],
        [100.0, 100.0, 96.0],
        [100.0, 85.0, 94.0],
        [100.0, 95.0, 95.0],
        [0.0, 1000.0, 1000.0],
    )
    params = MarketMapParams(leverage=(5.0, 10.0), weights=(0.5, 0.5), **ONE_POINT)
    levels = build_levels(p, params)
    before, after = map_at(levels, 1), map_at(levels, 2)
    assert len(before.long_liq) == 2
    assert after.long_liq.tolist() == pytest.approx([100 * 0.8 / 0.995])
    crossed = levels.crossed_by_bucket("long") @ np.array(params.weights)
    assert crossed[1] == pytest.approx(1000 * 0.5 * 0.5)  # funding at neutral: half long
    assert crossed[0] == 0 and crossed[2] == 0


def test_falling_open_interest_removes_pro_rata():
    p = panel([100.0] * 3, [100.0] * 3, [100.0] * 3, [100.0] * 3, [0.0, 1000.0, 500.0])
    levels = build_levels(p, MarketMapParams(**ONE_POINT))
    a, b = map_at(levels, 1), map_at(levels, 2)
    assert b.long_total_micros + b.short_total_micros == pytest.approx(
        (a.long_total_micros + a.short_total_micros) / 2, rel=1e-9
    )


def test_positive_funding_means_more_longs():
    p = panel([100.0] * 2, [100.0] * 2, [100.0] * 2, [100.0] * 2, [0.0, 1000.0], [0.0005] * 2)
    m = map_at(build_levels(p, MarketMapParams(**ONE_POINT)), 2)
    assert m.long_total_micros > 0.9 * 1000e6 > m.short_total_micros


def test_invariants_on_a_random_path():
    p = random_panel()
    params = MarketMapParams(decay=0.01)
    levels = build_levels(p, params)
    oi = p["oi_usd"].to_numpy()
    added = np.concatenate(([0.0], np.cumsum(np.maximum(np.diff(oi), 0))))
    low, high = p["low"].to_numpy(), p["high"].to_numpy()
    for u in range(0, p.height + 1, 17):
        m = map_at(levels, u)
        assert (m.long_micros >= 0).all() and (m.short_micros >= 0).all()
        assert (m.long_total_micros + m.short_total_micros) / 1e6 <= added[min(u, len(oi) - 1)] + 1
        # a surviving level older than one hour sits beyond every later low / high
        ll, _ = levels.held("long", u)
        t = np.broadcast_to(np.arange(p.height)[:, None, None], levels.long_liq.shape)
        alive = (t < u) & (levels.long_cross >= u)
        for liq, made in zip(levels.long_liq[alive], t[alive], strict=True):
            if made + 1 < u:
                assert liq < low[made + 1 : u].min()
        s_alive = (t < u) & (levels.short_cross >= u)
        for liq, made in zip(levels.short_liq[s_alive], t[s_alive], strict=True):
            if made + 1 < u:
                assert liq > high[made + 1 : u].max()
        assert len(ll) == (alive & (levels.long_unit > 0)).sum()


def test_heatmap_rows_are_the_map_at_each_open():
    p = random_panel(120)
    levels = build_levels(p)
    longs, shorts, edges = heatmap(levels, np.linspace(1.0, 1000.0, 50))
    assert longs.shape == shorts.shape == (120, 49) and len(edges) == 50
    assert (longs >= 0).all() and (shorts >= 0).all()
    for u in (0, 1, 60, 119):
        m = map_at(levels, u)
        assert longs[u].sum() == pytest.approx(m.long_total_micros / 1e6, rel=1e-6, abs=1e-3)
        assert shorts[u].sum() == pytest.approx(m.short_total_micros / 1e6, rel=1e-6, abs=1e-3)


def test_bad_parameters_and_hours_are_refused():
    with pytest.raises(InvalidInputError, match="weights"):
        MarketMapParams(weights=(0.5, 0.5))
    with pytest.raises(InvalidInputError, match="summing to 1"):
        MarketMapParams(leverage=(2.0, 5.0), weights=(0.5, 0.6))
    levels = build_levels(random_panel(10))
    with pytest.raises(InvalidInputError, match="at"):
        map_at(levels, 11)
    with pytest.raises(InvalidInputError, match="an hour of the file"):
        map_at(levels, "2030-01-01T00:00:00Z")


def test_map_from_file_on_the_real_file(real_csv):
    m = map_from_file(real_csv)
    assert isinstance(m, LiquidationMap)
    assert m.long_total_micros > 0 and m.short_total_micros > 0
    assert m.assumptions["weights"] and m.assumptions["mmr"] == 0.005
    assert "btc_1h" in m.source
    at = map_from_file(real_csv, at="2026-02-05T20:00:00Z")
    assert (
        at.price
        == read_panel(real_csv).filter(pl.col("ts") == datetime(2026, 2, 5, 20, tzinfo=UTC))[
            "open"
        ][0]
    )
    prev = read_panel(real_csv).filter(pl.col("ts") == datetime(2026, 2, 5, 19, tzinfo=UTC))
    assert (at.long_liq < prev["high"][0]).all() and (at.short_liq > prev["low"][0]).all()
