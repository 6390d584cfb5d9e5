"""Reading real market data into one schema per kind of data (the layer below monitor,
estimate and sim; it imports only :mod:`margincall.core`).

Every reader returns a polars frame with fixed column names and dtypes and a ``line`` column:
the 1-based line of the file the row came from (a CSV's header is line 1, so its first data
row is line 2; for JSON and Parquet, the 1-based position of the record), so every figure a
report prints can name the rows it came from. Dates are UTC days (``pl.Date``); a row dated D
holds the value at the end of D (24:00 UTC), except ETF flows, which are the US trading day D.

============== ================================ ===============================================
module         reader                           schema
============== ================================ ===============================================
flows          :func:`~.flows.read_etf_flows`   ``days``: date, total_usd, line; ``funds``:
                                                date, fund, flow_usd, line (US dollars)
market_cap     :func:`~.market_cap.read_market_ date, total_usd, btc_usd, eth_usd, line (USD;
               cap`                             btc/eth null where the source has neither
                                                their cap nor their dominance)
closes         :func:`~.closes.read_closes`     date, close, high, low, volume, line (USD;
                                                high/low/volume null where not given)
fear_greed     :func:`~.fear_greed.read_fear_   date, value (0-100), line
               greed`
klines         :func:`~.klines.read_klines`     ts (bar start, UTC), open, high, low, close,
                                                volume, volume_usd (the Binance kline CSV)
panel          :func:`~.panel.read_panel`       ts (hour start, UTC), open, high, low, close,
                                                oi_usd, funding, liq_long_usd, liq_short_usd,
                                                long_short_ratio (its own docstring: formats)
============== ================================ ===============================================

Every error is an :class:`~margincall.core.errors.InvalidInputError` naming the file, the
formats tried and the first bad row and field (:mod:`margincall.sources.tables`).
"""
