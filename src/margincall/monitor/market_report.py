"""The daily market sections of the report (Market, ETF flows, Assets, Sentiment and Fear &
Greed): their summary (``summary.json``'s ``daily``, or the whole summary when no bars are
given), their sentences and their tables for report.md and report.html.

Every table row names the file lines it was computed from (1-based, header = line 1); the files
are listed under "Sources and conventions".
"""

from __future__ import annotations

from typing import Any

import polars as pl

from margincall.monitor.assets import assets_section
from margincall.monitor.daily import WINDOW_DAYS, DailyData, DailyInputs, load_daily
from margincall.monitor.daily_sentiment import own_index
from margincall.monitor.etf import etf_section
from margincall.monitor.headline import SENTIMENT_BANDS
from margincall.monitor.market import market_section
from margincall.monitor.prose import usd
from margincall.monitor.published import fear_greed_section

DAILY_SECTIONS = ("Market", "ETF flows", "Assets", "Sentiment and Fear & Greed")
"""Headings of the daily sections, in order; a section shows only when its source is given."""
DAILY_KIND = "daily market report"
"""``summary["kind"]`` of a report of daily sources only (no bars)."""


def daily_title(d: dict[str, Any]) -> str:
    return f"Crypto market report, {d['as_of_day']}"


def daily_summary(
    inputs: DailyInputs, metrics: pl.DataFrame | None, bars_symbol: str | None = None
) -> tuple[dict[str, Any], DailyData]:
    """The daily sections' figures (see :mod:`~.market`, :mod:`~.etf`, :mod:`~.assets`,
    :mod:`~.published`) and the data they came from; ``metrics`` (the bars' metrics, or None)
    gives the market's own sentiment index per day and, for the closes of ``bars_symbol``,
    the intraday bars of the 4-hour indicators (unless its closes file has its own)."""
    data = load_daily(inputs)
    day = data.as_of
    d: dict[str, Any] = {
        "kind": DAILY_KIND,
        "as_of_day": str(day),
        "as_of": "rows dated on or before the report day (its end, 24:00 UTC; ETF flows: the "
        "US trading day); nothing later is read",
        "window": f"the {WINDOW_DAYS} days ending at the report day (peaks, highs, drawdowns)",
        "since": None if inputs.since is None else str(inputs.since),
        "sources": data.sources,
        "warnings": data.warnings,
        "market": None,
        "etf_flows": {},
        "assets": None,
        "fear_greed": None,
        "units": {
            "money": "USD (ETF files' US$ millions x 1e6)",
            "changes": "fractions (0.1 = 10%)",
            "lines": "1-based lines of the named file (header = line 1)",
        },
    }
    if data.market_cap is not None:
        d["market"] = market_section(data.market_cap, day, inputs.since)
    for flows, series in data.flows:
        d["etf_flows"][flows.asset] = etf_section(
            flows, series, data.closes.get(flows.asset), data.market_cap, day
        )
    if data.closes:
        intraday = {s: c.intraday for s, c in data.closes.items() if c.intraday is not None}
        if metrics is not None and bars_symbol in data.closes and bars_symbol not in intraday:
            intraday[bars_symbol] = metrics.select("ts", "open", "high", "low", "close", "volume")
        d["assets"] = assets_section(data.closes, day, intraday)
    if data.fear_greed is not None:
        own = own_index(
            metrics,
            [f.days for f, _ in data.flows],
            [c.frame.select("date", "close") for c in data.closes.values()],
        )
        d["fear_greed"] = fear_greed_section(data.fear_greed, own if own.height else None, day)
    return d, data


def _pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x:+.{digits}%}"


def _lines(c: dict[str, Any] | None) -> str:
    if not c:
        return "-"
    word = "line" if c["lines"].isdigit() else "lines"
    return f"{c['file']} {word} {c['lines']}"


def _change(ch: dict[str, Any] | None, money: bool = True) -> str:
    if ch is None:
        return "n/a (no row that day)"
    amount = f"{usd(ch['usd'])}, " if money and "usd" in ch else ""
    return f"{amount}{_pct(ch['pct'])} (from {ch['then_date']})"


def daily_sentences(d: dict[str, Any]) -> list[str]:
    """Short sentences of the daily sections, from their numbers by fixed templates."""
    out: list[str] = []
    m = d["market"]
    if m:
        text = f"The total crypto market cap is {usd(m['total_usd'])} on {m['date']}"
        moves = [
            f"{abs(ch['pct']):.1%} {'down' if ch['pct'] < 0 else 'up'} in {span}"
            for span, ch in (("24 h", m["change_24h"]), ("7 days", m["change_7d"]))
            if ch
        ]
        text += (", " + " and ".join(moves) if moves else "") + "; "
        p = m["peak"]
        text += (
            f"{abs(p['drawdown_pct']):.0%} below its peak of {usd(p['total_usd'])} on {p['date']}."
        )
        out.append(text)
        if m.get("since"):
            s = m["since"]
            verb = "lost" if s["usd"] < 0 else "gained"
            out.append(
                f"Since {s['date']} it has {verb} {usd(abs(s['usd']))} ({_pct(s['pct'])}), "
                f"{usd(abs(s['daily_drain_usd']))} a day on average over {s['days']} days."
            )
        if m["ex_btc_usd"] is not None:
            text = (
                f"Without BTC the market is {usd(m['ex_btc_usd'])} (BTC dominance "
                f"{m['btc_dominance']:.1%})"
            )
            if m["ex_btc_eth_usd"] is not None:
                text += f"; without BTC and ETH, {usd(m['ex_btc_eth_usd'])}"
            out.append(text + ".")
    for asset, e in d["etf_flows"].items():
        out += _etf_sentences(asset, e)
    a = d["assets"]
    if a and a["ranked_by_7d_fall"]:
        by = {r["symbol"]: r for r in a["symbols"]}
        parts = [f"{sym} {_pct(by[sym]['change_7d']['pct'])}" for sym in a["ranked_by_7d_fall"]]
        text = "Over 7 days: " + ", ".join(parts) + " (largest fall first)"
        if a["mean_rsi"] is not None:
            state = _rsi_state(a["mean_rsi"])
            text += f"; the mean daily RSI(14) is {a['mean_rsi']:.1f} ({state})"
        out.append(text + ".")
    f = d["fear_greed"]
    if f:
        pub = f["published"]
        text = (
            f"The published Fear & Greed index reads {pub['value']:.0f} ({pub['label']}) on "
            f"{pub['date']}"
        )
        if f["own"]:
            text += f"; the market's own index reads {f['own']['value']:.0f} ({f['own']['label']})"
        if f["spearman"]:
            sp = f["spearman"]
            text += f"; their Spearman correlation is {sp['rho']:.2f} over {sp['days']} days"
        out.append(text + ".")
    return out


def _rsi_state(v: float) -> str:
    return "oversold" if v < 30 else "overbought" if v > 70 else "neutral"


def _etf_sentences(asset: str, e: dict[str, Any]) -> list[str]:
    last = e["last_day"]
    kind = "outflows" if last["total_usd"] < 0 else "inflows"
    funds = ", ".join(f"{x['fund']} {usd(x['flow_usd'])}" for x in last["funds"])
    st = e["streak"]
    out = [
        f"US spot {asset} ETFs had net {kind} of {usd(abs(last['total_usd']))} on {last['date']} "
        f"({funds}); {st['days']} {st['kind']} day(s) in a row ({usd(st['usd'])}).",
        f"{asset} ETF flows: {usd(e['sum_5d']['usd'])} over 5 days, "
        f"{usd(e['month_to_date']['usd'])} month to date; "
        + ", ".join(f"{x['month']} {usd(x['usd'])}" for x in e["months"])
        + f"; cumulative since {e['first_day']} {usd(e['cumulative_usd'])}.",
    ]
    h = e["holdings"]
    if h and h["cost_basis"] is not None:
        share = (
            f", {h['share_of_market_cap']:.2%} of {asset}'s market cap"
            if h["share_of_market_cap"] is not None
            else ""
        )
        where = "below" if h["distance_from_cost_basis"] < 0 else "above"
        out.append(
            f"Flow-derived holdings: {h['coins']:,.0f} {asset} ({usd(h['value_usd'])}{share}) "
            f"at a flow-weighted cost basis of {h['cost_basis']:,.0f} USD; the close of "
            f"{h['price']:,.0f} is {abs(h['distance_from_cost_basis']):.1%} {where} it."
        )
    return out


def market_rows(m: dict[str, Any]) -> list[tuple[str, str, str]]:
    p = m["peak"]
    rows = [
        (
            "Total market cap",
            f"{usd(m['total_usd'])} ({m['total_usd']:,.0f} USD) on {m['date']}",
            _lines(m["from"]),
        ),
        ("24 h change", _change(m["change_24h"]), _lines((m["change_24h"] or {}).get("from"))),
        ("7 d change", _change(m["change_7d"]), _lines((m["change_7d"] or {}).get("from"))),
    ]
    if m.get("since"):
        s = m["since"]
        rows.append(
            (
                f"Since {s['date']}",
                f"{_change(s)}; average daily drain {usd(s['daily_drain_usd'])} over {s['days']} days",
                _lines(s["from"]),
            )
        )
    rows.append(
        (
            "Drawdown from the window's peak",
            f"{_pct(p['drawdown_pct'])} (peak {usd(p['total_usd'])} on {p['date']})",
            f"{_lines(p['from'])}; peak line {p['peak_from']['lines']}",
        )
    )
    dom = m["btc_dominance"]
    rows += [
        (
            "BTC dominance",
            "n/a (not in the source)" if dom is None else f"{dom:.2%}",
            _lines(m["from"]),
        ),
        ("Market excluding BTC", usd(m["ex_btc_usd"]), _lines(m["from"])),
        ("Market excluding BTC and ETH", usd(m["ex_btc_eth_usd"]), _lines(m["from"])),
    ]
    return rows


def etf_rows(e: dict[str, Any]) -> list[tuple[str, str, str]]:
    last, st = e["last_day"], e["streak"]
    a = e["asset"]
    rows = [
        (f"{a} ETFs, {last['date']}", usd(last["total_usd"]), _lines(last["from"])),
        (
            "  largest funds",
            ", ".join(f"{x['fund']} {usd(x['flow_usd'])}" for x in last["funds"]),
            _lines(last["from"]),
        ),
        ("Streak", f"{st['days']} {st['kind']} day(s), {usd(st['usd'])}", _lines(st["from"])),
        (
            "Last 5 flow days",
            f"{usd(e['sum_5d']['usd'])} ("
            + ", ".join(f"{x['date']} {usd(x['total_usd'])}" for x in e["sum_5d"]["each"])
            + ")",
            _lines(e["sum_5d"]["from"]),
        ),
        (
            "Month to date",
            f"{usd(e['month_to_date']['usd'])} ({e['month_to_date']['days']} days)",
            _lines(e["month_to_date"]["from"]),
        ),
    ]
    rows += [
        (f"Month {x['month']}", f"{usd(x['usd'])} ({x['days']} days)", _lines(x["from"]))
        for x in e["months"]
    ]
    rows.append(
        (
            f"Cumulative since {e['first_day']}",
            usd(e["cumulative_usd"]),
            _lines(e["cumulative_from"]),
        )
    )
    h = e["holdings"]
    if h is None:
        rows.append(("Flow-derived holdings", f"n/a (give --closes {a}=FILE)", "-"))
        return rows
    src = f"{_lines(h['from'])}; closes {_lines(h['from']['closes'])}"
    share = h["share_of_market_cap"]
    rows += [
        (
            "Flow-derived holdings",
            f"{h['coins']:,.0f} {a}"
            + (
                f" ({h['flow_days_without_close']} flow day(s) before the first close left out)"
                if h["flow_days_without_close"]
                else ""
            ),
            src,
        ),
        (
            "  their value",
            f"{usd(h['value_usd'])} at {h['price']:,.2f} USD ({h['price_date']})",
            _lines(h["price_from"]),
        ),
        (
            f"  share of {a}'s market cap",
            "n/a (no market-cap source with it)" if share is None else f"{share:.2%}",
            _lines(h.get("market_cap_from")),
        ),
        (
            "Flow-weighted cost basis",
            "n/a"
            if h["cost_basis"] is None
            else f"{h['cost_basis']:,.0f} USD; the close is {_pct(h['distance_from_cost_basis'])} from it",
            src,
        ),
    ]
    return rows


ASSET_HEADER = (
    "symbol",
    "date",
    "price",
    "24 h",
    "7 d",
    "YTD",
    "from window high",
    "RSI(14) daily",
    "RSI(14) 4 h",
    "MACD hist 4 h",
    "CMF(20) daily",
    "beta 30 d",
    "file lines",
)


def asset_rows(a: dict[str, Any]) -> list[tuple[str, ...]]:
    out = []
    for r in a["symbols"]:
        dd = r["drawdown"]
        out.append(
            (
                r["symbol"],
                r["date"],
                f"{r['price']:,.2f}",
                _pct((r["change_24h"] or {}).get("pct")),
                _pct((r["change_7d"] or {}).get("pct")),
                _pct((r["change_ytd"] or {}).get("pct")),
                f"{_pct(dd['pct'])} ({dd['high']:,.2f} on {dd['high_date']})",
                "n/a" if r["rsi_14"] is None else f"{r['rsi_14']:.1f}",
                "n/a" if r.get("rsi_14_4h") is None else f"{r['rsi_14_4h']:.1f}",
                "n/a" if r.get("macd_hist_4h") is None else f"{r['macd_hist_4h']:+,.2f}",
                "n/a" if r["cmf_20"] is None else f"{r['cmf_20']:+.3f}",
                "n/a" if r["beta_30d"] is None else f"{r['beta_30d']:.2f}",
                _lines(dd["from"]),
            )
        )
    return out


def asset_lines(a: dict[str, Any]) -> list[str]:
    mean = a["mean_rsi"]
    return [
        "Mean RSI(14) over the symbols: "
        + ("n/a" if mean is None else f"{mean:.1f} ({_rsi_state(mean)})")
        + ".",
        "Ranked by 7-day fall: " + (", ".join(a["ranked_by_7d_fall"]) or "n/a") + ".",
        "CMF needs daily high, low and volume: n/a for close-only sources. Beta: daily log "
        "returns over the last 30 days both series have, against BTC.",
        "4 h: RSI(14) and MACD(12,26,9) histogram of the complete 4-hour bars resampled from "
        "intraday bars (a kline closes file, or the bar sources for their symbol); n/a "
        "without them.",
    ]


def fear_greed_rows(f: dict[str, Any]) -> list[tuple[str, str, str]]:
    pub, own, sp = f["published"], f["own"], f["spearman"]
    return [
        (
            "Published Fear & Greed (alternative.me, 0-100)",
            f"{pub['value']:.0f} ({pub['label']}) on {pub['date']}",
            _lines(pub["from"]),
        ),
        (
            "The market's own index (0-100)",
            "n/a (needs bars, ETF flows or closes)"
            if own is None
            else f"{own['value']:.1f} ({own['label']}) on {own['date']}",
            _own_parts(own),
        ),
        (
            "Spearman correlation",
            "n/a (fewer than 10 common days)"
            if sp is None
            else f"{sp['rho']:.3f} over {sp['days']} days ({sp['date_from']} to {sp['date_to']})",
            _lines(sp["from"]) if sp else "-",
        ),
        (
            "Bands",
            bands_text(),
            "-",
        ),
    ]


def _own_parts(own: dict[str, Any] | None) -> str:
    """The components of the own index that day, with their weights."""
    if own is None:
        return "-"
    names = {"bars": "bars (metrics.parquet, the day's last bar)", "etf_flows": "ETF flows"}
    parts = [
        f"{names.get(k, k)} {v:.1f} x {own['weights'][k]:g}"
        for k, v in own["components"].items()
        if v is not None
    ]
    return "; ".join(parts) + f" (weights fitted on {own['weights_fitted_on']})"


def bands_text() -> str:
    """The bands of :data:`~.headline.SENTIMENT_BANDS` as ``0-24 extreme fear, ...``."""
    parts, low = [], 0
    for upper, name in SENTIMENT_BANDS:
        parts.append(f"{low}-{upper - 1} {name}")
        low = upper
    return ", ".join([*parts, f"{low}-100 extreme greed"])


def daily_blocks(
    d: dict[str, Any],
) -> list[tuple[str, list[tuple[str, ...]], tuple[str, ...], list[str]]]:
    """``(heading, table rows, table header, lines after the table)`` per daily section
    present, in :data:`DAILY_SECTIONS` order."""
    three = ("figure", "value", "file lines")
    out: list[tuple[str, list[tuple[str, ...]], tuple[str, ...], list[str]]] = []
    if d["market"]:
        out.append((DAILY_SECTIONS[0], market_rows(d["market"]), three, []))
    if d["etf_flows"]:
        rows: list[tuple[str, ...]] = []
        caveats: list[str] = []
        for e in d["etf_flows"].values():
            rows += etf_rows(e)
            caveats = e["caveats"]
        out.append((DAILY_SECTIONS[1], rows, three, caveats))
    if d["assets"]:
        out.append(
            (DAILY_SECTIONS[2], asset_rows(d["assets"]), ASSET_HEADER, asset_lines(d["assets"]))
        )
    if d["fear_greed"]:
        out.append((DAILY_SECTIONS[3], fear_greed_rows(d["fear_greed"]), three, []))
    return out


def daily_convention_lines(d: dict[str, Any]) -> list[str]:
    out = [
        f"As of {d['as_of_day']}: {d['as_of']}. Window: {d['window']}."
        + (f" Since: {d['since']}." if d["since"] else ""),
        "Units: " + "; ".join(f"{k} {v}" for k, v in d["units"].items()) + ".",
    ]
    for s in d["sources"]:
        out.append(
            f"Source {s['file']} ({s['kind']}): {s['rows']} rows from {s['from']} to {s['to']}"
            f" used; {s['rows_after_as_of_ignored']} rows after the report day ignored."
        )
    return out
