"""The market stress summary behind ``margincall monitor``: sources merged, cut at ``--at``,
metrics per bar, headline figures with the rows they come from, sentences, what to watch.

Conventions (every figure in ``summary.json`` names the ``metrics.parquet`` rows it came from;
rows are 0-based positions, also stored in the ``row`` column):

- **Several sources** are merged on ``ts``: each source must have unique timestamps; the merged
  frame has every timestamp of any source, sorted, and each value column is taken from the
  first source (in the order given) that has a non-null value at that time. So put the price
  source first and a derivatives panel after it, or the other way round to prefer the panel's
  prices. One source is kept as it is (rows in the file's order, nothing dropped or sorted).
- **As of** ``--at``: only bars whose start ``ts`` is at or before ``at`` are used (the report
  is as of the close of the bar that starts at ``at``); ``at`` must lie between the first and
  the last bar start. Without ``--at`` the last bar's start is ``at``.
- **The window** is the whole loaded history up to ``at``: its low, high and drawdown.
  ``drawdown`` = last close / highest high of the window - 1, with the peak's price and time.
- **24 h** is the bars with start in ``(at - 24 h, at]``. The 24 h price change is from the
  close of the latest bar starting at or before ``at - 24 h`` (the close 24 h before the last
  close) to the last close; the open-interest change from the open interest at the open of
  that same bar to that of the last bar (open interest is at each bar's open, so both are 24 h
  apart). Liquidation sums are correctly rounded sums (``math.fsum``) of the rows' values.
- **Run folders** are read as hourly bars when that gives at least
  :data:`~margincall.monitor.indicators.MIN_ROWS` hours, otherwise as the run's own (minute)
  bars, so a short simulated crash still has its indicators; ``summary["bar"]`` says which.
- **What to watch** uses the market-data liquidation map
  (:func:`margincall.estimate.market_map.build_levels`, default assumptions, priced at the last
  close): liquidation notional in bins :data:`BIN_PCT` of the price wide within
  :data:`WATCH_RANGE` of the price; the largest long bin below and the largest short bin above
  are the clusters named. **Support** is the lowest low of the last 24 h when it is at least
  :data:`MIN_SUPPORT_GAP` below the last close, else the top of the largest long cluster. The
  **break** is a move to :data:`BREAK_PCT` below support, run through
  :func:`margincall.estimate.cascade.cascade` with the market-data depth curve
  (:func:`~margincall.estimate.impact.market_depth_curve`: beta 0.55, thinning 0.3, ±1% depth the
  larger of $20M and the depth the bars up to ``at`` imply).
  Open interest missing in some rows is carried forward (leading gaps take the first value).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from margincall.core.errors import InvalidInputError
from margincall.monitor.checks import check_bars
from margincall.monitor.indicators import MIN_ROWS, compute_indicators, liquidation_split
from margincall.monitor.ingest import read_run_folder, read_source
from margincall.monitor.schema import BAR_SCHEMA, VALUE_COLUMNS
from margincall.monitor.sentiment import WEIGHTS, sentiment

HOURS_24 = timedelta(hours=24)
WATCH_RANGE = 0.10
"""Clusters are looked for within this fraction of the price, above and below."""
BIN_PCT = 0.005
"""Width of a cluster bin, as a fraction of the price (0.5%)."""
MIN_SUPPORT_GAP = 0.005
BREAK_PCT = 0.01
"""Support "breaks" when the price trades this fraction below it."""
DEPTH_SENSITIVITY = (2.0, 5.0, 10.0)
"""Depth multipliers of the cascade's sensitivity lines (x the default ±1% depth)."""
HEATMAP_ROWS = 720
HEATMAP_BINS = 120

SENTIMENT_BANDS = ((25, "extreme fear"), (45, "fear"), (56, "neutral"), (76, "greed"))


@dataclass
class MonitorResult:
    """What ``margincall monitor`` writes: the per-bar metrics, the summary, the map levels."""

    metrics: pl.DataFrame
    summary: dict[str, Any]
    levels: Any  # MarketLevels or None
    lmap: Any  # LiquidationMap or None


def parse_at(text: str | datetime | None) -> datetime | None:
    """``--at`` as an aware UTC datetime (naive text is UTC)."""
    if text is None or isinstance(text, datetime):
        when = text
    else:
        s = str(text).strip()
        try:
            when = datetime.fromisoformat(s[:-1] + "+00:00" if s.endswith(("Z", "z")) else s)
        except ValueError:
            raise InvalidInputError(
                "--at", text, "an ISO 8601 time, e.g. 2026-02-06T01:00:00Z"
            ) from None
    if when is None:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def parse_mapping(text: str | None) -> dict[str, str] | None:
    """``col=name,col2=name2`` as ``{canonical: file column}``."""
    if not text:
        return None
    out: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InvalidInputError("--mapping", text, "canonical=column pairs, e.g. close=Close")
        out[key.strip()] = value.strip()
    return out


def _read(source: str | Path, mapping: Mapping[str, str] | None) -> tuple[pl.DataFrame, str]:
    path = Path(source)
    if not str(source).startswith("ccxt:") and (path / "candles.parquet").is_file():
        hourly = read_run_folder(path, hourly=True)
        if hourly.height >= MIN_ROWS:
            return hourly, "1h (run folder aggregated to hours)"
        return read_run_folder(path, hourly=False), "the run's own bars (fewer than 34 hours)"
    return read_source(source, mapping), "as in the source"


def load_sources(
    sources: Sequence[str | Path], mapping: Mapping[str, str] | None = None
) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """The bars of ``sources`` merged on ``ts`` (see the module docstring) and, per source, its
    name, rows, time range and the columns it provides."""
    if not sources:
        raise InvalidInputError("SOURCE", [], "at least one file, run folder or ccxt: spec")
    frames, info = [], []
    for src in sources:
        frame, bar = _read(src, mapping)
        if frame.height == 0:
            raise InvalidInputError("source", str(src), "a source with at least one bar")
        provided = [c for c in VALUE_COLUMNS if frame[c].null_count() < frame.height]
        info.append(
            {
                "source": str(src),
                "rows": frame.height,
                "bar": bar,
                "ts_from": _iso(frame["ts"].min()),
                "ts_to": _iso(frame["ts"].max()),
                "columns": provided,
            }
        )
        frames.append(frame)
    if len(frames) == 1:
        return frames[0], info
    for src, frame in zip(sources, frames, strict=True):
        dup = np.flatnonzero(frame["ts"].is_duplicated().to_numpy())
        if len(dup):
            raise InvalidInputError(
                f"{src}: ts",
                f"duplicated timestamps in rows {dup[:5].tolist()}",
                "unique bar times to merge several sources on ts",
            )
    all_ts = pl.concat([f.select("ts") for f in frames]).unique().sort("ts")
    merged = all_ts
    for i, frame in enumerate(frames):
        merged = merged.join(
            frame.rename({c: f"{c}__{i}" for c in VALUE_COLUMNS}), on="ts", how="left"
        )
    merged = merged.select(
        "ts",
        *(pl.coalesce([f"{c}__{i}" for i in range(len(frames))]).alias(c) for c in VALUE_COLUMNS),
    )
    return merged.select(list(BAR_SCHEMA)), info


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _f(value: Any) -> float | None:
    if value is None:
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def cut_at(bars: pl.DataFrame, at: datetime | None) -> tuple[pl.DataFrame, datetime]:
    """Bars with start at or before ``at`` (default: the last bar's start) and ``at`` itself."""
    first, last = bars["ts"].min(), bars["ts"].max()
    if at is None:
        return bars, last
    if not (first <= at <= last):
        raise InvalidInputError(
            "--at", _iso(at), f"a time from {_iso(first)} to {_iso(last)} (the data's bar starts)"
        )
    return bars.filter(pl.col("ts") <= at), at


def metrics_frame(bars: pl.DataFrame) -> pl.DataFrame:
    """One row per bar: ``row``, the bar columns, the indicators and the sentiment index."""
    ind = compute_indicators(bars)
    sent = sentiment(bars).drop("ts")
    return (
        pl.concat([ind, sent], how="horizontal")
        .with_row_index("row")
        .with_columns(pl.col("row").cast(pl.Int64))
    )


def _span(m: pl.DataFrame, rows: np.ndarray) -> dict[str, Any]:
    """Where a figure comes from: its rows of metrics.parquet and their time range."""
    rows = np.sort(np.asarray(rows, np.int64))
    out: dict[str, Any] = {"row_count": len(rows)}
    if len(rows):
        out |= {
            "row_from": int(rows[0]),
            "row_to": int(rows[-1]),
            "ts_from": _iso(m["ts"][int(rows[0])]),
            "ts_to": _iso(m["ts"][int(rows[-1])]),
        }
        if rows[-1] - rows[0] + 1 != len(rows):
            out["rows"] = rows.tolist()
    return out


def _one(m: pl.DataFrame, i: int) -> dict[str, Any]:
    return {"row": int(i), "ts": _iso(m["ts"][int(i)])}


def _ref_row(m: pl.DataFrame, at: datetime) -> int | None:
    """The latest bar starting at or before ``at - 24 h``."""
    ts = m["ts"]
    ok = np.flatnonzero((ts <= at - HOURS_24).to_numpy())
    if not len(ok):
        return None
    return int(ok[np.argmax(ts.dt.epoch("us").to_numpy()[ok])])


def sentiment_label(value: float | None) -> str | None:
    if value is None:
        return None
    for upper, name in SENTIMENT_BANDS:
        if value < upper:
            return name
    return "extreme greed"


def headline(m: pl.DataFrame, at: datetime) -> dict[str, Any]:
    """The headline figures of the metrics frame as of ``at`` (see the module docstring)."""
    n = m.height
    last = n - 1
    all_rows = np.arange(n)
    win = np.flatnonzero(((m["ts"] > at - HOURS_24) & (m["ts"] <= at)).to_numpy())
    ref = _ref_row(m, at)
    close = m["close"].to_numpy()
    out: dict[str, Any] = {}

    low_i = int(np.nanargmin(m["low"].to_numpy()))
    high_i = int(np.nanargmax(m["high"].to_numpy()))
    ref_close = _f(close[ref]) if ref is not None else None
    out["price"] = {
        "last_close": _f(close[last]),
        "last_close_from": _one(m, last),
        "change_24h_pct": (close[last] / ref_close - 1.0) if ref_close else None,
        "change_24h_from": _one(m, ref) if ref is not None else None,
        "window_low": _f(m["low"][low_i]),
        "window_low_at": _one(m, low_i),
        "window_high": _f(m["high"][high_i]),
        "window_high_at": _one(m, high_i),
        "window": _span(m, all_rows),
    }
    out["drawdown"] = {
        "pct": _f(close[last] / m["high"][high_i] - 1.0),
        "peak_price": _f(m["high"][high_i]),
        "peak_at": _one(m, high_i),
        "from": _span(m, all_rows),
    }

    ll = m["liq_long_usd"].to_numpy()[win]
    ls = m["liq_short_usd"].to_numpy()[win]
    if len(win) and np.isfinite(ll).any():
        split = liquidation_split(np.nan_to_num(ll), np.nan_to_num(ls))
        largest = split.pop("largest")
        big = largest.pop("row")
        out["liquidations_24h"] = {
            **split,
            "largest_hour": {**_one(m, int(win[big])), **largest},
            "from": _span(m, win),
        }
    else:
        out["liquidations_24h"] = None

    oi = m["oi_usd"].to_numpy()
    oi_start_i = ref if ref is not None and np.isfinite(oi[ref]) else None
    if oi_start_i is None and len(win) and np.isfinite(oi[win]).any():
        oi_start_i = int(win[np.isfinite(oi[win])][0])
    if oi_start_i is not None and np.isfinite(oi[last]):
        a, b = float(oi[oi_start_i]), float(oi[last])
        out["open_interest"] = {
            "start_usd": a,
            "end_usd": b,
            "change_24h_usd": b - a,
            "change_24h_pct": b / a - 1.0 if a > 0 else None,
            "start_from": _one(m, oi_start_i),
            "end_from": _one(m, last),
        }
    else:
        out["open_interest"] = None

    fund = m["funding"].to_numpy()
    fw = fund[win] if len(win) else np.array([])
    if np.isfinite(fund[last]):
        out["funding"] = {
            "last_per_8h": float(fund[last]),
            "mean_24h_per_8h": float(np.mean(fw[np.isfinite(fw)]))
            if np.isfinite(fw).any()
            else None,
            "last_from": _one(m, last),
            "mean_from": _span(m, win[np.isfinite(fw)]),
        }
    else:
        out["funding"] = None

    lsr = m["long_short_ratio"].to_numpy()
    out["long_short_ratio"] = (
        {
            "last": float(lsr[last]),
            "at_24h_ago": _f(lsr[ref]) if ref is not None else None,
            "from": _one(m, last),
        }
        if np.isfinite(lsr[last])
        else None
    )

    def val(col: str) -> float | None:
        return _f(m[col][last])

    out["sentiment"] = {
        "value": val("sentiment"),
        "label": sentiment_label(val("sentiment")),
        "components": {k: val(f"s_{k}") for k in WEIGHTS},
        "weights": dict(WEIGHTS),
        "from": _one(m, last),
    }
    out["indicators"] = {
        "rsi_14": val("rsi_14"),
        "macd": val("macd"),
        "macd_signal": val("macd_signal"),
        "macd_hist": val("macd_hist"),
        "cmf_20": val("cmf_20"),
        "rv_24_annual": val("rv_24_annual"),
        "from": _one(m, last),
    }
    return out


def panel_for_map(m: pl.DataFrame) -> pl.DataFrame | None:
    """The bars as a market-map panel (sorted, open interest carried forward), or None when
    the data has no open interest or price."""
    if m["oi_usd"].null_count() == m.height:
        return None
    p = m.select("ts", "open", "high", "low", "close", "oi_usd", "funding", "long_short_ratio")
    p = p.sort("ts").with_columns(pl.col("oi_usd").forward_fill().backward_fill())
    if p.select(pl.any_horizontal(pl.col("open", "high", "low", "close").is_null()).any()).item():
        return None
    return p


def watch(levels: Any, lmap: Any, m: pl.DataFrame, at: datetime) -> dict[str, Any]:
    """Clusters above and below the price and the cascade if support breaks."""
    from margincall.estimate.cascade import cascade
    from margincall.estimate.impact import NoImpact, market_depth_curve

    price = lmap.price
    nb = round(WATCH_RANGE / BIN_PCT)
    edges = price * (1.0 + BIN_PCT * np.arange(-nb, nb + 1))
    long_usd, short_usd = lmap.histogram(edges)

    def clusters(usd: np.ndarray, idx: np.ndarray, side: str) -> list[dict[str, Any]]:
        order = idx[np.argsort(-usd[idx], kind="stable")]
        out = []
        for i in order[:3]:
            if usd[i] <= 0:
                break
            mid = (edges[i] + edges[i + 1]) / 2.0
            out.append(
                {
                    "side": side,
                    "price_low": float(edges[i]),
                    "price_high": float(edges[i + 1]),
                    "price_mid": float(mid),
                    "distance_pct": float(mid / price - 1.0),
                    "notional_usd": float(usd[i]),
                }
            )
        return out

    below = clusters(long_usd, np.arange(nb), "long")
    above = clusters(short_usd, np.arange(nb, 2 * nb), "short")

    win = np.flatnonzero(((m["ts"] > at - HOURS_24) & (m["ts"] <= at)).to_numpy())
    lows = m["low"].to_numpy()
    i = int(win[np.nanargmin(lows[win])])
    support: dict[str, Any] | None = None
    if lows[i] <= price * (1.0 - MIN_SUPPORT_GAP):
        support = {"price": float(lows[i]), "kind": "24 h swing low", **_one(m, i)}
    elif below:
        support = {"price": below[0]["price_high"], "kind": "top of the largest long cluster"}
    result: dict[str, Any] = {
        "price": price,
        "map": {
            "source": lmap.source,
            "long_total_usd": lmap.long_total_micros / 1e6,
            "short_total_usd": lmap.short_total_micros / 1e6,
            "assumptions": lmap.assumptions,
            "from": _span(m, np.arange(m.height)),
        },
        "bin_pct": BIN_PCT,
        "range_pct": WATCH_RANGE,
        "clusters_below": below,
        "clusters_above": above,
        "support": support,
        "cascade": None,
    }
    if support is not None:
        shock = support["price"] * (1.0 - BREAK_PCT) / price - 1.0
        model = market_depth_curve(m)
        res = cascade(lmap, model, shock)
        alone = cascade(lmap, NoImpact(), shock)
        lowest = float(lmap.long_liq[-1]) if len(lmap.long_liq) else None
        deeper = [
            {"depth_scale": k, **_brief(cascade(lmap, model, shock, depth_scale=k), lowest)}
            for k in DEPTH_SENSITIVITY
        ]
        result["cascade"] = {
            "shock": shock,
            "shock_price": price * (1.0 + shock),
            "final_price": res.price,
            "final_move": res.move,
            "long_liquidated_usd": res.long_usd,
            "shock_alone_long_liquidated_usd": alone.long_usd,
            "rounds": res.rounds,
            "converged": res.converged,
            "runaway": bool(lowest is not None and res.price < lowest),
            "lowest_long_level": lowest,
            "impact": model.describe(),
            "depth_sensitivity": deeper,
            "assumptions": [
                f"support breaks: the price trades {BREAK_PCT:.0%} below support",
                "liquidation map estimated from market data (open-interest increases, "
                "leverage mix and liquidation formula in map.assumptions)",
                f"book depth D(delta) = ${model.d1_usd / 1e6:,.1f}M x (delta/1%)^"
                f"{model.beta:g} ({model.origin}), thinning as liquidations are sent, not "
                "refilled during the cascade",
                "only the long side is liquidated by a fall; no new positions open",
            ],
        }
    return result


def _brief(res: Any, lowest: float | None) -> dict[str, Any]:
    return {
        "runaway": bool(lowest is not None and res.price < lowest),
        "final_price": res.price,
        "final_move": res.move,
        "long_liquidated_usd": res.long_usd,
    }


def sentences(s: dict[str, Any]) -> list[str]:
    """Short sentences written from the numbers by fixed templates."""
    sym = s["symbol"]
    out: list[str] = []
    p, liq = s["price"], s["liquidations_24h"]
    if p["change_24h_pct"] is not None:
        verb = "fell" if p["change_24h_pct"] < 0 else "rose"
        text = f"{sym} {verb} {abs(p['change_24h_pct']):.1%} in 24 h to {p['last_close']:,.0f}"
    else:
        text = f"{sym} closed at {p['last_close']:,.0f}"
    if liq and liq["long_share"] is not None:
        side, share = (
            ("longs", liq["long_share"])
            if liq["long_share"] >= 0.5
            else ("shorts", 1 - liq["long_share"])
        )
        text += f"; {side} took {share:.0%} of {usd(liq['total_usd'])} liquidated"
    out.append(text + ".")
    d = s["drawdown"]
    out.append(
        f"The window's low was {p['window_low']:,.0f} at {hm(p['window_low_at']['ts'])}; the "
        f"price is {abs(d['pct']):.1%} below the window's high of {d['peak_price']:,.0f} "
        f"({hm(d['peak_at']['ts'])})."
    )
    if liq:
        big = liq["largest_hour"]
        out.append(
            f"The largest hour was {hm(big['ts'])} with {usd(big['total_usd'])} liquidated "
            f"({usd(big['long_usd'])} long, {usd(big['short_usd'])} short)."
        )
    oi = s["open_interest"]
    if oi and oi["change_24h_pct"] is not None:
        verb = "fell" if oi["change_24h_usd"] < 0 else "rose"
        out.append(
            f"Open interest {verb} {abs(oi['change_24h_pct']):.1%} "
            f"({usd(abs(oi['change_24h_usd']))}) in 24 h to {usd(oi['end_usd'])}."
        )
    f = s["funding"]
    if f:
        who = "longs pay shorts" if f["last_per_8h"] > 0 else "shorts pay longs"
        if f["last_per_8h"] == 0:
            who = "neither side pays"
        mean = f["mean_24h_per_8h"]
        out.append(
            f"Funding is {f['last_per_8h']:+.4%} per 8 h ({who})"
            + (f", {mean:+.4%} on average over 24 h." if mean is not None else ".")
        )
    sent = s["sentiment"]
    if sent["value"] is not None:
        out.append(
            f"The market-data sentiment index reads {sent['value']:.0f}/100 ({sent['label']})."
        )
    ind = s["indicators"]
    if ind["rsi_14"] is not None:
        state = (
            "oversold" if ind["rsi_14"] < 30 else "overbought" if ind["rsi_14"] > 70 else "neutral"
        )
        text = f"RSI(14) is {ind['rsi_14']:.1f} ({state})"
        if ind["macd_hist"] is not None:
            pos = "above" if ind["macd_hist"] > 0 else "below"
            text += f"; MACD is {pos} its signal line (histogram {ind['macd_hist']:+,.1f})"
        out.append(text + ".")
    w = s.get("watch")
    if w:
        if w["clusters_below"]:
            c = w["clusters_below"][0]
            out.append(
                f"The largest long cluster below is {usd(c['notional_usd'])} at "
                f"{c['price_low']:,.0f}-{c['price_high']:,.0f} ({c['distance_pct']:+.1%})."
            )
        if w["clusters_above"]:
            c = w["clusters_above"][0]
            out.append(
                f"The largest short cluster above is {usd(c['notional_usd'])} at "
                f"{c['price_low']:,.0f}-{c['price_high']:,.0f} ({c['distance_pct']:+.1%})."
            )
        cas = w["cascade"]
        if cas and cas["runaway"]:
            out.append(
                f"If support at {w['support']['price']:,.0f} breaks, the estimated cascade "
                f"does not stop on the map: it liquidates every long on it "
                f"({usd(cas['long_liquidated_usd'])}) with a book of "
                f"{usd(cas['impact']['depth_1pct_usd'])} per 1% (runaway)."
            )
        elif cas:
            out.append(
                f"If support at {w['support']['price']:,.0f} breaks, the estimated cascade "
                f"takes the price to {cas['final_price']:,.0f} ({cas['final_move']:+.1%}) and "
                f"liquidates {usd(cas['long_liquidated_usd'])} of longs."
            )
    return out


def usd(value: float | None) -> str:
    """Dollars scaled to K/M/B."""
    if value is None:
        return "n/a"
    sign, v = ("-" if value < 0 else ""), abs(value)
    for scale, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if v >= scale:
            return f"{sign}${v / scale:,.2f}{unit}"
    return f"{sign}${v:,.2f}"


def hm(ts: str | None) -> str:
    """``2026-02-06T00:00:00Z`` as ``2026-02-06 00:00 UTC``."""
    return "n/a" if ts is None else ts[:10] + " " + ts[11:16] + " UTC"


def guess_symbol(sources: Sequence[str | Path]) -> str:
    """A ticker from the first source's name (``btc_1h_...`` -> ``BTC``), else ``the market``."""
    first = str(sources[0])
    if first.startswith("ccxt:"):
        parts = first.split(":")
        return parts[2].split("?")[0].split("/")[0] if len(parts) > 2 else "the market"
    path = Path(first)
    manifest = path / "manifest.json"
    if manifest.is_file():
        import json

        try:
            sym = json.loads(manifest.read_text())["scenario"]["run"]["symbol"]
            return str(sym).removesuffix("USDT").removesuffix("USD") or str(sym)
        except (ValueError, KeyError, TypeError):
            pass
    token = path.stem.split("_")[0].split("-")[0]
    return token.upper() if token.isalpha() and 2 <= len(token) <= 6 else "the market"


def build(
    sources: Sequence[str | Path],
    at: str | datetime | None = None,
    mapping: Mapping[str, str] | None = None,
    symbol: str | None = None,
) -> MonitorResult:
    """Everything ``margincall monitor`` reports (nothing is written here).

    Raises:
        InvalidInputError: a source cannot be read or recognised, ``--at`` is outside the
            data, or too few bars remain for the indicators.
    """
    from margincall.estimate.market_map import build_levels, map_at

    when = parse_at(at)
    bars, info = load_sources(sources, mapping)
    bars, when = cut_at(bars, when)
    m = metrics_frame(bars)
    s: dict[str, Any] = {
        "symbol": symbol or guess_symbol(sources),
        "at": _iso(when),
        "as_of": "bars whose start is at or before `at` (the close of the bar starting at `at`)",
        "window": "the whole loaded history up to `at`",
        "h24": "bars with start in (at - 24 h, at]",
        "rows": m.height,
        "sources": info,
        "merge": "outer join on ts; each column from the first source with a value"
        if len(info) > 1
        else "one source, rows as given",
        "units": {
            "prices": "USD",
            "notional": "USD",
            "funding": "fraction per 8 h (0.0001 = 0.01%)",
            "changes": "fractions (0.1 = 10%)",
            "rows": "0-based rows of metrics.parquet (column row)",
        },
    }
    s |= headline(m, when)
    warnings = check_bars(bars)
    s["warnings"] = [
        {"kind": w.kind, "column": w.column, "rows": list(w.rows), "message": w.message}
        for w in warnings
    ]
    panel = panel_for_map(m)
    levels = lmap = None
    if panel is not None:
        levels = build_levels(panel)
        lmap = map_at(levels, None)
        s["watch"] = watch(levels, lmap, m, when)
    else:
        s["watch"] = None
    s["sentences"] = sentences(s)
    return MonitorResult(m, s, levels, lmap)
