"""Liquidation maps from what a user names: a scenario's start state, a run folder's start state,
a market-data file or a positions file (see :mod:`margincall.inputs` for why this sits above
both the estimator and the simulator).

A scenario's or a run folder's map is exact: the simulation is built (its population opened)
but not run, and :func:`margincall.estimate.positions.map_from_venue` maps every position of
that venue.
"""

from __future__ import annotations

import json
from pathlib import Path

from margincall.core.errors import InvalidInputError
from margincall.estimate.maps import LiquidationMap
from margincall.estimate.positions import map_from_positions_file, map_from_venue
from margincall.estimate.stress import Source
from margincall.sim.kernel import Simulation
from margincall.sim.scenario import Scenario, load_scenario, parse_scenario
from margincall.sources.market_run import MarketPick, is_market_folder


def map_from_scenario(scenario: Scenario, seed: int = 1) -> tuple[LiquidationMap, Simulation]:
    """The exact map of a scenario's start state; returns ``(map, simulation)``."""
    sim = Simulation(scenario, seed)
    m = map_from_venue(sim.venue, source=f"scenario {scenario.name}, seed {seed}, start state")
    m.assumptions["accounts"] = scenario.run.accounts
    return m, sim


def read_manifest(folder: str | Path) -> dict:
    """A run folder's ``manifest.json`` (an object), or an error naming the folder."""
    folder = Path(folder)
    manifest = folder / "manifest.json"
    if not folder.is_dir() or not manifest.is_file():
        raise InvalidInputError("--from", str(folder), "a run folder holding manifest.json")
    try:
        data = json.loads(manifest.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(str(manifest), type(exc).__name__, "a JSON manifest") from None
    if not isinstance(data, dict):
        raise InvalidInputError(str(manifest), type(data).__name__, "a JSON object")
    return data


def map_from_run_folder(folder: str | Path) -> tuple[LiquidationMap, Simulation]:
    """The exact map of a single-venue run folder's start state: the folder's scenario and seed
    (from ``manifest.json``) rebuilt to the state before the first step. Returns
    ``(map, sim)``."""
    folder = Path(folder)
    manifest = folder / "manifest.json"
    data = read_manifest(folder)
    try:
        scenario = parse_scenario(data["scenario"], str(manifest))
        seed = int(data["seed"])
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, InvalidInputError):
            raise
        raise InvalidInputError(
            str(manifest), type(exc).__name__, "a manifest with 'scenario' and 'seed'"
        ) from None
    m, sim = map_from_scenario(scenario, seed)
    object.__setattr__(m, "source", f"run folder {folder} (start state)")
    return m, sim


def load_source(
    scenario: str | None,
    run_folder: Path | None,
    data_file: Path | None,
    positions: Path | None,
    *,
    seed: int = 1,
    accounts: int | None = None,
    rulebook: str | None = None,
    price: float | None = None,
    pick: MarketPick | None = None,
) -> Source:
    """The map of exactly one source: a scenario (preset name or TOML file; its start state),
    a run folder (``--from``), a market-data file (``--from-data``; the estimated map of
    :func:`margincall.estimate.market_map.map_from_panel`) or a positions file
    (``--positions``; exact map under a rulebook's tiers). Of a market run folder, the
    (venue, instrument) ``pick`` names (:mod:`margincall.inputs.market_maps`)."""
    given = [
        n
        for n, v in (
            ("SCENARIO", scenario),
            ("--from", run_folder),
            ("--from-data", data_file),
            ("--positions", positions),
        )
        if v is not None
    ]
    if len(given) != 1:
        raise InvalidInputError(
            "source",
            ", ".join(given) or "none",
            "exactly one of SCENARIO, --from RUN_FOLDER, --from-data FILE, --positions FILE",
        )
    pick = pick or MarketPick()
    pick.folders([p for p in (run_folder, data_file) if p is not None])
    if run_folder is not None and is_market_folder(run_folder):
        from margincall.inputs.market_maps import map_from_market_folder

        m, book = map_from_market_folder(Path(run_folder), read_manifest(run_folder), pick)
        return Source(m, "market run folder", book)
    if run_folder is not None:
        m, sim = map_from_run_folder(run_folder)
        return Source(m, "run folder", sim.scenario)
    if scenario is not None:
        sc = load_scenario(scenario).with_overrides(accounts=accounts, rulebook=rulebook)
        m, _sim = map_from_scenario(sc, seed)
        return Source(m, "scenario", sc)
    if positions is not None:
        m = map_from_positions_file(positions, rulebook=rulebook or "binance", price=price)
        return Source(m, "positions file")
    from margincall.estimate.market_map import map_from_panel  # the market-data estimate
    from margincall.sources.panel import read_panel

    assert data_file is not None
    panel = read_panel(data_file, pick)
    return Source(map_from_panel(panel, data_file), "market data", panel=panel)


__all__ = ["load_source", "map_from_run_folder", "map_from_scenario"]
