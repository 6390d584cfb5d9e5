"""``margincall runs plot DIR x y``: one column of the store against another, as a
self-contained HTML page (plotly.js embedded, so it opens offline).

Every ok row is a point; when ``x`` takes at most 50 distinct values the mean of ``y`` at each
``x`` is drawn as a line over the points. ``color`` groups the points by another column.
"""

from __future__ import annotations

import html
from pathlib import Path

from margincall.core.errors import InvalidInputError
from margincall.store.db import columns, query

MAX_LINE_LEVELS = 50


def _check(name: str, field: str, valid: list[str]) -> None:
    if name not in valid:
        raise InvalidInputError(field, name, "a column of runs: " + ", ".join(valid))


def plot_runs(out: Path, x: str, y: str, *, color: str | None = None, html_path=None) -> Path:
    """Write the chart of ``y`` against ``x``; returns its path (default
    ``DIR/plot_<x>_<y>.html``)."""
    import plotly.graph_objects as go

    from margincall.core.atomic import write_atomic
    from margincall.report.figures import figure_divs, html_page

    valid = columns(out)
    _check(x, "x", valid)
    _check(y, "y", valid)
    if color is not None:
        _check(color, "--color", valid)
    group = f'"{color}"' if color else "NULL"
    _, rows = query(
        out,
        f'SELECT "{x}", "{y}", {group}, run_id FROM runs WHERE status = \'ok\' '
        f'AND "{x}" IS NOT NULL AND "{y}" IS NOT NULL ORDER BY run_index',
    )
    if not rows:
        raise InvalidInputError(f"{x}, {y}", "no values", "columns with values in ok runs")
    fig = go.Figure()
    groups: dict[object, list[tuple]] = {}
    for r in rows:
        groups.setdefault(r[2], []).append(r)
    for key, pts in groups.items():
        fig.add_trace(
            go.Scatter(
                x=[p[0] for p in pts],
                y=[p[1] for p in pts],
                text=[p[3] for p in pts],
                mode="markers",
                name=f"{color} = {key}" if color else "runs",
                marker={"size": 7, "opacity": 0.6},
            )
        )
    if len({r[0] for r in rows}) <= MAX_LINE_LEVELS:
        _, means = query(
            out,
            f'SELECT "{x}", avg("{y}") FROM runs WHERE status = \'ok\' AND "{x}" IS NOT NULL '
            f'AND "{y}" IS NOT NULL GROUP BY 1 ORDER BY 1',
        )
        fig.add_trace(
            go.Scatter(x=[m[0] for m in means], y=[m[1] for m in means], mode="lines", name="mean")
        )
    fig.update_layout(xaxis_title=x, yaxis_title=y, template="plotly_white", height=600)
    title = f"{y} against {x}: {len(rows)} runs of {Path(out).resolve().name}"
    path = Path(html_path) if html_path else Path(out) / f"plot_{x}_{y}.html"
    note = f"<p>{html.escape(str(Path(out).resolve()))}</p>"
    write_atomic(path, html_page(title, [note, *figure_divs([fig])]))
    return path
