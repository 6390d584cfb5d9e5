"""Liquidation maps for the stress page: a run folder's or a preset's start state, cached, with
the cascade fixed point of :func:`margincall.estimate.cascade.cascade` for one shock.

Building a map rebuilds the start state, whose memory grows with its accounts (about 130 MB
above the server's own at 200,000 accounts, measured on feb-2026). A map of more than
:data:`MAX_MAP_ACCOUNTS` accounts is refused before anything is built (the preset's ``accounts``
query is bounded by the API, a run folder's count is read from its ``manifest.json``), and maps
are built one at a time, so one request stays under about 200 MB whatever arrives at once.
"""

from __future__ import annotations

import json
import threading
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
MAX_MAP_ACCOUNTS = 200_000


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
        self._build = threading.Lock()  # one map built at a time: memory stays bounded

    def load(self, run: str | None, preset: str | None, seed: int, accounts: int | None) -> Loaded:
        """The map of exactly one of ``run`` (a run name) and ``preset``."""
        from margincall.estimate import stress as st
        from margincall.inputs.maps import load_source
        from margincall.sim.scenario import PRESETS

        if (run is None) == (preset is None):
            raise HTTPException(400, "give exactly one source: run=NAME or preset=NAME")
        if run is not None:
            folder = self.runs.folder(run)
            manifest = self.runs.file(run, "manifest.json")
            if self.runs.pairs(run) is not None:
                raise HTTPException(
                    422,
                    f"run {run!r} is a market run: the stress page maps single-venue runs "
                    "(`margincall stress --from RUN --venue V --instrument S` maps one pair)",
                )
            _check_accounts(run, manifest)
            key = ("run", str(folder), _mtime(manifest))

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

        def build() -> Loaded:
            with self._build:
                return make()

        return self._cache.get(key, build)


def _check_accounts(run: str, manifest) -> None:
    """Refuse (422, naming the field) a run whose start state holds more accounts than a
    dashboard map may, before anything is built."""
    try:
        accounts = json.loads(manifest.read_text(encoding="utf-8"))["scenario"]["run"]["accounts"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise HTTPException(
            422, f"run {run!r}: manifest.json has no scenario.run.accounts to build a map from"
        ) from None
    if not isinstance(accounts, int) or not 0 < accounts <= MAX_MAP_ACCOUNTS:
        raise HTTPException(
            422,
            f"run {run!r}: scenario.run.accounts is {accounts!r}; the dashboard builds maps of "
            f"at most {MAX_MAP_ACCOUNTS:,} accounts (use `margincall stress --from` for more)",
        )


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
