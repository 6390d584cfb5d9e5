"""The report of a market run: one self-contained HTML page from the run's summary and candles.

The page holds the market's headline (CoinGlass style: liquidated, long and short, traders
liquidated, the largest single liquidation with its venue and pair), tables by venue and by
asset, the largest price gap between venues per asset, insurance fund use and ADL per venue and
instrument, and one figure of price and forced closes per (venue, instrument) with a selector
that shows one pair at a time. Every figure is read from ``summary.json``
(:mod:`margincall.sim.market_summary`) and ``candles.parquet``; every text from them is
HTML-escaped. Written atomically like :func:`margincall.report.figures.write_report_html`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from margincall.core.atomic import write_atomic
from margincall.report.figures import (
    BASE_STYLE,
    LONG_COLOR,
    SHORT_COLOR,
    TRUTH_NOTE,
    figure_divs,
    html_page,
    price_traces,
    x_axis,
)
from margincall.report.figures import candle_column as col
from margincall.report.figures import count_text as count
from margincall.report.figures import share_text as share
from margincall.report.figures import usd_text as usd

STYLE = (
    BASE_STYLE
    + ".headline{font-size:1.05em;line-height:1.5}.note{color:#555;font-size:.9em}"
    + "table{border-collapse:collapse;margin:.5em 0 1.5em}"
    + "th,td{padding:.25em .7em;border-bottom:1px solid #ddd;text-align:right}"
    + "th:first-child,td:first-child{text-align:left}"
)
TRACES_PER_PAIR = 5
"""Traces of one (venue, instrument) in the figure: high, low band, close, long and short."""


def market_headline(summary: Mapping[str, Any]) -> str:
    """The market's headline as plain text (escape it for HTML); missing values read ``n/a``."""
    m = _dict(summary.get("market"))
    big = _dict(m.get("largest_liquidation"))
    pair = f"{big.get('symbol')} on {big.get('venue')}" if big.get("venue") else "n/a"
    return " ".join(
        [
            f"{usd(m.get('liquidated_usd'))} liquidated across {len(_dict(summary.get('by_venue')))}"
            f" venues in {summary.get('hours', 'n/a')} h:",
            f"{usd(m.get('long_usd'))} long, {usd(m.get('short_usd'))} short "
            f"({share(m.get('long_share'))} long);",
            f"{count(m.get('traders_liquidated'))} traders liquidated;",
            f"largest single liquidation {usd(big.get('usd'))} ({pair}).",
        ]
    )


def market_tables(summary: Mapping[str, Any]) -> list[str]:
    """The page's tables (by venue, by asset, gaps between venues, fund and ADL) as HTML."""
    by_venue, by_asset = _dict(summary.get("by_venue")), _dict(summary.get("by_asset"))
    venues = [
        [name, v.get("rulebook"), usd(v.get("long_usd")), usd(v.get("short_usd")),
         usd(_add(v.get("long_usd"), v.get("short_usd"))), count(v.get("traders_liquidated")),
         usd(v.get("fund_used_usd")), count(v.get("adl_events"))]
        for name, v in _items(by_venue)
    ]  # fmt: skip
    assets = []
    gaps = []
    for sym, a in _items(by_asset):
        ix = _dict(a.get("index"))
        assets.append(
            [sym, usd(a.get("long_usd")), usd(a.get("short_usd")), usd(a.get("total_usd")),
             count(a.get("accounts")), _num(ix.get("start")), _num(ix.get("low")),
             _pct(ix.get("low_change_pct")), _pct(ix.get("end_change_pct"))]
        )  # fmt: skip
        g = _dict(a.get("gap_between_venues"))
        gaps.append(
            [sym, count(g.get("venues")), _pct(g.get("max_pct"), 3),
             count(g.get("max_minute")), _pct(g.get("end_pct"), 3)]
        )  # fmt: skip
    funds = []
    for name, v in _items(by_venue):
        for sym, p in _items(_dict(v.get("instruments"))):
            f, adl = _dict(p.get("insurance_fund_usd")), _dict(p.get("adl"))
            funds.append(
                [name, sym, usd(f.get("start")), usd(f.get("end")),
                 usd(_sub(f.get("start"), f.get("end"))), count(adl.get("events")),
                 usd(adl.get("notional_usd"))]
            )  # fmt: skip
    return [
        _table(
            "By venue",
            ["venue", "rulebook", "long", "short", "total", "traders", "fund used", "ADL"],
            venues,
        ),
        _table(
            "By asset",
            [
                "instrument",
                "long",
                "short",
                "total",
                "accounts",
                "index start",
                "index low",
                "low vs start",
                "end vs start",
            ],
            assets,
        ),
        _table(
            "Largest price gap between venues (book mids, each minute)",
            ["instrument", "venues", "largest gap", "at minute", "gap at the end (last 10 min)"],
            gaps,
        ),
        _table(
            "Insurance funds and ADL by venue and instrument",
            [
                "venue",
                "instrument",
                "fund start",
                "fund end",
                "fund used",
                "ADL events",
                "ADL notional",
            ],
            funds,
        ),
    ]


def pair_figure(bars: pl.DataFrame, pairs: Sequence[tuple[str, str]], title: str) -> go.Figure:
    """Price over forced closes, one (venue, instrument) at a time, chosen with a dropdown
    (the first pair shown at first)."""
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.05, row_heights=[0.7, 0.3],
        subplot_titles=("price (USD)", "forced closes (USD; longs down, shorts up)"),
    )  # fmt: skip
    for i, (venue, symbol) in enumerate(pairs):
        b = bars.filter((pl.col("venue") == venue) & (pl.col("symbol") == symbol)).sort("ts")
        x, freq_days = x_axis(b)
        for trace in price_traces(x, col(b, "high"), col(b, "low"), col(b, "close")):
            trace.visible = i == 0
            fig.add_trace(trace, row=1, col=1)
        width = freq_days * 86_400_000 * 0.9
        for column, name, color, sign in (
            ("liq_long_usd", "long liquidations", LONG_COLOR, -1.0),
            ("liq_short_usd", "short liquidations", SHORT_COLOR, 1.0),
        ):
            fig.add_trace(
                go.Bar(x=x, y=sign * col(b, column), width=width, offset=0, name=name,
                       marker_color=color, visible=i == 0),
                row=2, col=1,
            )  # fmt: skip
    n = len(pairs) * TRACES_PER_PAIR
    buttons = [
        {
            "label": f"{venue} · {symbol}",
            "method": "update",
            "args": [
                {
                    "visible": [
                        i * TRACES_PER_PAIR <= t < (i + 1) * TRACES_PER_PAIR for t in range(n)
                    ]
                },
                {"title": f"{title}: {symbol} on {venue}"},
            ],
        }
        for i, (venue, symbol) in enumerate(pairs)
    ]
    first = f"{title}: {pairs[0][1]} on {pairs[0][0]}" if pairs else title
    fig.update_layout(
        title=first, height=700, barmode="relative", hovermode="x unified",
        template="plotly_white", legend={"orientation": "h", "y": 1.06},
        updatemenus=[{"buttons": buttons, "direction": "down", "x": 1.0, "xanchor": "right",
                      "y": 1.15, "yanchor": "top", "showactive": True}],
    )  # fmt: skip
    fig.update_xaxes(title_text="time (UTC)", row=2, col=1)
    return fig


def market_pairs(bars: pl.DataFrame, summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (venue, instrument) pairs of the run in the summary's order (venues, then each
    venue's instruments), those without candles left out."""
    have = set(bars.select("venue", "symbol").unique().iter_rows())
    return [
        (venue, sym)
        for venue, v in _items(_dict(summary.get("by_venue")))
        for sym, _ in _items(_dict(v.get("instruments")))
        if (venue, sym) in have
    ]


def write_market_report_html(
    path: str | Path, bars: pl.DataFrame, summary: Mapping[str, Any], title: str
) -> Path:
    """Write the market report (module docstring) to ``path`` and return it."""
    figure = pair_figure(bars, market_pairs(bars, summary), title)
    page = html_page(
        title,
        [
            f'<p class="headline">{html.escape(market_headline(summary))}</p>',
            f'<p class="note">{html.escape(TRUTH_NOTE)}</p>',
            *market_tables(summary),
            *figure_divs([figure]),
        ],
        style=STYLE,
    )
    return write_atomic(path, page)


def _table(caption: str, head: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    def cells(tag: str, values: Sequence[Any]) -> str:
        return "".join(f"<{tag}>{html.escape(str(v))}</{tag}>" for v in values)

    body = "".join(f"<tr>{cells('td', r)}</tr>" for r in rows)
    return (
        f"<h2>{html.escape(caption)}</h2><table><thead><tr>{cells('th', head)}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(d: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(str(k), _dict(v)) for k, v in d.items()]


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def _sub(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def _pct(value: float | None, digits: int = 2) -> str:
    """A value already in percent (``-12.3`` -> ``-12.30%``)."""
    return "n/a" if value is None else f"{value:+.{digits}f}%"
