"""The market monitor: ingest of real and simulated market data, indicators, a sentiment index,
data checks and the market stress report. Bar readers return the canonical bar schema of
:mod:`margincall.monitor.schema`; the daily market sources (ETF flows, market cap, closes, Fear &
Greed) are read by :mod:`margincall.sources` and reported by :mod:`margincall.monitor.daily` and
:mod:`margincall.monitor.market_report`.
"""
