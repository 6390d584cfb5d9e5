"""The venue's rule parameters as one int64 array, for the compiled kernels.

Built once from a :class:`~margincall.venue.instrument.Rulebook` by
:func:`margincall.venue.engine.build_params`; each constant below is a slot.
"""

from __future__ import annotations

K = 0  # micro-dollars per tick-lot
MAKER_FEE_PPM = 1
TAKER_FEE_PPM = 2
LIQ_FEE_PPM = 3  # Binance liquidation clearance fee rate
POLICY = 4  # one of the POLICY_* values
STRICT = 5  # 1: liquidate when balance < maintenance; 0: when <=
BAND_PPM = 6  # market-order protection band around the mark
PARTIAL_THRESHOLD = 7  # Hyperliquid: notional (micro-dollars) above which only a slice goes
PARTIAL_PPM = 8  # Hyperliquid: the slice
BACKSTOP_NUM = 9  # Hyperliquid: backstop below NUM/DEN of maintenance
BACKSTOP_DEN = 10
BA_PPM = 11  # dYdX bankruptcy adjustment
SMMR_PPM = 12  # dYdX spread to maintenance margin ratio
MAX_LIQ_FEE_PPM = 13  # dYdX maximum liquidation fee
PORTION_PPM = 14  # dYdX maximum position portion per liquidation
MIN_NOTIONAL = 15  # dYdX minimum notional liquidated, micro-dollars
ADL = 16  # one of the ADL_* values
COOLDOWN_NS = 17  # Hyperliquid: full-size liquidations this long after a partial one
MAX_ROUNDS = 18  # liquidation rounds per step before the scan stops
ADL_AT_MARK = 19  # 1: ADL closes at the mark (Hyperliquid), 0: at the bankruptcy price
MIN_TICK = 20  # lowest price the book accepts
MAX_TICK = 21  # highest price the book accepts
INSTRUMENT = 22  # instrument index written in events
STEP_DOWN = 23  # 1: reduce a large position into a lower tier first (Binance IOC, BitMEX FOK)
BLOCK_NOTIONAL_CAP = 24  # dYdX: most notional liquidated per account per block, micro-dollars
SIZE = 25

POLICY_BINANCE = 0
POLICY_BITMEX = 1
POLICY_DYDX = 2
POLICY_HYPERLIQUID = 3
POLICIES = {
    "binance": POLICY_BINANCE,
    "bitmex": POLICY_BITMEX,
    "dydx": POLICY_DYDX,
    "hyperliquid": POLICY_HYPERLIQUID,
}

ADL_BINANCE = 0  # leverage-PnL quantile
ADL_BITMEX = 1  # PnL% x effective leverage
ADL_HYPERLIQUID = 2  # (mark/entry) x (notional/account value)
ADL_DYDX = 3  # pseudo-random order, non-worsening check
ADL_PRO_RATA = 4  # every opposite position in proportion to its size
ADL_RANKINGS = {
    "binance_leverage_pnl": ADL_BINANCE,
    "bitmex_pnl_leverage": ADL_BITMEX,
    "hyperliquid_index": ADL_HYPERLIQUID,
    "dydx_random": ADL_DYDX,
    "pro_rata": ADL_PRO_RATA,
}
