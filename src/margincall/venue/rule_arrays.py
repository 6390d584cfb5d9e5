"""The rulebook as the arrays the kernels read: the parameters (slots of :mod:`params`) and the
margin tiers."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np

from margincall.core.units import usd_to_micros
from margincall.venue import params as P
from margincall.venue.instrument import Instrument, Rulebook
from margincall.venue.state import Tiers


def build_params(
    rulebook: Rulebook, inst: Instrument, min_tick: int, max_tick: int, max_rounds: int
) -> np.ndarray:
    """The rulebook as the int64 parameter array the kernels read (see :mod:`params`)."""
    liq = rulebook.liquidation
    p = np.zeros(P.SIZE, np.int64)
    p[P.K] = inst.scale.micros_per_tick_lot
    p[P.MAKER_FEE_PPM] = inst.maker_fee_ppm
    p[P.TAKER_FEE_PPM] = inst.taker_fee_ppm
    p[P.LIQ_FEE_PPM] = inst.liquidation_fee_ppm
    p[P.POLICY] = P.POLICIES[liq["policy"]]
    p[P.STRICT] = 1 if liq["policy"] in ("dydx", "hyperliquid") else 0
    p[P.BAND_PPM] = int(inst.price_band * 1_000_000)
    p[P.PARTIAL_THRESHOLD] = usd_to_micros(liq.get("partial_threshold_usd", 0))
    p[P.PARTIAL_PPM] = int(Decimal(str(liq.get("partial_fraction", 1))) * 1_000_000)
    backstop = Fraction(str(liq.get("backstop_ratio", 0)))
    p[P.BACKSTOP_NUM], p[P.BACKSTOP_DEN] = backstop.numerator, backstop.denominator
    p[P.BA_PPM] = int(liq.get("bankruptcy_adjustment_ppm", 1_000_000))
    p[P.SMMR_PPM] = int(liq.get("spread_to_maintenance_margin_ratio_ppm", 0))
    p[P.MAX_LIQ_FEE_PPM] = int(liq.get("max_liquidation_fee_ppm", 0))
    p[P.PORTION_PPM] = int(liq.get("max_position_portion_ppm", 1_000_000))
    p[P.MIN_NOTIONAL] = usd_to_micros(liq.get("min_position_notional_usd", 0))
    p[P.ADL] = P.ADL_RANKINGS[rulebook.adl_ranking]
    p[P.COOLDOWN_NS] = int(liq.get("partial_cooldown_seconds", 0)) * 1_000_000_000
    p[P.MAX_ROUNDS] = max_rounds
    p[P.ADL_AT_MARK] = 1 if rulebook.adl_close_price in ("mark", "oracle") else 0
    step_down = liq.get("partial_to_lower_tier", False) or liq.get("high_tier_order_type") == "fok"
    p[P.STEP_DOWN] = 1 if step_down else 0
    cap = liq.get("max_notional_liquidated_per_block_usd")
    p[P.BLOCK_NOTIONAL_CAP] = usd_to_micros(cap) if cap is not None else np.iinfo(np.int64).max
    p[P.MIN_TICK] = min_tick
    p[P.MAX_TICK] = max_tick
    return p


def build_tiers(inst: Instrument) -> Tiers:
    """The instrument's margin tiers as the integer arrays the kernels read."""
    return Tiers(
        floor=np.ascontiguousarray(inst.tier_floor_micros, dtype=np.int64),
        mmr_ppm=np.ascontiguousarray(inst.tier_mmr_ppm, dtype=np.int64),
        cum=np.ascontiguousarray(inst.tier_cum_micros, dtype=np.int64),
        imr_ppm=np.ascontiguousarray(inst.tier_imr_ppm, dtype=np.int64),
    )
