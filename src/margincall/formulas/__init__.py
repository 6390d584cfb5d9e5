"""The readable rules users call: margin and liquidation prices, mark, funding, price band, and
dYdX's protocol arithmetic. Floats (or exact Fractions and Decimals), no state, no numba; the
integer engine in :mod:`margincall.venue` is tested against them, one table per rule
(``tests/formulas``). This layer imports only :mod:`margincall.core`."""
