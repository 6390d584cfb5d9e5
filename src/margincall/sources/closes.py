"""Daily prices of one symbol.

Schema (:data:`CLOSES_SCHEMA`): ``date`` (Date, UTC day), ``close`` (Float64, USD, the close
at the end of the day), ``high``, ``low``, ``volume`` (Float64; null where the source does not
give them), ``line`` (Int64: the file's line, or for intraday data the line of the day's last
bar).

Formats:

- a ``date,close`` table (CSV or Parquet), optionally with ``high``, ``low``, ``volume``;
  Coinbase's ``as_of,value,status`` files are the same with ``as_of`` read as the date and
  ``value`` as the close (``status`` is not used); other names through
  ``--closes-mapping date=...,close=...``;
- a Binance kline CSV (:mod:`margincall.sources.klines`), any interval: bars grouped by the
  UTC day of their start (close of the last bar, highest high, lowest low, summed base volume);
- CoinGecko ``/coins/{id}/market_chart`` JSON (``prices`` as ``[[unix ms, usd], ...]``): the
  last price of each UTC day (a point at 00:00 UTC closes the day before);
- bars of any symbol a ccxt exchange lists (``SYMBOL=ccxt:EXCHANGE:PAIR?timeframe=..&since=..``,
  fetched by :mod:`margincall.monitor.live`, a layer up) by :func:`daily_from_bars`.

The symbol is given (``BTC=file``) or read from the file name (its first token among
:data:`KNOWN_SYMBOLS`, ``BTCUSDT-1d-...`` counting as ``BTC``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import polars as pl

from margincall.core.errors import InvalidInputError
from margincall.sources.klines import looks_like_klines, read_klines
from margincall.sources.market_cap import daily_last
from margincall.sources.tables import Source, check_sorted_unique

CLOSES_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "close": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "volume": pl.Float64(),
    "line": pl.Int64(),
}
KNOWN_SYMBOLS = (
    "BTC", "ETH", "SOL", "XRP", "BNB", "DOGE", "ADA", "TRX", "AVAX", "LINK", "DOT", "LTC",
    "BCH", "TON", "SUI", "HYPE", "XLM", "NEAR", "APT", "UNI",
)  # fmt: skip
"""Symbols recognised in a file name (any ticker may be given explicitly as ``SYMBOL=file``)."""
TICKER = re.compile(r"^[A-Z0-9]{2,10}$")
FORMATS = (
    "a date,close table (CSV or Parquet; Coinbase as_of,value,status; other names by "
    "--closes-mapping date=...,close=...)",
    "a Binance kline CSV (12 columns)",
    "CoinGecko /coins/{id}/market_chart JSON (prices)",
)
DATE = ("date", "as_of", "timestamp", "time", "day")
CLOSE = ("close", "value", "price", "close_usd")
COLUMNS = ("date", "close", "high", "low", "volume")
"""The columns a mapping may name (``--closes-mapping``, ``--mapping FILE:..``, ``--sources``)."""


def guess_symbol(path: str | Path) -> str | None:
    """``BTC`` from ``coinbase_btc_usd_daily.csv`` or ``BTCUSDT-1d-2026-02.csv``, else None."""
    for token in re.split(r"[_\-. ]", Path(path).stem.upper()):
        for sym in KNOWN_SYMBOLS:
            if token == sym or token in (sym + "USD", sym + "USDT", sym + "USDC"):
                return sym
    return None


def check_symbol(symbol: str | None, path: str | Path) -> str:
    """The symbol given or read from the file name, as an upper-case ticker."""
    sym = (symbol or guess_symbol(path) or "").strip().upper()
    if not TICKER.match(sym):
        raise InvalidInputError(
            f"--closes {path}: symbol",
            symbol or "(none in the file name)",
            f"a ticker (2-10 letters or digits) given as SYMBOL=FILE, or a file name with one "
            f"of {', '.join(KNOWN_SYMBOLS)}",
        )
    return sym


def read_closes(path: str | Path, mapping: Mapping[str, str] | None = None) -> pl.DataFrame:
    """Read a daily (or intraday) price file into :data:`CLOSES_SCHEMA` (module docstring).

    Raises:
        InvalidInputError: names the file, the formats tried and the first bad line and field.
    """
    src = Source(path, FORMATS)
    mapping = Source.check_keys(mapping, COLUMNS, "closes")
    if src.path.suffix.lower() == ".json":
        doc = src.json()
        prices = doc.get("prices") if isinstance(doc, dict) else None
        if not isinstance(prices, list) or not prices:
            raise src.error("prices", "(missing)", "a market_chart response with prices")
        out = daily_last(src, prices, "close")
    elif not mapping and _is_kline_csv(src):
        out = _daily_from_klines(src.path)
    else:
        raw = src.table()
        cols = {
            "date": src.dates(raw, src.pick(raw, mapping, "date", DATE, "date")),
            "close": src.numbers(raw, src.pick(raw, mapping, "close", CLOSE, "close")),
        }
        lower = {c.lower(): c for c in raw.columns}
        for name in ("high", "low", "volume"):
            if name in mapping or name in lower:
                cols[name] = src.numbers(raw, src.pick(raw, mapping, name, (name,), name))
        out = pl.DataFrame([*(s.alias(k) for k, s in cols.items()), src.lines(raw.height)])
    bad = out.filter(pl.col("close").is_null() | (pl.col("close") <= 0))
    if bad.height:
        raise src.error(f"line {bad['line'][0]}, column close", bad["close"][0], "a positive price")
    check_sorted_unique(src, out)
    for name in CLOSES_SCHEMA:
        if name not in out.columns:
            out = out.with_columns(pl.lit(None, pl.Float64).alias(name))
    return out.select([pl.col(k).cast(v) for k, v in CLOSES_SCHEMA.items()])


def read_intraday(path: str | Path) -> pl.DataFrame | None:
    """The bars of a Binance kline CSV shorter than a day (``ts, open, high, low, close,
    volume, volume_usd``, sorted), for the 4-hour indicators; None for any other file (the
    daily closes of :func:`read_closes` are read first and refuse a bad file)."""
    src = Source(path, FORMATS)
    if src.path.suffix.lower() in (".json", ".parquet", ".pq") or not _is_kline_csv(src):
        return None
    bars = read_klines(src.path).sort("ts")
    step = bars["ts"].diff().drop_nulls().min()
    return bars if step is not None and step < timedelta(days=1) else None


def _is_kline_csv(src: Source) -> bool:
    """A text file (absent, empty or non-UTF-8 ones refused here) that reads as klines."""
    if src.path.suffix.lower() in (".parquet", ".pq"):
        return False
    src.text()
    return looks_like_klines(src.path)


def _daily_from_klines(path: Path) -> pl.DataFrame:
    offset = 2 if path.read_text("utf-8").split("\n", 1)[0][:1].isalpha() else 1
    return daily_from_bars(read_klines(path), offset)


def daily_from_bars(bars: pl.DataFrame, first_line: int = 1) -> pl.DataFrame:
    """Bars (``ts`` = start, ``high``, ``low``, ``close``, ``volume``) grouped by the UTC day of
    their start: the last bar's close, the highest high, the lowest low, the summed volume, and
    the ``line`` of the day's last bar (bars numbered from ``first_line``). Klines files and
    ccxt bars (``--closes SYMBOL=ccxt:..``) are read into :data:`CLOSES_SCHEMA` by this rule."""
    return (
        bars.with_row_index("line", offset=first_line)
        .group_by(pl.col("ts").dt.date().alias("date"), maintain_order=True)
        .agg(
            pl.col("close").last(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("volume").sum(),
            pl.col("line").last(),
        )
        .sort("date")
        .select([pl.col(k).cast(v) for k, v in CLOSES_SCHEMA.items()])
    )
