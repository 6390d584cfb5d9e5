"""The market stress report of ``margincall monitor``, written as one folder, whole or not at all.

Files (see :mod:`margincall.monitor.summary` for what every figure means and which rows it
comes from):

- ``metrics.parquet`` (when bars are given): one row per bar (``row``, the bar columns, the indicators of
  :mod:`~margincall.monitor.indicators` and the sentiment index with its components);
- ``summary.json``: the headline figures, each with the ``metrics.parquet`` rows it came from,
  the data-check warnings, what to watch and the sentences;
- ``report.md`` and ``report.html``: the same sections (:data:`SECTIONS`, with the daily
  sections of :mod:`~margincall.monitor.market_report` after the summary when given) for people; the HTML
  page embeds plotly.js (no CDN, opens offline) with price and liquidations by side, open
  interest, funding, RSI, MACD and the estimated liquidation heatmap.

The folder is built in a temporary sibling and renamed into place once complete, so an error
leaves ``--out`` as it was (absent or empty).
"""

from __future__ import annotations

import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from margincall.core.atomic import atomic_folder, write_atomic
from margincall.core.errors import InvalidInputError
from margincall.monitor.market_figures import daily_figures
from margincall.monitor.market_report import (
    DAILY_KIND,
    daily_blocks,
    daily_convention_lines,
    daily_title,
)
from margincall.monitor.prose import hm, usd
from margincall.monitor.summary import MonitorResult
from margincall.report.figures import (
    BASE_STYLE,
    LONG_COLOR,
    SHORT_COLOR,
    figure_divs,
    html_page,
    price_traces,
)

SECTIONS = (
    "Summary",
    "Headline figures",
    "Liquidations (24 h)",
    "Sentiment",
    "What to watch",
    "Data checks",
    "Sources and conventions",
)
"""The report's section headings, in order (the same for every source)."""

HEATMAP_ROWS = 720
"""The heatmap covers the last this many bars."""
HEATMAP_BINS = 120
"""Price bins of the heatmap."""


def check_out(out: Path) -> None:
    """``out`` must be new or an empty folder, in a folder that exists."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInputError("--out", str(out), "a new or empty folder")
    if not out.resolve().parent.is_dir():
        raise InvalidInputError("--out", str(out), "a path whose parent folder exists")


def report_files(result: MonitorResult) -> dict[str, bytes]:
    """The files of the report, by name, in the order they are written."""
    files: dict[str, bytes] = {}
    if result.metrics is not None:
        buf = io.BytesIO()
        result.metrics.write_parquet(buf)
        files["metrics.parquet"] = buf.getvalue()
    files["summary.json"] = (json.dumps(result.summary, indent=2) + "\n").encode()
    files["report.md"] = markdown(result.summary).encode()
    files["report.html"] = page(result).encode()
    return files


def write_monitor(out: str | Path, result: MonitorResult) -> Path:
    """Write the four files into ``out`` atomically (see the module docstring)."""
    out = Path(out)
    check_out(out)
    files = report_files(result)
    with atomic_folder(out, replace=False) as tmp:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
    return out


def rewrite_monitor(out: str | Path, result: MonitorResult) -> Path:
    """Replace the report's files in the existing folder ``out`` one by one, each atomically
    (watch mode: a reader sees the previous file or the new one, whole)."""
    out = Path(out)
    for name, data in report_files(result).items():
        write_atomic(out / name, data)
    return out


def _pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x:+.{digits}%}"


def _num(x: float | None, fmt: str = ",.2f") -> str:
    return "n/a" if x is None else format(x, fmt)


def _rows(span: dict[str, Any] | None) -> str:
    if not span:
        return "n/a"
    if "row" in span:
        return f"row {span['row']}"
    if not span.get("row_count"):
        return "no rows"
    if span["row_count"] == 1:
        return f"row {span['row_from']}"
    return f"rows {span['row_from']}-{span['row_to']} ({span['row_count']})"


def headline_rows(s: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(figure, value, metrics.parquet rows)`` for the headline table."""
    p, d = s["price"], s["drawdown"]
    rows = [
        ("Last close", f"{p['last_close']:,.2f} USD", _rows(p["last_close_from"])),
        (
            "24 h change",
            _pct(p["change_24h_pct"], 2),
            f"{_rows(p['change_24h_from'])} to {_rows(p['last_close_from'])}",
        ),
        (
            "Window low",
            f"{p['window_low']:,.2f} USD at {hm(p['window_low_at']['ts'])}",
            _rows(p["window_low_at"]),
        ),
        (
            "Window high",
            f"{p['window_high']:,.2f} USD at {hm(p['window_high_at']['ts'])}",
            _rows(p["window_high_at"]),
        ),
        (
            "Drawdown from the window's high",
            f"{_pct(d['pct'], 2)} (peak {d['peak_price']:,.2f} USD at {hm(d['peak_at']['ts'])})",
            _rows(d["from"]),
        ),
    ]
    oi = s["open_interest"]
    if oi:
        rows.append(
            (
                "Open interest change (24 h)",
                f"{usd(oi['change_24h_usd'])} ({_pct(oi['change_24h_pct'], 2)}), "
                f"{usd(oi['start_usd'])} to {usd(oi['end_usd'])}",
                f"{_rows(oi['start_from'])} to {_rows(oi['end_from'])}",
            )
        )
    else:
        rows.append(("Open interest change (24 h)", "n/a (no open interest)", "-"))
    f = s["funding"]
    if f:
        mean = f["mean_24h_per_8h"]
        rows.append(
            (
                "Funding (per 8 h)",
                f"last {f['last_per_8h']:+.4%}, 24 h mean "
                + ("n/a" if mean is None else f"{mean:+.4%}"),
                f"{_rows(f['last_from'])}; mean {_rows(f['mean_from'])}",
            )
        )
    else:
        rows.append(("Funding (per 8 h)", "n/a (no funding)", "-"))
    lsr = s["long_short_ratio"]
    rows.append(
        (
            "Long/short account ratio",
            f"{lsr['last']:.3f}" if lsr else "n/a (not in the data)",
            _rows(lsr["from"]) if lsr else "-",
        )
    )
    ind = s["indicators"]
    last = _rows(ind["from"])
    rows += [
        ("RSI(14)", _num(ind["rsi_14"], ".1f"), last),
        (
            "MACD(12,26,9)",
            f"{_num(ind['macd'])} / signal {_num(ind['macd_signal'])} / hist "
            f"{_num(ind['macd_hist'], '+,.2f')}",
            last,
        ),
        (
            "CMF(20)",
            "n/a (no volume)" if ind["cmf_20"] is None else f"{ind['cmf_20']:+.3f}",
            last,
        ),
        (
            "Realised volatility (24 bars, annualised)",
            "n/a" if ind["rv_24_annual"] is None else f"{ind['rv_24_annual']:.0%}",
            last,
        ),
    ]
    return rows


def liquidation_rows(s: dict[str, Any]) -> list[tuple[str, str, str]]:
    liq = s["liquidations_24h"]
    if not liq:
        return [("Liquidations", "n/a (no liquidation data)", "-")]
    big = liq["largest_hour"]
    span = _rows(liq["from"])
    return [
        ("Long liquidated", f"{liq['long_usd']:,.2f} USD ({usd(liq['long_usd'])})", span),
        ("Short liquidated", f"{liq['short_usd']:,.2f} USD ({usd(liq['short_usd'])})", span),
        ("Total", f"{liq['total_usd']:,.2f} USD ({usd(liq['total_usd'])})", span),
        (
            "Long share / imbalance (L-S)/(L+S)",
            f"{_num(liq['long_share'], '.1%')} / {_num(liq['imbalance'], '+.3f')}",
            span,
        ),
        (
            f"Largest {big['unit']}",
            f"{hm(big['ts'])}: {usd(big['total_usd'])} ({usd(big['long_usd'])} long, "
            f"{usd(big['short_usd'])} short)",
            _rows(big["from"]),
        ),
    ]


def sentiment_rows(s: dict[str, Any]) -> list[tuple[str, str, str]]:
    sent = s["sentiment"]
    rows = [
        (
            "Sentiment index (0-100)",
            "n/a" if sent["value"] is None else f"{sent['value']:.1f} ({sent['label']})",
            _rows(sent["from"]),
        )
    ]
    for k, v in sent["components"].items():
        rows.append(
            (
                f"  {k} (weight {sent['weights'][k]:g})",
                "n/a" if v is None else f"{v:.1f}",
                _rows(sent["from"]),
            )
        )
    return rows


def watch_lines(s: dict[str, Any]) -> list[str]:
    """The What to watch lines: the map, clusters, support and its cascade, then the levels
    of :mod:`~margincall.monitor.levels`."""
    w = s["watch"]
    return _map_lines(s) + (level_lines(w.get("levels") or []) if w else [])


def level_lines(levels: list[dict[str, Any]]) -> list[str]:
    out = []
    for lv in levels:
        where = f" ({hm(lv['ts'])}, row {lv['row']})" if "row" in lv else ""
        c = lv["cascade"]
        way = "below" if c["side"] == "long" else "above"
        end = (
            f"runaway: every {c['side']} on the map is liquidated (beyond its farthest level, "
            f"{_num(c['last_level'], ',.0f')} USD)"
            if c["runaway"]
            else f"final price {c['final_price']:,.2f} USD ({_pct(c['final_move'])})"
        )
        out.append(
            f"Level: {lv['kind']} {lv['price']:,.2f} USD{where}, {_pct(lv['distance_pct'])} "
            f"from the price. If the price trades {way} it (to {c['shock_price']:,.2f} USD): "
            f"{end}; {c['side']} liquidations {usd(c['liquidated_usd'])}, "
            f"{c['rounds']} round(s)."
        )
    return out


def _map_lines(s: dict[str, Any]) -> list[str]:
    w = s["watch"]
    if not w:
        return ["No liquidation map: the data has no open interest."]
    out = [
        f"Estimated liquidation map at {w['price']:,.2f} USD (last close), from "
        f"{_rows(w['map']['from'])}: {usd(w['map']['long_total_usd'])} long, "
        f"{usd(w['map']['short_total_usd'])} short. Clusters: bins {w['bin_pct']:.1%} of the "
        f"price wide within ±{w['range_pct']:.0%}; the three largest per side."
    ]
    for name, key in (("Below (longs)", "clusters_below"), ("Above (shorts)", "clusters_above")):
        items = w[key]
        if not items:
            out.append(f"{name}: none within ±{w['range_pct']:.0%}.")
        for c in items:
            out.append(
                f"{name}: {usd(c['notional_usd'])} at {c['price_low']:,.0f}-"
                f"{c['price_high']:,.0f} USD ({c['distance_pct']:+.1%})."
            )
    sup, cas = w["support"], w["cascade"]
    if sup is None:
        out.append("Support: none found (no 24 h low below the price and no long cluster).")
        return out
    where = f" ({hm(sup['ts'])}, row {sup['row']})" if "row" in sup else ""
    out.append(f"Support: {sup['price']:,.2f} USD, the {sup['kind']}{where}.")
    if cas:
        stop = (
            f"runaway: every long on the map is liquidated (the price ends below the lowest "
            f"long level, {_num(cas['lowest_long_level'], ',.0f')} USD)"
            if cas["runaway"]
            else f"final price {cas['final_price']:,.2f} USD ({_pct(cas['final_move'])})"
        )
        out.append(
            f"If support breaks (a move of {_pct(cas['shock'])} to "
            f"{cas['shock_price']:,.2f} USD): {stop}; long liquidations "
            f"{usd(cas['long_liquidated_usd'])} ({usd(cas['shock_alone_long_liquidated_usd'])} "
            f"from the move itself), {cas['rounds']} round(s)."
        )
        for d in cas["depth_sensitivity"]:
            end = (
                "runaway"
                if d["runaway"]
                else f"final price {d['final_price']:,.2f} USD ({_pct(d['final_move'])})"
            )
            out.append(
                f"With {d['depth_scale']:g}x the depth: {end}, "
                f"{usd(d['long_liquidated_usd'])} liquidated."
            )
        out.append(
            "Assumptions: "
            + "; ".join(cas["assumptions"])
            + f"; impact: {cas['impact']['depth_curve']}."
        )
    return out


def convention_lines(s: dict[str, Any]) -> list[str]:
    out = [
        f"As of {hm(s['at'])}: {s['as_of']}. Window: {s['window']} ({s['rows']} bars). "
        f"24 h: {s['h24']}. Merge: {s['merge']}.",
        "Units: " + "; ".join(f"{k} {v}" for k, v in s["units"].items()) + ".",
    ]
    for src in s["sources"]:
        out.append(
            f"Source {src['source']}: {src['rows']} rows, {hm(src['ts_from'])} to "
            f"{hm(src['ts_to'])}, bars {src['bar']}, columns {', '.join(src['columns'])}."
        )
    return out


def _md_table(
    rows: list[tuple[str, ...]],
    header: tuple[str, ...] = ("figure", "value", "metrics.parquet rows"),
) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(c.strip() for c in r) + " |" for r in rows]
    return out


def _daily_md(d: dict[str, Any]) -> list[str]:
    body: list[str] = []
    for name, rows, header, lines in daily_blocks(d):
        body += ["", f"## {name}", "", *_md_table(rows, header)]
        if lines:
            body += [""] + [f"- {x}" for x in lines]
    return body


def _warnings_md(s: dict[str, Any]) -> list[str]:
    if not s["warnings"]:
        return ["- none"]
    return [f"- {w['kind']} ({w['column']}): {w['message']}" for w in s["warnings"]]


def markdown(s: dict[str, Any]) -> str:
    """The report as Markdown: the daily sections given (:data:`DAILY_SECTIONS`) after the
    summary, then :data:`SECTIONS` (only their first, and the last two, without bars)."""
    if s.get("kind") == DAILY_KIND:
        body = [f"# {daily_title(s)}", "", f"## {SECTIONS[0]}", ""]
        body += [f"- {x}" for x in s["sentences"]]
        body += _daily_md(s)
        body += ["", f"## {SECTIONS[5]}", "", *_warnings_md(s)]
        body += ["", f"## {SECTIONS[6]}", ""] + [f"- {x}" for x in daily_convention_lines(s)]
        return "\n".join(body) + "\n"
    title = f"# {s['symbol']} market stress report, {hm(s['at'])}"
    body = [title, "", f"## {SECTIONS[0]}", ""]
    body += [f"- {x}" for x in s["sentences"]]
    if s.get("daily"):
        body += _daily_md(s["daily"])
    body += ["", f"## {SECTIONS[1]}", "", *_md_table(headline_rows(s))]
    body += ["", f"## {SECTIONS[2]}", "", *_md_table(liquidation_rows(s))]
    body += ["", f"## {SECTIONS[3]}", "", *_md_table(sentiment_rows(s))]
    body += ["", f"## {SECTIONS[4]}", ""] + [f"- {x}" for x in watch_lines(s)]
    body += ["", f"## {SECTIONS[5]}", "", *_warnings_md(s)]
    conventions = convention_lines(s)
    if s.get("daily"):
        conventions += daily_convention_lines(s["daily"])
    body += ["", f"## {SECTIONS[6]}", ""] + [f"- {x}" for x in conventions]
    return "\n".join(body) + "\n"


def _html_table(
    rows: list[tuple[str, ...]],
    header: tuple[str, ...] = ("figure", "value", "metrics.parquet rows"),
) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    cells = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c.strip())}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{cells}</table>"


def _daily_html(d: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (name, _html_table(rows, header) + (_ul(lines) if lines else ""))
        for name, rows, header, lines in daily_blocks(d)
    ]


def _ul(lines: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in lines) + "</ul>"


def _col(m: pl.DataFrame, name: str) -> np.ndarray:
    return m[name].cast(pl.Float64).fill_null(np.nan).to_numpy()


def time_panels(m: pl.DataFrame, title: str) -> go.Figure:
    """Price with liquidations by side, open interest, funding, RSI and MACD."""
    m = m.sort("ts")
    x = m["ts"].dt.replace_time_zone(None).to_list()
    fig = make_subplots(
        rows=6,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.02,
        row_heights=[0.3, 0.14, 0.14, 0.14, 0.14, 0.14],
        subplot_titles=(
            "price (USD)",
            "liquidations (USD; longs down, shorts up)",
            "open interest (USD)",
            "funding (% per 8 h)",
            "RSI(14)",
            "MACD(12,26,9)",
        ),
    )
    for trace in price_traces(x, _col(m, "high"), _col(m, "low"), _col(m, "close")):
        fig.add_trace(trace, 1, 1)
    fig.add_trace(
        go.Bar(x=x, y=-_col(m, "liq_long_usd"), name="long liquidated", marker_color=LONG_COLOR),
        2,
        1,
    )
    fig.add_trace(
        go.Bar(x=x, y=_col(m, "liq_short_usd"), name="short liquidated", marker_color=SHORT_COLOR),
        2,
        1,
    )
    fig.add_trace(go.Scatter(x=x, y=_col(m, "oi_usd"), name="open interest"), 3, 1)
    fig.add_trace(go.Scatter(x=x, y=100 * _col(m, "funding"), name="funding"), 4, 1)
    fig.add_trace(go.Scatter(x=x, y=_col(m, "rsi_14"), name="RSI"), 5, 1)
    for level in (30, 70):
        fig.add_hline(y=level, line_dash="dot", line_color="grey", row=5, col=1)
    fig.add_trace(go.Scatter(x=x, y=_col(m, "macd"), name="MACD"), 6, 1)
    fig.add_trace(go.Scatter(x=x, y=_col(m, "macd_signal"), name="signal"), 6, 1)
    fig.add_trace(go.Bar(x=x, y=_col(m, "macd_hist"), name="histogram"), 6, 1)
    fig.update_layout(title=title, height=1400, barmode="relative", template="plotly_white")
    return fig


def heatmap_figure(result: MonitorResult) -> go.Figure | None:
    """The estimated liquidation heatmap (long + short notional by time and liquidation
    price) over the last :data:`HEATMAP_ROWS` bars, with the close on top."""
    from margincall.estimate.market_map import heatmap

    levels = result.levels
    if levels is None:
        return None
    start = max(0, levels.hours - HEATMAP_ROWS)
    lo = 0.8 * float(np.min(levels.low[start:]))
    hi = 1.2 * float(np.max(levels.high[start:]))
    long_g, short_g, edges = heatmap(levels, np.linspace(lo, hi, HEATMAP_BINS + 1))
    z = np.rint((long_g + short_g)[start:] / 1e3) / 1e3  # USD millions, to the nearest $1k
    mid = (edges[:-1] + edges[1:]) / 2.0
    x = levels.ts[start:].astype("datetime64[us]").tolist()
    fig = go.Figure(
        go.Heatmap(
            x=x,
            y=np.round(mid, 2),
            z=z.T,
            colorscale="Viridis",
            colorbar={"title": "USD M"},
            name="liquidation notional",
        )
    )
    fig.add_trace(
        go.Scatter(x=x, y=levels.close[start:], name="close", line={"color": "white", "width": 1})
    )
    fig.update_layout(
        title="estimated liquidation heatmap (market-data map; USD millions per price bin)",
        yaxis_title="liquidation price (USD)",
        height=600,
        template="plotly_white",
    )
    return fig


def page(result: MonitorResult) -> str:
    """The self-contained HTML report (plotly.js embedded once, when there are bars)."""
    s = result.summary
    daily = s if s.get("kind") == DAILY_KIND else s.get("daily")
    warn = (
        _ul([f"{w['kind']} ({w['column']}): {w['message']}" for w in s["warnings"]])
        if s["warnings"]
        else "<p>none</p>"
    )
    if result.metrics is None:
        title = daily_title(s)
        sections = [
            (SECTIONS[0], _ul(s["sentences"])),
            *_daily_html(s),
            (SECTIONS[5], warn),
            (SECTIONS[6], _ul(daily_convention_lines(s))),
        ]
        figures: list[go.Figure] = []
    else:
        title = f"{s['symbol']} market stress report, {hm(s['at'])}"
        figures = [time_panels(result.metrics, title)]
        heat = heatmap_figure(result)
        if heat is not None:
            figures.append(heat)
        conventions = convention_lines(s) + (daily_convention_lines(daily) if daily else [])
        sections = [
            (SECTIONS[0], _ul(s["sentences"])),
            *(_daily_html(daily) if daily else []),
            (SECTIONS[1], _html_table(headline_rows(s))),
            (SECTIONS[2], _html_table(liquidation_rows(s))),
            (SECTIONS[3], _html_table(sentiment_rows(s))),
            (SECTIONS[4], _ul(watch_lines(s))),
            (SECTIONS[5], warn),
            (SECTIONS[6], _ul(conventions)),
        ]
    if result.daily is not None:
        figures += daily_figures(result.daily)
    charts = figure_divs(figures) if figures else []
    body: list[str] = []
    for i, (name, content) in enumerate(sections):
        body.append(f"<h2>{html.escape(name)}</h2>{content}")
        if i == 0:
            body += charts
    style = (
        BASE_STYLE + "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;"
        "text-align:left}"
    )
    return html_page(title, body, style=style)
