"""Run a market scenario and write its run folder, whole or not at all.

Contents (built under a temporary name and renamed, as :mod:`margincall.sim.run_folder` does):

* ``events.parquet``: every venue's event log, venue after venue in the scenario's order, each in
  its own sequence; the engine's columns unchanged plus ``venue`` and ``symbol``
  (dictionary-encoded strings; ``symbol`` empty for account-level events), ``kind_name``,
  ``notional_usd``, ``amount_usd`` and ``price_usd`` (each row at its instrument's tick);
* ``candles.parquet``: 1-minute candles per venue and instrument, long format with ``venue`` and
  ``symbol`` (the columns of :func:`margincall.report.candles.candles`);
* ``summary.json``: the market's totals by venue, by asset and overall
  (:mod:`margincall.sim.market_summary`), the invariants and the digest;
* ``manifest.json``: the scenario, seed, version, the venues table (name, rulebook,
  instruments with tick and lot sizes);
* ``report.html``: the market's report (:mod:`margincall.report.market`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from margincall import __version__
from margincall.core.atomic import atomic_folder
from margincall.core.errors import InvariantViolation
from margincall.events.log import to_arrow
from margincall.sim.market import MarketScenario
from margincall.sim.market_kernel import MarketSimulation, Progress
from margincall.sim.market_summary import market_summary, venue_candles
from margincall.sim.run_folder import check_out_dir, git_revision


def simulate_market(
    sc: MarketScenario,
    seed: int,
    accounts: int | None = None,
    progress: Progress | None = None,
    *,
    reports_only: bool = False,
) -> tuple[MarketSimulation, dict[str, Any], Any]:
    """Run ``sc``; returns the simulation, its summary and its candles. ``reports_only``: the
    venues keep only the events the candles and summary read (no events file to write; the
    digest, candles and summary are the same)."""
    t0 = time.perf_counter()
    sim = MarketSimulation(sc, seed, accounts=accounts, reports_only=reports_only)
    sim.run(progress)
    bars = venue_candles(sim)
    summary: dict[str, Any] = {
        "scenario": sc.name,
        "seed": seed,
        "accounts": sum(len(np.unique(vr.legs.account)) for vr in sim.venues),
        "hours": sc.run.hours,
        "venues": [vr.name for vr in sim.venues],
    }
    summary.update(market_summary(sim, bars))
    try:
        sim.check_market()
        ok = True
    except InvariantViolation:
        ok = False
    summary["invariants"] = {"every_venue_and_market_money": ok}
    summary["event_log_sha256"] = sim.digest()
    summary["wall_seconds"] = round(time.perf_counter() - t0, 3)
    return sim, summary, bars


def venues_table(sim: MarketSimulation) -> list[dict[str, Any]]:
    """The manifest's venues: index, name, rulebook and instruments with their grids."""
    out = []
    for i, vr in enumerate(sim.venues):
        inst = [
            {"instrument": j, "symbol": sym, "tick_size": str(leg.scale.tick_size),
             "lot_size": str(leg.scale.lot_size)}
            for j, (sym, leg) in enumerate(zip(vr.symbols, vr.pv.legs, strict=True))
        ]  # fmt: skip
        out.append(
            {"venue": i, "name": vr.name, "rulebook": vr.pv.rulebook.name, "instruments": inst}
        )
    return out


def events_table(sim: MarketSimulation, meta: dict[str, str]) -> pa.Table:
    """Every venue's events with ``venue`` and ``symbol`` columns (module docstring)."""
    tables = []
    names = [vr.name for vr in sim.venues]
    symbols = ["", *sim.symbols]
    for vi, vr in enumerate(sim.venues):
        ev = vr.pv.log.records()
        t = to_arrow(ev)
        inst = ev["instrument"].astype(np.int64)
        tick = np.array([float(leg.scale.tick_size) for leg in vr.pv.legs] + [0.0])
        sym_idx = np.array([sim.symbols.index(s) + 1 for s in vr.symbols] + [0], np.int32)
        t = t.append_column("price_usd", pa.array(ev["price"] * tick[inst]))
        t = t.append_column(
            "venue",
            pa.DictionaryArray.from_arrays(
                pa.array(np.full(len(ev), vi, np.int32)), pa.array(names)
            ),
        )
        t = t.append_column(
            "symbol", pa.DictionaryArray.from_arrays(pa.array(sym_idx[inst]), pa.array(symbols))
        )
        tables.append(t)
    return pa.concat_tables(tables).replace_schema_metadata(meta)


def write_market_run(
    out: Path,
    sc: MarketScenario,
    seed: int,
    *,
    accounts: int | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Simulate and write the run folder ``out``; returns the summary."""
    out = Path(out)
    check_out_dir(out, force)
    sim, summary, bars = simulate_market(sc, seed, accounts, progress)
    with atomic_folder(out, replace=True) as tmp:
        meta = {"scenario": sc.name, "seed": str(seed), "market": "true"}
        pq.write_table(events_table(sim, meta), tmp / "events.parquet", compression="zstd")
        bars.write_parquet(tmp / "candles.parquet")
        manifest = {
            "scenario": sc.model_dump(mode="json"),
            "seed": seed,
            "accounts": accounts,
            "package_version": __version__,
            "git_revision": git_revision(),
            "start_ns": sim.start_ns,
            "end_ns": sim.end_ns,
            "venues": venues_table(sim),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        # plotly loads here, not on import (as in sim.run_folder)
        from margincall.report.market import write_market_report_html

        title = f"margincall: {sc.name}, seed {seed}"
        write_market_report_html(tmp / "report.html", bars, summary, title)
    return summary
