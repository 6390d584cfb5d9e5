"""The price band: the engine's integer rule (:func:`margincall.venue.band.band_limit_ticks`)
against the readable formula (:func:`margincall.formulas.band.band_limit`), case by case.

Tolerance: ONE TICK, toward the mark. The band is floored to whole ticks, so the engine's limit
is never further from the mark than the formula's and less than one tick closer."""

from __future__ import annotations

import math

import pytest

from margincall.core.errors import InvalidInputError
from margincall.formulas.band import band_limit
from margincall.venue.band import band_limit_ticks
from margincall.venue.instrument import load_rulebook

RULEBOOKS = ("binance", "bitmex", "dydx", "hyperliquid")


def _band_ppm(rulebook: str, symbol: str = "BTCUSDT") -> int:
    return int(load_rulebook(rulebook).instrument(symbol).price_band * 1_000_000)


# (id, band in ppm, mark in ticks, side): the rulebooks' own bands, then bands and marks whose
# product is not a whole number of ticks, and the smallest marks.
CASES = [
    *[
        pytest.param(_band_ppm(rb), mark, side, id=f"{rb}-{mark}-{side}")
        for rb in RULEBOOKS
        for mark in (600_000, 60_001, 1_234_567)
        for side in ("buy", "sell")
    ],
    pytest.param(_band_ppm("binance", "ETHUSDT"), 345_678, "sell", id="binance-ETHUSDT-sell"),
    pytest.param(333_333, 7, "buy", id="third-of-7-buy"),
    pytest.param(333_333, 7, "sell", id="third-of-7-sell"),
    pytest.param(1, 999_999, "buy", id="1ppm-below-one-tick"),
    pytest.param(1_000_000, 10, "sell", id="whole-band-sell-to-0"),
    pytest.param(50_000, 1, "buy", id="one-tick-mark"),
]


@pytest.mark.parametrize(("band_ppm", "mark", "side"), CASES)
def test_band_limit_ticks_is_the_formula_floored_toward_the_mark(band_ppm, mark, side):
    s = 1 if side == "buy" else -1
    exact = band_limit(float(mark), band_ppm / 1e6, side)
    got = band_limit_ticks(mark, band_ppm, s)
    away = s * (got - exact)  # how far past the formula's limit, away from the mark
    assert -1 < away <= 1e-9 * mark, (got, exact)
    assert got == mark + s * (mark * band_ppm // 1_000_000)  # the integer rule, spelled out


@pytest.mark.parametrize(
    ("args", "field"),
    [
        pytest.param((0.0, 0.05, "buy"), "mark", id="mark0"),
        pytest.param((math.nan, 0.05, "buy"), "mark", id="mark-nan"),
        pytest.param((100.0, 0.0, "buy"), "band", id="band0"),
        pytest.param((100.0, 1.5, "buy"), "band", id="band-above-1"),
        pytest.param((100.0, 0.05, "long"), "side", id="side"),
        pytest.param((True, 0.05, "buy"), "mark", id="bool"),
    ],
)
def test_band_limit_names_a_bad_argument(args, field):
    with pytest.raises(InvalidInputError) as err:
        band_limit(*args)
    assert err.value.field == field


@pytest.mark.parametrize("path", ["submit_order", "submit_orders"])
@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("rulebook", RULEBOOKS)
def test_a_venue_market_order_stops_at_the_band_limit(rulebook, side, path):
    """The engine's market orders (one at a time, and the batch kernel's) fill up to the rule's
    limit and not one tick past it: this pins the inline copies of the rule (see
    docs/formulas.md) to the one home until they call it."""
    import numpy as np

    from margincall.events.schema import EventKind
    from margincall.venue.engine import Venue

    # 60,013: five percent of it is not a whole number of ticks on any rulebook's grid
    v = Venue(rulebook, "BTCUSDT", price=60_013, insurance_fund_usd=1_000_000)
    assert v.mark_ticks * _band_ppm(rulebook) % 1_000_000 != 0
    s = 1 if side == "buy" else -1
    limit = band_limit_ticks(v.mark_ticks, _band_ppm(rulebook), s)
    mm, taker = v.open_account(1_000_000), v.open_account(1_000_000)
    lot, tick = v.scale.lot_size, v.scale.tick_size
    other = "sell" if side == "buy" else "buy"
    v.submit_order(mm, other, lot, limit * tick)
    v.submit_order(mm, other, lot, (limit + s) * tick)  # one tick past the band
    if path == "submit_order":
        ev = v.submit_order(taker, side, 2 * lot)
    else:
        ev = v.submit_orders(np.array([taker]), np.array([s]), np.array([2]), np.array([0]))
    fills = ev[(ev["kind"] == int(EventKind.ORDER_FILLED)) & (ev["account"] == taker)]
    assert fills["price"].tolist() == [limit]
    assert int(np.abs(fills["qty"]).sum()) == 1
