"""What a venue's public liquidation feed would have published of a run's forced closes.

A run's liquidation figures are simulated truth. Public feeds undercount on stress days, and the
market data a run is compared with is built on them: Binance's ``<symbol>@forceOrder`` stream
pushes, per symbol, only the latest liquidation order of each second, and the aggregators'
hourly figures (the shared panel's among them) sum what the stream pushed. Compare a run with
such data only through the same filter (cascade-models.md, "Reporting truncation").

The filter reads the event log. A forced-close order is one account's forced closes of the
instrument at one timestamp (the taker rows of ``POSITION_LIQUIDATED``, ``BACKSTOP_TAKEOVER``
and ``ADL_EXECUTED``, summed); the feed publishes the last order (by sequence) of each window of
``1 / per_second`` seconds, or every order when ``per_second`` is 0 (the venue's rulebook,
``liquidation_feed_per_second``). The engine's clock is the kernel's: the forced closes of one
step share its timestamp, so a feed of one order a second publishes one of them.

Example:
    >>> import numpy as np
    >>> from margincall.events.schema import EVENT_DTYPE, EventKind
    >>> ev = np.zeros(3, EVENT_DTYPE)
    >>> ev["kind"] = int(EventKind.POSITION_LIQUIDATED)
    >>> ev["liquidity"] = 2
    >>> ev["seq"], ev["account"], ev["side"] = [1, 2, 3], [7, 8, 9], -1
    >>> ev["ts_ns"] = [0, 0, 10**9]  # two orders in the first second, one in the next
    >>> ev["notional"] = [5_000_000, 3_000_000, 2_000_000]
    >>> published(ev, 1)["notional"].to_list()  # the first second's last order, then the next
    [3000000, 2000000]
    >>> published(ev, 0)["notional"].sum()  # every order
    10000000
"""

from __future__ import annotations

import numpy as np
import polars as pl

from margincall.report.candles import FORCED_CLOSE_KINDS, Columns, taker_mask

NS = 1_000_000_000


def published(events: Columns, per_second: int) -> pl.DataFrame:
    """The forced-close orders a feed of ``per_second`` orders a second publishes (module
    docstring): ``ts_ns``, ``side`` (-1 a sell closing a long, +1 a buy closing a short) and
    ``notional`` (micro-dollars), in time order."""
    if per_second < 0:
        raise ValueError(f"per_second must be 0 (every order) or positive, got {per_second}")
    mask = taker_mask(events, FORCED_CLOSE_KINDS)
    rows = pl.DataFrame(
        {
            name: np.asarray(events[name])[mask]
            for name in ("ts_ns", "seq", "account", "side", "notional")
        }
    )
    orders = (
        rows.group_by("ts_ns", "account", "side")
        .agg(pl.col("notional").sum(), pl.col("seq").max())
        .sort("seq")
    )
    if per_second:
        window = NS // per_second
        orders = (
            orders.with_columns((pl.col("ts_ns") // window).alias("window"))
            .group_by("window", maintain_order=True)
            .last()
            .drop("window")
        )
    return orders.select("ts_ns", "side", "notional")


def feed_totals(events: Columns, per_second: int, start_ns: int, hours: int) -> dict:
    """A feed's long and short totals (USD), its orders, and its total per hour from
    ``start_ns`` (``hours`` bins; an order at or after the last hour's end counts in it)."""
    orders = published(events, per_second)
    side = orders["side"].to_numpy()
    notional = orders["notional"].to_numpy()
    hour = np.clip((orders["ts_ns"].to_numpy() - start_ns) // (3600 * NS), 0, max(hours - 1, 0))
    hourly = np.bincount(hour, weights=notional, minlength=hours)[:hours] / 1e6
    return {
        "per_second": per_second,
        "long_usd": float(notional[side == -1].sum() / 1e6),
        "short_usd": float(notional[side == 1].sum() / 1e6),
        "orders": len(orders),
        "hourly_usd": [float(x) for x in hourly],
    }
