"""Fixed-width bars from an event log: price, traded volume, forced closes and venue snapshots.

Everything is vectorised (numpy masks, polars group-bys): a run has tens of millions of events,
so there is no Python loop over them. Sums stay in integers (micro-dollars, ticks) until the last
step, so a bar's totals are exact before the conversion to USD floats.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import polars as pl

from margincall.core.errors import InvalidInputError
from margincall.events.schema import EVENT_DTYPE, TAKER, EventKind

_NS = 1_000_000_000

BOOK_TRADE_KINDS = (EventKind.ORDER_FILLED, EventKind.POSITION_LIQUIDATED)
"""Kinds whose taker side (``liquidity == 2``) is one real trade on the book."""

FORCED_CLOSE_KINDS = (
    EventKind.POSITION_LIQUIDATED,
    EventKind.BACKSTOP_TAKEOVER,
    EventKind.ADL_EXECUTED,
)
"""Kinds whose taker side (``liquidity == 2``) is the liquidated account's forced close."""

_USED_FIELDS = ("ts_ns", "seq", "kind", "liquidity", "side", "price", "qty", "notional", "amount")
_TAKER_KINDS = np.array(sorted({int(k) for k in BOOK_TRADE_KINDS + FORCED_CLOSE_KINDS}), np.int16)

_PRICES = ("open", "high", "low", "close")

Binner = Callable[[np.ndarray], np.ndarray]
"""Maps a boolean event mask to the bar index of each selected event."""

Columns = Mapping[str, np.ndarray]
"""Event columns by field name: a record array or a dict of its field arrays."""

SnapshotColumn = tuple[str, EventKind, Callable[[np.ndarray], np.ndarray]]

COLUMNS = (
    "ts",
    "open",
    "high",
    "low",
    "close",
    "volume_usd",
    "liq_long_usd",
    "liq_short_usd",
    "open_interest_usd",
    "funding_rate",
    "insurance_fund_usd",
    "depth_1pct_usd",
    "long_short_account_ratio",
)
"""The columns of :func:`candles`, in order."""


def taker_mask(events: Columns, kinds: tuple[EventKind, ...]) -> np.ndarray:
    """Boolean mask of the taker-side events (``liquidity == 2``) of the given kinds."""
    return np.isin(events["kind"], np.array([int(k) for k in kinds], np.int16)) & (
        events["liquidity"] == TAKER
    )


def candles(
    events: np.ndarray,
    tick_size: float,
    lot_size: float,
    start_ns: int,
    end_ns: int,
    freq_s: int = 60,
) -> pl.DataFrame:
    """Bars of ``freq_s`` seconds over ``[start_ns, end_ns]``, one row per bar, no gaps.

    Bar ``i`` covers ``[start_ns + i * freq, start_ns + (i + 1) * freq)``; there are
    ``ceil((end_ns - start_ns) / freq)`` bars (at least one). An event at exactly ``end_ns`` (the
    closing snapshot when the run ends on a bar boundary) belongs to the last bar; events outside
    ``[start_ns, end_ns]`` are ignored. Within a bar, "first" and "last" follow ``seq``.

    Columns (see :data:`COLUMNS`):

    - ``ts``: bar start, ``Datetime("ns", "UTC")``.
    - ``open``/``high``/``low``/``close`` (USD): taker side of book trades (``ORDER_FILLED`` or
      ``POSITION_LIQUIDATED`` with ``liquidity == 2``). A bar without a trade repeats the last
      close in all four; bars before the first trade use the mark price of the first
      ``OPEN_INTEREST_SNAPSHOT`` (NaN when there is none).
    - ``volume_usd``: notional of those trades.
    - ``liq_long_usd``/``liq_short_usd``: notional of forced closes (taker side of
      ``POSITION_LIQUIDATED``, ``BACKSTOP_TAKEOVER`` and ``ADL_EXECUTED``); a sell closes a long.
    - ``open_interest_usd``, ``funding_rate`` (fraction per funding interval),
      ``insurance_fund_usd``, ``depth_1pct_usd`` (bids within 1% below plus asks within 1% above)
      and ``long_short_account_ratio`` (accounts long / accounts short, NaN with no short): the
      last snapshot of the bar, carried forward through bars without one; NaN before the first.

    ``lot_size`` is validated but not needed: every USD column comes from the exact ``notional``
    and ``amount`` columns, never from ``qty``.
    """
    freq_ns = _check(events, tick_size, lot_size, start_ns, end_ns, freq_s)
    cols = _used_events(events)
    n_bars = max(1, -(-(end_ns - start_ns) // freq_ns))
    ts = cols["ts_ns"]
    in_window = (ts >= start_ns) & (ts <= end_ns)

    def bins(mask: np.ndarray) -> np.ndarray:
        return np.minimum((ts[mask] - start_ns) // freq_ns, n_bars - 1)

    frame = pl.DataFrame({"bin": np.arange(n_bars, dtype=np.int64)})
    frame = frame.join(_trade_bars(cols, in_window, bins), on="bin", how="left")
    frame = frame.join(_forced_close_bars(cols, in_window, bins), on="bin", how="left")
    snapshot_values = _snapshot_values(cols)
    for name, kind, values in snapshot_values:
        mask = in_window & (cols["kind"] == kind)
        frame = frame.join(
            _last_per_bin(cols, mask, bins, name, values(mask)), on="bin", how="left"
        )

    first_mark = _first_mark_ticks(cols, in_window)
    close = pl.col("close").forward_fill().fill_null(pl.lit(first_mark, dtype=pl.Int64))
    snapshots = [name for name, _, _ in snapshot_values]
    frame = frame.with_columns(
        close.alias("close"),
        *(pl.col(c).fill_null(close) for c in _PRICES[:3]),
        *(pl.col(c).fill_null(0) for c in ("volume", "liq_long", "liq_short")),
        *(pl.col(c).forward_fill() for c in snapshots),
    )
    # The unit conversions run in numpy: polars turns division by a constant into multiplication
    # by its reciprocal, which is not correctly rounded (599922 * 0.1 != 59,992.2).
    out = {"ts": frame["bin"].to_numpy() * freq_ns + start_ns}
    out |= {c: _ticks_to_usd(_float(frame, c), tick_size) for c in _PRICES}
    out |= {f"{c}_usd": _float(frame, c) / 1e6 for c in ("volume", "liq_long", "liq_short")}
    out |= {c: _float(frame, c) for c in snapshots}
    stamps = pl.Series("ts", out.pop("ts")).cast(pl.Datetime("ns")).dt.replace_time_zone("UTC")
    return pl.DataFrame(out).insert_column(0, stamps).select(COLUMNS)


def _used_events(events: np.ndarray) -> Columns:
    """The columns of the events :func:`candles` reads, in order: the taker side of trades and
    forced closes, and the snapshots. Two passes over the whole log; the rest reads these
    contiguous columns, much smaller (most of a log is orders and maker fills)."""
    snapshots = np.array([int(kind) for _, kind, _ in _snapshot_values(events)], np.int16)
    kind = events["kind"]
    mask = np.isin(kind, _TAKER_KINDS) & (events["liquidity"] == TAKER)
    mask |= np.isin(kind, snapshots)
    used = events.take(np.flatnonzero(mask))  # 6x faster than events[mask] for records
    return {name: np.ascontiguousarray(used[name]) for name in _USED_FIELDS}


def _float(frame: pl.DataFrame, column: str) -> np.ndarray:
    """A column as float64 numpy, nulls as NaN."""
    return frame[column].cast(pl.Float64).fill_null(float("nan")).to_numpy()


def _ticks_to_usd(ticks: np.ndarray, tick_size: float) -> np.ndarray:
    """Ticks to USD, correctly rounded when a tick is ``1/k`` USD with ``k`` whole.

    Dividing by ``k`` gives the double nearest the decimal value (599922 / 10 is 59,992.2);
    multiplying by the inexact ``0.1`` does not (59,992.200000000004).
    """
    per_usd = 1.0 / tick_size
    if per_usd >= 1.0 and abs(per_usd - round(per_usd)) < 1e-9 * per_usd:
        return ticks / float(round(per_usd))
    return ticks * tick_size


def _check(
    events: np.ndarray, tick_size: float, lot_size: float, start_ns: int, end_ns: int, freq_s: int
) -> int:
    """Validate the arguments of :func:`candles`; return the bar width in nanoseconds."""
    if not isinstance(events, np.ndarray) or events.dtype != EVENT_DTYPE:
        raise InvalidInputError("events", getattr(events, "dtype", type(events)), "EVENT_DTYPE")
    for name, value in (("tick_size", tick_size), ("lot_size", lot_size)):
        if not np.isfinite(value) or value <= 0:
            raise InvalidInputError(name, value, "a positive number")
    if int(freq_s) != freq_s or freq_s <= 0:
        raise InvalidInputError("freq_s", freq_s, "a positive whole number of seconds")
    if end_ns < start_ns:
        raise InvalidInputError("end_ns", end_ns, f"at least start_ns ({start_ns})")
    return int(freq_s) * _NS


def _trade_bars(events: Columns, in_window: np.ndarray, bins: Binner) -> pl.DataFrame:
    """Open, high, low, close (ticks) and volume (micro-dollars) per bar that has a trade."""
    mask = in_window & taker_mask(events, BOOK_TRADE_KINDS)
    trades = pl.DataFrame(
        {
            "bin": bins(mask),
            "seq": events["seq"][mask],
            "price": events["price"][mask],
            "notional": events["notional"][mask],
        }
    )
    return (
        trades.sort("bin", "seq")
        .group_by("bin")
        .agg(
            pl.col("price").first().alias("open"),
            pl.col("price").max().alias("high"),
            pl.col("price").min().alias("low"),
            pl.col("price").last().alias("close"),
            pl.col("notional").sum().alias("volume"),
        )
    )


def _forced_close_bars(events: Columns, in_window: np.ndarray, bins: Binner) -> pl.DataFrame:
    """Forced-close notional (micro-dollars) of longs and of shorts per bar that has one."""
    mask = in_window & taker_mask(events, FORCED_CLOSE_KINDS)
    side = events["side"][mask]
    notional = events["notional"][mask]
    closes = pl.DataFrame(
        {
            "bin": bins(mask),
            "long": np.where(side == -1, notional, 0),
            "short": np.where(side == 1, notional, 0),
        }
    )
    return closes.group_by("bin").agg(
        pl.col("long").sum().alias("liq_long"), pl.col("short").sum().alias("liq_short")
    )


def _snapshot_values(events: Columns) -> tuple[SnapshotColumn, ...]:
    """(column, snapshot kind, mask -> float values) for each snapshot column."""

    def ratio(mask: np.ndarray) -> np.ndarray:
        longs = events["qty"][mask].astype(np.float64)
        shorts = events["amount"][mask].astype(np.float64)
        return np.divide(longs, shorts, out=np.full(len(longs), np.nan), where=shorts != 0)

    return (
        (
            "open_interest_usd",
            EventKind.OPEN_INTEREST_SNAPSHOT,
            lambda m: events["notional"][m] / 1e6,
        ),
        ("funding_rate", EventKind.FUNDING_SNAPSHOT, lambda m: events["amount"][m] / 1e9),
        (
            "insurance_fund_usd",
            EventKind.INSURANCE_FUND_SNAPSHOT,
            lambda m: events["amount"][m] / 1e6,
        ),
        (
            "depth_1pct_usd",
            EventKind.DEPTH_SNAPSHOT,
            lambda m: (events["notional"][m] + events["amount"][m]) / 1e6,
        ),
        ("long_short_account_ratio", EventKind.ACCOUNTS_SNAPSHOT, ratio),
    )


def _last_per_bin(
    events: Columns, mask: np.ndarray, bins: Binner, name: str, values: np.ndarray
) -> pl.DataFrame:
    """The value of the last event (by ``seq``) of each bar that has one."""
    frame = pl.DataFrame({"bin": bins(mask), "seq": events["seq"][mask], name: values})
    return frame.sort("bin", "seq").group_by("bin").agg(pl.col(name).last())


def _first_mark_ticks(events: Columns, in_window: np.ndarray) -> int | None:
    """Mark price (ticks) of the first open-interest snapshot in the window, if any."""
    mask = in_window & (events["kind"] == EventKind.OPEN_INTEREST_SNAPSHOT)
    if not mask.any():
        return None
    seq = events["seq"][mask]
    return int(events["price"][mask][np.argmin(seq)])
