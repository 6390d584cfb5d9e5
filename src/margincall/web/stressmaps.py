"""Liquidation maps for the stress page: a run folder's or a preset's start state, cached, with
the cascade fixed point of :func:`margincall.estimate.cascade.cascade` for one shock."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from fastapi import HTTPException

from margincall.estimate.cascade import cascade
from margincall.estimate.impact import Impact
from margincall.estimate.maps import MICROS, LiquidationMap
from margincall.web.store import Cache, RunStore, _mtime, clean

MAP_RANGE = 0.3
"""The histogram spans the reference price ±30%."""
MAP_BINS = 120


@dataclass
class Loaded:
    """A map with the impact model the stress command would use for it."""

    lmap: LiquidationMap
    impact: Impact
    kind: str
    label: str


class StressMaps:
    """Maps by source, built once and kept (LRU of ``size``)."""

    def __init__(self, runs: RunStore, size: int = 6) -> None:
        self.runs = runs
        self._cache = Cache(size)

    def load(self, run: str | None, preset: str | None, seed: int, accounts: int | None) -> Loaded:
        """The map of exactly one of ``run`` (a run name) and ``preset``."""
        from margincall.estimate import stress as st
        from margincall.inputs.maps import load_source
        from margincall.sim.scenario import PRESETS

        if (run is None) == (preset is None):
            raise HTTPException(400, "give exactly one source: run=NAME or preset=NAME")
        if run is not None:
            folder = self.runs.folder(run)
            key = ("run", str(folder), _mtime(folder / "manifest.json"))

            def make() -> Loaded:
                source = load_source(None, folder, None, None)
                label = f"run {run} (start state)"
                return Loaded(source.lmap, st.build_impact("depth", source), "run", label)

        else:
            if preset not in PRESETS:
                raise HTTPException(400, f"preset {preset!r} is not one of {', '.join(PRESETS)}")
            key = ("preset", preset, seed, accounts)

            def make() -> Loaded:
                source = load_source(preset, None, None, None, seed=seed, accounts=accounts)
                label = f"preset {preset}, seed {seed}, {source.scenario.run.accounts:,} accounts"
                return Loaded(source.lmap, st.build_impact("depth", source), "preset", label)

        return self._cache.get(key, make)


def map_json(loaded: Loaded) -> dict[str, Any]:
    """The map as a histogram of notional by liquidation price around the reference."""
    m = loaded.lmap
    p0 = m.price
    edges = np.linspace(p0 * (1 - MAP_RANGE), p0 * (1 + MAP_RANGE), MAP_BINS + 1)
    long_usd, short_usd = m.histogram(edges)
    return clean(
        {
            "source": loaded.label,
            "kind": loaded.kind,
            "reference_price": p0,
            "long_total_usd": m.long_total_micros / MICROS,
            "short_total_usd": m.short_total_micros / MICROS,
            "bin_edges": edges,
            "long_usd": long_usd,
            "short_usd": short_usd,
            "impact": loaded.impact.describe(),
        }
    )


def cascade_json(
    loaded: Loaded, shock: float, depth_scale: float, refill: float = 0.0
) -> dict[str, Any]:
    """The estimated cascade of one shock on the loaded map (its depth curve, with ``refill``
    of the consumed depth restored before each round)."""
    impact = replace(loaded.impact, refill=refill)
    r = cascade(loaded.lmap, impact, shock, depth_scale=depth_scale)
    out = r.as_dict()
    out.update(
        reference_price=loaded.lmap.price,
        depth_scale=depth_scale,
        refill=refill,
        source=loaded.label,
    )
    return clean(out)
