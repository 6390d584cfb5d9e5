"""The market monitor: ingest of real and simulated market data, indicators, a sentiment index
and data checks. Every reader returns the canonical bar schema of :mod:`margincall.monitor.schema`.
"""
