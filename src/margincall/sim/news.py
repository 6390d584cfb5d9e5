"""News shocks per kernel step: the scenario's ``[[flow.shocks]]`` as fractional index jumps.

A shock moves the index by ``move`` at ``hour``: at once (``minutes`` 0, the step whose interval
holds the time), or spread evenly over the ``minutes`` after it, as a market that takes a while
to price the news (each step takes the share of the move its overlap with the window holds,
compounded, so the whole window multiplies the index by ``1 + move``). Shocks that overlap a step
compound in time order.

Example:
    >>> from types import SimpleNamespace as NS
    >>> news = News([NS(hour=0.0, move=-0.02, minutes=0.0), NS(hour=0.0, move=-0.01, minutes=2.0)])
    >>> [round(news.jump(t, 60.0), 6) for t in (60.0, 120.0, 180.0)]
    [-0.024912, -0.005013, 0.0]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class News:
    """``jump(elapsed, dt)``: the index jump of the step ending ``elapsed`` seconds into the run;
    steps must be asked in order."""

    def __init__(self, shocks: Iterable[Any]) -> None:
        self.shocks = sorted(
            (s.hour * 3600.0, s.minutes * 60.0, s.move) for s in shocks
        )  # fmt: skip
        self.next = 0  # the first shock not yet started
        self.open: list[tuple[float, float, float]] = []  # spread shocks under way

    def jump(self, elapsed: float, dt: float) -> float:
        """The fractional index move of the step ``(elapsed - dt, elapsed]``."""
        jump = 0.0
        start = elapsed - dt
        while self.next < len(self.shocks) and self.shocks[self.next][0] < elapsed:
            at, span, move = self.shocks[self.next]
            self.next += 1
            if span <= 0:
                jump = (1 + jump) * (1 + move) - 1
            else:
                self.open.append((at, span, move))
        still = []
        for at, span, move in self.open:
            overlap = min(elapsed, at + span) - max(start, at)
            if overlap > 0:
                jump = (1 + jump) * (1 + move) ** (overlap / span) - 1
            if at + span > elapsed:
                still.append((at, span, move))
        self.open = still
        return jump
