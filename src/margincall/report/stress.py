"""The stress page: shock against post-cascade move, and the liquidation map with its support
levels. One self-contained HTML file (plotly.js embedded, opens offline), written atomically.

Support levels are the prices where cascades stop: the distinct post-cascade prices that two or
more of the stressed shocks end at (a fixed point that catches several shocks), with the map's
largest long and short clusters.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from margincall.core.atomic import atomic_folder, write_atomic
from margincall.report.figures import figure_divs, html_page

MICROS = 1_000_000


def support_levels(rows: list[dict[str, Any]], tick: float) -> list[float]:
    """Post-cascade prices reached by at least two shocks (rounded to ``tick``)."""
    prices = np.round(np.array([r["price"] for r in rows], np.float64) / tick) * tick
    values, counts = np.unique(prices, return_counts=True)
    return [float(v) for v, c in zip(values, counts, strict=True) if c >= 2]


def stress_figures(lmap, rows: list[dict[str, Any]], supports: list[float], title: str):
    import plotly.graph_objects as go

    moves = go.Figure()
    by_depth: dict[tuple[float, float], list[dict[str, Any]]] = {}
    for r in rows:
        by_depth.setdefault((r["depth_scale"], r["leverage_scale"]), []).append(r)
    for (d, lev), rs in by_depth.items():
        rs = sorted(rs, key=lambda r: r["shock"])
        moves.add_trace(
            go.Scatter(
                x=[100 * r["shock"] for r in rs],
                y=[100 * r["final_move"] for r in rs],
                mode="lines+markers",
                name=f"depth x{d:g}, leverage x{lev:g}",
            )
        )
    s = [100 * r["shock"] for r in rows]
    moves.add_trace(
        go.Scatter(
            x=[min(s), max(s)],
            y=[min(s), max(s)],
            mode="lines",
            line={"dash": "dot", "color": "grey"},
            name="no cascade (move = shock)",
        )
    )
    moves.update_layout(
        title=f"{title}: shock against post-cascade move",
        xaxis_title="shock (%)",
        yaxis_title="post-cascade move (%)",
        template="plotly_white",
    )
    p0 = lmap.price
    lo = min([p0 * 0.6] + [r["price"] for r in rows])
    hi = max([p0 * 1.4] + [r["price"] for r in rows])
    edges = np.linspace(max(lo, 0.0), hi, 161)
    long_usd, short_usd = lmap.histogram(edges)
    mid = (edges[:-1] + edges[1:]) / 2
    width = float(edges[1] - edges[0])
    fmap = go.Figure()
    fmap.add_trace(
        go.Bar(x=mid, y=long_usd / 1e6, width=width, name="long", marker_color="#c0392b")
    )
    fmap.add_trace(
        go.Bar(x=mid, y=short_usd / 1e6, width=width, name="short", marker_color="#2471a3")
    )
    fmap.add_vline(x=p0, line_dash="dash", annotation_text="reference")
    for sp in supports:
        fmap.add_vline(x=sp, line_color="#27ae60", line_width=1)
    fmap.update_layout(
        title=f"{title}: liquidation map (USD millions per bin; green: support levels)",
        xaxis_title="liquidation price (USD)",
        yaxis_title="notional (USD m)",
        barmode="overlay",
        template="plotly_white",
    )
    return moves, fmap


def write_stress_html(
    path: str | Path,
    lmap,
    rows: list[dict[str, Any]],
    assumptions: dict[str, Any],
    supports: list[float],
    title: str,
) -> None:
    """Write the page to ``path`` (atomically: a temporary file, then one rename)."""
    path = Path(path)
    moves, fmap = stress_figures(lmap, rows, supports, title)
    body = [
        *figure_divs([moves, fmap]),
        "<h2>Assumptions</h2>",
        f"<pre>{html.escape(json.dumps(assumptions, indent=2, default=str))}</pre>",
    ]
    write_atomic(path, html_page(title, body, style=None))


def write_stress(out: Path, lmap, result: dict[str, Any]) -> None:
    """``stress.json`` and ``stress.html`` into the folder ``out``, whole or not at all (an
    existing ``out`` is replaced once the new one is complete; the caller checks ``--force``).
    Adds ``support_levels`` to ``result``."""
    with atomic_folder(out, replace=True) as tmp:
        supports = support_levels(result["rows"], max(lmap.price * 1e-4, 0.01))
        result["support_levels"] = supports
        (tmp / "stress.json").write_text(json.dumps(result, indent=2) + "\n")
        write_stress_html(
            tmp / "stress.html",
            lmap,
            result["rows"],
            result["assumptions"],
            supports,
            f"margincall stress: {lmap.source}",
        )
