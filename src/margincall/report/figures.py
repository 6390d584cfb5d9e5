"""The run report as files: a self-contained HTML page (plotly) and a PNG of the price.

The HTML page embeds plotly.js itself (``include_plotlyjs=True``), so it opens offline and never
fetches from a CDN. The PNG uses matplotlib's Agg canvas directly, without pyplot, so it needs no
display and leaves the global backend alone. Both files are written atomically: the bytes go to a
temporary file in the target folder, which then replaces the target in one rename, so a reader
never sees half a file.
"""

from __future__ import annotations

import html
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from plotly.subplots import make_subplots

from margincall.core.atomic import write_atomic
from margincall.core.errors import InvalidInputError

LONG_COLOR = "#d62728"
SHORT_COLOR = "#2ca02c"
PRICE_COLOR = "#1f77b4"

TRUTH_NOTE = (
    "The liquidation figures are the simulation's truth: every forced close is counted, whether "
    "it went through the book, to the insurance fund or backstop, or to ADL. Public liquidation "
    "feeds (exchange streams and the aggregators built on them) undercount on stress days, so "
    "market data for a real day will read lower than a run like this one."
)


BASE_STYLE = "body{font-family:system-ui,sans-serif;margin:1.5em;max-width:1400px}"


def figure_divs(figures: Iterable[Any]) -> list[str]:
    """The figures as HTML fragments; the first carries plotly.js, the others reuse it. Their
    element ids are numbered (plotly's default is a random id), so the same figures give the
    same bytes."""
    return [
        fig.to_html(full_html=False, include_plotlyjs=i == 0, div_id=f"figure-{i}")
        for i, fig in enumerate(figures)
    ]


def html_page(title: str, body: Iterable[str], *, style: str | None = BASE_STYLE) -> str:
    """A whole HTML document: ``title`` as its title and first heading, then ``body``
    (``style``: the page's CSS; ``None``, none)."""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            *([f"<style>{style}</style>"] if style is not None else []),
            "</head><body>",
            f"<h1>{html.escape(title)}</h1>",
            *body,
            "</body></html>",
        ]
    )


def write_report_html(
    path: str | Path,
    candles_df: pl.DataFrame,
    summary: Mapping[str, Any],
    liq_map: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    title: str,
) -> Path:
    """Write the run report as one self-contained HTML file and return its path.

    The page has a headline of key figures from ``summary`` (see
    :func:`margincall.report.stats.summarize`), a note on what the liquidation figures count,
    and time panels with a shared x axis: price (close, high-low band), forced closes by side
    (longs red, downward; shorts green, upward), open interest, depth within 1% of the mid,
    funding rate and insurance fund. ``liq_map``, when given as ``(price_grid_usd,
    long_notional_usd, short_notional_usd)``, adds a horizontal bar chart of the notional that
    would be liquidated at each price, as it stood at the start.
    """
    figures = [_time_panels(candles_df, title)]
    if liq_map is not None:
        figures.append(_liquidation_map(*liq_map))
    page = html_page(
        title,
        [
            f'<p class="headline">{headline(summary)}</p>',
            f'<p class="note">{html.escape(TRUTH_NOTE)}</p>',
            *figure_divs(figures),
        ],
        style=BASE_STYLE
        + ".headline{font-size:1.05em;line-height:1.5}.note{color:#555;font-size:.9em}",
    )
    return write_atomic(path, page)


def write_price_png(path: str | Path, candles_df: pl.DataFrame, title: str) -> Path:
    """Write a 1200x600 PNG of the price (close, high-low band) over forced closes by side."""
    x, freq_days = x_axis(candles_df)
    fig = Figure(figsize=(12, 6), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    price_ax, liq_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    price_ax.fill_between(
        x,
        candle_column(candles_df, "low"),
        candle_column(candles_df, "high"),
        color=PRICE_COLOR,
        alpha=0.2,
        lw=0,
    )
    price_ax.plot(x, candle_column(candles_df, "close"), color=PRICE_COLOR, lw=1.2, label="close")
    price_ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    price_ax.set_ylabel("price (USD)")
    price_ax.set_title(title)
    price_ax.grid(alpha=0.3)
    width = freq_days * 0.9
    long_m = -candle_column(candles_df, "liq_long_usd") / 1e6
    short_m = candle_column(candles_df, "liq_short_usd") / 1e6
    liq_ax.bar(x, long_m, width, align="edge", color=LONG_COLOR, label="long")
    liq_ax.bar(x, short_m, width, align="edge", color=SHORT_COLOR, label="short")
    liq_ax.axhline(0, color="black", lw=0.5)
    liq_ax.set_ylabel("forced closes ($M)")
    liq_ax.set_xlabel("time (UTC)")
    liq_ax.legend(loc="lower left", fontsize="small")
    liq_ax.grid(alpha=0.3)
    locator = AutoDateLocator()
    liq_ax.xaxis.set_major_locator(locator)
    liq_ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return write_atomic(path, buffer.getvalue())


def headline(summary: Mapping[str, Any]) -> str:
    """One HTML-escaped paragraph of the key figures; missing values read ``n/a``."""
    price = summary.get("price", {})
    liq = summary.get("liquidations", {})
    oi = summary.get("open_interest_usd", {})
    fund = summary.get("insurance_fund_usd", {})
    adl = summary.get("adl", {})
    long_usd, total_usd = liq.get("long_usd"), liq.get("total_usd")
    share = long_usd / total_usd if long_usd is not None and total_usd else None
    sentences = [
        f"Price {_num(price.get('start'))} → low {_num(price.get('min'))} "
        f"({_pct(price.get('start'), price.get('min'))}) at {price.get('min_ts') or 'n/a'}, "
        f"end {_num(price.get('end'))}.",
        f"Forced closes {usd_text(total_usd)}: {usd_text(long_usd)} long, "
        f"{usd_text(liq.get('short_usd'))} short ({share_text(share)} long), "
        f"{count_text(liq.get('accounts'))} accounts liquidated.",
        f"Largest single liquidation {usd_text(liq.get('largest_usd'))}; "
        f"peak hour {usd_text(liq.get('peak_hour_usd'))}.",
        f"Open interest {usd_text(oi.get('start'))} → {usd_text(oi.get('end'))} "
        f"({_pct(oi.get('start'), oi.get('end'))}).",
        f"Insurance fund {usd_text(fund.get('start'))} → {usd_text(fund.get('end'))} "
        f"(low {usd_text(fund.get('min'))}).",
        f"ADL: {count_text(adl.get('events'))} executions, {usd_text(adl.get('notional_usd'))}.",
    ]
    return html.escape(" ".join(sentences))


def price_traces(x: Any, high: np.ndarray, low: np.ndarray, close: np.ndarray) -> list[go.Scatter]:
    """The price panel's traces: the high-low band (shaded, not hoverable) and the close."""
    band = {"mode": "lines", "line": {"width": 0}, "showlegend": False, "hoverinfo": "skip"}
    return [
        go.Scatter(x=x, y=high, **band),
        go.Scatter(
            x=x,
            y=low,
            fill="tonexty",
            fillcolor="rgba(31,119,180,0.2)",
            name="high-low",
            **{**band, "showlegend": True},
        ),
        _line(x, close, "close", PRICE_COLOR),
    ]


def _time_panels(candles_df: pl.DataFrame, title: str) -> go.Figure:
    """Price, forced closes, open interest, depth, funding and fund on one shared time axis."""
    x, freq_days = x_axis(candles_df)
    fig = make_subplots(
        rows=6,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.03,
        row_heights=[0.3, 0.14, 0.14, 0.14, 0.14, 0.14],
        subplot_titles=(
            "price (USD)",
            "forced closes (USD; longs down, shorts up)",
            "open interest (USD)",
            "depth within ±1% of mid (USD)",
            "funding rate (% per interval)",
            "insurance fund (USD)",
        ),
    )
    for trace in price_traces(
        x,
        candle_column(candles_df, "high"),
        candle_column(candles_df, "low"),
        candle_column(candles_df, "close"),
    ):
        fig.add_trace(trace, row=1, col=1)
    width_ms = freq_days * 86_400_000 * 0.9
    liq_long = candle_column(candles_df, "liq_long_usd")
    fig.add_trace(
        go.Bar(
            x=x,
            y=-liq_long,
            customdata=liq_long,
            hovertemplate="%{customdata:,.0f}",
            width=width_ms,
            offset=0,
            name="long liquidations",
            marker_color=LONG_COLOR,
        ),
        row=2,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            x=x,
            y=candle_column(candles_df, "liq_short_usd"),
            width=width_ms,
            offset=0,
            name="short liquidations",
            marker_color=SHORT_COLOR,
        ),
        row=2,
        col=1,
    )
    panels = (
        ("open_interest_usd", "open interest", "#9467bd", 1.0),
        ("depth_1pct_usd", "depth ±1%", "#8c564b", 1.0),
        ("funding_rate", "funding rate (%)", "#ff7f0e", 100.0),
        ("insurance_fund_usd", "insurance fund", "#17becf", 1.0),
    )
    for row, (column, name, color, scale) in enumerate(panels, start=3):
        fig.add_trace(
            _line(x, candle_column(candles_df, column) * scale, name, color), row=row, col=1
        )
    fig.update_layout(
        title=title,
        height=1400,
        barmode="relative",
        hovermode="x unified",
        template="plotly_white",
        legend={"orientation": "h", "y": 1.04},
    )
    fig.update_xaxes(title_text="time (UTC)", row=6, col=1)
    return fig


def _liquidation_map(
    price_grid_usd: np.ndarray, long_notional_usd: np.ndarray, short_notional_usd: np.ndarray
) -> go.Figure:
    """Horizontal bars: notional of longs and of shorts whose liquidation price is each level."""
    grid = np.asarray(price_grid_usd, dtype=np.float64)
    longs = np.asarray(long_notional_usd, dtype=np.float64)
    shorts = np.asarray(short_notional_usd, dtype=np.float64)
    if not (grid.shape == longs.shape == shorts.shape) or grid.ndim != 1:
        shapes = (grid.shape, longs.shape, shorts.shape)
        raise InvalidInputError("liq_map", shapes, "three 1-D arrays of the same length")
    fig = go.Figure(
        [
            go.Bar(y=grid, x=longs, orientation="h", name="longs", marker_color=LONG_COLOR),
            go.Bar(y=grid, x=shorts, orientation="h", name="shorts", marker_color=SHORT_COLOR),
        ]
    )
    fig.update_layout(
        title="Liquidation map at the start",
        xaxis_title="notional liquidated at this price (USD)",
        yaxis_title="liquidation price (USD)",
        barmode="stack",
        bargap=0.05,
        height=600,
        template="plotly_white",
    )
    return fig


def x_axis(candles_df: pl.DataFrame) -> tuple[np.ndarray, float]:
    """Bar starts as naive UTC ``datetime64[ms]`` and the bar width in days (1 minute if unknown)."""
    ts = candles_df["ts"]
    if isinstance(ts.dtype, pl.Datetime) and ts.dtype.time_zone is not None:
        ts = ts.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    x = ts.to_numpy().astype("datetime64[ms]")
    width_ms = float(np.min(np.diff(x)).astype(np.int64)) if x.size > 1 else 60_000.0
    return x, width_ms / 86_400_000


def candle_column(candles_df: pl.DataFrame, name: str) -> np.ndarray:
    """A candle column as float64 numpy (nulls as NaN)."""
    return candles_df[name].cast(pl.Float64).fill_null(float("nan")).to_numpy()


def _line(x: np.ndarray, y: np.ndarray, name: str, color: str) -> go.Scatter:
    return go.Scatter(x=x, y=y, mode="lines", name=name, line={"color": color, "width": 1.5})


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def count_text(value: int | None) -> str:
    return "n/a" if value is None else f"{value:,}"


def usd_text(value: float | None) -> str:
    """Dollars, scaled to K/M/B for reading."""
    if value is None:
        return "n/a"
    for scale, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= scale:
            return f"${value / scale:,.2f}{unit}"
    return f"${value:,.2f}"


def _pct(start: float | None, end: float | None) -> str:
    if start is None or end is None or start == 0:
        return "n/a"
    return f"{end / start - 1:+.2%}"


def share_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"
