"""Kept for users and docs that import ``margincall.venue.margin``: the public margin formulas
now live in :mod:`margincall.formulas.margin`, and this module re-exports them unchanged (the
same function objects). New code imports from ``margincall.formulas.margin``."""

from margincall.formulas.margin import (
    bankruptcy_price,
    binance_adl_quantiles,
    binance_leverage_pnl,
    binance_liquidation_price,
    binance_liquidation_price_tiered,
    bitmex_adl_allocate,
    bitmex_adl_score,
    bitmex_effective_leverage,
    bitmex_pnl_fraction,
    hyperliquid_adl_index,
    hyperliquid_liquidation_price,
    hyperliquid_maintenance_rate,
    inverse_bankruptcy_price,
    maintenance_amounts,
    maintenance_margin,
    round_to_tick,
    tier_index,
)

__all__ = [
    "bankruptcy_price",
    "binance_adl_quantiles",
    "binance_leverage_pnl",
    "binance_liquidation_price",
    "binance_liquidation_price_tiered",
    "bitmex_adl_allocate",
    "bitmex_adl_score",
    "bitmex_effective_leverage",
    "bitmex_pnl_fraction",
    "hyperliquid_adl_index",
    "hyperliquid_liquidation_price",
    "hyperliquid_maintenance_rate",
    "inverse_bankruptcy_price",
    "maintenance_amounts",
    "maintenance_margin",
    "round_to_tick",
    "tier_index",
]
