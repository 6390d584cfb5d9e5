"""The sweep spec: a TOML file saying which runs make up a study.

Example (every key documented on the models below)::

    kind = "simulate"                 # or "stress": stress grids of the estimator
    name = "fund-size"
    scenario = "calm"                 # a preset or a scenario TOML (relative to this file)
    seeds = 5                         # seeds 1..5, or a list: [1, 7, 42]

    [set]                             # fixed overrides for every run
    "run.accounts" = 1000
    "run.hours" = 1

    [grid]                            # the cartesian product of these
    "market.insurance_fund_usd" = [1e8, 1e9]
    "population.retail.leverage_max" = { start = 50, stop = 125, step = 25 }

    [random]                          # draws, each combined with every grid point
    draws = 10
    seed = 7
    [random.parameters]
    "index.vol_annual" = { uniform = [0.3, 0.6] }
    "makers.depth_1pct_usd" = { loguniform = [3e7, 1e8] }
    "run.rulebook" = { choice = ["binance", "bitmex"] }

    [keep]
    run_folders = false               # also write each run's full run folder under runs/

    [backend]                         # how, not what: may change between resumes
    kind = "local"                    # or "ray"
    workers = 2

The runs are every point (grid product x random draws) with every seed, in that order; a run's
id is its index, a hash of its parameters and its seed, so the same spec always gives the same
runs. The *study* (everything but ``[backend]``, plus the resolved base scenario) has a hash that
a resumed sweep must match.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from margincall.core.errors import InvalidInputError
from margincall.sim.scenario import PRESETS, Scenario, load_scenario, parse_scenario
from margincall.sweep.params import check_path, set_path

MAX_RUNS = 1_000_000
Scalar = float | int | str | bool


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Range(_Model):
    """``start``, ``start + step``, ... up to ``stop`` (included when it falls on the grid)."""

    start: float = Field(description="first value")
    stop: float = Field(description="last value (included when on the grid)")
    step: float = Field(description="increment, non-zero; negative to count down")

    def values(self) -> list[float | int]:
        if self.step == 0 or not all(map(math.isfinite, (self.start, self.stop, self.step))):
            raise ValueError(f"step {self.step}: expected a finite non-zero step")
        n = math.floor((self.stop - self.start) / self.step + 1e-9) + 1
        if n > MAX_RUNS:
            raise ValueError(f"range has {n:,} values: expected at most {MAX_RUNS:,}")
        vals = [round(self.start + i * self.step, 12) for i in range(max(n, 0))]
        if all(float(x).is_integer() for x in (self.start, self.step)):
            return [int(v) for v in vals]
        return vals


class Draw(_Model):
    """A random draw: exactly one of ``uniform = [lo, hi]``, ``loguniform = [lo, hi]`` (lo > 0)
    or ``choice = [a, b, ...]`` (each with equal probability)."""

    uniform: tuple[float, float] | None = Field(None, description="[low, high)")
    loguniform: tuple[float, float] | None = Field(None, description="[low, high), low > 0")
    choice: list[Scalar] | None = Field(None, description="values, one drawn at random")

    @model_validator(mode="after")
    def _one(self) -> Draw:
        given = [k for k in ("uniform", "loguniform", "choice") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("expected exactly one of uniform, loguniform, choice")
        lo_hi = self.uniform or self.loguniform
        if lo_hi is not None and not lo_hi[0] < lo_hi[1]:
            raise ValueError(f"bounds {list(lo_hi)}: expected [low, high] with low < high")
        if self.loguniform is not None and self.loguniform[0] <= 0:
            raise ValueError(f"loguniform low {self.loguniform[0]}: expected > 0")
        if self.choice is not None and not self.choice:
            raise ValueError("choice is empty: expected at least one value")
        return self

    def draw(self, rng: np.random.Generator) -> Scalar:
        if self.uniform is not None:
            return float(rng.uniform(*self.uniform))
        if self.loguniform is not None:
            lo, hi = self.loguniform
            return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        assert self.choice is not None
        return self.choice[int(rng.integers(len(self.choice)))]


class Random(_Model):
    """Random draws of parameters from their own seed (independent of the run seeds)."""

    draws: Annotated[int, Field(ge=1, le=MAX_RUNS, description="number of draws")]
    seed: int = Field(0, description="seed of the draws")
    parameters: dict[str, Draw] = Field(description="dotted scenario path -> distribution")


class Keep(_Model):
    """What each run keeps besides its row (the summary fields are always kept)."""

    run_folders: bool = Field(False, description="write each run's folder to DIR/runs/RUN_ID")


class Backend(_Model):
    """Where the runs execute. Not part of the study: a resume may change it."""

    kind: Literal["local", "ray"] = Field("local", description="local processes or Ray")
    workers: Annotated[int, Field(ge=1, le=4096)] | None = Field(
        None, description="parallel runs (default: the CPU count)"
    )
    address: str | None = Field(
        None, description="Ray: 'auto', HOST:PORT or ray://HOST:PORT; none starts a local Ray"
    )


class Stress(_Model):
    """For ``kind = "stress"``: the estimator's stress grid on each run's map."""

    shocks: str = Field("-2%:-20%:1%", description="start:end:step and/or a list, e.g. -5%,3%")
    depth_scales: list[Annotated[float, Field(gt=0)]] = Field(
        [1.0], min_length=1, description="depth multipliers"
    )
    leverage_scales: list[Annotated[float, Field(gt=0)]] = Field(
        [1.0], min_length=1, description="leverage multipliers"
    )
    impact: Literal["depth", "sqrt"] = Field("depth", description="book walk or square-root law")
    refill: float = Field(
        0.0, ge=0.0, le=1.0, description="share of consumed depth restored before each round"
    )
    from_data: str | None = Field(None, description="a market-data file instead of a scenario")
    positions: str | None = Field(None, description="a positions file instead of a scenario")
    rulebook: str = Field("binance", description="tiers of a positions file")


class SweepSpec(_Model):
    """A study: its base scenario, what varies, the seeds, what to keep and the backend."""

    kind: Literal["simulate", "stress"] = Field(
        "simulate", description="simulate: one simulation per run; stress: one stress grid"
    )
    name: str = Field("sweep", description="a name for the study")
    description: str = Field("", description="free text")
    scenario: str | None = Field("calm", description="preset name or scenario TOML path")
    seeds: Annotated[int, Field(ge=1, le=MAX_RUNS)] | list[int] = Field(
        1, description="a count n (seeds 1..n) or a list of seeds"
    )
    set: dict[str, Scalar | list[Any]] = Field({}, description="fixed overrides, dotted path")
    grid: dict[str, list[Scalar] | Range] = Field({}, description="dotted path -> values")
    random: Random | None = Field(None, description="random draws")
    keep: Keep = Keep()
    backend: Backend = Backend()
    stress: Stress = Stress()

    @model_validator(mode="after")
    def _check(self) -> SweepSpec:
        if isinstance(self.seeds, list):
            if not self.seeds:
                raise ValueError("seeds is empty: expected a count or a non-empty list")
            if len(set(self.seeds)) != len(self.seeds):
                raise ValueError(f"seeds {self.seeds}: expected distinct seeds")
        return self

    def seed_list(self) -> list[int]:
        return list(range(1, self.seeds + 1)) if isinstance(self.seeds, int) else self.seeds


@dataclass(frozen=True)
class RunPlan:
    """One run of a study: its index, id, parameters (dotted path -> value) and seed."""

    index: int
    run_id: str
    params: dict[str, Any]
    seed: int


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def run_id(index: int, params: dict[str, Any], seed: int) -> str:
    """``00012-<10 hex>``: the index and a hash of the parameters and the seed."""
    return f"{index:05d}-{_hash({'params': params, 'seed': seed})[:10]}"


@dataclass(frozen=True)
class Study:
    """A validated spec, its resolved base scenario and its runs."""

    spec: SweepSpec
    text: str
    base: Scenario | None
    runs: list[RunPlan]
    base_dir: Path

    def identity(self) -> dict[str, Any]:
        """What fixes the study's results, flattened to ``key -> value`` (no backend)."""
        flat: dict[str, Any] = {}
        _flatten(self.spec.model_dump(mode="json", exclude={"backend"}), "spec.", flat)
        if self.base is not None:
            _flatten(self.base.model_dump(mode="json"), "base_scenario.", flat)
        return flat

    def hash(self) -> str:
        return _hash(self.identity())

    def scenario_for(self, run: RunPlan) -> Scenario:
        """The base scenario with the run's parameters set, validated."""
        assert self.base is not None
        data = self.base.model_dump()
        for path, value in run.params.items():
            set_path(data, path, value)
        return parse_scenario(data, f"run {run.run_id}")


def _flatten(obj: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(obj, dict) and obj:
        for k, v in obj.items():
            _flatten(v, f"{prefix}{k}.", out)
    else:
        out[prefix.rstrip(".")] = obj


def spec_defaults() -> dict[str, Any]:
    """The ``spec.*`` identity keys of a spec that leaves every field at its default."""
    flat: dict[str, Any] = {}
    _flatten(SweepSpec().model_dump(mode="json", exclude={"backend"}), "spec.", flat)
    return flat


def diff(
    old: dict[str, Any], new: dict[str, Any], defaults: dict[str, Any] | None = None
) -> list[str]:
    """Lines ``- key = old`` / ``+ key = new`` for every key whose value changed.

    With ``defaults``, a key that ``old`` lacks and ``new`` has at its default value is not a
    change: a field that a later version of margincall added, left as the earlier version
    behaved (a study started before an upgrade still resumes)."""
    lines = []
    for key in sorted(set(old) | set(new)):
        if key not in old and defaults is not None and defaults.get(key, old) == new[key]:
            continue
        a, b = old.get(key, "(absent)"), new.get(key, "(absent)")
        if a != b:
            lines += [f"- {key} = {json.dumps(a)}", f"+ {key} = {json.dumps(b)}"]
    return lines


def _validation_error(exc: ValidationError, source: str) -> InvalidInputError:
    e = exc.errors()[0]
    where = ".".join(str(p) for p in e["loc"]) or "(top level)"
    msg = e["msg"].removeprefix("Value error, ").removeprefix("Input should be ")
    return InvalidInputError(f"{source}: {where}", e.get("input"), msg)


def parse_spec(text: str, source: str = "sweep spec", base_dir: Path | None = None) -> Study:
    """Validate a spec's TOML text and expand its runs; every error is an
    :class:`InvalidInputError` raised before anything runs."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(source, "(file)", f"valid TOML ({exc})") from None
    if not data:
        raise InvalidInputError(
            source,
            "(empty)",
            "a sweep spec (an empty file is refused rather than run as the "
            "defaults; see README: sweeps)",
        )
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc, source) from None
    base_dir = base_dir or Path.cwd()
    if spec.kind == "stress":
        _check_stress(spec.stress, f"{source}: stress")
    base = _base_scenario(spec, base_dir, source)
    varied: dict[str, str] = {}
    for section, keys in (
        ("set", spec.set),
        ("grid", spec.grid),
        ("random.parameters", spec.random.parameters if spec.random else {}),
    ):
        for path in keys:
            check_path(path, f"{source}: {section}")
            if path in varied:
                raise InvalidInputError(
                    f"{source}: {section}", path, f"a path not also in [{varied[path]}]"
                )
            varied[path] = section
    if base is None and (spec.set or spec.grid or spec.random):
        raise InvalidInputError(
            f"{source}: set/grid/random",
            sorted(varied),
            "no scenario parameters with from_data or positions (they have no scenario)",
        )
    axes: list[tuple[str, list[Any]]] = []
    for path, values in spec.grid.items():
        try:
            vals = values.values() if isinstance(values, Range) else list(values)
        except ValueError as exc:
            raise InvalidInputError(f"{source}: grid.{path}", values, str(exc)) from None
        if not vals:
            raise InvalidInputError(
                f"{source}: grid.{path}", values, "at least one value (an empty grid has no runs)"
            )
        axes.append((path, vals))
    draws: list[dict[str, Any]] = [{}]
    if spec.random is not None:
        rng = np.random.default_rng(spec.random.seed)
        names = sorted(spec.random.parameters)
        draws = [
            {n: spec.random.parameters[n].draw(rng) for n in names}
            for _ in range(spec.random.draws)
        ]
    seeds = spec.seed_list()
    n_points = math.prod(len(v) for _, v in axes) * len(draws)
    if n_points * len(seeds) > MAX_RUNS:
        raise InvalidInputError(
            source, f"{n_points * len(seeds):,} runs", f"at most {MAX_RUNS:,} runs"
        )
    runs: list[RunPlan] = []
    fixed = dict(spec.set)
    for combo in itertools.product(*(v for _, v in axes)):
        point = {**fixed, **{p: v for (p, _), v in zip(axes, combo, strict=True)}}
        for drawn in draws:
            params = {**point, **drawn}
            for seed in seeds:
                i = len(runs)
                runs.append(RunPlan(i, run_id(i, params, seed), params, seed))
    study = Study(spec, text, base, runs, base_dir)
    if base is not None:
        seen: set[str] = set()
        for r in runs:  # every distinct parameter set validates before any run starts
            key = json.dumps(r.params, sort_keys=True, default=str)
            if key not in seen:
                seen.add(key)
                sc = study.scenario_for(r)
                _check_rulebook(sc.run.rulebook, f"run {r.run_id}: run.rulebook")
    return study


def _check_rulebook(rulebook: str, where: str) -> None:
    if (
        rulebook not in ("binance", "bitmex", "dydx", "hyperliquid")
        and not Path(rulebook).is_file()
    ):
        raise InvalidInputError(
            where, rulebook, "binance, bitmex, dydx, hyperliquid or a TOML file"
        )


def _check_stress(stress: Stress, where: str) -> None:
    """The stress values, checked by the estimator's own parsers before any run starts."""
    from margincall.estimate import stress as st

    try:
        st.parse_shocks(stress.shocks)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{where}.shocks", stress.shocks, exc.expected) from None
    # depth_scales and leverage_scales: positive, finite and non-empty by the schema
    try:  # the impact model's own checks (a source without a map is enough for them)
        st.build_impact(stress.impact, st.Source(None, "spec"), refill=stress.refill)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{where}.refill", exc.value, exc.expected) from None
    _check_rulebook(stress.rulebook, f"{where}.rulebook")


def _base_scenario(spec: SweepSpec, base_dir: Path, source: str) -> Scenario | None:
    other = spec.stress.from_data or spec.stress.positions
    if spec.kind == "stress" and other:
        if spec.stress.from_data and spec.stress.positions:
            raise InvalidInputError(f"{source}: stress", "from_data and positions", "one source")
        path = base_dir / other
        if not path.exists():
            raise InvalidInputError(f"{source}: stress source", str(path), "an existing file")
        return None
    if spec.scenario is None:
        raise InvalidInputError(
            f"{source}: scenario", None, f"a preset ({', '.join(PRESETS)}) or a scenario TOML file"
        )
    name = spec.scenario
    target = name if name in PRESETS else str(base_dir / name)
    return load_scenario(target)


def load_spec(path: str | Path) -> Study:
    """Read and expand a spec file (relative paths inside it are relative to its folder)."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError("SPEC", str(p), "an existing sweep spec TOML file")
    try:
        text = p.read_text("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            "SPEC", str(p), f"a UTF-8 text file (byte {exc.start} is not UTF-8)"
        ) from None
    return parse_spec(text, str(p), p.resolve().parent)
