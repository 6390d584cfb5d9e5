"""Scenarios: every input of a simulation, as a validated pydantic model read from TOML.

A scenario fixes the market in dollars (open interest, depth, flows), not in accounts: the
number of accounts only sets how finely that market is divided, so dollar figures stay
comparable when ``--accounts`` changes. Every field says its unit. Presets live in
``margincall/sim/presets/*.toml`` with the sources of their figures in comments.

**Leverage and the rulebook.** A venue refuses a leverage setting above its maximum (the first
margin tier's: binance 125x, bitmex 100x, dydx 50x, hyperliquid 40x). Every agent group's
leverage is fitted to it where it is not chosen for that venue: the simulator's fixed settings
(arbitrage desk 1x, makers 2x, noise traders 5x) and the leveraged cohorts' drawn leverage take
``min(chosen, maximum)``, and so does ``momentum.leverage`` when :meth:`Scenario.with_overrides`
(``--rulebook``) moves a scenario written for one rulebook to another (``feb-2026 --rulebook
hyperliquid``: its 50x momentum traders trade at 40x; the scenario, and so the run's manifest,
holds the fitted value). A scenario whose own ``momentum.leverage`` exceeds its own rulebook's
maximum is refused when it is simulated, naming the group, the maximum and the fix.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from margincall.agents.population import fit_leverage, max_leverage
from margincall.core.errors import InvalidInputError
from margincall.venue.instrument import load_rulebook

MAX_USD = 1e12
"""Every dollar amount of a scenario is at most $1T (open interest included)."""
MAX_MONEY_USD = 4e12
"""The money the accounts and the fund start with, at most: the engine counts micro-dollars in
64-bit integers (up to about $9.2T), and prices can move."""
MAX_ACCOUNTS = 20_000_000

Positive = Annotated[float, Field(gt=0)]
Share = Annotated[float, Field(ge=0, le=1)]
Usd = Annotated[float, Field(gt=0, le=MAX_USD)]
UsdOrZero = Annotated[float, Field(ge=0, le=MAX_USD)]


class _Model(BaseModel):
    # finite numbers only: TOML's inf and nan are refused with the field's name
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Run(_Model):
    """How long, how fine and on which venue."""

    hours: Annotated[float, Field(gt=0, le=24 * 14)] = 24.0  # simulated hours
    step_seconds: Annotated[int, Field(ge=1, le=3600)] = 5  # kernel step, seconds
    accounts: Annotated[int, Field(ge=100, le=MAX_ACCOUNTS)] = 200_000  # leveraged accounts
    rulebook: str = "binance"  # binance, bitmex, dydx, hyperliquid or a rulebook TOML path
    symbol: str = "BTCUSDT"
    start: datetime = datetime(2026, 2, 5, tzinfo=UTC)  # simulated start time (UTC)
    snapshot_seconds: Annotated[int, Field(ge=1, le=3600)] = 60  # state snapshots, seconds

    @field_validator("start")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        return as_utc(v)


def as_utc(v: datetime) -> datetime:
    """A time with no zone is taken as UTC."""
    return v if v.tzinfo else v.replace(tzinfo=UTC)


class Market(_Model):
    """The market at the start."""

    start_price: Positive = 73_000.0  # index and perp price at the start, USD
    open_interest_usd: Usd = 50e9  # open interest (one side), USD
    insurance_fund_usd: UsdOrZero = 1e9  # the venue's fund, USD


class IndexProcess(_Model):
    """Spot (index) price: GARCH(1,1) returns with Student-t shocks, plus the price impact of
    net spot flow (exogenous flow and the arbitrageur's hedges), partly transient."""

    vol_annual: Positive = 0.45  # unconditional volatility, annualised fraction
    garch_alpha: Annotated[float, Field(ge=0, lt=1)] = 0.06  # weight of the last squared shock
    garch_beta: Annotated[float, Field(ge=0, lt=1)] = 0.93  # persistence of variance
    t_dof: Annotated[float, Field(gt=2, le=100)] = 4.0  # Student-t degrees of freedom
    impact_bps_per_musd: Annotated[float, Field(ge=0)] = 0.5  # spot impact, bps per $1M net
    impact_permanent: Share = 0.5  # share of spot impact that never decays
    impact_half_life_minutes: Positive = 30.0  # decay of the transient part, minutes
    # zero-mean noise flow (agents/index.py): its standard deviation, USD per hour (0: none),
    # and its correlation time, minutes; its impact is transient only
    noise_usd_per_hour: UsdOrZero = 0.0
    noise_minutes: Positive = 60.0
    # transient impact linear up to this many bps, square-root beyond (agents/index.py; 0: linear)
    impact_crossover_bps: Annotated[float, Field(ge=0)] = 0.0

    @model_validator(mode="after")
    def _stationary(self) -> IndexProcess:
        if self.garch_alpha + self.garch_beta >= 1:
            raise ValueError(
                f"garch_alpha + garch_beta = {self.garch_alpha + self.garch_beta}: "
                "expected < 1 (a stationary variance)"
            )
        return self


class FlowWindow(_Model):
    """Net spot flow over a window of hours (negative = selling)."""

    start_hour: Annotated[float, Field(ge=0)]
    end_hour: Positive
    # net spot buying (+) or selling (-), USD per hour
    usd_per_hour: Annotated[float, Field(ge=-MAX_USD, le=MAX_USD)]

    @model_validator(mode="after")
    def _ordered(self) -> FlowWindow:
        if self.end_hour <= self.start_hour:
            raise ValueError(f"end_hour {self.end_hour} must be after start_hour {self.start_hour}")
        return self


class Shock(_Model):
    """A news shock: the index moves by ``move`` at ``hour``, at once or spread evenly over the
    ``minutes`` after it (sim/news.py)."""

    hour: Annotated[float, Field(ge=0)]
    move: Annotated[float, Field(gt=-0.5, lt=0.5)]  # fraction, e.g. -0.02
    minutes: Annotated[float, Field(ge=0, le=1440)] = 0.0  # 0: a jump in one step


class Flow(_Model):
    """Exogenous flow: spot/ETF selling or buying and news, and directional perp takers."""

    spot: list[FlowWindow] = []
    shocks: list[Shock] = []
    perp: list[FlowWindow] = []  # net perp taker flow (market orders), USD per hour


class Makers(_Model):
    """Market makers: a ladder around the index whose depth thins with volatility and losses."""

    count: Annotated[int, Field(ge=1, le=64)] = 4
    depth_1pct_usd: Usd = 60e6  # resting size within 1% of mid, each side, calm, USD
    depth_exponent: Annotated[float, Field(gt=0, le=2)] = 0.5  # depth(d) ∝ d^exponent
    levels: Annotated[int, Field(ge=2, le=200)] = 16  # price levels per side per maker
    max_distance: Annotated[float, Field(gt=0, le=0.5)] = 0.04  # farthest level, fraction
    # nearest level, bps from the centre; at most half the price (a larger one put the bids at
    # or below zero: the CLI fuzz test found a ZeroDivisionError there)
    half_spread_bps: Annotated[float, Field(gt=0, le=5000)] = 1.0
    skew_bps_per_musd: Annotated[float, Field(ge=0)] = 0.05  # centre shift per $1M inventory
    calm_vol_annual: Positive = 0.45  # realised volatility at which depth is full
    vol_sensitivity: Annotated[float, Field(ge=0)] = 1.5  # depth / (1 + s·(σ/σ_calm - 1)²)
    loss_withdraw_usd: Usd = 50e6  # loss at which a maker quotes half its depth
    min_depth_share: Share = 0.05  # depth never falls below this share of calm
    vol_half_life_minutes: Positive = 10.0  # slow (persistent) volatility estimator half-life
    # fast (peak) volatility estimator half-life: the near-total withdrawal lasts minutes (§2.4)
    peak_half_life_minutes: Positive = 0.5
    persistent_withdrawal: Share = 0.3  # most depth slow volatility withdraws (§2.4: ~30%)
    capital_usd: Usd = 2e9  # each maker's deposit, USD
    requote_bps: Annotated[float, Field(ge=0)] = 5.0  # re-quote when the centre moves this much


class Cohort(_Model):
    """A population of leveraged traders, held as arrays."""

    share_of_open_interest: Share  # of market.open_interest_usd
    share_of_accounts: Share  # of run.accounts
    long_share: Share  # share of the cohort's notional that is long
    leverage_min: Annotated[float, Field(ge=1)]  # x
    leverage_max: Annotated[float, Field(ge=1)]  # x
    leverage_shape: Positive = 1.0  # draws are min·(max/min)^(u^shape): >1 favours low leverage
    size_sigma: Annotated[float, Field(ge=0, le=4)] = 1.2  # lognormal spread of notional
    isolated_share: Share = 0.0  # accounts on isolated margin
    stop_loss_share: Share = 0.0  # accounts with a stop-loss
    stop_distance_min: Annotated[float, Field(gt=0, lt=0.5)] = 0.02  # from entry, fraction
    stop_distance_max: Annotated[float, Field(gt=0, lt=0.5)] = 0.08
    entry_days: Annotated[float, Field(ge=0, le=60)] = 7.0  # entries spread over these days
    entry_drift: Annotated[float, Field(gt=-0.5, lt=0.5)] = 0.0  # price change over those days
    intraday_share: Share = 0.0  # extra accounts (share of the cohort's) opening during the run
    intraday_long_share: Share = 0.5  # of those, the share that open long (market orders)
    intraday_trend_share: Share = 0.0  # of those, the share that open on the last hour's move
    # their leverage law's shape (as leverage_shape, same min and max); None: the cohort's
    intraday_trend_leverage_shape: Positive | None = None

    @model_validator(mode="after")
    def _ranges(self) -> Cohort:
        if self.leverage_max < self.leverage_min:
            raise ValueError(f"leverage_max {self.leverage_max} < leverage_min {self.leverage_min}")
        if self.stop_distance_max < self.stop_distance_min:
            raise ValueError(
                f"stop_distance_max {self.stop_distance_max} < "
                f"stop_distance_min {self.stop_distance_min}"
            )
        return self


class Population(_Model):
    """The leveraged traders: a retail cohort and a capital cohort. The arbitrage desk holds
    whatever net position they leave (cash-and-carry: short perp against long spot)."""

    retail: Cohort = Cohort(
        share_of_open_interest=0.35,
        share_of_accounts=0.97,
        long_share=0.7,
        leverage_min=10,
        leverage_max=125,
        leverage_shape=1.5,
        stop_loss_share=0.2,
    )
    capital: Cohort = Cohort(
        share_of_open_interest=0.45,
        share_of_accounts=0.03,
        long_share=0.55,
        leverage_min=1.5,
        leverage_max=20,
        leverage_shape=2.5,
        size_sigma=1.5,
        stop_loss_share=0.3,
    )

    @model_validator(mode="after")
    def _shares(self) -> Population:
        oi = self.retail.share_of_open_interest + self.capital.share_of_open_interest
        acc = self.retail.share_of_accounts + self.capital.share_of_accounts
        if oi > 1:
            raise ValueError(f"cohorts hold {oi:.3f} of open interest: expected at most 1")
        if abs(acc - 1) > 1e-9:
            raise ValueError(f"cohort shares of accounts sum to {acc:.3f}: expected 1")
        return self


class Arbitrage(_Model):
    """Basis arbitrage: trades the perp back toward the index and hedges in spot."""

    threshold_bps: Annotated[float, Field(ge=0)] = 3.0  # act beyond this basis
    usd_per_bps: UsdOrZero = 2e6  # perp notional per bps beyond threshold
    max_usd_per_step: UsdOrZero = 50e6
    hedge_share: Share = 1.0  # share of its perp trades hedged in spot (moves the index)
    capital_usd: Usd = 20e9


class Noise(_Model):
    """Noise traders: random market orders."""

    accounts: Annotated[int, Field(ge=0, le=100_000)] = 200
    usd_per_hour: UsdOrZero = 1.5e9  # gross volume, USD per hour
    order_usd: Usd = 50_000.0  # median order size (lognormal, sigma 1)
    slippage: Annotated[float, Field(gt=0, le=0.1)] = 0.005  # worst price vs mid, fraction
    capital_usd: Usd = 5e6  # each account's deposit


class Momentum(_Model):
    """Momentum traders: many small leveraged accounts that follow the recent move. Their
    ``leverage`` must not exceed the rulebook's maximum; a rulebook override fits it (see the
    module docstring)."""

    accounts: Annotated[int, Field(ge=0, le=100_000)] = 50
    # typical lookback (each account: 0.5x to 2x this); each account keeps that much price
    # history, so it is bounded (a day)
    lookback_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 5.0
    usd_per_bps: UsdOrZero = 100_000.0  # total target position per bps
    max_usd_per_step: UsdOrZero = 5e6  # total trading per step
    leverage: Annotated[int, Field(ge=1, le=125)] = 20  # each account's leverage cap
    slippage: Annotated[float, Field(gt=0, le=0.1)] = 0.005  # worst price vs mid, fraction
    capital_usd: Usd = 20e6


class Scenario(_Model):
    """Everything a run needs besides the seed."""

    name: str = "custom"
    description: str = ""
    run: Run = Run()
    market: Market = Market()
    index: IndexProcess = IndexProcess()
    flow: Flow = Flow()
    makers: Makers = Makers()
    population: Population = Population()
    arbitrage: Arbitrage = Arbitrage()
    noise: Noise = Noise()
    momentum: Momentum = Momentum()

    @model_validator(mode="after")
    def _money(self) -> Scenario:
        total = self.start_money_usd()
        if total > MAX_MONEY_USD:
            raise ValueError(
                f"the accounts and the fund to start with at most {MAX_MONEY_USD:,.0f} USD "
                f"({total:,.0f} here: lower open_interest_usd, the agents' capital_usd or "
                "their accounts)"
            )
        return self

    def start_money_usd(self) -> float:
        """An upper bound of the money in the venue at the start: the fund, every agent's
        deposit, the perp flow's account, and the margin of both sides of the open interest
        (at most their notional)."""
        perp = sum(abs(w.usd_per_hour) * (w.end_hour - w.start_hour) for w in self.flow.perp)
        return (
            self.market.insurance_fund_usd
            + 2 * self.market.open_interest_usd
            + self.makers.count * self.makers.capital_usd
            + self.arbitrage.capital_usd
            + self.noise.accounts * self.noise.capital_usd
            + self.momentum.accounts * self.momentum.capital_usd
            + 1.5 * perp
        )

    def with_overrides(self, **run: Any) -> Scenario:
        """A copy with ``run`` fields replaced (``None`` values are ignored), validated; moved to
        another rulebook, its leverage choices are fitted to that rulebook's maximum (see the
        module docstring)."""
        fields = {k: v for k, v in run.items() if v is not None}
        data = self.model_dump()
        data["run"].update(fields)
        sc = parse_scenario(data, f"scenario {self.name}")
        return _fitted(sc) if sc.run.rulebook != self.run.rulebook else sc


def _fitted(sc: Scenario) -> Scenario:
    """``sc`` with its momentum traders' leverage fitted to its rulebook's maximum."""
    instrument = load_rulebook(sc.run.rulebook).instrument(sc.run.symbol)
    fitted = fit_leverage(sc.momentum.leverage, instrument)
    if fitted == sc.momentum.leverage:
        return sc
    return sc.model_copy(update={"momentum": sc.momentum.model_copy(update={"leverage": fitted})})


def check_leverage(sc: Scenario, instrument, rulebook: str) -> None:
    """Refuse a scenario whose own ``momentum.leverage`` exceeds the venue's maximum."""
    top, chosen = max_leverage(instrument), sc.momentum.leverage
    if chosen > top:
        raise InvalidInputError(
            "momentum.leverage",
            chosen,
            f"at most {top}, the largest leverage rulebook {rulebook} allows (the momentum "
            f"traders' leverage): set leverage = {top} or less under [momentum] in the scenario, "
            f"or choose a rulebook that allows {chosen}x",
        )


PRESETS = ("calm", "flash-crash", "feb-2026")


def _error_message(exc: ValidationError, source: str) -> InvalidInputError:
    e = exc.errors()[0]
    where = ".".join(str(p) for p in e["loc"]) or "scenario"
    value = e.get("input")
    if isinstance(value, dict):  # a table's own rule: its fields are named in the message
        value = "(table)" if e["loc"] else "(whole file)"
    msg = e["msg"].removeprefix("Value error, ").removeprefix("Input should be ")
    return InvalidInputError(f"{source}: {where}", value, msg)


def parse_scenario(data: dict[str, Any], source: str = "scenario") -> Scenario:
    """Validate a scenario dict; errors name the field, the value and what was expected."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise _error_message(exc, source) from None


def preset_text(name: str) -> str:
    """The TOML text of a preset."""
    if name not in PRESETS:
        raise InvalidInputError("scenario", name, f"one of the presets {', '.join(PRESETS)}")
    return packaged_text(name)


def packaged_text(name: str) -> str:
    """The TOML text of the file ``name``.toml in ``margincall/sim/presets``."""
    return (resources.files("margincall.sim") / "presets" / f"{name}.toml").read_text("utf-8")


def read_scenario_toml(
    name_or_path: str | Path, presets: tuple[str, ...]
) -> tuple[dict[str, Any], str]:
    """The TOML tables of a preset (one of ``presets``, a file in ``margincall/sim/presets``) or
    of a file by path, and the source to name in errors. A missing, non-UTF-8, broken or empty
    file is an InvalidInputError naming it."""
    source = str(name_or_path)
    if source in presets:
        text = packaged_text(source)
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise InvalidInputError(
                "scenario", source, f"a preset ({', '.join(presets)}) or an existing TOML file"
            )
        try:
            text = path.read_text("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInputError(
                "scenario", source, f"a UTF-8 text file (byte {exc.start} is not UTF-8)"
            ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError("scenario", source, f"valid TOML ({exc})") from None
    if not data:
        raise InvalidInputError(
            "scenario",
            source,
            "a scenario with at least one table ([run], [market], ...); an empty file is refused "
            "rather than run as the defaults (margincall scenario show calm prints a full one)",
        )
    return data, source


def is_market(data: dict[str, Any]) -> bool:
    """Whether scenario tables describe a market (several venues and assets: ``[[venues]]``,
    :mod:`margincall.sim.market`) rather than one venue."""
    return "venues" in data


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A preset by name, or a single-venue scenario TOML file by path."""
    data, source = read_scenario_toml(name_or_path, PRESETS)
    if is_market(data):
        raise InvalidInputError(
            "scenario",
            source,
            "a single-venue scenario: this file is a market scenario ([[venues]]), which only "
            "margincall simulate runs so far",
        )
    return parse_scenario(data, source)


def preset_summaries() -> list[tuple[str, str]]:
    """``(name, one-line description)`` of every preset."""
    return [(n, load_scenario(n).description) for n in PRESETS]
