"""Market scenarios (several venues and assets): the schema, its errors and the loader that tells
a market TOML from a single-venue one."""

from __future__ import annotations

import copy
import tomllib

import pytest

from margincall.core.errors import InvalidInputError
from margincall.sim.market import (
    MARKET_PRESETS,
    MarketScenario,
    load_any,
    load_market,
    parse_market,
    scenario_text,
)
from margincall.sim.scenario import PRESETS, Scenario, load_scenario, preset_text

BASE = {
    "name": "two-venues",
    "factor": {"vol_annual": 0.4},
    "venues": [
        {"name": "a", "rulebook": "binance", "instruments": ["BTCUSDT", "ETHUSDT"],
         "insurance_fund_usd": 1e9},
        {"name": "h", "rulebook": "hyperliquid", "instruments": ["BTCUSDT"],
         "insurance_fund_usd": 3e8, "fees": {"taker_fee": 0.0004}},
    ],
    "assets": [
        {"symbol": "BTCUSDT", "start_price": 73000, "beta": 1.0, "idio_vol_annual": 0.0,
         "venues": [{"venue": "a", "open_interest_usd": 7e9, "depth_1pct_usd": 90e6},
                    {"venue": "h", "open_interest_usd": 2e9, "depth_1pct_usd": 20e6}]},
        {"symbol": "ETHUSDT", "start_price": 2148, "beta": 1.5, "idio_vol_annual": 0.41,
         "venues": [{"venue": "a", "open_interest_usd": 4e9, "depth_1pct_usd": 30e6}]},
    ],
    "populations": [
        {"venue": "a", "accounts": 1000, "instruments": ["BTCUSDT", "ETHUSDT"],
         "mix": {"holding_shares": [0.7, 0.3, 0.0], "cross_share": 0.8,
                 "collateral": {"USDT": 0.9, "BTC": 0.1}}},
        {"venue": "h", "accounts": 500, "instruments": ["BTCUSDT"]},
    ],
}  # fmt: skip


def _with(path: str, value) -> dict:
    """BASE with the dotted ``path`` (list indices as numbers) set to ``value``."""
    data = copy.deepcopy(BASE)
    *head, last = path.split(".")
    node = data
    for key in head:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


def test_a_valid_market_parses_with_its_pieces():
    sc = parse_market(BASE)
    assert sc.symbols == ("BTCUSDT", "ETHUSDT")
    assert sc.venue("h").fees.taker_fee == 0.0004
    assert sc.asset("ETHUSDT").beta == 1.5
    assert sc.populations[0].mix.holding_shares == (0.7, 0.3, 0.0)
    assert sc.factor.vol_annual == 0.4 and sc.factor.garch_alpha == 0.06  # the index's fields
    assert sc.start_money_usd("a") == 1e9 + sc.arbitrage.capital_usd_per_venue + 2 * 11e9


# (id, dotted path set, value, the field the error names, text it must hold)
BAD = [
    ("unknown-rulebook", "venues.0.rulebook", "nasdaq", "venues.0.rulebook", "binance, bitmex"),
    ("unknown-instrument", "venues.1.instruments", ["BTCUSDT", "DOGEUSDT"],
     "venues.1.instruments.1", "rulebook hyperliquid"),
    ("asset-without-venue", "assets.1.venues", [], "assets.1.venues", "ETHUSDT"),
    ("asset-on-unknown-venue", "assets.1.venues.0.venue", "okx", "assets.1.venues.0.venue",
     "a, h"),
    ("asset-on-venue-not-listing-it", "assets.1.venues.0.venue", "h", "assets.1.venues.0.venue",
     "include ETHUSDT"),
    ("instrument-without-asset", "venues.1.instruments", ["BTCUSDT", "SOLUSDT"],
     "venues.1.instruments.1", "[[assets]]"),
    ("population-instrument-not-listed", "populations.1.instruments", ["BTCUSDT", "ETHUSDT"],
     "populations.1.instruments.1", "venue h lists"),
    ("population-on-unknown-venue", "populations.1.venue", "okx", "populations.1.venue", "a, h"),
    ("holding-shares-sum", "populations.0.mix.holding_shares", [0.7, 0.3, 0.1],
     "populations.0.mix.holding_shares", "summing to 1"),
    ("holding-shares-just-off", "populations.0.mix.holding_shares", [0.7, 0.3 - 1e-8, 0.0],
     "populations.0.mix.holding_shares", "summing to 1"),
    ("holding-more-than-listed", "populations.1.mix", {"holding_shares": [0.5, 0.5, 0.0]},
     "populations.1.mix.holding_shares", "1 instruments"),
    ("collateral-sum", "populations.0.mix.collateral", {"USDT": 0.5, "BTC": 0.4},
     "populations.0.mix.collateral", "summing to 1"),
    ("collateral-unknown", "populations.1.mix", {"collateral": {"USDT": 1.0}},
     "populations.1.mix.collateral", "rulebook hyperliquid: USDC"),
    ("cohort-accounts-sum", "populations.1.cohorts",
     {"retail": {"share_of_open_interest": 0.3, "share_of_accounts": 0.5, "long_share": 0.5,
                 "leverage_min": 2, "leverage_max": 10}},
     "populations.1.cohorts", "sum to"),
    ("duplicate-venue", "venues.1.name", "a", "venues.1.name", "repeated"),
    ("duplicate-asset", "assets.1.symbol", "BTCUSDT", "assets.1.symbol", "repeated"),
    ("duplicate-listing", "assets.0.venues.1.venue", "a", "assets.0.venues.1.venue", "repeated"),
    ("duplicate-instrument", "venues.1.instruments", ["BTCUSDT", "BTCUSDT"],
     "venues.1.instruments.1", "repeated"),
    ("duplicate-population", "populations.1.venue", "a", "populations.1.venue", "repeated"),
    ("negative-fund", "venues.0.insurance_fund_usd", -1, "venues.0.insurance_fund_usd",
     "greater than or equal to 0"),
    ("fee-too-high", "venues.1.fees", {"taker_fee": 0.5}, "venues.1.fees.taker_fee",
     "less than or equal to 0.01"),
    ("oi-inf", "assets.0.venues.0.open_interest_usd", float("inf"),
     "assets.0.venues.0.open_interest_usd", "finite"),
    ("unknown-field", "assets.0.bta", 1.0, "assets.0.bta", "Extra inputs"),
    ("from-data-other-instrument", "populations.1.from_data",
     {"instrument": "ETHUSDT", "file": "panel.csv"}, "populations.1.from_data.instrument",
     "BTCUSDT"),
    ("transfer-order", "arbitrage", {"transfer_minutes_min": 5, "transfer_minutes_max": 1},
     "arbitrage.transfer_minutes_max", "at least"),
    ("perp-flow", "flow", {"perp": [{"start_hour": 0, "end_hour": 1, "usd_per_hour": -1e8}]},
     "flow.perp", "[[flow.spot]]"),
    ("maker-capital", "makers", {"capital_usd": 1e9}, "makers.capital_usd",
     "one maker account per venue"),
    ("leverage-scale-zero", "assets.1.leverage_scale", 0, "assets.1.leverage_scale",
     "greater than 0"),
    ("perp-mid-weight-negative", "venues.0.perp_mid_weight", -1, "venues.0.perp_mid_weight",
     "greater than or equal to 0"),
    ("perp-mid-weight-fraction", "venues.0.perp_mid_weight", 1.5, "venues.0.perp_mid_weight",
     "integer"),
    ("perp-mid-weight-text", "venues.1.perp_mid_weight", "3", "venues.1.perp_mid_weight",
     "integer"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "value", "field", "text"), [c[1:] for c in BAD],
                         ids=[c[0] for c in BAD])  # fmt: skip
def test_bad_market_input_names_field_value_and_expected(path, value, field, text):
    with pytest.raises(InvalidInputError) as exc:
        parse_market(_with(path, value), "m.toml")
    assert exc.value.field == f"m.toml: {field}"
    assert text in exc.value.expected
    last = field.rsplit(".", 1)[-1]
    if isinstance(value, list) and last.isdigit():
        value = value[int(last)]  # the error names the one bad element
    if not isinstance(value, dict):
        assert exc.value.value == value or (value == [] and exc.value.value == [])


def _book(venue="a", asset="USDE", **more) -> dict:
    data = _with("populations.0.mix.collateral", {"USDT": 0.8, "BTC": 0.1, "USDE": 0.1})
    data["stablecoin_books"] = [
        {"venue": venue, "asset": asset, "depth_1pct_usd": 2e6, "capital_usd": 2e7} | more
    ]
    return data


def test_a_stablecoin_book_parses_with_the_makers_defaults():
    sc = parse_market(_book())
    assert (sc.stablecoin_books[0].venue, sc.stablecoin_books[0].asset) == ("a", "USDE")
    assert (sc.stablecoin_makers.refill_minutes, sc.stablecoin_makers.redeem_minutes) == (10, 60)


BAD_BOOKS = [
    ("unknown-venue", _book(venue="okx"), "stablecoin_books.0.venue", "okx", "a, h"),
    ("settlement-asset", _book(asset="USDT"), "stablecoin_books.0.asset", "USDT",
     "own book: USDE"),
    ("index-priced", _book(asset="USDC"), "stablecoin_books.0.asset", "USDC", "own book: USDE"),
    ("not-a-stablecoin", _book(asset="BTC"), "stablecoin_books.0.asset", "BTC", "own book: USDE"),
    ("venue-without-own-book-assets", _book(venue="h"), "stablecoin_books.0.asset", "USDE",
     "rulebook hyperliquid"),
    ("not-deposited", _book() | {"populations": BASE["populations"]},
     "stablecoin_books.0.asset", "USDE", "population deposits"),
    ("duplicate", _book() | {"stablecoin_books": _book()["stablecoin_books"] * 2},
     "stablecoin_books.1", "a/USDE", "repeated"),
    ("zero-depth", _book(depth_1pct_usd=0), "stablecoin_books.0.depth_1pct_usd", 0,
     "greater than 0"),
    ("refill-zero", _book() | {"stablecoin_makers": {"refill_minutes": 0}},
     "stablecoin_makers.refill_minutes", 0, "greater than 0"),
]  # fmt: skip


@pytest.mark.parametrize(("data", "field", "value", "text"), [c[1:] for c in BAD_BOOKS],
                         ids=[c[0] for c in BAD_BOOKS])  # fmt: skip
def test_bad_stablecoin_book_names_field_value_and_expected(data, field, value, text):
    with pytest.raises(InvalidInputError) as exc:
        parse_market(data, "m.toml")
    assert exc.value.field == f"m.toml: {field}"
    assert exc.value.value == value and text in exc.value.expected


def test_a_venue_holding_more_money_than_the_engine_counts_is_refused():
    data = _with("venues.0.insurance_fund_usd", 1e12)
    data["arbitrage"] = {"capital_usd_per_venue": 1e12}
    data["assets"][0]["venues"][0]["open_interest_usd"] = 1e12
    with pytest.raises(InvalidInputError) as exc:
        parse_market(data, "m.toml")
    assert exc.value.field == "m.toml: venues.0" and exc.value.value == "a"
    assert "at most 4,000,000,000,000 USD" in exc.value.expected


def test_shares_within_the_tolerance_pass():
    parse_market(_with("populations.0.mix.holding_shares", [0.7, 0.3 - 1e-12, 0.0]))


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


MARKET_TOML = """
name = "tiny-market"
[[venues]]
name = "a"
rulebook = "binance"
instruments = ["BTCUSDT"]
insurance_fund_usd = 1e9
[[assets]]
symbol = "BTCUSDT"
start_price = 73000
[[assets.venues]]
venue = "a"
open_interest_usd = 7e9
depth_1pct_usd = 90e6
"""


def test_the_loader_tells_a_market_from_one_venue(tmp_path):
    market = _write(tmp_path, "m.toml", MARKET_TOML)
    single = _write(tmp_path, "s.toml", "[market]\nstart_price = 60000\n")
    assert isinstance(load_any(market), MarketScenario)
    assert load_market(market).name == "tiny-market"
    assert isinstance(load_any(single), Scenario)
    with pytest.raises(InvalidInputError, match="a market scenario"):
        load_market(single)
    with pytest.raises(InvalidInputError, match=r"market scenario \(\[\[venues\]\]\)"):
        load_scenario(market)  # the single-venue path says what the file is


@pytest.mark.parametrize("name", PRESETS)
def test_every_single_venue_preset_means_the_same_through_either_loader(name):
    assert load_any(name) == load_scenario(name)
    assert scenario_text(name) == preset_text(name)


@pytest.mark.parametrize("name", MARKET_PRESETS)
def test_market_presets_load_and_validate(name):
    sc = load_market(name)
    assert sc.name == name and sc.description
    text = scenario_text(name)
    assert "#" in text and tomllib.loads(text)["venues"]


def test_scenario_text_validates_a_file_before_printing_it(tmp_path):
    good = _write(tmp_path, "m.toml", MARKET_TOML)
    assert scenario_text(good) == MARKET_TOML
    bad = _write(tmp_path, "bad.toml", MARKET_TOML.replace('"binance"', '"nasdaq"'))
    with pytest.raises(InvalidInputError, match=r"venues\.0\.rulebook"):
        scenario_text(bad)
    with pytest.raises(InvalidInputError, match="feb-2026-market"):
        scenario_text(tmp_path / "missing.toml")


def test_oct_2025_describes_behaviour_as_feb_2026_market_does():
    feb, oct_ = load_market("feb-2026-market"), load_market("oct-2025")
    assert oct_.factor == feb.factor and oct_.arbitrage == feb.arbitrage
    assert oct_.makers == feb.makers and oct_.momentum == feb.momentum
    assert oct_.stablecoin_makers == feb.stablecoin_makers
    assert [(a.leverage_scale, a.drives_factor) for a in oct_.assets] == [
        (a.leverage_scale, a.drives_factor) for a in feb.assets
    ]
    for mine, theirs in zip(oct_.populations, feb.populations, strict=True):
        assert (mine.venue, mine.accounts, mine.mix) == (theirs.venue, theirs.accounts, theirs.mix)
    for cohort in ("retail", "capital"):  # all but the entry drift, an input of the day
        a = getattr(oct_.cohorts, cohort).model_dump(exclude={"entry_drift"})
        assert a == getattr(feb.cohorts, cohort).model_dump(exclude={"entry_drift"})
    assert [v.model_dump(exclude={"insurance_fund_usd"}) for v in oct_.venues] == [
        v.model_dump(exclude={"insurance_fund_usd"}) for v in feb.venues
    ]
    assert oct_.run.start.isoformat() == "2025-10-10T00:00:00+00:00"


def test_feb_2026_markets_first_venue_builds_btc_from_the_shared_panel(real_csv):
    from margincall.sim.panel_population import population_from_panel
    from margincall.sources.panel import read_panel

    sc = load_market("feb-2026-market")
    src = sc.populations[0].from_data
    assert (sc.populations[0].venue, src.instrument) == ("binance-a", "BTCUSDT")
    assert src.file.endswith(real_csv.name)
    panel = read_panel(real_csv)
    oi = panel.filter(panel["ts"] == sc.run.start)["oi_usd"].item()
    listing = sc.asset("BTCUSDT").venues[0]
    assert listing.venue == "binance-a"
    assert listing.open_interest_usd == pytest.approx(oi, rel=0.005)  # the panel's, rounded
    pop = population_from_panel(real_csv, sc.run.start)
    assert 0 < pop["notional"].sum() < oi


def test_the_example_in_the_docs_validates():
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "market-scenario.md"
    example = re.search(r"```toml\n(.*?)```", doc.read_text(), re.S).group(1)
    sc = parse_market(tomllib.loads(example), "docs/market-scenario.md")
    assert sc.populations[0].from_data.instrument == "BTCUSDT"


def test_one_asset_at_most_is_the_factor():
    data = _with("assets.0.drives_factor", True)
    data["assets"][1]["drives_factor"] = True
    with pytest.raises(InvalidInputError) as exc:
        parse_market(data, "m.toml")
    assert exc.value.field == "m.toml: assets.drives_factor"
    assert exc.value.value == ["BTCUSDT", "ETHUSDT"]


def test_perp_mid_weight_defaults_to_one_and_the_presets_weigh_binance_3_and_the_rest_6():
    """Hyperliquid's mark weighs CEX perp mids Binance 3, OKX 2, Bybit 2, Gate 1, MEXC 1; the
    presets aggregate OKX, Bybit, Gate and MEXC into others-b (2 + 2 + 1 + 1)."""
    assert [v.perp_mid_weight for v in parse_market(BASE).venues] == [1, 1]
    assert parse_market(_with("venues.0.perp_mid_weight", 0)).venues[0].perp_mid_weight == 0
    for name in MARKET_PRESETS:
        weights = {v.name: v.perp_mid_weight for v in load_market(name).venues}
        assert weights["binance-a"] == 3 and weights["others-b"] == 6, name
