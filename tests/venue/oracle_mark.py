"""Rulebooks for engine tests that move the price by the oracle alone.

Hyperliquid's mark is the median of oracle + an EMA of its book's basis, its book median and
other venues' perp mids (:func:`margincall.venue.mark.hyperliquid_mark_step`): with no book, or
one that stays put, and a last trade, it stays at the book's prices whatever the oracle does.
The liquidation, ADL and portfolio tests that set a price with ``set_index_price`` test those
mechanics under Hyperliquid's other rules with the mark at the oracle (the mark's own tests are
``tests/venue/test_hyperliquid_mark.py`` and ``tests/formulas/test_mark.py``).
"""

from __future__ import annotations

from dataclasses import replace

from margincall.venue.instrument import Rulebook, load_rulebook


def oracle_marked(name: str) -> Rulebook:
    """Rulebook ``name``, its mark at the oracle where it marks by Hyperliquid's rule.

    Example:
        >>> oracle_marked("hyperliquid").mark, oracle_marked("binance").mark
        ('oracle', 'median')
    """
    rb = load_rulebook(name)
    return replace(rb, mark="oracle") if rb.mark == "hyperliquid" else rb
