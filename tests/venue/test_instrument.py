"""Rulebooks as data: packaged files, tier arithmetic, integer views and file validation."""

from __future__ import annotations

import itertools
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from margincall.core.errors import InvalidInputError, RulebookError
from margincall.venue.instrument import (
    RULEBOOKS,
    Instrument,
    MarginTier,
    load_rulebook,
    make_tiers,
    rulebook_from_dict,
)

D = Decimal
ALL_INSTRUMENTS = [(name, sym) for name in RULEBOOKS for sym in load_rulebook(name).instruments]


@pytest.mark.parametrize("name", RULEBOOKS)
def test_every_packaged_rulebook_loads_with_the_shared_symbols(name):
    rb = load_rulebook(name)
    assert rb.name == name
    assert rb.symbols == ("BTCUSDT", "ETHUSDT", "SOLUSDT", "WIFUSDT")
    assert rb.liquidation["policy"] == name
    for sym, inst in rb.instruments.items():
        assert inst.symbol == sym and inst.rulebook == name
        assert inst.native_symbol


def test_rulebook_files_are_package_resources_shipped_inside_the_package():
    folder = resources.files("margincall.venue").joinpath("rulebooks")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".toml"))
    assert names == [f"{n}.toml" for n in sorted(RULEBOOKS)]
    # hatchling's packages = ["src/margincall"] ships every file under the package folder
    assert Path(str(folder)).parent.parent.name == "margincall"


@pytest.mark.parametrize(("name", "symbol"), ALL_INSTRUMENTS)
def test_cum_follows_the_recurrence_and_mm_is_continuous_at_every_floor(name, symbol):
    inst = load_rulebook(name).instrument(symbol)
    tiers = inst.tiers
    assert tiers[0].floor_usd == 0 and tiers[0].cum_usd == 0 and tiers[-1].cap_usd is None
    for prev, tier in itertools.pairwise(tiers):
        assert prev.cap_usd == tier.floor_usd
        assert tier.cum_usd == prev.cum_usd + tier.floor_usd * (tier.mmr - prev.mmr)
        f = tier.floor_usd
        assert f * prev.mmr - prev.cum_usd == f * tier.mmr - tier.cum_usd
    # the same continuity holds exactly in the integer views (micro-dollars x ppm)
    fl, mmr, cum = inst.tier_floor_micros, inst.tier_mmr_ppm, inst.tier_cum_micros
    for n in range(1, len(fl)):
        left = int(fl[n]) * int(mmr[n - 1]) - int(cum[n - 1]) * 1_000_000
        right = int(fl[n]) * int(mmr[n]) - int(cum[n]) * 1_000_000
        assert left == right


@pytest.mark.parametrize(("name", "symbol"), ALL_INSTRUMENTS)
def test_initial_margin_rate_is_above_maintenance_in_every_tier(name, symbol):
    inst = load_rulebook(name).instrument(symbol)
    assert (inst.tier_imr_ppm > inst.tier_mmr_ppm).all()
    assert all(t.imr > t.mmr for t in inst.tiers)


def test_binance_btcusdt_cum_equals_reference_vector_b5():
    btc = load_rulebook("binance").instrument("BTCUSDT")
    expected = [0, 50, 1_300, 16_300, 266_300, 1_266_300, 2_516_300, 5_016_300, 25_016_300,
                100_016_300]  # fmt: skip
    assert [t.cum_usd for t in btc.tiers] == [D(x) for x in expected]
    assert btc.tier_cum_micros.tolist() == [x * 1_000_000 for x in expected]
    assert [int(t.max_leverage) for t in btc.tiers] == [125, 100, 50, 20, 10, 5, 4, 3, 2, 1]


def test_binance_faq_examples_pick_bracket_3_and_mm_3700():
    btc = load_rulebook("binance").instrument("BTCUSDT")
    assert btc.tiers[btc.tier_for_notional(264_000)].mmr == D("0.01")
    assert btc.tiers[btc.tier_for_notional(500_000)].cum_usd == 1_300
    assert btc.maintenance_margin_usd(500_000) == 3_700


def test_binance_ethusdt_reproduces_the_calculator_cum_135365_at_mmr_10_percent():
    eth = load_rulebook("binance").instrument("ETHUSDT")
    t = eth.tiers[eth.tier_for_notional(3_683.979 * 1_335.18)]
    assert (t.mmr, t.cum_usd) == (D("0.1"), 135_365)


def test_tier_floor_is_inclusive_and_the_last_tier_is_open_ended():
    btc = load_rulebook("binance").instrument("BTCUSDT")
    assert btc.tier_for_notional(0) == 0
    assert btc.tier_for_notional("49999.999999") == 0
    assert btc.tier_for_notional(50_000) == 1
    assert btc.tier_for_notional(10**12) == 9
    with pytest.raises(InvalidInputError, match="notional_usd"):
        btc.tier_for_notional(-1)


def test_integer_views_are_whole_ppm_and_read_only():
    bn = load_rulebook("binance")
    btc, eth = bn.instrument("BTCUSDT"), bn.instrument("ETHUSDT")
    assert btc.tier_imr_ppm[:3].tolist() == [8_000, 10_000, 20_000]
    assert eth.tier_imr_ppm[1] == 13_334  # 1e6/75 rounded up
    assert (btc.maker_fee_ppm, btc.taker_fee_ppm, btc.liquidation_fee_ppm) == (200, 500, 12_500)
    assert btc.tier_floor_micros.dtype == np.int64
    with pytest.raises(ValueError, match="read-only"):
        btc.tier_mmr_ppm[0] = 1
    assert load_rulebook("bitmex").instrument("BTCUSDT").maker_fee_ppm == -250  # maker rebate
    assert btc.funding_interest_ppb == 100_000 and btc.funding_clamp_ppb == 500_000


def test_hyperliquid_tiers_are_half_the_initial_rate():
    hl = load_rulebook("hyperliquid")
    btc, eth = hl.instrument("BTCUSDT"), hl.instrument("ETHUSDT")
    assert btc.tier_mmr_ppm.tolist() == [12_500, 25_000]
    assert btc.tier_floor_micros.tolist() == [0, 150_000_000 * 10**6]
    assert btc.tiers[1].cum_usd == 1_875_000
    assert eth.tier_mmr_ppm.tolist() == [20_000, 33_334]  # 1/30 rounded up to whole ppm
    assert hl.funding_interval_hours == 1 and hl.funding_cap_per_interval == D("0.04")
    assert hl.liquidation["backstop_ratio"] == Fraction(2, 3)
    assert hl.liquidation["partial_fraction"] == D("0.2")
    assert hl.adl_ranking == "hyperliquid_index" and hl.adl_close_price == "mark"


def test_dydx_is_one_linear_tier_with_genesis_liquidation_config():
    dy = load_rulebook("dydx")
    btc = dy.instrument("BTCUSDT")
    assert btc.native_symbol == "BTC-USD" and len(btc.tiers) == 1
    assert (btc.tier_imr_ppm[0], btc.tier_mmr_ppm[0]) == (20_000, 12_000)
    assert btc.open_interest_upper_cap_usd == 0
    liq = dy.liquidation
    assert liq["max_liquidation_fee_ppm"] == 15_000
    assert liq["spread_to_maintenance_margin_ratio_ppm"] == 1_500_000
    assert liq["min_position_notional_usd"] == 1_000
    assert liq["max_liquidation_attempts_per_block"] == 50
    assert dy.funding_formula == "dydx" and dy.funding_clamp == D("0.048")


def test_unknown_symbol_lists_the_valid_symbols():
    with pytest.raises(InvalidInputError, match="BTCUSDT, ETHUSDT, SOLUSDT, WIFUSDT"):
        load_rulebook("bitmex").instrument("XBTUSD")


def test_unknown_rulebook_name_lists_the_packaged_names():
    with pytest.raises(InvalidInputError, match="binance, bitmex, dydx, hyperliquid"):
        load_rulebook("okx")


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InvalidInputError, match="readable TOML"):
        load_rulebook(tmp_path / "nope.toml")


def test_loading_by_path_gives_the_same_rulebook_as_by_name():
    path = resources.files("margincall.venue").joinpath("rulebooks", "dydx.toml")
    assert load_rulebook(str(path)).instruments == load_rulebook("dydx").instruments


GOOD = """
[rulebook]
name = "tiny"
mark = "median"
funding_formula = "clamped"
funding_interval_hours = 8
funding_interest_per_8h = "0.0001"
funding_clamp = "0.0005"
funding_cap_per_interval = "0.0075"

[liquidation]
policy = "binance"
order_type = "ioc"
partial_to_lower_tier = true
takeover_price = "bankruptcy"

[adl]
ranking = "binance_leverage_pnl"
close_price = "bankruptcy"

[instruments.BTCUSDT]
native_symbol = "BTCUSDT"
base = "BTC"
quote = "USDT"
tick_size = "0.1"
lot_size = "0.001"
maker_fee = "0.0002"
taker_fee = "0.0005"
liquidation_fee = "0.0125"
price_band = "0.05"
impact_notional_usd = "25000"
tiers = [
  { floor_usd = "0", max_leverage = 125, mmr = "0.004" },
  { floor_usd = "50000", max_leverage = 100, mmr = "0.005", cum_usd = "50" },
  { floor_usd = "250000", max_leverage = 50, mmr = "0.01" },
]

[collateral.USDT]
settlement = true
ratio = "1"
price = { index = "1" }

[collateral.BTC]
tiers = [{ floor = "0", ratio = "0.98" }, { floor = "10", ratio = "0.95" }]
ask_buffer = "0.05"
auto_exchange_buffer = "0.025"
price = { own_book = "0.25", index = "0.75" }
price_floor = "0"

[portfolio]
procedure = "binance_all_legs"
negative_balance = "ask"
funds = { BTCUSDT = "BTCUSDT", default = "shared" }
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_small_good_file_loads_and_bare_floats_are_exact(tmp_path):
    rb = load_rulebook(_write(tmp_path, GOOD.replace('mmr = "0.004"', "mmr = 0.004")))
    assert rb.instrument("BTCUSDT").tiers[0].mmr == D("0.004")
    assert rb.instrument("BTCUSDT").funding_cap_per_interval == D("0.0075")


BAD = [
    # (what is wrong, old text, new text, field named, value named)
    ("missing key", 'lot_size = "0.001"\n', "", "instruments.BTCUSDT.lot_size", "<missing>"),
    ("typo key", "tick_size =", "tick_sise =", "instruments.BTCUSDT.tick_sise", "0.1"),
    ("zero tick", 'tick_size = "0.1"', 'tick_size = "0"', "instruments.BTCUSDT.tick_size", "'0'"),
    ("negative lot", 'lot_size = "0.001"', 'lot_size = "-1"', "BTCUSDT.lot_size", "'-1'"),
    ("sub-micro tick-lot", 'lot_size = "0.001"', 'lot_size = "0.000001"',
     "instruments.BTCUSDT.tick_size*lot_size", "1E-7"),
    ("not a number", 'tick_size = "0.1"', 'tick_size = "abc"', "BTCUSDT.tick_size", "abc"),
    ("first floor", 'floor_usd = "0",', 'floor_usd = "10",', "tiers[0].floor_usd", "'10'"),
    ("floors not increasing", 'floor_usd = "250000"', 'floor_usd = "50000"',
     "instruments.BTCUSDT.tiers[2].floor_usd", "'50000'"),
    ("mmr above 1", 'mmr = "0.01"', 'mmr = "1.5"', "instruments.BTCUSDT.tiers[2].mmr", "1.5"),
    ("mmr zero", 'mmr = "0.004"', 'mmr = "0"', "tiers[0].mmr", "'0'"),
    ("mmr decreasing", 'mmr = "0.01"', 'mmr = "0.0045"', "tiers[2].mmr", "0.0045"),
    ("mmr not whole ppm", 'mmr = "0.01"', 'mmr = "0.0100001"', "tiers[2].mmr", "0.0100001"),
    ("leverage increasing", "max_leverage = 50", "max_leverage = 110",
     "tiers[2].max_leverage", "110"),
    ("leverage not positive", "max_leverage = 125", "max_leverage = -5",
     "tiers[0].max_leverage", "-5"),
    ("imr not above mmr", "max_leverage = 50", "max_leverage = 100", "tiers[2].max_leverage",
     "100"),
    ("cum breaks recurrence", 'cum_usd = "50"', 'cum_usd = "51"', "tiers[1].cum_usd", "51"),
    ("fee not whole ppm", 'maker_fee = "0.0002"', 'maker_fee = "0.00021234"',
     "instruments.BTCUSDT.maker_fee", "0.00021234"),
    ("unknown policy", 'policy = "binance"', 'policy = "okx"', "liquidation.policy", "okx"),
    ("unknown ranking", 'ranking = "binance_leverage_pnl"', 'ranking = "by_luck"',
     "adl.ranking", "by_luck"),
    ("unknown mark", 'mark = "median"', 'mark = "last"', "rulebook.mark", "last"),
    ("policy param typo", "partial_to_lower_tier", "partial_to_lower_teir",
     "liquidation.partial_to_lower_teir", "True"),
    ("bad choice", 'order_type = "ioc"', 'order_type = "gtc"', "liquidation.order_type", "gtc"),
    ("unknown table", "[adl]", "[adls]", "adls", "ranking"),
    ("negative cap", 'funding_cap_per_interval = "0.0075"', 'funding_cap_per_interval = "-1"',
     "rulebook.funding_cap_per_interval", "-1"),
    ("malformed toml", "[adl]", "[adl", "<toml>", "line"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "old", "new", "field", "value"), BAD, ids=[b[0] for b in BAD])
def test_malformed_file_raises_rulebook_error_naming_file_field_and_value(
    tmp_path, case, old, new, field, value
):
    assert old in GOOD, case
    path = _write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(RulebookError) as info:
        load_rulebook(path)
    msg = str(info.value)
    assert str(path) in msg and info.value.source == str(path)
    assert field in info.value.field, msg
    assert value in msg, msg


def test_bad_fraction_in_hyperliquid_policy_is_named():
    data = _hyperliquid_dict()
    data["liquidation"]["backstop_ratio"] = "3/2"
    with pytest.raises(RulebookError, match=r"liquidation.backstop_ratio='3/2'"):
        rulebook_from_dict(data)


def _hyperliquid_dict() -> dict:
    import tomllib

    path = resources.files("margincall.venue").joinpath("rulebooks", "hyperliquid.toml")
    return tomllib.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)


def test_rulebook_from_dict_reads_python_floats_by_repr():
    data = _hyperliquid_dict()
    data["instruments"]["BTCUSDT"]["taker_fee"] = 0.0005
    assert rulebook_from_dict(data).instrument("BTCUSDT").taker_fee_ppm == 500


def test_instrument_built_in_code_checks_its_tiers():
    btc = load_rulebook("binance").instrument("BTCUSDT")
    bad_cap = (replace(btc.tiers[0], cap_usd=D(40_000)), *btc.tiers[1:])
    with pytest.raises(RulebookError, match="tiers"):
        replace(btc, tiers=bad_cap)
    bad_cum = (btc.tiers[0], MarginTier(D(50_000), D(250_000), D(100), D("0.005"), D(49)))
    with pytest.raises(RulebookError, match=r"tiers\[1\].cum_usd"):
        replace(btc, tiers=bad_cum)


def test_make_tiers_computes_caps_and_cum():
    tiers = make_tiers([(0, 40, "0.0125", None), (150_000_000, 20, "0.025", None)])
    assert [t.cap_usd for t in tiers] == [D(150_000_000), None]
    assert tiers[1].cum_usd == 1_875_000


def test_instrument_equality_ignores_the_cached_arrays():
    a = load_rulebook("binance").instrument("BTCUSDT")
    b = load_rulebook("binance").instrument("BTCUSDT")
    assert a == b and isinstance(a, Instrument)


def test_rulebooks_and_instruments_survive_pickling_for_worker_processes():
    import pickle

    rb = load_rulebook("hyperliquid")
    back = pickle.loads(pickle.dumps(rb))
    assert back == rb and back.symbols == rb.symbols
    assert back.instrument("ETHUSDT").tier_mmr_ppm.tolist() == [20_000, 33_334]
    with pytest.raises(TypeError):
        back.instruments["X"] = back.instrument("BTCUSDT")  # type: ignore[index]
    assert hash(rb.instrument("BTCUSDT")) == hash(back.instrument("BTCUSDT"))


def test_hyperliquid_mmr_is_half_the_initial_rate_rounded_up_to_whole_ppm():
    for inst in load_rulebook("hyperliquid").instruments.values():
        for t, ppm in zip(inst.tiers, inst.tier_mmr_ppm.tolist(), strict=True):
            assert ppm == -(-1_000_000 // (2 * int(t.max_leverage)))


def test_dydx_funding_clamp_is_600_percent_of_imf_minus_mmf():
    dy = load_rulebook("dydx")
    btc = dy.instrument("BTCUSDT")
    imf, mmf = 1 / btc.tiers[0].max_leverage, btc.tiers[0].mmr
    assert dy.funding_clamp == 6 * (imf - mmf) == D("0.048")
    assert dy.funding_cap_per_interval == dy.funding_clamp / 8


# ---- collateral assets and portfolio rules ----------------------------------------------------


def test_the_good_file_reads_collateral_tiers_buffers_weights_and_funds(tmp_path):
    rb = load_rulebook(_write(tmp_path, GOOD))
    btc = rb.collateral_asset("BTC")
    assert [(t.floor, t.cap, t.ratio, t.cum) for t in btc.tiers] == [
        (0, 10, D("0.98"), 0),
        (10, None, D("0.95"), D("0.30")),
    ]
    assert (btc.ask_buffer, btc.auto_exchange_buffer, btc.settlement) == (
        D("0.05"),
        D("0.025"),
        False,
    )
    assert (btc.price.own_book, btc.price.index, btc.price.redemption, btc.price.fixed) == (
        D("0.25"),
        D("0.75"),
        0,
        0,
    )
    assert btc.price.price(D("0.6"), D("1"), D("0")) == D("0.9")
    assert btc.tier_ratio_ppm == (980_000, 950_000) and btc.buffers_ppm == (50_000, 25_000)
    assert btc.price_weights_ppm == (250_000, 750_000, 0, 0)
    assert rb.settlement_asset == "USDT" and rb.collateral_asset("USDT").ratio == 1
    assert rb.portfolio.procedure == "binance_all_legs" and rb.portfolio.negative_balance == "ask"
    assert rb.fund_for("BTCUSDT") == "BTCUSDT" and rb.portfolio.fund_ids == ("BTCUSDT", "shared")


P11_TIERS = [("0", "0.98"), ("10", "0.95"), ("20", "0.90"), ("30", "0.85"), ("40", "0.80"),
             ("50", "0")]  # fmt: skip


@pytest.mark.parametrize(
    ("qty", "units"),
    [pytest.param(5, "4.9", id="P11-5"), pytest.param(25, "23.8", id="P11-25"),
     pytest.param(60, "44.8", id="P11-60"), pytest.param(50, "44.8", id="P11-floor-50")],
)  # fmt: skip
def test_p11_tiered_collateral_cumc_and_value_from_the_loader(qty, units):
    data = _hyperliquid_dict()
    data["collateral"]["BTC"] = {
        "tiers": [{"floor": f, "ratio": r} for f, r in P11_TIERS],
        "price": {"index": "1"},
    }
    btc = rulebook_from_dict(data).collateral_asset("BTC")
    assert [t.cum for t in btc.tiers] == [D(x) for x in ("0", "0.3", "1.3", "2.8", "4.8", "44.8")]
    assert btc.collateral_units(qty) == D(units)  # x 100,000: 490,000 / 2,380,000 / 4,480,000


@pytest.mark.parametrize(
    ("name", "settle", "procedure", "negative", "funds"),
    [
        ("binance", "USDT", "binance_all_legs", "ask",
         {"BTCUSDT": "BTCUSDT", "ETHUSDT": "ETHUSDT", "SOLUSDT": "shared", "WIFUSDT": "shared"}),
        ("bitmex", "USDT", "bitmex_takeover_all", "par", dict.fromkeys(("BTCUSDT", "WIFUSDT"), "USDT")),
        ("dydx", "USDC", "dydx_rotation", "par", {"SOLUSDT": "insurance-fund"}),
        ("hyperliquid", "USDC", "hyperliquid_market_all", "par", {"ETHUSDT": "backstop"}),
    ],
)  # fmt: skip
def test_packaged_portfolio_rules_and_settlement_assets(name, settle, procedure, negative, funds):
    rb = load_rulebook(name)
    assert rb.settlement_asset == settle
    assert all(inst.quote == settle for inst in rb.instruments.values())
    assert (rb.portfolio.procedure, rb.portfolio.negative_balance) == (procedure, negative)
    assert {sym: rb.fund_for(sym) for sym in funds} == funds


def test_packaged_collateral_assets_and_their_documented_ratios():
    bn, bm = load_rulebook("binance"), load_rulebook("bitmex")
    assert list(bn.collateral) == ["USDT", "USDC", "BTC", "USDE"]
    assert bn.collateral_asset("BTC").ratio == D("0.95")
    assert bn.collateral_asset("BTC").auto_exchange_buffer == D("0.025")
    usde = bn.collateral_asset("USDE")
    assert (usde.ratio, usde.auto_exchange_buffer, usde.price.own_book) == (D("0.9"), D("0.05"), 1)
    assert [bm.collateral_asset(a).ratio for a in ("XBT", "USDT", "USDC")] == [
        D("0.95"),
        1,
        D("0.98"),
    ]
    for name in ("dydx", "hyperliquid"):
        usdc = load_rulebook(name).collateral_asset("USDC")
        assert list(load_rulebook(name).collateral) == ["USDC"]
        assert (usdc.ratio, usdc.price.fixed, usdc.settlement) == (1, 1, True)


def test_packaged_sol_and_thin_altcoin_tiers_follow_the_reference():
    hl, dy = load_rulebook("hyperliquid"), load_rulebook("dydx")
    assert hl.instrument("SOLUSDT").tier_mmr_ppm.tolist() == [25_000, 50_000]
    assert hl.instrument("SOLUSDT").tier_floor_micros.tolist() == [0, 70_000_000 * 10**6]
    sol, wif = dy.instrument("SOLUSDT"), dy.instrument("WIFUSDT")
    assert (sol.tier_imr_ppm[0], sol.tier_mmr_ppm[0]) == (100_000, 50_000)  # Small-Cap
    assert (sol.open_interest_lower_cap_usd, sol.open_interest_upper_cap_usd) == (20e6, 50e6)
    assert (wif.tier_imr_ppm[0], wif.tier_mmr_ppm[0]) == (200_000, 100_000)  # Long-Tail
    assert [load_rulebook(n).instrument("WIFUSDT").native_symbol for n in RULEBOOKS] == [
        "WIFUSDT",
        "WIFUSDT",
        "WIF-USD",
        "WIF",
    ]


def test_an_undefined_collateral_asset_is_named_with_the_defined_ones():
    with pytest.raises(InvalidInputError, match=r"collateral asset='USDE'.*one of USDC") as e:
        load_rulebook("hyperliquid").collateral_asset("USDE")
    assert e.value.field == "collateral asset" and e.value.value == "USDE"
    with pytest.raises(InvalidInputError, match="symbol='DOGEUSDT'"):
        load_rulebook("binance").fund_for("DOGEUSDT")


BAD_COLLATERAL = [
    ("negative haircut", 'ratio = "1"', 'ratio = "1.2"', "collateral.USDT.ratio", "negative haircut"),
    ("negative ratio", 'ratio = "1"', 'ratio = "-0.1"', "collateral.USDT.ratio", "-0.1"),
    ("ratio not whole ppm", 'ratio = "1"', 'ratio = "0.99999999"', "collateral.USDT.ratio",
     "0.99999999"),
    ("tier ratio above 1", 'ratio = "0.95" }', 'ratio = "1.05" }', "collateral.BTC.tiers[1].ratio",
     "1.05"),
    ("floors not increasing", 'floor = "10"', 'floor = "0"', "collateral.BTC.tiers[1].floor", "'0'"),
    ("first floor", '{ floor = "0", ratio = "0.98" }', '{ floor = "1", ratio = "0.98" }',
     "collateral.BTC.tiers[0].floor", "'1'"),
    ("weights not summing to 1", 'index = "0.75"', 'index = "0.5"', "collateral.BTC.price",
     "index=0.5"),
    ("unknown price source", 'index = "0.75"', 'oracle = "0.75"', "collateral.BTC.price.oracle",
     "0.75"),
    ("ratio and tiers", 'ask_buffer = "0.05"', 'ratio = "0.9"\nask_buffer = "0.05"',
     "collateral.BTC", "exactly one of ratio or tiers"),
    ("buffer of 1", 'ask_buffer = "0.05"', 'ask_buffer = "1"', "collateral.BTC.ask_buffer", "'1'"),
    ("negative floor price", 'price_floor = "0"', 'price_floor = "-1"',
     "collateral.BTC.price_floor", "-1"),
    ("unknown key", "ask_buffer =", "bid_buffer =", "collateral.BTC.bid_buffer", "0.05"),
    ("no settlement asset", "settlement = true", "settlement = false", "collateral.*.settlement",
     "none"),
    ("two settlement assets", 'ask_buffer = "0.05"', 'settlement = true\nask_buffer = "0.05"',
     "collateral.*.settlement", "['USDT', 'BTC']"),
    ("quote not collateral", "[collateral.USDT]", "[collateral.USDC]", "collateral", "USDT"),
    ("unknown procedure", 'procedure = "binance_all_legs"', 'procedure = "largest_first"',
     "portfolio.procedure", "largest_first"),
    ("unknown negative rule", 'negative_balance = "ask"', 'negative_balance = "bid"',
     "portfolio.negative_balance", "bid"),
    ("fund for an unknown symbol", 'BTCUSDT = "BTCUSDT", default', 'DOGEUSDT = "x", default',
     "portfolio.funds.DOGEUSDT", "x"),
    ("no default fund", ', default = "shared"', "", "portfolio.funds.default", "<missing>"),
    ("portfolio typo", "[portfolio]", "[portfolio.x]", "portfolio.x", "known key"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "old", "new", "field", "value"), BAD_COLLATERAL, ids=[b[0] for b in BAD_COLLATERAL]
)
def test_malformed_collateral_or_portfolio_names_file_field_and_value(
    tmp_path, case, old, new, field, value
):
    assert old in GOOD, case
    path = _write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(RulebookError) as info:
        load_rulebook(path)
    msg = str(info.value)
    assert str(path) in msg and info.value.source == str(path)
    assert field == info.value.field, msg
    assert value in msg, msg


def test_a_rulebook_without_collateral_is_refused():
    data = _hyperliquid_dict()
    del data["collateral"]
    with pytest.raises(RulebookError, match="collateral='<missing>'"):
        rulebook_from_dict(data)
