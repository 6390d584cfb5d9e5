"""The estimators against hand-computed values, and the run summary of the hand-built log."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from report_events import END, LOT, NS, T0, TICK, build, scenario, trade

from margincall.events.schema import EventKind
from margincall.report.candles import candles
from margincall.report.stats import (
    abs_return_acf_mean,
    acf,
    excess_kurtosis,
    fano_factor,
    log_returns,
    summarize,
)

# --- estimators -------------------------------------------------------------------------------


def test_excess_kurtosis_by_hand():
    # x = 1..4: d = +-0.5, +-1.5; m2 = 1.25, m4 = 2.5625; 2.5625 / 1.5625 - 3 = -1.36
    assert excess_kurtosis(np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(-1.36)


def test_excess_kurtosis_matches_standardised_fourth_moment():
    x = np.random.default_rng(3).standard_t(4, 5_000)
    z = (x - x.mean()) / x.std()  # population standard deviation
    assert excess_kurtosis(x) == pytest.approx(np.mean(z**4) - 3.0, rel=1e-12)


def test_excess_kurtosis_degenerate_is_nan():
    assert math.isnan(excess_kurtosis(np.array([])))
    assert math.isnan(excess_kurtosis(np.array([2.0, 2.0, 2.0])))


def test_acf_by_hand():
    x = np.array([1.0, 2.0, 3.0, 4.0])  # d = -1.5, -0.5, 0.5, 1.5; sum d^2 = 5
    assert acf(x, 0) == 1.0
    assert acf(x, 1) == pytest.approx(1.25 / 5)  # 0.75 - 0.25 + 0.75
    assert acf(x, 2) == pytest.approx(-1.5 / 5)  # -0.75 - 0.75
    assert acf(x, 3) == pytest.approx(-2.25 / 5)
    assert math.isnan(acf(x, 4))
    assert math.isnan(acf(np.ones(5), 1))
    with pytest.raises(ValueError):
        acf(x, -1)


def test_acf_matches_full_correlation_with_series_mean():
    x = np.random.default_rng(5).normal(size=300)
    d = x - x.mean()
    full = np.correlate(d, d, mode="full")[len(x) - 1 :] / np.dot(d, d)
    assert [acf(x, k) for k in range(6)] == pytest.approx(full[:6], rel=1e-12)


def test_abs_return_acf_mean_by_hand():
    # |r| = 1..4: acf 0.25 at lag 1, -0.3 at lag 2
    assert abs_return_acf_mean(np.array([1.0, -2.0, 3.0, -4.0]), lags=(1, 2)) == pytest.approx(
        -0.025
    )
    assert math.isnan(abs_return_acf_mean(np.array([1.0, -2.0, 3.0])))  # lags up to 10
    assert math.isnan(abs_return_acf_mean(np.array([1.0, 2.0]), lags=()))


def test_fano_factor_by_hand():
    assert fano_factor(np.array([0, 3, 1, 0])) == pytest.approx(1.5)  # var 1.5, mean 1
    assert fano_factor(np.array([2, 2, 2])) == 0.0
    assert math.isnan(fano_factor(np.array([0, 0])))
    assert math.isnan(fano_factor(np.array([])))


def test_log_returns():
    assert log_returns(np.array([100.0, 110.0, 99.0])) == pytest.approx(
        [math.log(1.1), math.log(0.9)]
    )
    assert log_returns(np.array([100.0])).size == 0


# --- summary ----------------------------------------------------------------------------------


def _summary() -> dict:
    events = scenario()
    return summarize(events, candles(events, TICK, LOT, T0, END), {"tick_size": "0.1"})


def test_summary_price_and_funding():
    s = _summary()
    price = dict(s["price"])
    assert price.pop("min_ts") == "2024-01-01T00:01:00Z"  # the bar of the lowest low
    assert price == pytest.approx(
        {"start": 60_010.0, "min": 59_800.0, "max": 60_020.0, "end": 59_850.0}
    )
    assert s["funding_rate"] == pytest.approx({"min": -2e-4, "max": 1e-4})


def test_summary_liquidations_open_interest_fund_and_adl():
    s = _summary()
    assert s["liquidations"] == pytest.approx(
        {
            "long_usd": 1_793.0 + 1_192.0,
            "short_usd": 299.25,
            "total_usd": 3_284.25,
            "accounts": 3,  # 5 (triggered twice), 7, 9
            "events": 4,
            "largest_usd": 1_793.0,  # account 5's book fill and fund takeover at one instant
            "peak_hour_usd": 3_284.25,
        }
    )
    assert s["open_interest_usd"] == pytest.approx({"start": 6_000.0, "end": 4_000.0})
    assert s["insurance_fund_usd"] == pytest.approx(
        {"start": 50_000.0, "end": 48_500.0, "min": 48_500.0}
    )
    assert s["adl"] == pytest.approx({"events": 1, "notional_usd": 1_192.0})


def test_summary_stylized_facts_from_the_candles():
    s = _summary()["stylized_facts"]
    returns = np.array([math.log(59_850 / 60_020), 0.0, 0.0])  # closes 60,020 then 59,850 x3
    assert s["excess_kurtosis_1m"] == pytest.approx(excess_kurtosis(returns))
    # returns (a, 0, 0): d = (2a, -a, -a) / 3, m2 = 2a^2/9, m4 = 2a^4/27, m4 / m2^2 = 1.5
    assert s["excess_kurtosis_1m"] == pytest.approx(-1.5)
    assert s["return_acf_1"] == pytest.approx(acf(returns, 1))
    assert s["abs_return_acf_1_10"] is None  # three returns cannot give lags up to 10
    assert s["liquidation_fano_1m"] == pytest.approx(1.5)  # triggers per bar: 0, 3, 1, 0


def test_summary_is_plain_json():
    s = _summary()
    text = json.dumps(s, allow_nan=False)
    assert json.loads(text) == s
    assert type(s["liquidations"]["accounts"]) is int
    assert type(s["liquidations"]["long_usd"]) is float


def test_largest_groups_by_account_and_time_and_peak_by_clock_hour():
    h = 3600 * NS
    liquidated = EventKind.POSITION_LIQUIDATED
    rows = [
        # account 5 liquidated twice, an hour apart: two liquidations, not one
        *trade(T0 + 10 * NS, 600_000, 30, -1, kind=liquidated, taker=5),
        *trade(T0 + h + 10 * NS, 590_000, 40, -1, kind=liquidated, taker=5),
        # account 6 (short) in the second hour, partly by ADL
        *trade(T0 + h + 20 * NS, 591_000, 10, 1, kind=liquidated, taker=6),
        (T0 + h + 20 * NS, EventKind.ADL_EXECUTED, 1, 2, 6, 591_000, 10, None, 0),
    ]
    events = build(rows)
    s = summarize(events, candles(events, TICK, LOT, T0, T0 + 2 * h), {})["liquidations"]
    assert s["largest_usd"] == pytest.approx(2_360.0)  # 40 lots x 59,000
    assert s["peak_hour_usd"] == pytest.approx(2_360.0 + 2 * 591.0)
    assert s["long_usd"] == pytest.approx(1_800.0 + 2_360.0)
    assert s["short_usd"] == pytest.approx(1_182.0)
    assert s["accounts"] == 0 and s["events"] == 0  # no LIQUIDATION_TRIGGERED rows here
