"""exp, log and power on arrays through the C library: the same bits on every x86 CPU.

numpy picks its float64 ``exp``, ``log`` and ``power`` loops when it starts, by what the CPU
offers: on a CPU with AVX-512 it runs its own vector code, elsewhere the C library's functions.
The two agree to within an ulp, not always to the last bit. The agents' prices and leverages pass
through these functions before they are rounded to ticks and lots, so one flipped bit can move an
order by a tick and the event log's digest with it: the same seed gave other digests on an AVX2
machine than on the earlier machine the golden digests were pinned on (that numpy's vector code
was the cause is likely, not verified: no AVX-512 machine was at hand). These functions call
Python's ``math`` functions (the C library) element by element, about 0.1 s per million values,
so a seed gives one event log whatever the CPU. Use them, not ``np.exp``, ``np.log``,
``np.power`` or ``**`` on arrays, wherever a result can reach the venue.

Example:
    >>> import numpy as np
    >>> exp(np.array([0.0, 1.0])).tolist(), log(np.array([1.0])).tolist()
    ([1.0, 2.718281828459045], [0.0])
    >>> power(np.array([2.0, 9.0]), 0.5).tolist(), float(exp(0.0))
    ([1.4142135623730951, 3.0], 1.0)
    >>> geomspace(1.0, 100.0, 3).tolist()
    [1.0, 10.0, 100.0]
"""

from __future__ import annotations

import math

import numpy as np

_EXP = np.frompyfunc(math.exp, 1, 1)
_LOG = np.frompyfunc(math.log, 1, 1)
_POW = np.frompyfunc(math.pow, 2, 1)


def exp(x) -> np.ndarray:
    """``e ** x`` element by element (float64)."""
    return np.asarray(_EXP(np.asarray(x, np.float64)), np.float64)


def log(x) -> np.ndarray:
    """The natural log element by element (float64; values must be positive)."""
    return np.asarray(_LOG(np.asarray(x, np.float64)), np.float64)


def power(base, exponent) -> np.ndarray:
    """``base ** exponent`` element by element, broadcast (float64). A plain exponent of 0.5
    is the square root, as numpy's ``**`` takes it (a square root is exact on every CPU)."""
    b = np.asarray(base, np.float64)
    if np.ndim(exponent) == 0 and float(exponent) == 0.5:
        return np.sqrt(b)
    return np.asarray(_POW(b, np.asarray(exponent, np.float64)), np.float64)


def geomspace(start: float, stop: float, num: int) -> np.ndarray:
    """``num`` values from ``start`` to ``stop`` (both > 0) evenly spaced in log, as
    ``np.geomspace`` computes them (10 to the powers evenly spaced between the ends' log10s, the
    ends exact), with the C library's log10 and pow."""
    out = power(10.0, np.linspace(math.log10(start), math.log10(stop), num))
    if num > 0:
        out[0] = start
    if num > 1:
        out[-1] = stop
    return out
