"""The figures of a market run: totals by venue, by asset and for the whole market.

Every liquidation figure is simulated truth: each forced close the venues executed (taker side
of ``POSITION_LIQUIDATED``, ``BACKSTOP_TAKEOVER`` and ``ADL_EXECUTED``, as
:func:`margincall.report.stats.summarize` counts them), not what a venue's public feed would
report (feeds undercount on stress days). Beside them, each instrument's
``reported_liquidations`` and the market's ``reported`` totals are what the venues' feeds would
have published (:mod:`margincall.report.feed`: a Binance-rule feed publishes the latest forced
close of each second): the figures to set beside market data. Traders liquidated are accounts
with a ``LIQUIDATION_TRIGGERED`` event, counted per venue (an account is one trader on one venue) and
summed. The gap between venues is measured on their book mids, the prices traded and the ones the
arbitrageurs close, each snapshot minute: ``(highest - lowest) / mean`` over the venues listing the
asset; its value at the end is the median over the last `END_MINUTES`. Not on marks: a
Hyperliquid-rule mark leans on the other venues' mids by design.

Each instrument's ``insurance_fund_usd`` is its row of its fund (venue/portfolio_funds.py): where
instruments share a fund (Hyperliquid's vault, Binance's fund for the smaller contracts), a row
goes below zero when it paid with the other members' money. Each venue's ``insurance_funds``
gives every fund's balance, the sum of its members' rows, which does not.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl

from margincall.events.schema import EventKind, order_detail
from margincall.report.candles import candles
from margincall.report.feed import feed_totals
from margincall.report.stats import summarize
from margincall.sim.stablecoin_book import PEG, UNIT

CALM_MINUTES = 30
"""The ±1% depth of the first minutes (after the first snapshot) is a book's calm value."""
THIN_SHARE = 0.05
"""A book is thin while its ±1% depth is below this share of its calm value."""
END_MINUTES = 10
"""The gap between venues "at the end" is the median of the last minutes' gaps: one minute's
mids differ by a few basis points of book noise (the presets' arbitrageurs act beyond 2 bps)."""


def leg_events(log, n: int) -> Iterator[np.ndarray]:
    """Per instrument ``0 .. n-1`` of a venue's event ``log``, in turn, the events its candles
    and summary read: all but the orders' bookkeeping
    (:func:`~margincall.events.schema.order_detail`: their lifecycle and the maker side of book
    trades; both read the taker side), fewer than half of a log's records. The mask is taken
    once per log, not per instrument, and not at all when the log kept nothing else
    (``reports_only``); one instrument's copy at a time: with the whole leg's events copied, the
    1,000,000-account market run peaked at 7,065 MiB; with these, 6,641 MiB."""
    records = log.records()
    # indices, then take: several times faster than a boolean index on a record array
    rows = np.arange(len(records)) if log.reports_only else np.flatnonzero(~order_detail(records))
    instrument = records["instrument"][rows]
    for j in range(n):
        yield records.take(rows[instrument == j])


def venue_candles(sim) -> pl.DataFrame:
    """1-minute candles of every venue and instrument, long format with ``venue``, ``symbol``."""
    frames = []
    for vr in sim.venues:
        legs = leg_events(vr.pv.log, len(vr.symbols))
        for j, (sym, mine) in enumerate(zip(vr.symbols, legs, strict=True)):
            leg = vr.pv.legs[j]
            bars = candles(
                mine, float(leg.scale.tick_size), float(leg.scale.lot_size),
                sim.start_ns, sim.end_ns,
            )  # fmt: skip
            frames.append(bars.with_columns(venue=pl.lit(vr.name), symbol=pl.lit(sym)))
    return pl.concat(frames)


def _listed(sim, k: int) -> np.ndarray:
    """Which venues list asset ``k``: those with a mark at every snapshot."""
    return np.isfinite(sim.marks[: sim._snaps, :, k]).all(axis=0)


def gap_series(sim, k: int) -> np.ndarray | None:
    """Asset ``k``'s gap between venues each snapshot minute (module docstring), a fraction;
    ``None`` when fewer than two venues list it. A minute with a book's side empty has no mid
    there: its gap is over the other venues (0 with fewer than two)."""
    listed = _listed(sim, k)
    if listed.sum() < 2:
        return None
    m = sim.mids[: sim._snaps, :, k][:, listed]
    two = np.isfinite(m).sum(axis=1) >= 2
    gap = np.zeros(len(m))
    gap[two] = (np.nanmax(m[two], axis=1) - np.nanmin(m[two], axis=1)) / np.nanmean(m[two], axis=1)
    return gap


def _gap(sim, k: int) -> dict[str, Any]:
    venues = int(_listed(sim, k).sum())
    gap = gap_series(sim, k)
    if gap is None:
        return {"venues": venues, "max_pct": None, "max_minute": None, "end_pct": None}
    i = int(np.argmax(gap))
    return {
        "venues": venues,
        "max_pct": float(gap[i] * 100),
        "max_minute": i,
        "end_pct": float(np.median(gap[-END_MINUTES:]) * 100),
    }


def _thin_minutes(depth: np.ndarray) -> dict[str, Any]:
    """Calm ±1% depth and the longest run of snapshot minutes below ``THIN_SHARE`` of it."""
    calm = float(np.nanmedian(depth[1 : CALM_MINUTES + 1])) if len(depth) > 1 else float("nan")
    thin = depth < THIN_SHARE * calm
    run = best = 0
    for t in thin:
        run = run + 1 if t else 0
        best = max(best, run)
    return {"calm_usd": calm, "longest_thin_minutes": best}


def _reported(by_venue: dict[str, Any]) -> dict[str, float]:
    """The market's liquidations as the venues' public feeds would have published them."""
    feeds = [
        p["reported_liquidations"] for v in by_venue.values() for p in v["instruments"].values()
    ]
    long_usd = sum(f["long_usd"] for f in feeds)
    short_usd = sum(f["short_usd"] for f in feeds)
    return {"liquidated_usd": long_usd + short_usd, "long_usd": long_usd, "short_usd": short_usd}


def _utc(ns: int) -> str:
    return datetime.fromtimestamp(ns // 10**9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stablecoins(vr, ev: np.ndarray) -> dict[str, Any]:
    """Per stablecoin book of the venue: its price (the book's own, every step; the lowest and
    when), what the venue's conversions took (``COLLATERAL_CONVERTED`` events) and what its desk
    sold in the book."""
    out = {}
    for held in vr.stablecoins:
        book = held.book
        conv = ev[
            (ev["kind"] == int(EventKind.COLLATERAL_CONVERTED)) & (ev["order_id"] == held.place)
        ]
        out[held.asset] = {
            "price": {
                "low": book.low / PEG,
                "low_at": None if book.low == PEG else _utc(book.low_ns),
                "end": book.price_ticks() / PEG,
            },
            "converted_units": float(conv["qty"].sum()) / UNIT,
            "converted_usd": float(conv["notional"].sum()) / 1e6,
            "desk_sold_units": float(book.sold),
            "desk_proceeds_usd": book.proceeds / 1e6,
        }
    return out


def _funds(pv, per: dict[str, Any]) -> dict[str, Any]:
    """A venue's insurance funds by id: the instruments sharing each (``per``: the instruments'
    figures, in the venue's order), its balance at the start (the sum of their rows) and at the
    end (``PortfolioVenue.fund_usd``, the same sum, exact)."""
    out: dict[str, Any] = {}
    for fund, (sym, p) in zip(pv.fund_ids, per.items(), strict=True):
        if fund not in out:
            out[fund] = {"instruments": [], "start_usd": 0.0, "end_usd": float(pv.fund_usd(sym))}
        out[fund]["instruments"].append(sym)
        out[fund]["start_usd"] += p["insurance_fund_usd"]["start"]
    return out


def market_summary(sim, bars: pl.DataFrame) -> dict[str, Any]:
    """The summary of a market run (module docstring)."""
    by_venue: dict[str, Any] = {}
    by_asset: dict[str, dict[str, Any]] = {
        s: {"long_usd": 0.0, "short_usd": 0.0, "accounts": 0, "oi": [0.0, 0.0]} for s in sim.symbols
    }
    largest = {"usd": 0.0, "venue": None, "symbol": None}
    hours = math.ceil(sim.scenario.run.hours)
    for vi, vr in enumerate(sim.venues):
        ev = vr.pv.log.records()
        per: dict[str, Any] = {}
        legs = leg_events(vr.pv.log, len(vr.symbols))
        for j, (sym, mine) in enumerate(zip(vr.symbols, legs, strict=True)):
            b = bars.filter((pl.col("venue") == vr.name) & (pl.col("symbol") == sym))
            s = summarize(mine, b.drop("venue", "symbol"), {"freq_s": 60})
            liq = s["liquidations"]
            leg = vr.pv.legs[j]
            k = sim.symbols.index(sym)
            per[sym] = {
                "liquidations": liq,
                "price": s["price"],
                "open_interest_usd": s["open_interest_usd"],
                "funding_rate": s["funding_rate"],
                "adl": s["adl"],
                "insurance_fund_usd": {
                    "start": sim.fund_start[vi][j], "end": float(leg.insurance_fund_usd),
                },
                "depth_1pct": _thin_minutes(sim.depth[: sim._snaps, vi, k]),
                "reported_liquidations": feed_totals(
                    mine, vr.pv.rulebook.liquidation_feed_per_second,
                    sim.start_ns, hours,
                ),
            }  # fmt: skip
            a = by_asset[sym]
            a["long_usd"] += liq["long_usd"]
            a["short_usd"] += liq["short_usd"]
            a["accounts"] += liq["accounts"]
            oi = per[sym]["open_interest_usd"]
            a["oi"] = [a["oi"][0] + (oi["start"] or 0.0), a["oi"][1] + (oi["end"] or 0.0)]
            if liq["largest_usd"] > largest["usd"]:
                largest = {"usd": liq["largest_usd"], "venue": vr.name, "symbol": sym}
        trig = ev["kind"] == 30
        by_venue[vr.name] = {
            "rulebook": vr.pv.rulebook.name,
            "long_usd": sum(p["liquidations"]["long_usd"] for p in per.values()),
            "short_usd": sum(p["liquidations"]["short_usd"] for p in per.values()),
            "traders_liquidated": int(np.unique(ev["account"][trig]).size),
            "fund_used_usd": sum(
                p["insurance_fund_usd"]["start"] - p["insurance_fund_usd"]["end"]
                for p in per.values()
            ),
            "adl_events": sum(p["adl"]["events"] for p in per.values()),
            "insurance_funds": _funds(vr.pv, per),
            "instruments": per,
            "stablecoins": _stablecoins(vr, ev),
        }
    for k, sym in enumerate(sim.symbols):
        path = sim.index_path[: sim._snaps, k]
        a = by_asset[sym]
        a["total_usd"] = a["long_usd"] + a["short_usd"]
        start, end = a.pop("oi")
        a["open_interest_usd"] = {
            "start": start, "end": end,
            "change_pct": (end / start - 1) * 100 if start else None,
        }  # fmt: skip
        a["index"] = {
            "start": float(path[0]), "low": float(np.min(path)), "end": float(path[-1]),
            "low_change_pct": float((np.min(path) / path[0] - 1) * 100),
            "end_change_pct": float((path[-1] / path[0] - 1) * 100),
        }  # fmt: skip
        a["gap_between_venues"] = _gap(sim, k)
    long_usd = sum(v["long_usd"] for v in by_venue.values())
    short_usd = sum(v["short_usd"] for v in by_venue.values())
    total = long_usd + short_usd
    market = {
        "liquidated_usd": total,
        "long_usd": long_usd,
        "short_usd": short_usd,
        "long_share": long_usd / total if total else None,
        "traders_liquidated": sum(v["traders_liquidated"] for v in by_venue.values()),
        "largest_liquidation": largest,
        "simulated_truth": True,
        "reported": _reported(by_venue),
    }
    return {"market": market, "by_venue": by_venue, "by_asset": by_asset}
