"""Order entry through :class:`Venue`: fees, PnL, the band, reduce-only, margin, bad input."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from margincall.core.errors import InvalidInputError, RulebookError
from margincall.events.schema import EventKind, RejectReason
from margincall.venue.accounts import SEQ
from margincall.venue.engine import Venue
from margincall.venue.instrument import load_rulebook

K = EventKind
R = RejectReason
USD = 1_000_000  # micro-dollars


def kinds(events) -> list[EventKind]:
    return [EventKind(int(k)) for k in events["kind"]]


def of(events, kind: EventKind):
    return events[events["kind"] == int(kind)]


def binance(**kw) -> Venue:
    # BTCUSDT: tick 0.1, lot 0.001 -> k = 100 micro-dollars per tick-lot;
    # maker 0.02% = 200 ppm, taker 0.05% = 500 ppm, band 5%
    return Venue("binance", "BTCUSDT", price=60_000, insurance_fund_usd=1_000_000, **kw)


# ---- fees and PnL -----------------------------------------------------------------------------


def test_binance_rulebook_fee_rates_are_the_ones_the_tests_assume():
    btc = load_rulebook("binance").instrument("BTCUSDT")
    assert (btc.maker_fee, btc.taker_fee) == (Decimal("0.0002"), Decimal("0.0005"))
    assert binance().k == 100


def test_maker_and_taker_fees_are_exact_micro_dollars():
    v = binance()
    mm, t = v.open_account(1_000_000), v.open_account(100_000)
    v.submit_order(mm, "sell", "1", 60_000)
    ev = v.submit_order(t, "buy", "0.5", 60_000)
    fills = of(ev, K.ORDER_FILLED)
    # notional 0.5 x 60,000 = 30,000 USD: taker 0.05% = 15 USD, maker 0.02% = 6 USD
    assert fills["notional"].tolist() == [30_000 * USD, 30_000 * USD]
    assert fills["account"].tolist() == [t, mm]
    assert fills["liquidity"].tolist() == [2, 1]
    assert fills["amount"].tolist() == [15 * USD, 6 * USD]
    assert v.acc.wallet[t] == 100_000 * USD - 15 * USD
    assert v.acc.wallet[mm] == 1_000_000 * USD - 6 * USD
    assert v.meta[2] == 21 * USD  # FEES
    v.check_invariants()


def test_a_fee_that_is_not_a_whole_micro_dollar_is_rounded_up():
    v = binance()
    mm, t = v.open_account(1_000_000), v.open_account(100_000)
    v.submit_order(mm, "sell", "0.001", "60000.1")
    ev = v.submit_order(t, "buy", "0.001", "60000.1")
    # notional 1 lot x 600,001 ticks x 100 = 60,000,100 micros: taker 30,000.05 -> 30,001,
    # maker 12,000.02 -> 12,001
    assert of(ev, K.ORDER_FILLED)["amount"].tolist() == [30_001, 12_001]
    v.check_invariants()


def test_a_maker_rebate_is_rounded_down_and_paid_out_of_fees():
    # BitMEX BTCUSDT: tick 0.5, lot 0.001 -> k = 500; maker -0.025%, taker 0.075%
    v = Venue("bitmex", "BTCUSDT", price=60_000, insurance_fund_usd=1_000_000)
    assert v.k == 500
    mm, t = v.open_account(1_000_000), v.open_account(100_000)
    v.submit_order(mm, "sell", "0.001", "60000.5")
    ev = v.submit_order(t, "buy", "0.001", "60000.5")
    # notional 120,001 ticks x 500 = 60,000,500: taker 45,000.375 -> 45,001 (up);
    # rebate 15,000.125 -> 15,000 (down, the venue never overpays)
    assert of(ev, K.ORDER_FILLED)["amount"].tolist() == [45_001, -15_000]
    assert v.acc.wallet[mm] == 1_000_000 * USD + 15_000
    v.check_invariants()


def test_realised_and_unrealised_pnl_are_exact():
    v = binance()
    mm, t = v.open_account(1_000_000), v.open_account(100_000)
    v.submit_order(mm, "sell", "0.5", 60_000)
    v.submit_order(t, "buy", "0.5", 60_000)  # taker fee 15 USD
    v.submit_order(mm, "buy", "0.2", 61_000)
    ev = v.submit_order(t, "sell", "0.2", 61_000)  # taker fee 0.2 x 61,000 x 0.05% = 6.1 USD
    assert of(ev, K.ORDER_FILLED)["amount"].tolist() == [6_100_000, 2_440_000]
    # realised: 0.2 x (61,000 - 60,000) = 200 USD
    assert v.acc.wallet[t] == 100_000 * USD - 15 * USD + 200 * USD - 6_100_000
    pos = v.position(t)
    assert pos["qty"] == Decimal("0.300")
    assert pos["entry_price"] == Decimal("60000")
    v.set_index_price(62_000)
    v.update_mark()  # no trade since, one-sided book: median(62,000, 62,000, 61,000)
    assert v.mark_price == Decimal("62000.0")
    # unrealised: 0.3 x (62,000 - 60,000) = 600 USD
    assert v.position(t)["unrealized_pnl_usd"] == Decimal("600")
    assert v.position(mm)["unrealized_pnl_usd"] == Decimal("-600")
    assert v.position(t)["margin_balance_usd"] == Decimal("100778.9")
    v.check_invariants()


def test_closing_part_of_a_short_realises_pnl_on_the_entry_cost_in_proportion():
    v = binance()
    mm, t = v.open_account(1_000_000), v.open_account(100_000)
    v.submit_order(mm, "buy", "0.003", "60000.1")
    v.submit_order(t, "sell", "0.003", "60000.1")  # cost -3 x 600,001 x 100
    v.submit_order(mm, "sell", "0.001", "59000")
    w = int(v.acc.wallet[t])
    ev = v.submit_order(t, "buy", "0.001", "59000")
    fee = int(of(ev, K.ORDER_FILLED)["amount"][0])
    # removed cost = floor(-180,000,300 x 1 / 3) = -60,000,100; cash = -59,000,000:
    # realised = 1,000,100 micros (1.0001 USD)
    assert v.acc.wallet[t] == w + 1_000_100 - fee
    assert v.acc.cost[t] == -120_000_200
    v.check_invariants()


# ---- price band, reduce-only ------------------------------------------------------------------


def test_a_market_order_stops_at_the_price_band():
    v = binance()
    mm, t = v.open_account(10_000_000), v.open_account(100_000)
    for price in ("60000", "62999.9", "63000", "63000.1"):
        v.submit_order(mm, "sell", "0.1", price)
    ev = v.submit_order(t, "buy", "0.4")
    # mark 60,000, band 5% = 3,000: the market order is an IOC limited at 63,000
    accepted = of(ev, K.ORDER_ACCEPTED)
    assert accepted["price"].tolist() == [630_000]
    assert of(ev, K.ORDER_FILLED)["price"].tolist()[::2] == [600_000, 629_999, 630_000]
    assert of(ev, K.ORDER_EXPIRED)["qty"].tolist() == [100]
    assert v.acc.pos[t] == 300
    v.check_invariants()


def test_a_market_sell_stops_at_the_band_below_the_mark():
    v = binance()
    mm, t = v.open_account(10_000_000), v.open_account(100_000)
    v.submit_order(mm, "buy", "0.1", "57000")
    v.submit_order(mm, "buy", "0.1", "56999.9")
    ev = v.submit_order(t, "sell", "0.2")
    assert of(ev, K.ORDER_ACCEPTED)["price"].tolist() == [570_000]
    assert v.acc.pos[t] == -100
    v.check_invariants()


def test_reduce_only_that_would_increase_is_rejected():
    v = binance()
    mm, t = v.open_account(1_000_000), v.open_account(100_000)
    v.submit_order(mm, "sell", "1", 60_000)
    v.submit_order(t, "buy", "0.3", 60_000)
    ev = v.submit_order(t, "buy", "0.1", 60_000, reduce_only=True)
    assert kinds(ev) == [K.ORDER_REJECTED]
    assert ev["reason"][0] == R.REDUCE_ONLY_WOULD_INCREASE
    flat = v.open_account(1000)
    ev = v.submit_order(flat, "sell", "0.1", 60_000, reduce_only=True)
    assert ev["reason"].tolist() == [R.REDUCE_ONLY_WOULD_INCREASE]
    assert v.acc.pos[t] == 300


def test_reduce_only_larger_than_the_position_is_capped_at_the_position():
    v = binance()
    mm, t = v.open_account(1_000_000), v.open_account(100_000)
    v.submit_order(mm, "sell", "0.3", 60_000)
    v.submit_order(t, "buy", "0.3", 60_000)
    v.submit_order(mm, "buy", "2", 59_000)
    ev = v.submit_order(t, "sell", "0.5", 59_000, reduce_only=True)
    assert of(ev, K.ORDER_ACCEPTED)["qty"].tolist() == [300]
    assert of(ev, K.ORDER_FILLED)["qty"].tolist() == [300, 300]
    assert v.acc.pos[t] == 0
    v.check_invariants()


# ---- margin and leverage ----------------------------------------------------------------------


def test_an_order_beyond_the_initial_margin_is_rejected_with_the_shortfall():
    v = binance()
    mm, t = v.open_account(1_000_000), v.open_account(100)  # leverage 20
    v.submit_order(mm, "sell", "1", 60_000)
    ev = v.submit_order(t, "buy", "1", 60_000)
    # needs 60,000 / 20 = 3,000 USD against 100 USD of equity
    assert kinds(ev) == [K.ORDER_REJECTED]
    assert ev["reason"][0] == R.INSUFFICIENT_MARGIN
    assert ev["amount"][0] == 2_900 * USD
    ok = v.submit_order(t, "buy", "0.033", 60_000)  # 1,980 USD / 20 = 99 USD
    assert K.ORDER_FILLED in kinds(ok)


def test_leverage_above_the_tiers_maximum_is_rejected():
    v = binance()
    mm, t = v.open_account(1_000_000), v.open_account(10_000, leverage=125)
    v.submit_order(mm, "sell", "2", 60_000)
    # 40,000 USD sits in the first bracket (125x): accepted; 60,000 USD is in the 100x bracket
    assert K.ORDER_FILLED in kinds(v.submit_order(t, "buy", "0.666", 60_000))
    ev = v.submit_order(t, "buy", "0.334", 60_000)
    assert kinds(ev) == [K.ORDER_REJECTED]
    assert ev["reason"][0] == R.MAX_LEVERAGE
    v.set_leverage(t, 100)
    assert K.ORDER_FILLED in kinds(v.submit_order(t, "buy", "0.334", 60_000))
    v.check_invariants()


def test_leverage_outside_the_instrument_range_is_an_input_error():
    v = binance()
    with pytest.raises(InvalidInputError) as e:
        v.open_account(100, leverage=126)
    assert e.value.field == "leverage[0]"
    a = v.open_account(100)
    with pytest.raises(InvalidInputError) as e:
        v.set_leverage(a, 0)
    assert e.value.field == "leverage"


def test_withdrawing_more_than_is_available_is_rejected():
    v = binance()
    mm, t = v.open_account(1_000_000), v.open_account(1_000, leverage=50)
    v.submit_order(mm, "sell", "0.5", 60_000)
    v.submit_order(t, "buy", "0.5", 60_000)
    # wallet 1,000 - 15 fee = 985; initial margin 30,000 / 50 = 600; open PnL 0 -> 385 free
    assert v.available_micros(t) == 385 * USD
    ev = v.withdraw(t, "385.000001")
    assert kinds(ev) == [K.ORDER_REJECTED]
    assert ev["reason"][0] == R.INSUFFICIENT_MARGIN and ev["amount"][0] == 1
    assert v.acc.wallet[t] == 985 * USD
    ev = v.withdraw(t, 385)
    assert kinds(ev) == [K.WITHDRAWN] and v.acc.wallet[t] == 600 * USD
    v.check_invariants()


def test_withdrawals_and_deposits_refuse_non_positive_amounts():
    v = binance()
    a = v.open_account(100)
    for bad in (0, -1, "0.0000001"):
        with pytest.raises(InvalidInputError) as e:
            v.withdraw(a, bad)
        assert e.value.field == "amount_usd"
    with pytest.raises(InvalidInputError):
        v.deposit(a, 0)
    with pytest.raises(InvalidInputError) as e:
        v.deposit(99, 10)
    assert e.value.field == "account"


# ---- bad input never changes state ------------------------------------------------------------


def _snapshot(v: Venue) -> dict[str, np.ndarray]:
    snap = {}
    for group in ("acc", "book", "index"):
        state = getattr(v, group)
        for name, arr in state._asdict().items():
            snap[f"{group}.{name}"] = np.array(arr, copy=True)
    meta = v.meta.copy()
    meta[SEQ] = 0
    snap["meta"] = meta
    return snap


def _assert_same(before: dict, after: dict) -> None:
    assert before.keys() == after.keys()
    changed = [k for k in before if not np.array_equal(before[k], after[k])]
    assert changed == []


def _busy_venue() -> tuple[Venue, int, int]:
    v = binance()
    mm, t = v.open_account(1_000_000), v.open_account(1_000, leverage=50)
    v.submit_order(mm, "buy", "1", 59_000)
    v.submit_order(mm, "sell", "1", 61_000)
    v.submit_order(mm, "sell", "0.5", 60_000)
    v.submit_order(t, "buy", "0.3", 60_000)  # long 0.3
    v.submit_order(t, "buy", "0.1", 58_000)  # a resting bid of its own
    v.update_mark()
    return v, mm, t


BAD_ORDERS = [
    pytest.param(lambda t: (t, "buy", "0", 60_000), {}, R.NON_POSITIVE_SIZE, id="zero-size"),
    pytest.param(
        lambda t: (t, "buy", "-0.001", 60_000), {}, R.NON_POSITIVE_SIZE, id="negative-size"
    ),
    pytest.param(lambda t: (t, "buy", "0.0005", 60_000), {}, R.OFF_LOT, id="off-lot"),
    pytest.param(lambda t: (t, "sell", "0.001", "60000.05"), {}, R.OFF_TICK, id="off-tick"),
    pytest.param(
        lambda t: (77, "buy", "0.001", 60_000), {}, R.UNKNOWN_ACCOUNT, id="unknown-account"
    ),
    pytest.param(
        lambda t: (-1, "buy", "0.001", 60_000), {}, R.UNKNOWN_ACCOUNT, id="negative-account"
    ),
    pytest.param(lambda t: (t, "buy", "5", 60_000), {}, R.INSUFFICIENT_MARGIN, id="margin"),
    pytest.param(lambda t: (t, "buy", "5", None), {}, R.INSUFFICIENT_MARGIN, id="market-margin"),
    pytest.param(
        lambda t: (t, "buy", "0.1", 60_000),
        {"reduce_only": True},
        R.REDUCE_ONLY_WOULD_INCREASE,
        id="reduce-only",
    ),
    pytest.param(
        lambda t: (t, "buy", "0.001", 61_000),
        {"tif": "post_only"},
        R.POST_ONLY_WOULD_CROSS,
        id="post-only",
    ),
    pytest.param(
        lambda t: (t, "buy", "0.25", 60_000), {"tif": "fok"}, R.FOK_NOT_FILLABLE, id="fok"
    ),
    pytest.param(lambda t: (t, "buy", "0.001", 1), {}, R.OUTSIDE_PRICE_BAND, id="outside-window"),
]


@pytest.mark.parametrize(("order", "kw", "reason"), BAD_ORDERS)
def test_bad_input_never_changes_state(order, kw, reason):
    v, _, t = _busy_venue()
    v.check_invariants()
    before = _snapshot(v)
    seq, n_log = int(v.meta[SEQ]), len(v.log)
    ev = v.submit_order(*order(t), **kw)
    _assert_same(before, _snapshot(v))
    assert kinds(ev) == [K.ORDER_REJECTED]
    assert ev["reason"][0] == reason
    assert ev["seq"][0] == seq and v.meta[SEQ] == seq + 1
    log = v.log.records()[n_log:]
    assert kinds(log) == [K.ORDER_REJECTED] and log["reason"][0] == reason
    v.check_invariants()


def test_an_unknown_order_id_or_bad_amend_changes_nothing():
    v, _, _ = _busy_venue()
    before = _snapshot(v)
    for ev, reason in (
        (v.cancel_order(12345), R.UNKNOWN_ORDER),
        (v.amend_order(12345, "0.1"), R.UNKNOWN_ORDER),
        (v.amend_order(12345, "0.0001"), R.OFF_LOT),
    ):
        assert kinds(ev) == [K.ORDER_REJECTED] and ev["reason"][0] == reason
    _assert_same(before, _snapshot(v))


def test_a_bad_side_tif_or_stp_is_an_input_error_and_changes_nothing():
    v, _, t = _busy_venue()
    before, n_log = _snapshot(v), len(v.log)
    for kw, field in (({"side": "up"}, "side"), ({"tif": "day"}, "tif"), ({"stp": "x"}, "stp")):
        args = {"account": t, "side": "buy", "qty": "0.001", "price": 60_000} | kw
        with pytest.raises(InvalidInputError) as e:
            v.submit_order(**args)
        assert e.value.field == field
    _assert_same(before, _snapshot(v))
    assert len(v.log) == n_log


# ---- rulebook files ---------------------------------------------------------------------------


def _packaged_text(name: str) -> str:
    from importlib import resources

    return resources.files("margincall.venue").joinpath("rulebooks", f"{name}.toml").read_text()


@pytest.mark.parametrize(
    ("old", "new", "field", "value"),
    [
        ('{ floor_usd = "0",         max_leverage = 125, mmr = "0.004" }',
         '{ floor_usd = "0",         max_leverage = 125, mmr = "four" }',
         "instruments.BTCUSDT.tiers[0].mmr", "four"),
        ('maker_fee = "0.0002"', 'maker_fee = "0.0000001"', "instruments.BTCUSDT.maker_fee", "1E-7"),
        ('policy = "binance"', 'policy = "nasdaq"', "liquidation.policy", "nasdaq"),
        ('tick_size = "0.1"', 'tick_sise = "0.1"', "instruments.BTCUSDT", "tick_sise"),
    ],
)  # fmt: skip
def test_a_malformed_rulebook_file_names_the_field_and_value(tmp_path, old, new, field, value):
    text = _packaged_text("binance")
    assert old in text
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(RulebookError) as e:
        Venue(str(path), "BTCUSDT", price=60_000)
    msg = str(e.value)
    assert str(path) in msg
    assert field in msg
    assert value.lower() in msg.lower()


def test_a_rulebook_file_that_is_not_toml_is_reported_with_its_path(tmp_path):
    path = tmp_path / "garbage.toml"
    path.write_text("[rulebook\nname = ")
    with pytest.raises(RulebookError, match="valid TOML") as e:
        Venue(str(path), price=60_000)
    assert str(path) in str(e.value)


def test_a_valid_copy_of_a_packaged_rulebook_loads_from_its_path(tmp_path):
    path = tmp_path / "copy.toml"
    path.write_text(_packaged_text("dydx"))
    v = Venue(str(path), "BTCUSDT", price=60_000)
    assert v.rulebook.name == "dydx" and v.k == 100


# ---- isolated margin --------------------------------------------------------------------------


def test_an_isolated_loss_never_reaches_the_wallet_beyond_the_isolated_margin():
    v = binance()
    mm = v.open_account(10_000_000)
    iso = v.open_account(10_000, isolated=True, leverage=10)
    v.submit_order(mm, "sell", "0.1", 60_000)
    ev = v.submit_order(iso, "buy", "0.1", 60_000)
    fee = int(of(ev, K.ORDER_FILLED)["amount"][0])
    assert fee == 3 * USD  # 6,000 x 0.05%
    # initial margin 6,000 / 10 = 600 moves from the wallet; the fee is paid from it
    assert v.acc.wallet[iso] == 9_400 * USD
    assert v.acc.iso_margin[iso] == 600 * USD - fee
    v.submit_order(mm, "buy", "1", 40_000)  # the only bid, far below
    v.set_index_price(40_000)
    v.update_mark()
    v.run_liquidations()
    v.check_invariants()
    assert v.acc.pos[iso] == 0
    # the position lost 0.1 x 20,000 = 2,000 USD, far more than its 597 USD of margin
    assert v.acc.wallet[iso] == 9_400 * USD
    assert v.acc.iso_margin[iso] == 0
    assert v.acc.wallet[mm] > 0


@pytest.mark.parametrize("fund_usd", [1_000_000, 0])
def test_a_resting_close_filled_past_bankruptcy_is_covered_by_the_fund_or_recorded(fund_usd):
    # the mark has not caught up with the index: the isolated long is not liquidated, and its
    # own resting reduce-only sell is filled by a buyer 800 USD below its entry
    v = Venue("binance", "BTCUSDT", price=60_000, insurance_fund_usd=fund_usd)
    mm = v.open_account(10_000_000)
    iso = v.open_account(10_000, isolated=True, leverage=10)
    v.submit_order(mm, "sell", "0.1", 60_000)
    v.submit_order(iso, "buy", "0.1", 60_000)
    margin = int(v.acc.iso_margin[iso])  # 597 USD
    v.set_index_price(52_000)
    v.submit_order(iso, "sell", "0.1", 52_000, reduce_only=True)
    ev = v.submit_order(mm, "buy", "0.1", 52_000)
    maker_fee = 5_200 * USD * 200 // 1_000_000  # 0.02%
    loss = 800 * USD + maker_fee - margin
    assert v.acc.pos[iso] == 0
    assert v.acc.iso_margin[iso] == (0 if fund_usd else -loss)  # an empty fund pays nothing
    assert v.acc.wallet[iso] == 9_400 * USD
    kind = K.INSURANCE_FUND_PAID if fund_usd else K.BANKRUPTCY_UNCOVERED
    covered = of(ev, kind)
    assert covered["account"].tolist() == [iso]
    assert covered["amount"].tolist() == [loss]
    v.check_invariants()


def test_an_isolated_account_gets_its_margin_back_when_it_closes_in_profit():
    v = binance()
    mm = v.open_account(10_000_000)
    iso = v.open_account(10_000, isolated=True, leverage=10)
    v.submit_order(mm, "sell", "0.1", 60_000)
    v.submit_order(iso, "buy", "0.1", 60_000)
    v.submit_order(mm, "buy", "0.1", 61_000)
    ev = v.submit_order(iso, "sell", "0.1", 61_000)
    fee2 = int(of(ev, K.ORDER_FILLED)["amount"][0])  # 6,100 x 0.05% = 3.05
    assert fee2 == 3_050_000
    assert v.acc.iso_margin[iso] == 0
    assert v.acc.wallet[iso] == 10_000 * USD - 3 * USD + 100 * USD - fee2
    v.check_invariants()
