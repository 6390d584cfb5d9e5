"""Error types. Every error names the bad value and what was expected."""

from __future__ import annotations

from typing import Any


class MarginCallError(Exception):
    """Base class of every error raised by margincall."""


class InvalidInputError(MarginCallError, ValueError):
    """A value given by a user or a file is not acceptable.

    Args:
        field: the name of the field or argument, e.g. ``"qty"`` or ``"tiers[2].mmr"``.
        value: the offending value.
        expected: what would have been accepted, in words.
    """

    def __init__(self, field: str, value: Any, expected: str) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"{field}={_plain(value)!r}: expected {expected}")


def _plain(value: Any) -> Any:
    """A numpy scalar (or a list or tuple of them) as the Python value it holds, so a message
    reads ``1.5``, not ``np.float64(1.5)``."""
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    if type(value).__module__ == "numpy" and getattr(value, "shape", None) == ():
        return value.item()
    return value


class RulebookError(InvalidInputError):
    """A rulebook (instrument and margin-tier file) is malformed."""

    def __init__(self, source: str, field: str, value: Any, expected: str) -> None:
        self.source = source
        super().__init__(field, value, expected)
        self.args = (f"{source}: {field}={value!r}: expected {expected}",)

    def __str__(self) -> str:
        return str(self.args[0])


class InvariantViolation(MarginCallError, AssertionError):
    """An internal invariant (money conservation, open-interest balance, ...) does not hold."""


class SourceUnavailableError(MarginCallError):
    """A data source outside margincall (an exchange over the network) could not be read.

    Args:
        source: what was being read, e.g. ``"ccxt:binanceusdm:BTC/USDT:USDT"``.
        reason: why, in words (the underlying error's type and message).
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: could not be read ({reason}); try again later")
