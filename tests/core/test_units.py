"""Integer units: exact conversions, errors that name the field, rounding modes, big notionals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from margincall.core.errors import InvalidInputError
from margincall.core.units import Scale, micros_to_usd, to_decimal, usd_to_micros

BTC = Scale(tick_size=Decimal("0.1"), lot_size=Decimal("0.001"))


def test_prices_and_sizes_on_the_grid_convert_exactly_both_ways():
    assert BTC.price_to_ticks("65266.1") == 652661
    assert BTC.qty_to_lots("0.25") == 250
    assert BTC.ticks_to_price(652661) == Decimal("65266.1")
    assert BTC.lots_to_qty(250) == Decimal("0.250")
    assert BTC.price_to_ticks(Decimal("0.1")) == 1
    assert BTC.price_to_ticks(60_000) == 600_000


def test_floats_are_read_by_their_shortest_repr_not_their_binary_value():
    # 0.1 + 0.2 is 0.30000000000000004 in binary; its repr is off the grid and must be refused,
    # while 0.3 itself (repr "0.3") is exactly three ticks.
    assert BTC.price_to_ticks(0.3) == 3
    with pytest.raises(InvalidInputError) as e:
        BTC.price_to_ticks(0.1 + 0.2)
    assert e.value.field == "price"
    assert usd_to_micros(0.1) == 100_000


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: BTC.price_to_ticks("65266.15"), "price"),
        (lambda: BTC.qty_to_lots("0.0005"), "qty"),
        (lambda: usd_to_micros("1.0000005", "exact"), "usd"),
        (lambda: BTC.price_to_ticks("abc"), "price"),
        (lambda: BTC.qty_to_lots(float("nan")), "qty"),
        (lambda: BTC.qty_to_lots(True), "qty"),
        (lambda: to_decimal("inf", "amount_usd"), "amount_usd"),
    ],
)
def test_off_grid_or_non_numeric_values_raise_an_error_naming_the_field(call, field):
    with pytest.raises(InvalidInputError) as e:
        call()
    assert e.value.field == field
    assert str(e.value).startswith(f"{field}=")


def test_the_off_grid_error_says_which_multiple_was_expected():
    with pytest.raises(InvalidInputError, match=r"a multiple of 0\.1"):
        BTC.price_to_ticks("60000.05")


@pytest.mark.parametrize(
    ("value", "mode", "expected"),
    [
        ("1.5", "down", 1),
        ("1.5", "up", 2),
        ("1.5", "nearest", 2),
        ("2.5", "nearest", 2),  # half to even
        ("-1.5", "down", -2),  # floor, not truncation
        ("-1.5", "up", -1),  # ceiling
        ("-2.5", "nearest", -2),
        ("3", "exact", 3),
    ],
)
def test_rounding_modes_follow_floor_ceiling_and_half_even_in_ticks(value, mode, expected):
    assert BTC.price_to_ticks(Decimal(value) / 10, mode) == expected


def test_usd_rounding_modes_act_on_whole_micro_dollars():
    assert usd_to_micros("0.0000005") == 0  # nearest, half to even
    assert usd_to_micros("0.0000015") == 2
    assert usd_to_micros("0.0000001", "up") == 1
    assert usd_to_micros("0.0000009", "down") == 0
    assert usd_to_micros("-0.0000001", "down") == -1
    assert usd_to_micros("12.345678", "exact") == 12_345_678
    assert micros_to_usd(1) == Decimal("0.000001")
    assert micros_to_usd(-12_345_678) == Decimal("-12.345678")


def test_notional_is_exact_beyond_the_int64_range():
    # 1e12 ticks x 1e12 lots x 100 micros per tick-lot = 1e26 micro-dollars: no wrap-around
    assert BTC.micros_per_tick_lot == 100
    assert BTC.notional_micros(10**12, 10**12) == 10**26
    assert BTC.notional_micros(652661, 250) == 16_316_525_000  # the docstring example


@pytest.mark.parametrize(
    ("tick", "lot", "field"),
    [
        ("0", "0.001", "tick_size"),
        ("0.1", "-1", "lot_size"),
        ("0.0001", "0.001", "tick_size*lot_size"),  # 0.1 micro-dollar per tick-lot
    ],
)
def test_a_grid_that_is_not_positive_or_not_whole_micros_is_refused(tick, lot, field):
    with pytest.raises(InvalidInputError) as e:
        Scale(tick_size=Decimal(tick), lot_size=Decimal(lot))
    assert e.value.field == field


def test_numpy_scalars_convert_like_python_numbers():
    import numpy as np

    from margincall.core.units import to_decimal

    assert to_decimal(np.float64(59900.5)) == to_decimal(59900.5)
    assert to_decimal(np.int64(7)) == to_decimal(7)
