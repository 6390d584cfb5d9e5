"""A market run folder as the readers see it: its venues and instruments (from
``manifest.json``) and one (venue, instrument)'s candles in the single-venue layout.

:mod:`margincall.sim.market_run` writes the folder: ``candles.parquet`` is long, one row per
minute, venue and instrument (columns ``venue`` and ``symbol``), and ``manifest.json`` holds the
venues table (name, instruments). A reader of one series (``margincall monitor``, ``margincall
stress --from``, the dashboard's replay) picks one pair with :class:`MarketPick`: the venue by
name (default: the first in the scenario's order) and the instrument by symbol or by its asset
(``BTCUSDT`` or ``BTC``, either case; default: the venue's BTC instrument if it lists one, else
its first). A name not in the folder is refused with the choices named.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from margincall.core.errors import InvalidInputError

QUOTES = ("USDT", "USDC", "USD")
"""Quote currencies a symbol's asset is read without (``BTCUSDT`` -> ``BTC``)."""


def asset_of(symbol: str) -> str:
    """The asset of an instrument symbol: ``BTCUSDT`` -> ``BTC`` (unchanged without a quote)."""
    for q in QUOTES:
        if symbol.endswith(q) and len(symbol) > len(q):
            return symbol[: -len(q)]
    return symbol


def market_venues(folder: str | Path) -> dict[str, list[str]] | None:
    """Venue name -> its instrument symbols, in the manifest's order; ``None`` when ``folder``
    is not a market run folder (no ``manifest.json`` with a venues table)."""
    manifest = Path(folder) / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        table = data.get("venues") if isinstance(data, dict) else None
        if not isinstance(table, list):
            return None
        return {str(v["name"]): [str(i["symbol"]) for i in v["instruments"]] for v in table}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InvalidInputError(
            str(manifest), type(exc).__name__, "a market manifest with a venues table"
        ) from None


@dataclass(frozen=True)
class MarketPick:
    """Which (venue, instrument) of a market run folder to read (module docstring); the
    option names are the ones errors name."""

    venue: str | None = None
    instrument: str | None = None
    venue_option: str = "--venue"
    instrument_option: str = "--instrument"

    def given(self) -> bool:
        return self.venue is not None or self.instrument is not None

    def of(self, folder: str | Path) -> tuple[str, str]:
        """The (venue, symbol) this pick names in ``folder``.

        Raises:
            InvalidInputError: ``folder`` is not a market run folder, or the venue or the
                instrument is not in it (the message lists the choices).
        """
        venues = market_venues(folder)
        if not venues:
            raise InvalidInputError("run folder", str(folder), "a market run folder")
        venue = self.venue if self.venue is not None else next(iter(venues))
        if venue not in venues:
            raise InvalidInputError(
                self.venue_option, venue, f"a venue of this market run: {', '.join(venues)}"
            )
        symbols = venues[venue]
        if self.instrument is None:
            return venue, next((s for s in symbols if asset_of(s) == "BTC"), symbols[0])
        want = self.instrument.upper()
        hit = next((s for s in symbols if want in (s.upper(), asset_of(s).upper())), None)
        if hit is None:
            raise InvalidInputError(
                self.instrument_option,
                self.instrument,
                f"an instrument listed on venue {venue}: {', '.join(symbols)}",
            )
        return venue, hit

    def folders(self, sources: Sequence[str | Path]) -> list[str | Path]:
        """The market run folders among ``sources`` (``ccxt:`` specs and files skipped), each
        checked to hold this pick; a pick given with none among them is refused."""
        found = [s for s in sources if not str(s).startswith("ccxt:") and is_market_folder(s)]
        if self.given() and not found:
            option, value = (
                (self.venue_option, self.venue)
                if self.venue is not None
                else (self.instrument_option, self.instrument)
            )
            raise InvalidInputError(option, value, "a market run folder among the sources")
        for folder in found:
            self.of(folder)
        return found

    def candles(self, folder: str | Path) -> pl.DataFrame:
        """The picked pair's rows of ``candles.parquet``, without ``venue`` and ``symbol``: the
        columns of a single-venue run's candles."""
        return pair_candles(folder, *self.of(folder))


def pair_candles(folder: str | Path, venue: str, symbol: str) -> pl.DataFrame:
    """The rows of ``folder``'s ``candles.parquet`` of one (venue, symbol), in time order; a
    value the run did not record (NaN: a market run's open interest, funding, depth and
    long/short ratio today) is null."""
    path = Path(folder) / "candles.parquet"
    try:
        bars = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InvalidInputError("candles", str(path), f"a readable Parquet file ({exc})") from None
    if "venue" not in bars.columns or "symbol" not in bars.columns:
        raise InvalidInputError("candles", str(path), "long candles with venue and symbol columns")
    rows = bars.filter((pl.col("venue") == venue) & (pl.col("symbol") == symbol))
    return rows.drop("venue", "symbol").sort("ts").fill_nan(None)


def is_market_folder(path: str | Path) -> bool:
    """Whether ``path`` is a market run folder (a folder whose manifest has a venues table)."""
    return Path(path).is_dir() and market_venues(path) is not None
