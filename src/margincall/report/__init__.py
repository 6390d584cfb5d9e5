"""Reports on a finished run, built from its event log alone.

``candles`` turns the log into fixed-width bars (price, volume, forced closes and the venue
snapshots), ``stats`` computes the run summary and the stylized facts, and ``figures`` writes a
self-contained HTML report and a PNG of the price. Nothing here touches the venue or the kernel.
"""
