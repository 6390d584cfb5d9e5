"""The arbitrage desk's reference price: the median of the index and the other venues' mids."""

from __future__ import annotations

import numpy as np

from margincall.agents.cross_arb import median


def test_the_median_is_numpys_to_the_last_bit():
    rng = np.random.default_rng(5)
    for n in range(1, 6):
        for _ in range(2_000):
            values = list(rng.normal(70_000, 300, n) * rng.choice([1e-3, 1.0, 1e3]))
            assert median(values) == float(np.median(values))
    assert median([3.0, 1.0]) == 2.0
    assert median([0.1, 0.2]) == float(np.median([0.1, 0.2]))
