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
        super().__init__(f"{field}={value!r}: expected {expected}")


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
