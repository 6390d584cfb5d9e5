"""Hourly liquidation forecasts from the market-data map, scored against realised liquidations.

For each hour ``u`` the forecast uses only what is known at its open (the market map built from
rows ``0 .. u-1``, see :mod:`margincall.estimate.market_map`, and the open interest at the open)
plus the hour's high and low:

    pred_long(u)  = mapped long notional with liquidation price >= low(u)
                    + unmapped_long  * max(0, (open - low) / open) * OI_open
    pred_short(u) = mapped short notional with liquidation price <= high(u)
                    + unmapped_short * max(0, (high - open) / open) * OI_open

The second term is the *unmapped* share: positions the map cannot place (opened before the file
starts, or by turnover that leaves open interest unchanged) are assumed to liquidate in
proportion to the move times open interest, like the naive baseline
``max(0, (open - low) / open) * OI_open`` (shorts: the rise to the high).

Calibration: the free parameters (entry spread, decay, funding scale, the retail share of the
leverage mixture, and the two unmapped shares) are chosen on a fixed grid to maximise the
Spearman correlation on the *first half* of the rows only (rows ``0 .. n//2 - 1``, computed from
those rows alone); the figures on the second half are out of sample. The grid and its order are
fixed, so the result is deterministic. Hours without realised values are left out of the scores.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from margincall.agents.leverage_levels import MarketMapParams, build_levels
from margincall.core.atomic import atomic_folder
from margincall.core.errors import InvalidInputError
from margincall.sources.panel import panel_gaps

CAPITAL = {2.0: 0.35, 3.0: 0.25, 5.0: 0.40}
"""Capital cohort: most of the notional, at 2-5x (cascade-models.md §3.4, Hyperliquid 2025-12)."""
RETAIL = {10.0: 0.375, 20.0: 0.30, 50.0: 0.20, 100.0: 0.125}
"""Retail cohort: many small accounts at 10-100x (§3.4, Binance 2019, BitMEX 2018-2019)."""

GRID: dict[str, tuple[float, ...]] = {
    "spread": (0.0, 0.5, 1.0),
    "decay": (0.0, 0.01, 0.03),
    "funding_scale": (0.0001, 0.001),
    "retail_share": (0.2, 0.4, 0.6),
    "unmapped": (0.0, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0),
}
"""The calibration grid (every combination is scored; ties keep the first)."""


def mixture(retail_share: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Leverage buckets and weights of the capital/retail mixture with ``retail_share``."""
    lev = tuple(CAPITAL) + tuple(RETAIL)
    w = tuple(round((1 - retail_share) * v, 9) for v in CAPITAL.values()) + tuple(
        round(retail_share * v, 9) for v in RETAIL.values()
    )
    return lev, w


@dataclass(frozen=True)
class ForecastParams:
    """The market map's assumptions plus the unmapped shares of the forecast."""

    map: MarketMapParams
    unmapped_long: float = 0.01
    unmapped_short: float = 0.01
    retail_share: float = 0.4

    def to_json(self) -> dict[str, Any]:
        return {
            "map": self.map.assumptions(),
            "retail_share": self.retail_share,
            "unmapped_long": self.unmapped_long,
            "unmapped_short": self.unmapped_short,
        }


def default_params(retail_share: float = 0.4, **map_fields: Any) -> ForecastParams:
    lev, w = mixture(retail_share)
    return ForecastParams(
        MarketMapParams(leverage=lev, weights=w, **map_fields), retail_share=retail_share
    )


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman rank correlation with average ranks for ties; pairs with a NaN are dropped.
    ``None`` when fewer than 3 pairs remain or one side is constant."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        return None
    ra = pl.Series(a[ok]).rank("average").to_numpy()
    rb = pl.Series(b[ok]).rank("average").to_numpy()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return None if den == 0 else float((ra * rb).sum() / den)


def baseline(panel: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The naive forecast: the hour's fractional drop (rise) from the open times OI at the open."""
    o, h, lo, oi = (panel[c].to_numpy() for c in ("open", "high", "low", "oi_usd"))
    return np.maximum(0.0, (o - lo) / o) * oi, np.maximum(0.0, (h - o) / o) * oi


def _crossed(panel: pl.DataFrame, params: ForecastParams) -> tuple[np.ndarray, np.ndarray]:
    levels = build_levels(panel, params.map)
    w = np.asarray(params.map.weights)
    return levels.crossed_by_bucket("long") @ w, levels.crossed_by_bucket("short") @ w


def predict(panel: pl.DataFrame, params: ForecastParams) -> pl.DataFrame:
    """The forecast frame: ``ts``, ``pred_liq_long_usd``, ``pred_liq_short_usd``,
    ``liq_long_usd``, ``liq_short_usd`` (realised, null where the file has none)."""
    cl, cs = _crossed(panel, params)
    bl, bs = baseline(panel)
    return pl.DataFrame(
        {
            "ts": panel["ts"],
            "pred_liq_long_usd": cl + params.unmapped_long * bl,
            "pred_liq_short_usd": cs + params.unmapped_short * bs,
            "liq_long_usd": panel["liq_long_usd"],
            "liq_short_usd": panel["liq_short_usd"],
        }
    )


def calibrate(panel: pl.DataFrame) -> tuple[ForecastParams, dict[str, float | None]]:
    """Grid-search the free parameters on ``panel`` (pass the first half); returns the best
    parameters and their in-sample Spearman per side."""
    yl = _realised(panel, "liq_long_usd")
    ys = _realised(panel, "liq_short_usd")
    if not (np.isfinite(yl).sum() >= 3 and np.isfinite(ys).sum() >= 3):
        raise InvalidInputError(
            "liq_long_usd/liq_short_usd", "missing", "realised liquidations to calibrate on"
        )
    bl, bs = baseline(panel)
    best: tuple[float, ForecastParams, dict[str, float | None]] | None = None
    for spread, decay, fscale in itertools.product(
        GRID["spread"], GRID["decay"], GRID["funding_scale"]
    ):
        base = default_params(spread=spread, decay=decay, funding_scale=fscale)
        levels = build_levels(panel, base.map)
        by_long = levels.crossed_by_bucket("long")
        by_short = levels.crossed_by_bucket("short")
        for retail in GRID["retail_share"]:
            w = np.asarray(mixture(retail)[1])
            cl, cs = by_long @ w, by_short @ w
            sl = [(spearman(cl + u * bl, yl) or -1.0, u) for u in GRID["unmapped"]]
            ss = [(spearman(cs + u * bs, ys) or -1.0, u) for u in GRID["unmapped"]]
            (rl, ul), (rs, us) = max(sl, key=lambda x: x[0]), max(ss, key=lambda x: x[0])
            if best is None or rl + rs > best[0] + 1e-12:
                p = default_params(retail, spread=spread, decay=decay, funding_scale=fscale)
                best = (rl + rs, replace(p, unmapped_long=ul, unmapped_short=us), {})
                best[2].update(long=rl, short=rs)
    assert best is not None
    return best[1], best[2]


def _realised(panel: pl.DataFrame, col: str) -> np.ndarray:
    return panel[col].fill_null(np.nan).to_numpy().astype(np.float64)


def scores(frame: pl.DataFrame, panel: pl.DataFrame) -> dict[str, Any]:
    """Spearman of model and baseline per side on the full file and on each half."""
    n = panel.height
    half = n // 2
    bl, bs = baseline(panel)
    out: dict[str, Any] = {}
    for name, sl in (
        ("full", slice(0, n)),
        ("first_half", slice(0, half)),
        ("second_half", slice(half, n)),
    ):
        yl = _realised(panel, "liq_long_usd")[sl]
        ys = _realised(panel, "liq_short_usd")[sl]
        out[name] = {
            "rows": len(yl),
            "model": {
                "long": spearman(frame["pred_liq_long_usd"].to_numpy()[sl], yl),
                "short": spearman(frame["pred_liq_short_usd"].to_numpy()[sl], ys),
            },
            "baseline": {"long": spearman(bl[sl], yl), "short": spearman(bs[sl], ys)},
        }
        m, b = out[name]["model"], out[name]["baseline"]
        out[name]["beats_baseline"] = {
            side: None if m[side] is None or b[side] is None else bool(m[side] > b[side])
            for side in ("long", "short")
        }
    return out


def run_forecast(
    panel: pl.DataFrame, params: ForecastParams | None = None, source: str = ""
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Calibrate on the first half (unless ``params`` is given), forecast every hour, score.

    Returns the forecast frame (see :func:`predict`) and the summary written to
    ``summary.json``: scores, calibrated parameters, grid and assumptions.
    """
    if panel.height < 4:
        raise InvalidInputError("rows", panel.height, "at least 4 hours to forecast")
    half = panel.height // 2
    calibrated = params is None
    in_sample: dict[str, float | None] = {}
    if params is None:
        params, in_sample = calibrate(panel.head(half))
    frame = predict(panel, params)
    gaps = panel_gaps(panel)
    summary = {
        "source": source,
        "rows": panel.height,
        "start": panel["ts"][0].isoformat(),
        "end": panel["ts"][-1].isoformat(),
        "gaps": [
            {"row": int(r), "ts": t.isoformat(), "missing_hours": int(m)}
            for r, t, m in gaps.iter_rows()
        ],
        "spearman": scores(frame, panel),
        "calibrated": calibrated,
        "calibration": {
            "rows": f"0..{half - 1} (first half)",
            "objective": "Spearman long + Spearman short on the first half",
            "in_sample": in_sample,
            "grid": {k: list(v) for k, v in GRID.items()},
        },
        "parameters": params.to_json(),
        "cohorts": {"capital": CAPITAL, "retail": RETAIL},
        "assumptions": [
            "only information known at each hour's open plus that hour's high and low",
            "pred_long = mapped long notional with liquidation price >= low + unmapped_long * "
            "max(0,(open-low)/open) * OI_open; shorts symmetric with the high",
            "baseline_long = max(0,(open-low)/open) * OI_open; "
            "baseline_short = max(0,(high-open)/open) * OI_open",
            "gaps: the open-interest change across a missing hour is assigned to the row "
            "before it; missing hours are neither forecast nor scored",
            "hours without realised liquidations are left out of the scores",
        ],
    }
    return frame, _jsonable(summary)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x


def write_forecast(out: str | Path, frame: pl.DataFrame, summary: dict[str, Any]) -> Path:
    """Write ``forecast.parquet`` and ``summary.json`` into the new folder ``out`` atomically
    (a temporary folder next to it, renamed when complete)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInputError("out", str(out), "a new or empty folder")
    if not out.resolve().parent.is_dir():
        raise InvalidInputError("out", str(out), "a folder whose parent exists")
    with atomic_folder(out, replace=False) as tmp:
        frame.write_parquet(tmp / "forecast.parquet")
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return out


__all__ = [
    "CAPITAL",
    "GRID",
    "RETAIL",
    "ForecastParams",
    "baseline",
    "calibrate",
    "default_params",
    "mixture",
    "predict",
    "run_forecast",
    "scores",
    "spearman",
    "write_forecast",
]
