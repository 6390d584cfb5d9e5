"""Reading typed values out of a parsed rulebook file, each error naming file, field and value.

Every reader takes ``source`` (the file, for the message), ``fld`` (the dotted field, such as
``instruments.BTCUSDT.tick_size``) and the raw value, and returns it checked or raises
`RulebookError`. Numbers are exact Decimals: strings, integers, TOML floats read with
``parse_float=Decimal``, or Python floats read by their repr.

Example:
    >>> rate_field("<doc>", "collateral.BTC.ratio", "0.95", Decimal(0), Decimal(1), lo_open=False)
    Decimal('0.95')
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from margincall.core.errors import RulebookError


def decimal_field(source: str, fld: str, v: Any) -> Decimal:
    if isinstance(v, bool) or not isinstance(v, int | str | Decimal | float):
        raise RulebookError(source, fld, v, "a number (string, integer or decimal)")
    try:
        d = Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
    except (InvalidOperation, ValueError):
        raise RulebookError(source, fld, v, 'a decimal number such as "0.004"') from None
    if not d.is_finite():
        raise RulebookError(source, fld, v, "a finite number")
    return d


def int_field(source: str, fld: str, v: Any) -> int:
    d = decimal_field(source, fld, v)
    if d != d.to_integral_value() or d < 0:
        raise RulebookError(source, fld, v, "a non-negative integer")
    return int(d)


def str_field(source: str, fld: str, v: Any, choices: tuple[str, ...] | None = None) -> str:
    if not isinstance(v, str) or not v:
        raise RulebookError(source, fld, v, "a non-empty string")
    if choices is not None and v not in choices:
        raise RulebookError(source, fld, v, f"one of {', '.join(choices)}")
    return v


def table_field(
    source: str,
    fld: str,
    v: Any,
    required: Sequence[str],
    optional: Sequence[str] = (),
) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise RulebookError(source, fld, v, "a table")
    dot = f"{fld}." if fld else ""
    for key in v:
        if key not in required and key not in optional:
            known = ", ".join([*required, *optional])
            raise RulebookError(source, f"{dot}{key}", v[key], f"a known key ({known})")
    for key in required:
        if key not in v:
            raise RulebookError(source, f"{dot}{key}", "<missing>", "a value (required key)")
    return v


def rate_field(
    source: str, fld: str, v: Any, lo: Decimal, hi: Decimal, *, lo_open: bool
) -> Decimal:
    d = decimal_field(source, fld, v)
    if (d <= lo if lo_open else d < lo) or d > hi:
        raise RulebookError(source, fld, v, f"a number in {'(' if lo_open else '['}{lo}, {hi}]")
    return d


def positive_field(source: str, fld: str, v: Any) -> Decimal:
    d = decimal_field(source, fld, v)
    if d <= 0:
        raise RulebookError(source, fld, v, "a positive number")
    return d
