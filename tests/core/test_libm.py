"""The C-library math the agents use on arrays (margincall.core.libm): the values of Python's
math functions, element by element, whatever numpy's own loops on this CPU would give."""

from __future__ import annotations

import doctest
import math

import numpy as np

from margincall.core import libm


def test_examples():
    assert doctest.testmod(libm).failed == 0


def test_each_value_is_the_math_modules():
    x = np.random.default_rng(7).normal(0.0, 3.0, 10_000)
    y = np.abs(x) + 1e-3
    assert libm.exp(x).tolist() == [math.exp(v) for v in x]
    assert libm.log(y).tolist() == [math.log(v) for v in y]
    assert libm.power(y, 1.6).tolist() == [math.pow(v, 1.6) for v in y]
    assert libm.power(12.5, y).tolist() == [math.pow(12.5, v) for v in y]


def test_a_half_power_is_the_square_root_and_shapes_broadcast():
    y = np.array([[2.0, 3.0], [5.0, 7.0]])
    assert libm.power(y, 0.5).tolist() == np.sqrt(y).tolist()
    assert libm.power(y, np.array([1.0, 2.0])).tolist() == [[2.0, 9.0], [5.0, 49.0]]
    assert libm.exp(np.zeros((2, 3))).shape == (2, 3)


def test_geomspace_ends_exact_and_ratios_even():
    d = libm.geomspace(1e-4, 0.04, 16)
    assert d[0] == 1e-4 and d[-1] == 0.04 and len(d) == 16
    ratios = d[1:] / d[:-1]
    assert np.allclose(ratios, ratios[0], rtol=1e-12, atol=0)
    assert libm.geomspace(2.0, 8.0, 1).tolist() == [2.0]
