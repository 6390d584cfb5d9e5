"""Market-data panels: hourly price, open interest, funding and liquidations in one schema.

:func:`read_panel` accepts three inputs and returns a polars DataFrame with the canonical
columns of :data:`PANEL_SCHEMA`, one row per period (an hour for the files we know), sorted by
``ts`` with no duplicated timestamp.

Accepted formats:

1. **CoinGlass hourly export** (CSV, read as is): ``timestamp`` (hour start, Unix ms),
   ``price_open/high/low/close``, ``oi_open`` (USD), ``funding_open`` (per 8 h in *percent*
   units: ``0.01`` means 0.01%, stored here as the fraction ``0.0001``), and optionally
   ``liquidation_long_usd``/``liquidation_short_usd``. Other columns (``oi_high``, ``cvd_*``,
   ``oi_weight_*``, ...) are ignored.
2. **Generic panel** (CSV or Parquet): a time column ``ts``, ``timestamp`` or ``datetime``
   (ISO 8601 text, a datetime, or Unix epoch numbers: seconds, ms, us or ns, told apart by
   magnitude), ``open``, ``high``, ``low``, ``close``, ``open_interest_usd`` (read as the open
   interest at the start of the row's period), and optionally ``funding_rate`` (per 8 h, as a
   fraction), ``liq_long_usd``, ``liq_short_usd``, ``long_short_ratio``
   (long accounts / short accounts). Naive times are taken as UTC.
3. **A margincall run folder** (or its ``candles.parquet``): minute bars aggregated to hours
   (hour start in UTC): open = first bar's open, high = max, low = min, close = last close,
   liquidations summed, and open interest, funding and the long/short account ratio taken from
   the hour's first bar (the snapshot known closest to the hour's open). A market run folder
   gives one (venue, instrument)'s bars (:mod:`margincall.sources.market_run`).

Canonical schema (:data:`PANEL_SCHEMA`): ``ts`` (period start, UTC), ``open``, ``high``,
``low``, ``close`` (USD), ``oi_usd`` (open interest at the period's open, USD), ``funding``
(funding rate per 8 h as a fraction; null when the file has none), ``liq_long_usd``,
``liq_short_usd`` (realised liquidations in the period, USD; null when absent),
``long_short_ratio`` (nullable).

Rows in error messages are numbered from 1, the first data row (line 2 of a CSV with a header).
Gaps (missing hours) are not errors: :func:`panel_gaps` lists them, and the market map treats
the open-interest change across a gap as happening in the row before it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from margincall.core.errors import InvalidInputError
from margincall.sources.market_run import MarketPick, market_venues

PANEL_SCHEMA: dict[str, pl.DataType] = {
    "ts": pl.Datetime("us", "UTC"),
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "oi_usd": pl.Float64(),
    "funding": pl.Float64(),
    "liq_long_usd": pl.Float64(),
    "liq_short_usd": pl.Float64(),
    "long_short_ratio": pl.Float64(),
}
"""Column names and types of every panel returned by :func:`read_panel`."""

COINGLASS_REQUIRED = (
    "timestamp",
    "price_open",
    "price_high",
    "price_low",
    "price_close",
    "oi_open",
    "funding_open",
)
GENERIC_REQUIRED = ("open", "high", "low", "close", "open_interest_usd")
GENERIC_TIME = ("ts", "timestamp", "datetime")

ACCEPTED_FORMATS = (
    "one of the accepted formats: "
    "(1) CoinGlass hourly CSV with timestamp (Unix ms), price_open, price_high, price_low, "
    "price_close, oi_open, funding_open [liquidation_long_usd, liquidation_short_usd]; "
    "(2) generic CSV/Parquet with ts|timestamp|datetime, open, high, low, close, "
    "open_interest_usd [funding_rate, liq_long_usd, liq_short_usd, long_short_ratio]; "
    "(3) a margincall run folder with candles.parquet"
)

_HOUR_US = 3_600_000_000


def read_panel(
    path: str | Path, pick: MarketPick | None = None, *, oi_required: bool = True
) -> pl.DataFrame:
    """Read a market-data panel (see the module docstring for the formats) into the canonical
    schema :data:`PANEL_SCHEMA`. A market run folder gives the (venue, instrument) of ``pick``
    (default: :class:`~margincall.sources.market_run.MarketPick`'s); its open interest is null
    where the run recorded none, which only a reader passing ``oi_required=False`` accepts.

    Raises:
        InvalidInputError: the file cannot be read (names the file), columns are missing (names
            them and lists the accepted formats), a value is not usable (names the row), or the
            timestamps are duplicated or not increasing (names the first offending row).

    Example:
        >>> panel = read_panel("../shared/data/btc_1h_liquidations_oi_funding_2025-12_2026-02.csv")
        >>> panel.height
        2078
    """
    path = Path(path)
    if path.is_dir():
        candles = path / "candles.parquet"
        if not candles.is_file():
            raise InvalidInputError("data", str(path), ACCEPTED_FORMATS)
        if market_venues(path) is not None:
            frame = _from_candles((pick or MarketPick()).candles(path))
            if oi_required and frame["oi_usd"].is_null().all():
                raise InvalidInputError(
                    f"{path}: open_interest_usd",
                    "not recorded",
                    "a run folder whose candles hold open interest (a market run's do not yet)",
                )
            return _finish(frame, candles, oi_required)
        return _finish(_from_candles(_read(candles)), candles)
    raw = _read(path)
    if "long_short_account_ratio" in raw.columns and "open_interest_usd" in raw.columns:
        return _finish(_from_candles(raw), path)
    return _finish(_to_canonical(raw, path), path)


def panel_gaps(panel: pl.DataFrame, period: str = "1h") -> pl.DataFrame:
    """Rows that follow a gap: ``row`` (0-based), ``ts``, ``missing`` (periods skipped)."""
    step = pl.duration(hours=1) if period == "1h" else pl.duration(minutes=int(period))
    missing = (pl.col("ts").diff() / step).cast(pl.Int64) - 1
    return (
        panel.with_row_index("row")
        .select("row", "ts", missing.alias("missing"))
        .filter(pl.col("missing") > 0)
    )


def _read(path: Path) -> pl.DataFrame:
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pl.read_parquet(path)
        return pl.read_csv(path, infer_schema_length=10_000)
    except (OSError, pl.exceptions.PolarsError, ValueError) as exc:
        raise InvalidInputError(
            "data", str(path), f"a readable CSV or Parquet file ({type(exc).__name__}: {exc})"
        ) from None


def _missing(cols: list[str], required: tuple[str, ...], path: Path) -> None:
    miss = [c for c in required if c not in cols]
    if miss:
        raise InvalidInputError(f"{path.name}: missing columns", miss, ACCEPTED_FORMATS)


def _to_canonical(raw: pl.DataFrame, path: Path) -> pl.DataFrame:
    cols = raw.columns
    coinglass_hits = sum(c in cols for c in COINGLASS_REQUIRED[1:])
    generic_hits = sum(c in cols for c in GENERIC_REQUIRED)
    if coinglass_hits > generic_hits:
        _missing(cols, COINGLASS_REQUIRED, path)

        def opt(name: str) -> pl.Expr:
            return pl.col(name) if name in cols else pl.lit(None)

        return raw.select(
            _epoch(raw["timestamp"], path).alias("ts"),
            pl.col("price_open").alias("open"),
            pl.col("price_high").alias("high"),
            pl.col("price_low").alias("low"),
            pl.col("price_close").alias("close"),
            pl.col("oi_open").alias("oi_usd"),
            (pl.col("funding_open").cast(pl.Float64) / 100.0).alias("funding"),
            opt("liquidation_long_usd").alias("liq_long_usd"),
            opt("liquidation_short_usd").alias("liq_short_usd"),
            pl.lit(None).alias("long_short_ratio"),
        )
    time_col = next((c for c in GENERIC_TIME if c in cols), None)
    _missing(cols, (("ts",) if time_col is None else ()) + GENERIC_REQUIRED, path)

    def opt(name: str) -> pl.Expr:
        return pl.col(name) if name in cols else pl.lit(None).alias(name)

    return raw.select(
        _epoch(raw[time_col], path).alias("ts"),
        "open",
        "high",
        "low",
        "close",
        pl.col("open_interest_usd").alias("oi_usd"),
        opt("funding_rate").alias("funding"),
        opt("liq_long_usd"),
        opt("liq_short_usd"),
        opt("long_short_ratio"),
    )


def _from_candles(bars: pl.DataFrame) -> pl.DataFrame:
    hour = pl.col("ts").dt.truncate("1h")
    return (
        bars.sort("ts")
        .group_by(hour.alias("hour"), maintain_order=True)
        .agg(
            pl.col("open").first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").last(),
            pl.col("open_interest_usd").first().alias("oi_usd"),
            pl.col("funding_rate").first().alias("funding"),
            pl.col("liq_long_usd").sum(),
            pl.col("liq_short_usd").sum(),
            pl.col("long_short_account_ratio").first().alias("long_short_ratio"),
        )
        .rename({"hour": "ts"})
    )


def _epoch(col: pl.Series, path: Path) -> pl.Series:
    """A time column as UTC datetimes (us)."""
    dtype = col.dtype
    if dtype == pl.String:
        try:
            parsed = col.str.to_datetime(time_unit="us", time_zone="UTC")
        except pl.exceptions.PolarsError:
            bad = col[0]
            raise InvalidInputError(
                f"{path.name}: {col.name}", bad, "ISO 8601 times or Unix epoch numbers"
            ) from None
        return parsed
    if isinstance(dtype, pl.Datetime):
        out = col.dt.cast_time_unit("us")
        return (
            out.dt.replace_time_zone("UTC")
            if dtype.time_zone is None
            else out.dt.convert_time_zone("UTC")
        )
    if isinstance(dtype, pl.Date):
        return col.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if dtype.is_numeric():
        v = col.cast(pl.Float64).to_numpy()
        big = np.nanmax(np.abs(v)) if len(v) else 0.0
        scale = 1e-3 if big > 1e17 else 1.0 if big > 1e14 else 1e3 if big > 1e11 else 1e6
        us = np.rint(v * scale).astype(np.int64)
        return pl.Series(col.name, us).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    raise InvalidInputError(f"{path.name}: {col.name}", str(dtype), "a time column")


def _finish(frame: pl.DataFrame, path: Path, oi_required: bool = True) -> pl.DataFrame:
    try:
        frame = frame.select(pl.col(c).cast(t) for c, t in PANEL_SCHEMA.items())
    except pl.exceptions.PolarsError as exc:
        raise InvalidInputError(
            f"{path.name}: values",
            str(exc),
            "numbers in the price, open-interest, funding and liquidation columns",
        ) from None
    _check_values(frame, path, oi_required)
    _check_order(frame, path)
    return frame


def _check_values(frame: pl.DataFrame, path: Path, oi_required: bool = True) -> None:
    if frame.height == 0:
        raise InvalidInputError(f"{path.name}: rows", 0, "at least one row")
    for c in ("ts", "open", "high", "low", "close", "oi_usd"):
        v = frame[c]
        if c == "ts":
            bad = v.is_null()
        elif c != "oi_usd":
            bad = v.is_null() | v.is_nan() | (v <= 0)
        else:
            bad = (v.is_null() if oi_required else pl.repeat(False, len(v), eager=True)) | (
                v.is_nan() | (v < 0)
            ).fill_null(False)
        if bad.any():
            row = int(bad.arg_true()[0])
            raise InvalidInputError(
                f"{path.name}: row {row + 1} {c}",
                v[row],
                "a time" if c == "ts" else "a finite positive number",
            )
    bad = (frame["high"] < frame[["open", "close", "low"]].max_horizontal()) | (
        frame["low"] > frame[["open", "close"]].min_horizontal()
    )
    if bad.any():
        row = int(bad.arg_true()[0])
        raise InvalidInputError(
            f"{path.name}: row {row + 1} high/low",
            (frame["low"][row], frame["high"][row]),
            "low <= open, close <= high",
        )


def _check_order(frame: pl.DataFrame, path: Path) -> None:
    us = frame["ts"].dt.epoch("us").to_numpy()
    d = np.diff(us)
    bad = np.flatnonzero(d <= 0)
    if len(bad):
        i = int(bad[0]) + 1
        what = "duplicated" if d[i - 1] == 0 else "not increasing"
        raise InvalidInputError(
            f"{path.name}: row {i + 1} ts ({what})",
            frame["ts"][i].isoformat(),
            f"timestamps strictly increasing (row {i} has {frame['ts'][i - 1].isoformat()})",
        )
