"""What ``margincall stress`` computes: a map from a source, an impact model, a stress grid, and
every assumption behind the figures, in one JSON-ready dict.

The map comes in a :class:`Source`; :func:`margincall.inputs.maps.load_source` makes one from
exactly one of a scenario (preset name or TOML file; its start state, exact map), a run folder
(``--from``; its scenario and seed rebuilt to the start state, exact map), a market-data file
(``--from-data``; the estimated map of :func:`margincall.estimate.market_map.map_from_panel`) or
a positions file (``--positions``; exact map under a rulebook's tiers).

Depth defaults: for a scenario or a run folder, the simulation's own makers' depth curve
(``makers.depth_1pct_usd`` and ``makers.depth_exponent``: the same depth as the simulation);
for a market-data file, the larger of $20M and the depth the file's own hours imply
(:func:`margincall.estimate.impact.market_depth_curve`: an hour that liquidated ``Q`` in a move
``delta`` had at least the depth at which ``Q`` alone moves the price ``delta``); otherwise
``D1 = $20M``, ``beta = 0.55`` (cascade-models.md §2.3: cross-venue ±1% BTC depth of about $20M
before October 2025, $14M after; fitted exponents 0.4 and 0.67). Thinning ``0.3``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from margincall.core.errors import InvalidInputError
from margincall.estimate.cascade import MAX_SHOCK, MIN_SHOCK, critical_shock, loop_gain
from margincall.estimate.grid import stress_grid
from margincall.estimate.impact import (
    VISIBLE_DEPTH_USD,
    DepthCurve,
    Impact,
    SqrtImpact,
    market_depth_curve,
)
from margincall.estimate.maps import MICROS, LiquidationMap

DEFAULT_SHOCKS = "-2%:-20%:1%"
MAX_SHOCKS = 100_000
_NUM = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?%?"


def _number(text: str, field: str) -> float:
    t = text.strip()
    if not re.fullmatch(_NUM, t):
        raise InvalidInputError(field, text, "a number or a percentage such as -5% or -0.05")
    return float(t[:-1]) / 100 if t.endswith("%") else float(t)


def parse_shocks(text: str) -> np.ndarray:
    """Shocks from ``"-2%:-20%:1%"`` (start:end:step, the end included), ``"-5%,-10%,3%"`` or a
    mix of both; plain numbers are fractions (``-0.05``). Refuses shocks outside (-99%, +1000%)."""
    out: list[float] = []
    if not text or not text.strip():
        raise InvalidInputError("--shocks", text, "shocks such as -2%:-20%:1% or -5%,-10%")
    for part in text.split(","):
        bits = part.split(":")
        if len(bits) == 1:
            out.append(_number(bits[0], "--shocks"))
        elif len(bits) == 3:
            a, b, step = (_number(x, "--shocks") for x in bits)
            step = abs(step)
            if step == 0:
                raise InvalidInputError("--shocks", part, "a range start:end:step with step != 0")
            n = int(np.floor(abs(b - a) / step + 1e-9)) + 1
            if n > MAX_SHOCKS:
                raise InvalidInputError("--shocks", part, f"at most {MAX_SHOCKS:,} shocks")
            out.extend(a + np.sign(b - a) * step * np.arange(n))
        else:
            raise InvalidInputError("--shocks", part, "a shock or a range start:end:step")
    shocks = np.round(np.array(out, np.float64), 12)
    bad = ~np.isfinite(shocks) | (shocks <= MIN_SHOCK) | (shocks >= MAX_SHOCK)
    if bad.any():
        raise InvalidInputError(
            "--shocks", f"{shocks[bad][0]:.4%}", "shocks strictly between -99% and +1000%"
        )
    return shocks


def parse_multipliers(text: str, field: str) -> np.ndarray:
    """A comma-separated list of positive multipliers, e.g. ``"0.5,1,2"``."""
    vals = []
    for part in str(text).split(","):
        try:
            v = float(part)
        except ValueError:
            raise InvalidInputError(field, part, "positive numbers separated by commas") from None
        if not (np.isfinite(v) and v > 0):
            raise InvalidInputError(field, part, "positive numbers separated by commas")
        vals.append(v)
    return np.array(vals, np.float64)


@dataclass
class Source:
    """A map and where it came from: ``scenario`` (a scenario's or run folder's, whose makers
    give the default depth) or ``panel`` (the market data behind an estimated map)."""

    lmap: LiquidationMap
    kind: str
    scenario: Any = None
    panel: Any = None  # the market-data panel behind an estimated map


def build_impact(
    kind: str,
    source: Source,
    *,
    depth_1pct_usd: float | None = None,
    beta: float | None = None,
    thinning: float = 0.3,
    refill: float = 0.0,
    y: float = 0.7,
    sigma_daily: float = 0.03,
    volume_daily_usd: float = 75e9,
) -> Impact:
    """The impact model named ``kind`` (``depth`` or ``sqrt``) with its defaults; ``refill``
    (book walks only) is the share of consumed depth restored before each round."""
    if kind == "sqrt" and refill:
        raise InvalidInputError(
            "--refill", refill, "0 with --impact sqrt (refill is for book walks)"
        )
    if kind == "depth":
        mk = getattr(source.scenario, "makers", None)
        b = float(beta if beta is not None else (mk.depth_exponent if mk else 0.55))
        if depth_1pct_usd is not None:
            return DepthCurve(
                float(depth_1pct_usd), b, float(thinning), "given (--depth-1pct)", refill
            )
        if mk is not None:
            origin = "the scenario's makers (makers.depth_1pct_usd, depth_exponent)"
            return DepthCurve(float(mk.depth_1pct_usd), b, float(thinning), origin, refill)
        if source.panel is not None:
            return market_depth_curve(source.panel, beta=b, thinning=float(thinning), refill=refill)
        return DepthCurve(VISIBLE_DEPTH_USD, b, float(thinning), refill=refill)
    if kind == "sqrt":
        return SqrtImpact(y=y, sigma_daily=sigma_daily, volume_daily_usd=volume_daily_usd)
    raise InvalidInputError("--impact", kind, "depth or sqrt")


def run_stress(
    source: Source,
    impact: Impact,
    shocks: np.ndarray,
    depth_scales: np.ndarray,
    leverages: np.ndarray,
) -> dict[str, Any]:
    """The grid, the map's totals, the loop gain at a few prices, the critical shocks and the
    assumptions; JSON-ready."""
    m = source.lmap
    g = stress_grid(m, impact, shocks, depth_scales, leverages)
    rows = g.rows()
    p0 = m.price
    gain_at = p0 * np.array([0.8, 0.85, 0.9, 0.95, 0.98, 1.02, 1.05, 1.1, 1.15, 1.2])
    gains = loop_gain(m, impact, gain_at)
    crit = {
        name: critical_shock(m, impact, direction=d, max_shock=0.5)
        for name, d in (("down", -1), ("up", 1))
    }
    assumptions = {
        "source": m.source,
        "source_kind": source.kind,
        "reference_price": p0,
        "map": dict(m.assumptions),
        "impact": impact.describe(),
        "depth_scales": [float(x) for x in depth_scales],
        "leverage_scales": [float(x) for x in leverages],
        "leverage_scale_meaning": "each level's distance from the reference divided by it",
        "model": "P_{n+1} = P0 (1 + s -/+ delta(Q(P_n))) from P0 (1 + s) to the first fixed "
        "point; one side per move; Q in delta is the liquidated quantity valued at the shocked "
        "price; book re-centred on the shocked price; refill between rounds as the impact "
        "says (none by default)",
        "critical_shock_definition": "smallest shock on a 0.1% grid to 50% at which the "
        "post-cascade move grows by more than 2% of P0 beyond the shock's own step",
    }
    return {
        "reference_price": p0,
        "long_total_usd": m.long_total_micros / MICROS,
        "short_total_usd": m.short_total_micros / MICROS,
        "rows": rows,
        "loop_gain": [
            {"price": float(p), "gain": float(x)} for p, x in zip(gain_at, gains, strict=True)
        ],
        "critical_shock": {k: (v.as_dict() if v else None) for k, v in crit.items()},
        "assumptions": assumptions,
    }
