"""Watch mode of ``margincall monitor --every 5m``: re-read the sources, rewrite the report in
place, print one line per refresh, until Ctrl-C.

- **Schedule**: refresh ``n`` starts at ``start + (n - 1) * every`` (a refresh that takes
  longer than ``every`` is followed at once by the next one; none is skipped or stacked).
- **In place**: the first refresh writes the folder whole (:func:`~margincall.core.atomic.
  atomic_folder`); later ones replace each file by :func:`~margincall.core.atomic.write_atomic`
  (a temporary file renamed over the old one), so a reader sees at any time either the
  previous file or the new one, whole. ``alerts.jsonl`` is appended to.
- **Failures**: the first refresh's error ends the command (exit 2, nothing written); a later
  refresh that fails (a file caught mid-write by its producer, a source gone) prints
  ``refresh N failed: ...`` and keeps the previous report.
- **Stopping**: SIGINT (Ctrl-C) and SIGTERM set a flag; the loop stops at the end of the write
  under way (or at once while it sleeps) and the command exits 0. A second Ctrl-C interrupts
  at once (the write under way leaves only its temporary file).
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from margincall.core.errors import InvalidInputError, SourceUnavailableError
from margincall.monitor.alerts import Alerts, append_jsonl, figures, record
from margincall.monitor.prose import usd

ALERTS_FILE = "alerts.jsonl"
REPORT_NAMES = ("metrics.parquet", "summary.json", "report.md", "report.html", ALERTS_FILE)
"""The files of a monitor folder (watch mode rewrites a folder holding only these)."""

_EVERY = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h)$")
_UNIT = {"s": 1.0, "m": 60.0, "h": 3600.0}
SLEEP_STEP = 0.05
"""Seconds between checks of the stop flag while waiting for the next refresh."""


def watch_out_ok(out: Path, names: Collection[str]) -> bool:
    """Whether watch mode may write ``out``: absent, an empty folder, or the folder of a previous
    report (``summary.json`` and only files named in ``names``), which it rewrites in place."""
    if not out.exists():
        return True
    if not out.is_dir():
        return False
    present = {p.name for p in out.iterdir()}
    return not present or ("summary.json" in present and present <= set(names))


def parse_every(text: str) -> float:
    """``30s``, ``5m``, ``1h`` (a number and a unit) as seconds, more than 0."""
    m = _EVERY.match(text.strip())
    seconds = float(m.group(1)) * _UNIT[m.group(2)] if m else 0.0
    if seconds <= 0:
        raise InvalidInputError("--every", text, "a period like 30s, 5m or 1h (more than 0)")
    return seconds


class Stop:
    """Set by SIGINT or SIGTERM while :func:`stop_on_signals` is active."""

    def __init__(self) -> None:
        self.requested = False


@contextmanager
def stop_on_signals() -> Iterator[Stop]:
    """Turn the first SIGINT/SIGTERM into a stop request; a second SIGINT raises at once."""
    stop = Stop()

    def handler(signum: int, frame: object) -> None:
        if stop.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.requested = True

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def keep_current(
    refresh: Callable[[int], list[str]],
    every: float,
    say: Callable[[str], None],
    *,
    stop: Stop,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Call ``refresh(n)`` every ``every`` seconds and ``say`` its lines, until ``stop``; the
    first refresh's error propagates, later ones are said and skipped. Returns the number of
    refreshes that completed."""
    start = clock()
    n = done = 0
    while not stop.requested:
        n += 1
        if n == 1:
            lines = refresh(n)
        else:
            try:
                lines = refresh(n)
            except (InvalidInputError, SourceUnavailableError, OSError) as exc:
                lines = [f"refresh {n} failed: {exc}; the previous report is kept"]
                done -= 1
        done += 1
        for line in lines:
            say(line)
        due = start + n * every
        while not stop.requested and clock() < due:
            time.sleep(min(SLEEP_STEP, max(0.0, due - clock())))
    return done


def _show(name: str, value: float) -> str:
    if name.endswith("_usd") or name.startswith(("etf_", "market_cap")):
        return f"{name} {usd(value)}"
    if name == "change_24h":
        return f"{name} {value:+.2%}"
    return f"{name} {value:,.2f}".rstrip("0").rstrip(".")


@dataclass
class Refresher:
    """One refresh of the report in ``out``: build, write (whole the first time unless ``out``
    already holds a report, else file by file in place), check the alert rules."""

    out: Path
    build: Callable[[], Any]
    alerts: Alerts | None = None
    in_place: bool = False
    last: Any = None  # the last result built

    def __call__(self, n: int) -> list[str]:
        from margincall.monitor.report import rewrite_monitor, write_monitor

        result = self.last = self.build()
        if self.in_place:
            rewrite_monitor(self.out, result)
        else:
            write_monitor(self.out, result)
            self.in_place = True
        values = figures(result)
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        s = result.summary
        as_of = s.get("at") or s.get("as_of_day")
        shown = ", ".join(_show(k, v) for k, v in values.items() if v is not None)
        lines = [f"{now} refresh {n}: as of {as_of}: {shown or 'no figures'}"]
        if self.alerts is not None:
            fired = self.alerts.check(values)
            append_jsonl(self.out / ALERTS_FILE, [record(r, values, as_of, now) for r in fired])
            lines += [
                f"{now} ALERT {r.name}: {_show(r.figure, values[r.figure] or 0.0)}"
                f" (rule {r.text}), as of {as_of}"
                for r in fired
            ]
        return lines
