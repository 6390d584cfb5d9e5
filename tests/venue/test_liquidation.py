"""Liquidations through :class:`Venue`, one small hand-built scenario at a time, per rulebook.

Units per rulebook (BTCUSDT): ``k`` is micro-dollars per tick-lot.

* binance: tick 0.1, lot 0.001, k = 100; first bracket mmr 0.4%, liquidation fee 1.25%;
  breach at balance <= maintenance.
* bitmex: tick 0.5, lot 0.001, k = 500; first step mmr 0.35%, no fee; breach at <=.
* dydx: tick 1, lot 0.0001, k = 100; mmr 1.2%, max fee 1.5%, 10% portion, min 1,000 USD;
  breach at < (strict).
* hyperliquid: tick 1, lot 0.00001, k = 10; mmr 1.25%, 20% slices above 100,000 USD, 30 s
  cooldown, backstop below 2/3 of maintenance; breach at <.

Every scenario checks ``check_invariants()`` after every step.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from oracle_mark import oracle_marked

from margincall.events.schema import EventKind, RejectReason
from margincall.formulas.margin import (
    binance_leverage_pnl,
    binance_liquidation_price,
    bitmex_adl_allocate,
    bitmex_adl_score,
    bitmex_effective_leverage,
    bitmex_pnl_fraction,
    hyperliquid_liquidation_price,
)
from margincall.venue.accounts import TS
from margincall.venue.engine import Venue

K = EventKind
USD = 1_000_000
FUND = 0
SECOND = 1_000_000_000


def of(events, kind: EventKind, account: int | None = None):
    sel = events[events["kind"] == int(kind)]
    return sel if account is None else sel[sel["account"] == account]


def venue(rulebook: str, fund_usd=1_000_000, **kw) -> Venue:
    v = Venue(oracle_marked(rulebook), "BTCUSDT", price=60_000, insurance_fund_usd=fund_usd, **kw)
    v.check_invariants()
    return v


def open_long(v: Venue, wallet_usd, lots: int, leverage: int, mm: int, price=60_000) -> int:
    """A trader bought ``lots`` from ``mm`` at ``price`` off-book (no fees)."""
    t = v.open_account(wallet_usd, leverage=leverage)
    ev = v.block_trades(np.array([t]), np.array([lots]), price, mm)
    assert of(ev, K.ORDER_FILLED).shape[0] == 2, "the block trade was refused"
    v.check_invariants()
    return t


def move(v: Venue, price) -> None:
    v.set_index_price(price)
    v.update_mark()
    v.check_invariants()


def liquidate(v: Venue):
    ev = v.run_liquidations()
    v.check_invariants()
    return ev


def step(v: Venue, price):
    move(v, price)
    return liquidate(v)


# ---- the trigger price ------------------------------------------------------------------------

# (rulebook, side, wallet, lots, leverage, last safe tick, first breached tick, float formula)
TRIGGERS = [
    # binance long 0.5 BTC at 60,000, wallet 1,000: excess = 1e9 + 5e4 m - 3e10 - 200 m
    # = 49,800 m - 2.9e10 <= 0 -> m <= 582,329.3 ticks; at 582,330 the excess is +34,000
    pytest.param("binance", 1, 1_000, 500, 50, 582_330, 582_329,
                 binance_liquidation_price("long", 0.5, 60_000, 1_000, 0.004, 0) / 0.1, id="binance-long"),
    # binance short: excess = 1e9 - 5e4 m + 3e10 - 200 m <= 0 -> m >= 617,529.9
    pytest.param("binance", -1, 1_000, 500, 50, 617_529, 617_530,
                 binance_liquidation_price("short", 0.5, 60_000, 1_000, 0.004, 0) / 0.1, id="binance-short"),
    # bitmex long 1 BTC (1,000 lots, entry 120,000 ticks), wallet 1,000:
    # excess = 1e9 + 5e5 m - 6e10 - 1,750 m = 498,250 m - 5.9e10 <= 0 -> m <= 118,414.45
    pytest.param("bitmex", 1, 1_000, 1_000, 100, 118_415, 118_414,
                 binance_liquidation_price("long", 1, 60_000, 1_000, 0.0035, 0) / 0.5, id="bitmex-long"),
    # bitmex short: 6.1e10 - 501,750 m <= 0 -> m >= 121,574.48
    pytest.param("bitmex", -1, 1_000, 1_000, 100, 121_574, 121_575,
                 binance_liquidation_price("short", 1, 60_000, 1_000, 0.0035, 0) / 0.5, id="bitmex-short"),
    # dydx long 1 BTC (10,000 lots), wallet 2,000: TNC - MMR = 988,000 m - 5.8e10 < 0
    # -> m < 58,704.45; at 58,705 it is +540,000
    pytest.param("dydx", 1, 2_000, 10_000, 50, 58_705, 58_704,
                 binance_liquidation_price("long", 1, 60_000, 2_000, 0.012, 0), id="dydx-long"),
    # dydx short: 6.2e10 - 1,012,000 m < 0 -> m > 61,264.82
    pytest.param("dydx", -1, 2_000, 10_000, 50, 61_264, 61_265,
                 binance_liquidation_price("short", 1, 60_000, 2_000, 0.012, 0), id="dydx-short"),
    # hyperliquid long 1 BTC (100,000 lots), wallet 2,000: 987,500 m - 5.8e10 < 0
    # -> m < 58,734.18; at 58,735 it is +812,500
    pytest.param("hyperliquid", 1, 2_000, 100_000, 40, 58_735, 58_734,
                 hyperliquid_liquidation_price("long", 60_000, 1, 2_000, 40), id="hyperliquid-long"),
    # hyperliquid short: 6.2e10 - 1,012,500 m < 0 -> m > 61,234.57
    pytest.param("hyperliquid", -1, 2_000, 100_000, 40, 61_234, 61_235,
                 hyperliquid_liquidation_price("short", 60_000, 1, 2_000, 40), id="hyperliquid-short"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rb", "side", "wallet", "lots", "lev", "safe", "breach", "formula"), TRIGGERS
)
def test_the_account_is_liquidated_exactly_at_its_liquidation_price(
    rb, side, wallet, lots, lev, safe, breach, formula
):
    v = venue(rb)
    mm = v.open_account(10_000_000)
    t = open_long(v, wallet, side * lots, lev, mm)
    tick = float(v.scale.tick_size)
    # the hand-worked tick agrees with the float formula within one tick
    assert abs(formula - (breach if side > 0 else breach - 1) - 0.5) <= 1
    # the index key is conservative: it may come early, never late
    key = int(v.index.key[t])
    assert (key >= breach) if side > 0 else (key <= breach)
    assert abs(key - breach) <= 3
    ev = step(v, v.scale.ticks_to_price(safe))
    assert of(ev, K.LIQUIDATION_TRIGGERED).shape[0] == 0
    assert v.acc.pos[t] == side * lots
    ev = step(v, v.scale.ticks_to_price(breach))
    trig = of(ev, K.LIQUIDATION_TRIGGERED)
    assert trig["account"].tolist() == [t]
    assert trig["qty"][0] == side * lots and trig["price"][0] == breach
    assert trig["amount"][0] <= 0
    assert tick > 0


# ---- Binance ----------------------------------------------------------------------------------


def test_binance_forced_order_never_fills_below_bankruptcy_and_the_fund_takes_the_rest():
    v = venue("binance")
    mm = v.open_account(10_000_000)
    t = open_long(v, 1_000, 500, 50, mm)  # 0.5 BTC at 60,000, cost 3e10, wallet 1e9
    v.submit_order(mm, "buy", "0.1", "58300")
    v.submit_order(mm, "buy", "5", "57900")  # below the bankruptcy price 58,000
    ev = step(v, "58232.9")
    forced = of(ev, K.POSITION_LIQUIDATED)
    # bankruptcy = ceil((3e10 - 1e9) / (500 x 100)) = 580,000 ticks: the first order sells
    # 100 lots at 583,000 (the only bid above it): realised -1.7e8, fee 5.83e9 x 1.25% =
    # 72,875,000 -> wallet 757,125,000; still breached, the second order's limit is
    # ceil((2.4e10 - 757,125,000) / 40,000) = 581,072 and finds no bid
    accepted = of(ev, K.ORDER_ACCEPTED, t)
    assert accepted["price"].tolist() == [580_000, 581_072]
    assert accepted["qty"].tolist() == [500, 400]
    assert forced["price"].tolist() == [583_000] and forced["qty"].tolist() == [100]
    assert of(ev, K.LIQUIDATION_FEE_CHARGED)["amount"].tolist() == [72_875_000]
    takeover = of(ev, K.BACKSTOP_TAKEOVER)
    assert takeover["account"].tolist() == [t, FUND]
    assert takeover["price"].tolist() == [581_072, 581_072]
    assert takeover["qty"].tolist() == [400, 400]
    assert v.acc.pos[t] == 0
    # rounding the takeover price up leaves the trader 757,125,000 + 400 x 581,072 x 100 - 2.4e10
    assert v.acc.wallet[t] == 5_000
    # the fund unloads into the book within the band: it sells the 400 lots at 57,900
    unload = of(ev, K.ORDER_FILLED, FUND)
    assert unload["price"].tolist() == [579_000] and unload["qty"].tolist() == [400]
    assert v.acc.pos[FUND] == 0


@pytest.mark.parametrize(
    ("bid", "fee", "wallet_after"),
    [
        # fill at 59,000: realised 500 x -10,000 x 100 = -5e8, left 5e8; fee 2.95e10 x 1.25%
        pytest.param("59000", 368_750_000, 131_250_000, id="uncapped"),
        # fill at 58,200: realised -9e8, left 1e8 < 2.91e10 x 1.25% = 363,750,000: capped
        pytest.param("58200", 100_000_000, 0, id="capped-at-surplus"),
    ],
)
def test_binance_liquidation_fee_is_the_rate_times_notional_capped_at_what_is_left(
    bid, fee, wallet_after
):
    v = venue("binance")
    mm = v.open_account(10_000_000)
    t = open_long(v, 1_000, 500, 50, mm)
    v.submit_order(mm, "buy", "1", bid)
    fund_before = int(v.acc.wallet[FUND])
    ev = step(v, "58232.9")
    charged = of(ev, K.LIQUIDATION_FEE_CHARGED)
    assert charged["amount"].tolist() == [fee]
    assert charged["account"].tolist() == [FUND] and charged["counterparty"].tolist() == [t]
    assert v.acc.wallet[FUND] == fund_before + fee
    assert v.acc.wallet[t] == wallet_after and v.acc.pos[t] == 0
    assert of(ev, K.BACKSTOP_TAKEOVER).shape[0] == 0


def test_binance_fund_takes_over_at_bankruptcy_when_the_book_is_empty():
    v = venue("binance")
    mm = v.open_account(10_000_000)
    t = open_long(v, 1_000, 500, 50, mm)
    fund_wallet = int(v.acc.wallet[FUND])
    ev = step(v, "58232.9")
    assert of(ev, K.POSITION_LIQUIDATED).shape[0] == 0
    takeover = of(ev, K.BACKSTOP_TAKEOVER)
    assert takeover["price"].tolist() == [580_000, 580_000]  # bankruptcy 58,000
    assert v.acc.pos[FUND] == 500 and v.acc.pos[t] == 0
    assert v.acc.wallet[t] == 0  # 1e9 + 500 x 580,000 x 100 - 3e10
    assert v.acc.wallet[FUND] == fund_wallet  # no fee on a takeover
    assert of(ev, K.LIQUIDATION_FEE_CHARGED).shape[0] == 0


def test_binance_steps_a_large_position_down_through_the_brackets():
    v = venue("binance")
    mm = v.open_account(100_000_000)
    # 5 BTC at 60,000 = 300,000 USD (bracket 3: 1%, cum 1,300), wallet 10,000:
    # excess = 1e10 + 495,000 m - 2.987e11 <= 0 -> m <= 583,232.3
    t = open_long(v, 10_000, 5_000, 50, mm)
    v.submit_order(mm, "buy", "10", "58300")
    fund_wallet = int(v.acc.wallet[FUND])
    ev = step(v, "58323.2")
    fills = of(ev, K.POSITION_LIQUIDATED)
    # bracket 3 at mark 583,232 (58,323,200 micros a lot): keep floor((2.5e11 - 1) / 58,323,200)
    # = 4,286 lots, sell 714 at 58,300: realised 714 x -1.7e6 = -1,213,800,000, fee
    # 714 x 583,000 x 100 x 1.25% = 520,327,500 -> wallet 8,265,872,500.
    # Still breached in bracket 2: keep floor((5e10 - 1) / 58,323,200) = 857, sell 3,429:
    # realised -5,829,300,000 -> wallet 2,436,572,500; the fee (2,498,883,750 at the rate) is
    # capped at the margin balance, 2,436,572,500 + 857 x (583,232 - 600,000) x 100 =
    # 999,554,900, leaving the last 857 lots exactly at bankruptcy = the mark.
    # Bracket 1: bankruptcy ceil((5.142e10 - 1,437,017,600) / 85,700) = 583,232 > every bid:
    # no fill, the fund takes the 857 lots at 58,323.2
    assert fills["qty"].tolist() == [714, 3_429]
    assert (fills["price"] == 583_000).all()
    assert of(ev, K.ORDER_ACCEPTED, t)["qty"].tolist() == [714, 3_429, 857]
    assert of(ev, K.ORDER_ACCEPTED, t)["price"].tolist()[2] == 583_232
    fees = of(ev, K.LIQUIDATION_FEE_CHARGED)["amount"].tolist()
    assert fees == [520_327_500, 999_554_900]
    takeover = of(ev, K.BACKSTOP_TAKEOVER)
    assert takeover["account"].tolist() == [t, FUND]
    assert takeover["qty"].tolist() == [857, 857] and takeover["price"].tolist() == [
        583_232,
        583_232,
    ]
    assert v.acc.pos[t] == 0 and v.acc.wallet[t] == 0
    # the fund got the fees and unloaded the 857 lots at 58,300 (maker bids) within the band
    unload = of(ev, K.ORDER_FILLED, FUND)
    assert unload["qty"].tolist() == [857] and unload["price"].tolist() == [583_000]
    assert v.acc.wallet[FUND] == fund_wallet + sum(fees) + 857 * (583_000 - 583_232) * 100


def test_binance_adl_when_the_fund_is_empty_takes_the_highest_leverage_pnl_first():
    v = venue("binance", fund_usd=0)
    s1 = v.open_account(10_000, leverage=50)
    s2 = v.open_account(500, leverage=50)
    mm = v.open_account(10_000_000)
    t = open_long(v, 1_000, 500, 50, s1)  # s1 short 0.5, bankruptcy of t: 58,000
    ev = v.block_trades(np.array([mm]), np.array([200]), 60_000, s2)  # s2 short 0.2
    assert of(ev, K.ORDER_FILLED).shape[0] == 2
    # gap to 57,000: the book is empty, the fund has nothing, so t is deleveraged at 58,000
    ev = step(v, 57_000)
    adl = of(ev, K.ADL_EXECUTED)
    winners = adl[adl["account"] != t]
    # scores at 57,000 (float formula): s2 = 600/500 x 45.6/1,100 = 0.0497,
    # s1 = 1,500/10,000 x 114/11,500 = 0.0015 -> s2 (200 lots) first, then 300 of s1
    score = {
        s1: binance_leverage_pnl(1_500, 10_000, 0.5 * 57_000 * 0.004),
        s2: binance_leverage_pnl(600, 500, 0.2 * 57_000 * 0.004),
    }
    assert score[s2] > score[s1]
    assert winners["account"].tolist() == [s2, s1]
    assert winners["qty"].tolist() == [200, 300]
    assert (adl["price"] == 580_000).all()
    assert v.acc.pos[t] == 0 and v.acc.pos[s2] == 0 and v.acc.pos[s1] == -200
    assert v.acc.wallet[t] == 0
    assert of(ev, K.BACKSTOP_TAKEOVER).shape[0] == 0


def test_binance_cascade_rounds_follow_the_last_trade_inside_the_mark_bounds():
    v = venue("binance")
    mm = v.open_account(10_000_000)
    a = open_long(v, 600, 500, 125, mm)  # breached at m <= (3e10 - 6e8)/49,800 = 590,361
    b = open_long(v, 650, 500, 125, mm)  # breached at m <= (3e10 - 6.5e8)/49,800 = 589,357
    # one basis sample with the book's mid at 57,000: P2 = index - 3,000
    v.submit_order(mm, "buy", "0.001", "56000")
    v.submit_order(mm, "sell", "0.001", "58000")
    v.update_mark()
    v.cancel_all(mm)
    v.check_invariants()
    v.submit_order(mm, "buy", "1", "58880")
    # index 59,000: mark = median(59,000, 56,000, last 60,000) = 59,000: only a is breached;
    # its forced sale at 58,880 pulls the mark to 58,880, where b is breached in round 2
    ev = step(v, 59_000)
    rounds = of(ev, K.CASCADE_ROUND)
    assert rounds["round"].tolist() == [1, 2]
    assert rounds["price"].tolist() == [590_000, 588_800]
    trig = of(ev, K.LIQUIDATION_TRIGGERED)
    assert trig["account"].tolist() == [a, b]
    assert trig["round"].tolist() == [1, 2]
    for acct, rnd in ((a, 1), (b, 2)):
        mine = ev[(ev["account"] == acct) & (ev["kind"] == int(K.POSITION_LIQUIDATED))]
        assert mine["round"].tolist() == [rnd]
    marks = of(ev, K.MARK_PRICE_UPDATED)
    assert marks["price"].tolist() == [588_800]
    assert int(v.meta[5]) == 588_800
    # everything outside the liquidation phase is round 0
    assert (v.log.records()["round"][: -len(ev)] == 0).all()


def test_binance_a_forced_fill_that_breaches_its_counterparty_starts_round_two():
    v = venue("binance")
    mm = v.open_account(10_000_000)
    a = open_long(v, 1_000, 500, 50, mm)  # breached at 58,232.9, bankruptcy 58,000
    b = v.open_account(240, leverage=125)
    v.submit_order(b, "buy", "0.5", "59000")  # initial margin 29,500 / 125 = 236
    v.submit_order(mm, "buy", "5", "58000")
    v.check_invariants()
    ev = step(v, "58232.9")
    # round 1: a sells 0.5 to b at 59,000 (b pays the 0.02% maker fee, 5.90 USD, wallet
    # 234.10); b is now under water at the mark: round 2 liquidates b; its bankruptcy
    # 59,000 - 234.10/0.5 = 58,531.8 is above every bid, so the fund takes it over there
    assert of(ev, K.CASCADE_ROUND)["round"].tolist() == [1, 2]
    assert of(ev, K.LIQUIDATION_TRIGGERED)["account"].tolist() == [a, b]
    assert of(ev, K.POSITION_LIQUIDATED, a)["round"].tolist() == [1]
    takeover = of(ev, K.BACKSTOP_TAKEOVER, b)
    assert takeover["round"].tolist() == [2] and takeover["price"].tolist() == [585_318]
    assert v.acc.pos[a] == v.acc.pos[b] == 0


# ---- BitMEX -----------------------------------------------------------------------------------


def test_bitmex_hands_the_position_to_the_fund_at_bankruptcy_without_a_book_order():
    v = venue("bitmex")
    mm = v.open_account(10_000_000)
    t = open_long(v, 1_000, 1_000, 100, mm)  # 1 BTC at 60,000 (120,000 ticks), k = 500
    v.submit_order(mm, "buy", "2", "59200")  # the book has a bid, BitMEX does not use it
    fund_wallet = int(v.acc.wallet[FUND])
    ev = step(v, "59207")
    assert of(ev, K.POSITION_LIQUIDATED).shape[0] == 0
    assert of(ev, K.LIQUIDATION_FEE_CHARGED).shape[0] == 0
    takeover = of(ev, K.BACKSTOP_TAKEOVER)
    # bankruptcy ceil((6e10 - 1e9) / (1,000 x 500)) = 118,000 ticks = 59,000
    assert takeover["price"].tolist() == [118_000, 118_000]
    assert takeover["account"].tolist() == [t, FUND]
    assert v.acc.wallet[t] == 0 and v.acc.pos[t] == 0
    # the fund keeps what the maintenance margin was: it unloads at 59,200 for 200 USD
    unload = of(ev, K.ORDER_FILLED, FUND)
    assert unload["price"].tolist() == [118_400] and unload["qty"].tolist() == [1_000]
    assert v.acc.wallet[FUND] == fund_wallet + 200 * USD


def test_bitmex_adl_reproduces_the_reference_x1_example():
    # Reference §6.D X1: longs (account: qty) 1:10, 2:10, 3:20, 4:30, 5:20, 6:10 with scores
    # ranking them 2, 5, 4, 1, 6, 3; a short of 20 goes bankrupt at 650: all 10 of account 2
    # and 10 of account 5 are closed at 650, nobody else is touched.
    # ETHUSDT on bitmex: tick 0.05, lot 0.01, k = 500; quantities in lots (0.01 ETH).
    v = Venue("bitmex", "ETHUSDT", price=600, insurance_fund_usd=0)
    assert v.k == 500
    # every long enters at 600; at mark 700 they all have PnL% = 1/6, so the score follows the
    # effective leverage value / equity: wallets chosen for 2 > 5 > 4 > 1 > 6 > 3
    qty = {1: 10, 2: 10, 3: 20, 4: 30, 5: 20, 6: 10}
    wallet = {1: 5, 2: 2, 3: 100, 4: 10, 5: 5, 6: 10}
    for a in range(1, 7):
        assert v.open_account(wallet[a], leverage=50) == a
    short = v.open_account(10, leverage=50)  # 0.2 ETH at 600: bankruptcy 600 + 10/0.2 = 650
    other = v.open_account(10_000, leverage=50)
    ev = v.block_trades(np.array([1, 2, 4, 5, 6]), np.array([10, 10, 30, 20, 10]), 600, other)
    ev2 = v.block_trades(np.array([3]), np.array([20]), 600, short)
    assert of(ev, K.ORDER_FILLED).shape[0] == 10 and of(ev2, K.ORDER_FILLED).shape[0] == 2
    v.check_invariants()

    mark = 700.0
    queue = []
    for a in range(1, 7):
        q = qty[a] * 0.01
        value, entry_value, bankrupt_value = q * mark, q * 600, q * (600 - wallet[a] / q)
        score = bitmex_adl_score(
            bitmex_pnl_fraction(value, entry_value),
            bitmex_effective_leverage(value, bankrupt_value),
        )
        queue.append((a, qty[a], score))
    assert [a for a, _, _ in sorted(queue, key=lambda e: -e[2])] == [2, 5, 4, 1, 6, 3]
    assert bitmex_adl_allocate(queue, 20) == [(2, 10), (5, 10)]

    ev = step(v, 700)  # the fund (empty) cannot take a short bankrupt at 650 with the mark at 700
    adl = of(ev, K.ADL_EXECUTED)
    winners = adl[adl["account"] != short]
    assert winners["account"].tolist() == [2, 5]
    assert winners["qty"].tolist() == [10, 10]
    assert (adl["price"] == 13_000).all()  # 650 / 0.05
    assert [int(v.acc.pos[a]) for a in range(1, 7)] == [10, 0, 20, 30, 10, 10]
    assert v.acc.pos[short] == 0 and v.acc.wallet[short] == 0
    assert of(ev, K.BACKSTOP_TAKEOVER).shape[0] == 0
    assert of(ev, K.INSURANCE_FUND_PAID).shape[0] == 0


# ---- dYdX -------------------------------------------------------------------------------------


def test_dydx_liquidates_a_tenth_at_the_fillable_price_and_the_fee_stops_at_the_surplus():
    v = venue("dydx")
    mm = v.open_account(10_000_000)
    t = open_long(v, 2_000, 10_000, 50, mm)  # 1 BTC at 60,000, k = 100
    v.submit_order(mm, "buy", "5", "58704")
    fund_wallet = int(v.acc.wallet[FUND])
    ev = step(v, 58_704)
    # notional 58,704 USD: portion 10% = 5,870.4 USD > 1,000 USD minimum -> 1,000 lots.
    # TNC 704,000,000 vs MMR 704,448,000: the fillable price is 0.672 ticks below the oracle,
    # rounded up to 58,704 for a sell
    forced = of(ev, K.POSITION_LIQUIDATED)
    assert forced["qty"].tolist() == [1_000] and forced["price"].tolist() == [58_704]
    assert of(ev, K.ORDER_ACCEPTED, t)["price"].tolist() == [58_704]
    # BQ = 5,870,400,000 - floor(704e6 x 70,444,800 / 704,448,000) = 5.8e9; quote 5,870,400,000:
    # surplus 70,400,000 < 1.5% x quote = 88,056,000 -> the fee is the surplus
    assert of(ev, K.LIQUIDATION_FEE_CHARGED)["amount"].tolist() == [70_400_000]
    assert v.acc.wallet[FUND] == fund_wallet + 70_400_000
    assert v.acc.pos[t] == 9_000
    assert v.acc.wallet[t] == 2_000 * USD - 129_600_000 - 70_400_000


def test_dydx_fee_is_the_max_rate_when_the_surplus_is_larger():
    v = venue("dydx")
    mm = v.open_account(10_000_000)
    t = open_long(v, 2_000, 10_000, 50, mm)
    v.submit_order(mm, "buy", "5", "59000")
    ev = step(v, 58_704)
    # quote 1,000 x 59,000 x 100 = 5.9e9, BQ 5.8e9: surplus 1e8 > 1.5% x 5.9e9 = 88,500,000
    assert of(ev, K.POSITION_LIQUIDATED)["price"].tolist() == [59_000]
    assert of(ev, K.LIQUIDATION_FEE_CHARGED)["amount"].tolist() == [88_500_000]
    assert v.acc.pos[t] == 9_000


def test_dydx_liquidates_an_account_at_most_once_per_block():
    v = venue("dydx")
    mm = v.open_account(10_000_000)
    t = open_long(v, 2_000, 10_000, 50, mm)
    v.submit_order(mm, "buy", "5", "58704")
    ev = step(v, 58_704)
    assert of(ev, K.POSITION_LIQUIDATED)["qty"].tolist() == [1_000]
    assert v.acc.pos[t] == 9_000  # still breached: TNC 633,600,000 < MMR 634,003,200
    ev = liquidate(v)  # same block: nothing more
    assert of(ev, K.LIQUIDATION_TRIGGERED).shape[0] == 0
    assert v.acc.pos[t] == 9_000
    v.advance(int(v.meta[TS]) + SECOND)  # the next block, oracle unchanged
    ev = liquidate(v)
    assert of(ev, K.LIQUIDATION_TRIGGERED)["account"].tolist() == [t]
    # notional 9,000 x 58,704 x 100 = 52,833.6 USD; 10% = 5,283.36 USD -> 900 lots
    assert of(ev, K.POSITION_LIQUIDATED)["qty"].tolist() == [900]
    assert v.acc.pos[t] == 8_100


def test_dydx_fund_pays_when_the_fill_is_beyond_bankruptcy():
    v = venue("dydx")
    mm = v.open_account(10_000_000)
    t = open_long(v, 2_000, 10_000, 50, mm)
    v.submit_order(mm, "buy", "5", "56000")
    fund_wallet = int(v.acc.wallet[FUND])
    ev = step(v, 57_000)
    # TNC = 2e9 + 5.7e10 - 6e10 = -1e9 < 0: the fillable price is the full 1.5 x MMR away,
    # 57,000 - 1.5 x 684e6 / 1e6 = 55,974; 1,000 lots fill at 56,000: quote 5.6e9,
    # BQ = 5.7e9 - floor(-1e9 x 68.4e6 / 684e6) = 5.8e9 -> the fund pays 2e8
    assert of(ev, K.POSITION_LIQUIDATED)["qty"].tolist() == [1_000]
    paid = of(ev, K.INSURANCE_FUND_PAID)
    assert paid["amount"].tolist() == [200_000_000]
    assert paid["account"].tolist() == [t] and paid["counterparty"].tolist() == [FUND]
    assert v.acc.wallet[FUND] == fund_wallet - 200_000_000
    assert of(ev, K.LIQUIDATION_FEE_CHARGED).shape[0] == 0


def test_dydx_deleverages_at_bankruptcy_against_a_rotation_of_the_opposite_accounts():
    v = venue("dydx", fund_usd=0, seed=3)
    shorts = [v.open_account(50_000, leverage=50) for _ in range(3)]
    t = v.open_account(2_000, leverage=50)
    for s in shorts:  # t long 3 x 0.4 BTC = 1.2 BTC at 60,000
        assert (
            of(v.block_trades(np.array([t]), np.array([4_000]), 60_000, s), K.ORDER_FILLED).shape[0]
            == 2
        )
    # one more long so the three shorts hold 2 BTC and t's 1.2 BTC needs parts of them
    other = v.open_account(100_000, leverage=50)
    for s in shorts:
        v.block_trades(np.array([other]), np.array([2_000]), 60_000, s)
    v.check_invariants()
    # oracle 58,000: TNC = 2e9 + 1.2 x (58,000 - 60,000) = -400 USD < 0, the book is empty:
    # no fill -> deleverage the whole position at its bankruptcy price
    # ceil((7.2e10 - 2e9) / (12,000 x 100)) = 58,334 (58,333.3 rounded up for a long)
    ev = step(v, 58_000)
    adl = of(ev, K.ADL_EXECUTED)
    winners = adl[adl["account"] != t]
    assert (adl["price"] == 58_334).all()
    assert winners["qty"].sum() == 12_000
    order = winners["account"].tolist()
    # the candidates are visited from a pseudo-random start, in id order, wrapping around
    start = shorts.index(order[0])
    assert order == [shorts[(start + i) % 3] for i in range(len(order))]
    assert winners["qty"].tolist()[:-1] == [6_000] * (len(order) - 1)
    assert v.acc.pos[t] == 0


# ---- Hyperliquid ------------------------------------------------------------------------------


def test_hyperliquid_sends_20_percent_slices_above_100k_then_full_size_in_the_cooldown():
    v = venue("hyperliquid")
    mm = v.open_account(100_000_000)
    # 10 BTC (1,000,000 lots) at 60,000, wallet 20,000: breached below 58,734.18
    t = open_long(v, 20_000, 1_000_000, 40, mm)
    v.submit_order(mm, "buy", "50", "59500")
    ev = step(v, 58_734)
    # 587,340 USD > 100,000: 20% = 200,000 lots, sold at 59,500 (above the oracle, so the
    # account is safe again: equity 8,872 USD vs maintenance 5,873.4 USD)
    assert of(ev, K.POSITION_LIQUIDATED)["qty"].tolist() == [200_000]
    assert of(ev, K.CASCADE_ROUND).shape[0] == 1
    assert v.acc.pos[t] == 800_000
    # 10 s later, still inside the 30 s cooldown: breached again below 58,354.4 -> full size
    v.advance(int(v.meta[TS]) + 10 * SECOND)
    ev = step(v, 58_354)
    assert of(ev, K.POSITION_LIQUIDATED)["qty"].tolist() == [800_000]
    assert v.acc.pos[t] == 0


def test_hyperliquid_slices_again_once_the_cooldown_is_over():
    v = venue("hyperliquid")
    mm = v.open_account(100_000_000)
    t = open_long(v, 20_000, 1_000_000, 40, mm)
    v.submit_order(mm, "buy", "50", "59500")
    step(v, 58_734)
    v.advance(int(v.meta[TS]) + 30 * SECOND)
    ev = step(v, 58_354)
    assert of(ev, K.POSITION_LIQUIDATED)["qty"].tolist()[0] == 160_000  # 20% of 800,000
    assert v.acc.pos[t] == 640_000


def test_hyperliquid_small_positions_go_to_the_book_whole():
    v = venue("hyperliquid")
    mm = v.open_account(10_000_000)
    t = open_long(v, 2_000, 100_000, 40, mm)  # 58,734 USD < 100,000
    v.submit_order(mm, "buy", "5", "58700")
    ev = step(v, 58_734)
    assert of(ev, K.POSITION_LIQUIDATED)["qty"].tolist() == [100_000]
    assert of(ev, K.LIQUIDATION_FEE_CHARGED).shape[0] == 0  # no clearance fee
    # the market order sold at 58,700: wallet 2,000 - 1 x 1,300 = 700 USD stays with the trader
    assert v.acc.wallet[t] == 700 * USD


def test_hyperliquid_backstop_takes_over_only_below_two_thirds_of_maintenance():
    v = venue("hyperliquid")
    mm = v.open_account(10_000_000)
    t = open_long(v, 2_000, 100_000, 40, mm)  # equity 2e9 + 1e6 (m - 60,000), MM 12,500 m
    # 58,488: equity 488e6 >= 2/3 x 731.1e6 = 487.4e6: breached, nothing fills, no backstop
    ev = step(v, 58_488)
    assert of(ev, K.LIQUIDATION_TRIGGERED)["account"][:1].tolist() == [t]
    assert of(ev, K.BACKSTOP_TAKEOVER).shape[0] == 0
    assert v.acc.pos[t] == 100_000
    # 58,487: equity 487e6 < 2/3 x 731,087,500 -> the vault takes it at bankruptcy 58,000
    ev = step(v, 58_487)
    takeover = of(ev, K.BACKSTOP_TAKEOVER)
    assert takeover["account"].tolist() == [t, FUND]
    assert takeover["price"].tolist() == [58_000, 58_000]
    assert v.acc.pos[t] == 0 and v.acc.wallet[t] == 0  # the trader keeps nothing
    assert v.acc.pos[FUND] == 100_000


def test_hyperliquid_a_breached_account_the_book_cannot_take_is_tried_once_per_call():
    v = venue("hyperliquid")
    mm = v.open_account(10_000_000)
    t = open_long(v, 2_000, 100_000, 40, mm)
    ev = step(v, 58_488)  # breached, empty book, above the backstop line
    assert of(ev, K.LIQUIDATION_TRIGGERED)["account"].tolist() == [t]
    assert of(ev, K.CASCADE_ROUND).shape[0] == 1


def test_hyperliquid_fund_pays_what_a_market_liquidation_left_below_zero():
    v = venue("hyperliquid")
    mm = v.open_account(10_000_000)
    t = open_long(v, 2_000, 100_000, 40, mm)
    v.submit_order(mm, "buy", "5", "56000")  # inside the 5% band below 58,734
    fund_wallet = int(v.acc.wallet[FUND])
    ev = step(v, 58_734)
    # sold 1 BTC at 56,000: 2,000 - 4,000 = -2,000 USD, the fund pays it
    assert of(ev, K.POSITION_LIQUIDATED)["price"].tolist() == [56_000]
    paid = of(ev, K.INSURANCE_FUND_PAID)
    assert paid["amount"].tolist() == [2_000 * USD] and paid["account"].tolist() == [t]
    assert v.acc.wallet[t] == 0 and v.acc.wallet[FUND] == fund_wallet - 2_000 * USD


def test_hyperliquid_adl_closes_winners_first_at_the_mark_and_records_the_uncovered_loss():
    v = venue("hyperliquid", fund_usd=0)
    s1 = v.open_account(100_000, leverage=40)  # low leverage winner
    s2 = v.open_account(1_000, leverage=40)  # high leverage winner
    s3 = v.open_account(5_000, leverage=40)  # short from 55,000: a loser at 57,000
    mm = v.open_account(10_000_000, leverage=40)
    t = v.open_account(2_000, leverage=40)
    v.block_trades(np.array([t]), np.array([50_000]), 60_000, s1)
    v.block_trades(np.array([t]), np.array([50_000]), 60_000, s2)
    v.block_trades(np.array([mm]), np.array([50_000]), 55_000, s3)
    v.check_invariants()
    assert v.acc.pos[t] == 100_000 and v.acc.pos[s3] == -50_000
    # gap to 57,000, below t's bankruptcy 58,000; empty book and fund: ADL at the mark
    ev = step(v, 57_000)
    adl = of(ev, K.ADL_EXECUTED)
    winners = adl[adl["account"] != t]
    # index (mark/entry) x (notional/value): s2 = 0.95 x 28,500/2,500 > s1 = 0.95 x 28,500/101,500;
    # s3 is not in profit and comes last, so it is not needed
    assert winners["account"].tolist() == [s2, s1]
    assert winners["qty"].tolist() == [50_000, 50_000]
    assert (adl["price"] == 57_000).all()
    assert v.acc.pos[s3] == -50_000
    # closed at 57,000: 2e9 + 1e5 x (57,000 - 60,000) x 10 = -1e9 that nobody covers
    uncovered = of(ev, K.BANKRUPTCY_UNCOVERED)
    assert uncovered["amount"].tolist() == [1_000 * USD] and uncovered["account"].tolist() == [t]
    assert math.isclose(float(v.meta[9]), 1e9)


def _variant(tmp_path, name: str, old: str, new: str) -> str:
    """A copy of a packaged rulebook with one line changed; returns its path."""
    from importlib.resources import files

    text = (files("margincall.venue") / "rulebooks" / f"{name}.toml").read_text()
    assert old in text
    path = tmp_path / f"{name}-variant.toml"
    path.write_text(text.replace(old, new))
    return str(path)


def test_binance_without_step_down_closes_a_large_position_in_one_order(tmp_path):
    rb = _variant(
        tmp_path, "binance", "partial_to_lower_tier = true", "partial_to_lower_tier = false"
    )
    v = Venue(rb, "BTCUSDT", price=60_000, insurance_fund_usd=1_000_000)
    mm = v.open_account(100_000_000)
    # the same 5 BTC position as the step-down test, but one order for the whole position
    t = open_long(v, 10_000, 5_000, 50, mm)
    v.submit_order(mm, "buy", "10", "58300")
    ev = step(v, "58323.2")
    assert of(ev, K.ORDER_ACCEPTED, t)["qty"].tolist() == [5_000]
    # bankruptcy ceil((3e11 - 1e10) / 500,000) = 580,000 <= the 58,300 bid: all 5,000 lots fill
    assert of(ev, K.POSITION_LIQUIDATED)["qty"].tolist() == [5_000]
    assert v.acc.pos[t] == 0
    assert len(of(ev, K.BACKSTOP_TAKEOVER)) == 0


def test_dydx_liquidates_no_more_than_the_per_block_notional_cap():
    v = venue("dydx")
    mm = v.open_account(100_000_000)
    # 40 BTC at 60,000 (2.4M USD) on 100,000 USD: TNC < MMR once 39.52 m < 2.3M, i.e. below
    # 58,198. At 58,000 a 10% portion (232,000 USD) is above the 100,000 USD per-block cap,
    # so the slice is the cap: floor(1e11 / (58,000 x 100)) = 17,241 lots of 0.0001 BTC
    t = open_long(v, 100_000, 400_000, 50, mm)
    v.submit_order(mm, "buy", "100", "58000")
    ev = step(v, 58_000)
    assert of(ev, K.LIQUIDATION_TRIGGERED, t).shape[0] == 1
    sizes = of(ev, K.ORDER_ACCEPTED, t)["qty"].tolist()
    assert sizes == [17_241]
    assert v.acc.pos[t] == 400_000 - 17_241


def test_bitmex_fok_steps_a_high_tier_position_down_and_stops_once_safe():
    v = venue("bitmex")
    mm = v.open_account(100_000_000)
    # 40 XBT at 60,000 (2.4M USD, risk step 2: mmr 0.85%, cum 10,000) on 100,000 USD:
    # excess = 100,000 + 40 (m - 60,000) - (0.34 m - 10,000) <= 0 -> m <= 57,740.8
    t = open_long(v, 100_000, 40_000, 25, mm)
    v.submit_order(mm, "buy", "10", "57600")
    ev = step(v, "57700")
    # keep floor((2e12 - 1) / 57,700,000) = 34,662 lots under the step; a FOK for 5,338 lots at
    # the bankruptcy price 57,500 fills at the 57,600 bid. Then equity 7,466.2 USD is above the
    # first step's maintenance (0.35% of 1,999,997.4 = 7,000), so the engine stops there
    accepted = of(ev, K.ORDER_ACCEPTED, t)
    assert accepted["qty"].tolist() == [5_338] and accepted["price"].tolist() == [115_000]
    assert of(ev, K.POSITION_LIQUIDATED)["qty"].tolist() == [5_338]
    assert len(of(ev, K.BACKSTOP_TAKEOVER)) == 0
    assert v.acc.pos[t] == 34_662


def test_bitmex_fok_that_cannot_fill_leaves_the_whole_position_to_the_engine():
    v = venue("bitmex")
    mm = v.open_account(100_000_000)
    t = open_long(v, 100_000, 40_000, 25, mm)
    v.submit_order(mm, "buy", "1", "57600")  # one XBT: the 5,338-lot FOK cannot fill whole
    ev = step(v, "57700")
    assert of(ev, K.ORDER_REJECTED, t)["reason"].tolist() == [int(RejectReason.FOK_NOT_FILLABLE)]
    assert len(of(ev, K.POSITION_LIQUIDATED)) == 0
    takeover = of(ev, K.BACKSTOP_TAKEOVER)
    assert takeover["account"].tolist() == [t, FUND] and takeover["qty"].tolist() == [
        40_000,
        40_000,
    ]
    assert v.acc.pos[t] == 0
