"""Live market data through ccxt (the optional ``live`` extra: ``pip install 'margincall[live]'``).

:func:`read_live` fetches, for one symbol and bar length, the OHLCV bars (``fetch_ohlcv``,
paginated by ``since``), and where the exchange offers them (``exchange.has[...]``) the funding
history (``fetch_funding_rate_history``), the open-interest history
(``fetch_open_interest_history``) and public liquidations (``fetch_liquidations``), and returns
them in the canonical bar schema (:mod:`margincall.monitor.schema`).

Conventions and assumptions:

- The exchange is created with ``enableRateLimit=True``: ccxt sleeps between calls so the
  exchange's rate limit is respected. A call that fails with ccxt's ``NetworkError`` (a
  timeout, HTTP 429 as ``RateLimitExceeded``/``DDoSProtection``, an exchange not available) is
  retried :data:`RETRIES` times after the waits of
  :func:`margincall.sources.fetch.backoff_wait` (1, 2, 4 s; through ``exchange.sleep``);
  then the error names the source and ccxt's error class. Pagination stops at ``until``, at an empty page, at a page
  that does not move forward, or after ``max_pages`` pages.
- ``ts`` is the bar start. ``volume`` is ccxt's base volume; ``volume_usd`` is left null (ccxt's
  OHLCV has no quote volume).
- ``funding`` is the last funding rate settled at or before the bar start, as ccxt gives it (a
  fraction per funding interval: 8 h on Binance, Bybit and OKX for BTC).
- ``oi_usd`` is the open-interest snapshot at or before the bar start (``openInterestValue``,
  or ``openInterestAmount * close`` when the exchange gives only the amount).
- Liquidations are summed per bar: a record with ``side`` ``long`` (or ``sell``, the forced sell
  that closes a long) counts as ``liq_long_usd``, ``short`` (or ``buy``) as ``liq_short_usd``,
  using ``quoteValue`` (or ``price * baseValue``). Records without a side are counted in neither
  and reported with a ``UserWarning``. Without the feature the columns are null.
- ``ccxt`` is imported only when a live source is read; without it the error says how to
  install it.

Specs for :func:`margincall.monitor.ingest.read_source`:
``ccxt:EXCHANGE:SYMBOL[?timeframe=1h&since=ISO&until=ISO]``, e.g.
``ccxt:binanceusdm:BTC/USDT:USDT?timeframe=1h&since=2026-02-05T00:00:00Z``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import polars as pl

from margincall.core.errors import InvalidInputError, SourceUnavailableError
from margincall.monitor.schema import conform
from margincall.sources.fetch import backoff_wait
from margincall.sources.times import epoch_to_utc

INSTALL_HINT = "the ccxt package (install the live extra: pip install 'margincall[live]')"
MAX_PAGES = 1_000
RETRIES = 3
"""Retries of a ccxt call after a network error, timeout or rate limit."""


def _ccxt() -> Any:
    try:
        import ccxt
    except ImportError:
        raise InvalidInputError("live source", "ccxt", INSTALL_HINT) from None
    return ccxt


def make_exchange(exchange_id: str, **config: Any) -> Any:
    """A ccxt exchange with ``enableRateLimit=True`` (and ``config`` merged in)."""
    ccxt = _ccxt()
    if exchange_id not in ccxt.exchanges:
        raise InvalidInputError("exchange", exchange_id, "an exchange id known to ccxt")
    return getattr(ccxt, exchange_id)({"enableRateLimit": True, **config})


def _retrying(ex: Any, call: Callable[[], Any]) -> Any:
    """``call()``, retried :data:`RETRIES` times on ccxt's ``NetworkError`` (module docstring)."""
    network_error = _ccxt().NetworkError
    for attempt in range(RETRIES):
        try:
            return call()
        except network_error:
            ex.sleep(1000 * backoff_wait(attempt))
    return call()


def _ms(t: datetime | str | int | None) -> int | None:
    if t is None or isinstance(t, int):
        return t
    if isinstance(t, str):
        try:
            t = datetime.fromisoformat(t.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInputError("time", t, "an ISO 8601 time") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp() * 1000)


def _paginate(
    call: Callable[[int | None], list[Any]],
    stamp: Callable[[Any], int],
    since: int | None,
    until: int | None,
    step_ms: int,
    max_pages: int,
) -> list[Any]:
    out: list[Any] = []
    cursor = since
    for _ in range(max_pages):
        page = call(cursor)
        if not page:
            break
        out.extend(page)
        last = stamp(page[-1])
        if until is not None and last >= until:
            break
        if cursor is not None and last < cursor:
            break
        nxt = last + step_ms
        if cursor is not None and nxt <= cursor:
            break
        cursor = nxt
        if since is None:
            break  # without a start the exchange returns the latest page only
    seen: set[int] = set()
    uniq = []
    for rec in out:
        t = stamp(rec)
        if (until is None or t <= until) and t not in seen:
            seen.add(t)
            uniq.append(rec)
    return uniq


def read_live(
    exchange: Any | str,
    symbol: str,
    timeframe: str = "1h",
    since: datetime | str | int | None = None,
    until: datetime | str | int | None = None,
    limit: int | None = None,
    max_pages: int = MAX_PAGES,
) -> pl.DataFrame:
    """Bars for ``symbol`` from a ccxt exchange (an id or an exchange object) in the canonical
    schema; see the module docstring for the conventions.

    Raises:
        InvalidInputError: ccxt is not installed, the exchange is unknown or has no OHLCV, the
            timeframe or the symbol is not offered, or no bar came back.
        SourceUnavailableError: the exchange cannot be reached or answers with an error.
    """
    ccxt = _ccxt()
    ex = make_exchange(exchange) if isinstance(exchange, str) else exchange
    try:
        return _fetch(ex, symbol, timeframe, since, until, limit, max_pages)
    except ccxt.BadSymbol as exc:
        raise InvalidInputError(
            "symbol", symbol, f"a symbol {ex.id} lists ({_brief(exc)})"
        ) from None
    except ccxt.BaseError as exc:  # network errors, rate limits, the exchange's own errors
        where = f"ccxt:{ex.id}:{symbol}"
        raise SourceUnavailableError(where, f"{type(exc).__name__}: {_brief(exc)}") from None


def _brief(exc: Exception) -> str:
    """The first line of an exchange's error, cut at 200 characters (they can hold a page)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"


def _fetch(
    ex: Any,
    symbol: str,
    timeframe: str,
    since: datetime | str | int | None,
    until: datetime | str | int | None,
    limit: int | None,
    max_pages: int,
) -> pl.DataFrame:
    if not ex.has.get("fetchOHLCV"):
        raise InvalidInputError("exchange", ex.id, "an exchange with fetchOHLCV")
    if ex.timeframes and timeframe not in ex.timeframes:
        raise InvalidInputError("timeframe", timeframe, f"one of {sorted(ex.timeframes)}")
    step = ex.parse_timeframe(timeframe) * 1000
    t0, t1 = _ms(since), _ms(until)
    _retrying(ex, ex.load_markets)
    rows = _paginate(
        lambda c: _retrying(ex, lambda: ex.fetch_ohlcv(symbol, timeframe, since=c, limit=limit)),
        lambda r: int(r[0]),
        t0,
        t1,
        step,
        max_pages,
    )
    if not rows:
        raise InvalidInputError(f"{ex.id} {symbol} {timeframe}", "no bars", "at least one bar")
    bars = pl.DataFrame(
        {
            "t": [int(r[0]) for r in rows],
            "open": [r[1] for r in rows],
            "high": [r[2] for r in rows],
            "low": [r[3] for r in rows],
            "close": [r[4] for r in rows],
            "volume": [r[5] for r in rows],
        },
        schema_overrides={k: pl.Float64 for k in ("open", "high", "low", "close", "volume")},
    ).sort("t")
    first = int(bars["t"][0])
    last = int(bars["t"][-1])
    if ex.has.get("fetchFundingRateHistory"):
        fr = _paginate(
            lambda c: _retrying(
                ex, lambda: ex.fetch_funding_rate_history(symbol, since=c, limit=limit)
            ),
            lambda r: int(r["timestamp"]),
            first - 8 * 3_600_000,
            last,
            1,
            max_pages,
        )
        funding = pl.DataFrame(
            {"t": [int(r["timestamp"]) for r in fr], "funding": [r["fundingRate"] for r in fr]},
            schema={"t": pl.Int64, "funding": pl.Float64},
        ).sort("t")
        bars = bars.join_asof(funding, on="t", strategy="backward")
    if ex.has.get("fetchOpenInterestHistory"):
        oi = _paginate(
            lambda c: _retrying(
                ex,
                lambda: ex.fetch_open_interest_history(symbol, timeframe, since=c, limit=limit),
            ),
            lambda r: int(r["timestamp"]),
            first,
            last,
            step,
            max_pages,
        )
        oi_frame = pl.DataFrame(
            {
                "t": [int(r["timestamp"]) for r in oi],
                "oi_value": [r.get("openInterestValue") for r in oi],
                "oi_amount": [r.get("openInterestAmount") for r in oi],
            },
            schema={"t": pl.Int64, "oi_value": pl.Float64, "oi_amount": pl.Float64},
        ).sort("t")
        bars = bars.join_asof(oi_frame, on="t", strategy="backward").with_columns(
            pl.coalesce("oi_value", pl.col("oi_amount") * pl.col("open")).alias("oi_usd")
        )
    if ex.has.get("fetchLiquidations"):
        liq = _paginate(
            lambda c: _retrying(ex, lambda: ex.fetch_liquidations(symbol, since=c, limit=limit)),
            lambda r: int(r["timestamp"]),
            first,
            last + step - 1,
            1,
            max_pages,
        )
        bars = bars.join(liquidations_per_bar(liq, step), on="t", how="left").with_columns(
            pl.col("liq_long_usd", "liq_short_usd").fill_null(0.0)
        )
    bars = bars.with_columns(epoch_to_utc(bars["t"].to_numpy(), "ts"))
    return conform(bars, f"{ex.id} {symbol}")


def liquidations_per_bar(records: list[dict[str, Any]], step_ms: int) -> pl.DataFrame:
    """ccxt liquidation structures summed per bar start ``t`` (ms): ``liq_long_usd``,
    ``liq_short_usd`` (sides as in the module docstring)."""
    t, longs, shorts = [], [], []
    unknown = 0
    for r in records:
        side = str(r.get("side") or (r.get("info") or {}).get("side") or "").lower()
        value = r.get("quoteValue")
        if value is None and r.get("price") is not None and r.get("baseValue") is not None:
            value = r["price"] * r["baseValue"]
        if side not in ("long", "sell", "short", "buy") or value is None:
            unknown += 1
            continue
        is_long = side in ("long", "sell")
        t.append(int(r["timestamp"]) // step_ms * step_ms)
        longs.append(float(value) if is_long else 0.0)
        shorts.append(0.0 if is_long else float(value))
    if unknown:
        warnings.warn(
            f"{unknown} liquidation record(s) without a side or value were not counted",
            UserWarning,
            stacklevel=2,
        )
    frame = pl.DataFrame(
        {"t": t, "liq_long_usd": longs, "liq_short_usd": shorts},
        schema={"t": pl.Int64, "liq_long_usd": pl.Float64, "liq_short_usd": pl.Float64},
    )
    return frame.group_by("t").agg(pl.col("liq_long_usd").sum(), pl.col("liq_short_usd").sum())


def read_live_spec(spec: str, exchange: Any | None = None) -> pl.DataFrame:
    """Read a ``ccxt:EXCHANGE:SYMBOL[?timeframe=..&since=..&until=..]`` spec."""
    body = spec.removeprefix("ccxt:")
    body, _, query = body.partition("?")
    exchange_id, _, symbol = body.partition(":")
    if not exchange_id or not symbol:
        raise InvalidInputError(
            "source", spec, "ccxt:EXCHANGE:SYMBOL[?timeframe=1h&since=ISO&until=ISO]"
        )
    opts = {k: v[-1] for k, v in parse_qs(query).items()}
    bad = set(opts) - {"timeframe", "since", "until"}
    if bad:
        raise InvalidInputError("source options", sorted(bad), "timeframe, since, until")
    return read_live(
        exchange if exchange is not None else exchange_id,
        symbol,
        opts.get("timeframe", "1h"),
        opts.get("since"),
        opts.get("until"),
    )
