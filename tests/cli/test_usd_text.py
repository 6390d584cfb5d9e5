"""Dollars in the CLI's tables (cli/common.usd_text): the sign before the dollar sign, billions
from $1B, millions below, a dash for no figure."""

from __future__ import annotations

import pytest

from margincall.cli.common import usd_text


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (None, "-"),
        (2.18e9, "$2.18B"),
        (9.3e6, "$9.3M"),
        (-2.0e6, "-$2.0M"),  # a fund that gained
        (-1.5e9, "-$1.50B"),
        (999.9e6, "$999.9M"),
        (0.0, "$0.0M"),
    ],
)
def test_usd_text(x, text):
    assert usd_text(x) == text
