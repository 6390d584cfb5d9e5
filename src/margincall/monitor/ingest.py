"""Readers of market data files into the canonical bar schema (:data:`~.schema.BAR_SCHEMA`).

Formats (each reader is also usable on its own):

- :func:`read_binance_klines`: the 12-column kline CSV of data.binance.vision (``open_time,
  open, high, low, close, volume, close_time, quote_volume, count, taker_buy_volume,
  taker_buy_quote_volume, ignore``), with or without a header line. ``open_time`` is in
  milliseconds (futures files, spot files before 2025) or microseconds (spot files from 2025):
  the unit is chosen per row by magnitude (a value of 1e14 or more is microseconds; 1e14 ms
  would be the year 5138). ``volume`` is the base volume, ``quote_volume`` becomes
  ``volume_usd`` (a USDT or USDC quote is taken as USD).
- :func:`read_coinglass`: the CoinGlass-style hourly panel of ``../shared/data/``, read by
  :func:`margincall.sources.panel.read_panel` (funding from ``funding_open``, open interest
  from ``oi_open``). The panel has no traded volume: ``volume`` and ``volume_usd`` are null.
- :func:`read_table`: a generic OHLCV or derivatives table (CSV or Parquet). Columns are found
  by their canonical name, case-insensitively, by a few common aliases (:data:`ALIASES`), or by
  an explicit ``mapping`` from canonical name to the file's column (``{"close": "Close",
  "ts": "Date"}``). It needs a time column and at least one value column.
- :func:`read_run_folder`: a margincall run folder (or its ``candles.parquet``): the minute
  bars aggregated to hours by :func:`~margincall.sources.panel.read_panel`, with
  ``volume_usd`` summed over the hour; ``hourly=False`` keeps the minute bars. A market run
  folder gives one (venue, instrument)'s bars (:mod:`margincall.sources.market_run`).
- :func:`read_source` detects which of these a path is. ``ccxt:EXCHANGE:SYMBOL?...`` specs
  go to :func:`margincall.monitor.live.read_live` (an optional extra, see there).

Readers keep the rows as the source gives them (no sorting, deduplication or dropping) so
that :func:`margincall.monitor.checks.check_bars` can report gaps, duplicated or out-of-order
rows and bad values. The CoinGlass and run-folder readers are the exception: the panel reader
they reuse refuses duplicated or unordered timestamps with an error naming the row.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from margincall.core.errors import InvalidInputError
from margincall.monitor.schema import BAR_SCHEMA, conform
from margincall.sources.klines import BINANCE_KLINE_COLUMNS, looks_like_klines, read_klines
from margincall.sources.market_run import MarketPick, market_venues
from margincall.sources.panel import COINGLASS_REQUIRED, read_panel
from margincall.sources.times import to_utc

TIME_ALIASES = ("ts", "timestamp", "datetime", "date", "time", "open_time", "datetime_utc")
"""Column names tried for the time (bar start), in this order, case-insensitively."""

ALIASES: dict[str, tuple[str, ...]] = {
    "open": ("open", "price_open", "o"),
    "high": ("high", "price_high", "h"),
    "low": ("low", "price_low", "l"),
    "close": ("close", "price_close", "price", "c"),
    "volume": ("volume", "vol", "base_volume"),
    "volume_usd": ("volume_usd", "quote_volume", "turnover"),
    "oi_usd": ("oi_usd", "open_interest_usd", "open_interest_value", "oi_open"),
    "funding": ("funding", "funding_rate"),
    "liq_long_usd": ("liq_long_usd", "liquidation_long_usd"),
    "liq_short_usd": ("liq_short_usd", "liquidation_short_usd"),
    "long_short_ratio": ("long_short_ratio", "long_short_account_ratio"),
}
"""Column names tried for each canonical value column, case-insensitively."""

FORMATS_TRIED = (
    "a margincall run folder (candles.parquet)",
    "the CoinGlass hourly panel (" + ", ".join(COINGLASS_REQUIRED) + ")",
    "a Binance kline CSV (12 columns: " + ", ".join(BINANCE_KLINE_COLUMNS) + ")",
    "a generic CSV/Parquet table with a time column (" + "|".join(TIME_ALIASES) + ") and "
    "value columns named as in the bar schema (" + ", ".join(ALIASES) + ") or given by mapping",
    "a live spec ccxt:EXCHANGE:SYMBOL[?timeframe=1h&since=ISO&until=ISO]",
)
"""What :func:`read_source` tries, in order (named in its error when nothing fits)."""


def read_source(path_or_spec: str | Path, mapping: Mapping[str, str] | None = None) -> pl.DataFrame:
    """Read any supported source (see the module docstring) into :data:`BAR_SCHEMA`.

    Detection: a ``ccxt:`` spec is fetched live; a directory is a run folder; a file whose
    columns include the CoinGlass panel's is read as the panel; a headerless 12-column numeric
    CSV, or one whose header is Binance's, is a kline file; otherwise a generic table (with
    ``mapping`` if given). With a ``mapping`` the file is always read as a generic table.

    Raises:
        InvalidInputError: the path does not exist or cannot be read, or no format fits (the
            message names the file and the formats tried).
    """
    if isinstance(path_or_spec, str) and path_or_spec.startswith("ccxt:"):
        from margincall.monitor.live import read_live_spec

        return read_live_spec(path_or_spec)
    path = Path(path_or_spec)
    if not path.exists():
        raise InvalidInputError("source", str(path), "an existing file or run folder")
    if path.is_dir():
        if (path / "candles.parquet").is_file():
            return read_run_folder(path)
        raise _unrecognised(path, "a folder without candles.parquet")
    if mapping:
        return read_table(path, mapping)
    head = _read_any(path, n_rows=5)
    cols = set(head.columns)
    if "long_short_account_ratio" in cols and "open_interest_usd" in cols:
        return read_run_folder(path)
    if set(COINGLASS_REQUIRED) <= cols:
        return read_coinglass(path)
    if looks_like_klines(path):
        return read_binance_klines(path)
    try:
        return read_table(path)
    except InvalidInputError as exc:
        raise _unrecognised(path, str(exc)) from None


def read_binance_klines(path: str | Path) -> pl.DataFrame:
    """A data.binance.vision kline CSV (with or without header) as :data:`BAR_SCHEMA`
    (read by :func:`margincall.sources.klines.read_klines`)."""
    return conform(read_klines(path), Path(path).name)


def read_coinglass(path: str | Path) -> pl.DataFrame:
    """The CoinGlass-style hourly panel (via :func:`~margincall.sources.panel.read_panel`)."""
    return conform(read_panel(path), Path(path).name)


def read_run_folder(
    path: str | Path, hourly: bool = True, pick: MarketPick | None = None
) -> pl.DataFrame:
    """A margincall run folder (or its ``candles.parquet``) as :data:`BAR_SCHEMA`; of a market
    run folder, the bars of the (venue, instrument) ``pick`` names (default: its default).

    ``hourly=True`` (default) gives hour bars as :func:`~margincall.sources.panel.read_panel`
    aggregates them, plus ``volume_usd`` summed over the hour. ``hourly=False`` keeps the
    run's own bars (minutes) with their columns renamed. ``volume`` (base) is null: the candles
    hold traded notional only.
    """
    path = Path(path)
    candles = path / "candles.parquet" if path.is_dir() else path
    market = path.is_dir() and market_venues(path) is not None
    raw = (pick or MarketPick()).candles(path) if market else _read_any(candles)
    if not hourly:
        renamed = {
            "open_interest_usd": "oi_usd",
            "funding_rate": "funding",
            "long_short_account_ratio": "long_short_ratio",
        }
        frame = raw.rename({k: v for k, v in renamed.items() if k in raw.columns})
        return conform(frame.with_columns(to_utc(frame["ts"], candles.name)), candles.name)
    panel = read_panel(path, pick, oi_required=False)
    if "volume_usd" in raw.columns:
        vol = (
            raw.with_columns(to_utc(raw["ts"], candles.name))
            .group_by(pl.col("ts").dt.truncate("1h"))
            .agg(pl.col("volume_usd").sum())
        )
        panel = panel.join(vol, on="ts", how="left", maintain_order="left")
    return conform(panel, candles.name)


def read_table(path: str | Path, mapping: Mapping[str, str] | None = None) -> pl.DataFrame:
    """A generic OHLCV or derivatives table (CSV or Parquet) as :data:`BAR_SCHEMA`.

    Args:
        path: the file.
        mapping: canonical column name -> the file's column name, e.g. ``{"close": "Close",
            "ts": "Date"}``. Columns not in the mapping are found by name (see
            :data:`ALIASES`, :data:`TIME_ALIASES`).

    Raises:
        InvalidInputError: a mapping key is not a bar column, a mapped column is not in the
            file, no time column or no value column is found, or a value is not a number.
    """
    path = Path(path)
    raw = _read_any(path)
    mapping = dict(mapping or {})
    for key, col in mapping.items():
        if key not in BAR_SCHEMA:
            raise InvalidInputError("mapping key", key, f"one of {list(BAR_SCHEMA)}")
        if col not in raw.columns:
            raise InvalidInputError(
                f"{path.name}: mapping[{key!r}]", col, f"a column of the file {raw.columns}"
            )
    lower = {c.lower(): c for c in raw.columns}
    found: dict[str, str] = {}
    for name in BAR_SCHEMA:
        if name in mapping:
            found[name] = mapping[name]
            continue
        names = TIME_ALIASES if name == "ts" else ALIASES[name]
        hit = next((lower[a] for a in names if a in lower), None)
        if hit is not None and hit not in found.values():
            found[name] = hit
    if "ts" not in found:
        raise InvalidInputError(
            f"{path.name}: time column",
            raw.columns,
            f"one of {list(TIME_ALIASES)} or mapping['ts']",
        )
    if len(found) < 2:
        raise InvalidInputError(
            f"{path.name}: value columns",
            raw.columns,
            f"at least one of {list(ALIASES)} (or a mapping to them)",
        )
    frame = raw.select(pl.col(src).alias(dst) for dst, src in found.items())
    frame = frame.with_columns(to_utc(frame["ts"], path.name))
    return conform(frame, path.name)


def _read_any(path: Path, n_rows: int | None = None) -> pl.DataFrame:
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pl.read_parquet(path)
            return frame.head(n_rows) if n_rows else frame
        return pl.read_csv(path, n_rows=n_rows, infer_schema_length=10_000)
    except (OSError, pl.exceptions.PolarsError, ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            "source",
            str(path),
            f"a readable CSV or Parquet file ({type(exc).__name__}: {exc}); formats tried: "
            + "; ".join(FORMATS_TRIED),
        ) from None


def _unrecognised(path: Path, why: str) -> InvalidInputError:
    return InvalidInputError(
        "source", str(path), f"one of the formats tried: {'; '.join(FORMATS_TRIED)} ({why})"
    )
