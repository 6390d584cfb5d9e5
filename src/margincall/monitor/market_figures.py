"""The charts of the daily sections in report.html: the total market cap over the window (with
BTC's part), each ETF flows file's daily Total with its cumulative sum, and each symbol's close
over the window as a percentage of the window's first close. Only rows on or before the report
day are drawn (the same rows the figures use)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from margincall.monitor.daily import DailyData, window
from margincall.report.figures import LONG_COLOR, SHORT_COLOR


def daily_figures(data: DailyData) -> list[go.Figure]:
    """One figure per daily section that has a source."""
    out: list[go.Figure] = []
    day = data.as_of
    if data.market_cap is not None:
        w = window(data.market_cap.frame, day)
        fig = go.Figure(go.Scatter(x=w["date"].to_list(), y=w["total_usd"] / 1e12, name="total"))
        if w["btc_usd"].null_count() < w.height:
            fig.add_trace(go.Scatter(x=w["date"].to_list(), y=w["btc_usd"] / 1e12, name="BTC"))
        fig.update_layout(
            title="total crypto market cap (USD trillions)", height=400, template="plotly_white"
        )
        out.append(fig)
    for flows, series in data.flows:
        f = series.frame
        fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.05)
        colors = [SHORT_COLOR if v >= 0 else LONG_COLOR for v in f["total_usd"].to_list()]
        x = f["date"].to_list()
        fig.add_trace(go.Bar(x=x, y=f["total_usd"] / 1e6, marker_color=colors, name="daily"), 1, 1)
        fig.add_trace(go.Scatter(x=x, y=f["total_usd"].cum_sum() / 1e9, name="cumulative"), 2, 1)
        fig.update_layout(
            title=f"US spot {flows.asset} ETF net flows (daily, USD millions; cumulative, USD "
            "billions)",
            height=500,
            template="plotly_white",
        )
        out.append(fig)
    if data.closes:
        fig = go.Figure()
        for sym, s in data.closes.items():
            w = window(s.frame, day)
            rel = 100.0 * w["close"] / w["close"][0]
            fig.add_trace(go.Scatter(x=w["date"].to_list(), y=rel, name=sym))
        fig.update_layout(
            title="daily closes over the window (% of the window's first close)",
            height=400,
            template="plotly_white",
        )
        out.append(fig)
    return out
