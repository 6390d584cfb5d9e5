"""The *Sentiment* section of the daily sources: the published Crypto Fear & Greed index
(alternative.me) beside the market's own index (:mod:`margincall.monitor.daily_sentiment`: the
bar index at each UTC day's last bar with the ETF-flow and breadth components, those present), both 0-100 with the same bands
(:data:`~.headline.SENTIMENT_BANDS`).

``spearman`` is the rank correlation of the two over the days both have, on or before the
report day (within the window of :data:`~.daily.WINDOW_DAYS` days), with the number of days;
null with fewer than :data:`MIN_OVERLAP` days or when either is constant over them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import polars as pl

from margincall.monitor.daily import Series, cite, last_on_or_before, window
from margincall.monitor.daily_sentiment import DAILY_WEIGHTS, FIT_SPAN
from margincall.monitor.headline import sentiment_label

MIN_OVERLAP = 10


def fear_greed_section(fg: Series, own_daily: pl.DataFrame | None, day: date) -> dict[str, Any]:
    """The published index at ``day``, the market's own beside it, and their Spearman."""
    now = last_on_or_before(fg.frame, day)
    value = float(now["value"][0])
    out: dict[str, Any] = {
        "published": {
            "value": value,
            "label": sentiment_label(value),
            "date": str(now["date"][0]),
            "from": cite(fg, now),
        },
        "own": None,
        "spearman": None,
    }
    if own_daily is None:
        return out
    own = own_daily.filter(pl.col("date") <= day).drop_nulls("sentiment")
    if own.height:
        last = own.tail(1)
        v = float(last["sentiment"][0])
        out["own"] = {
            "value": v,
            "label": sentiment_label(v),
            "date": str(last["date"][0]),
            "components": {
                k: (None if last[f"s_{k}"][0] is None else float(last[f"s_{k}"][0]))
                for k in DAILY_WEIGHTS
                if f"s_{k}" in last.columns
            },
            "weights": dict(DAILY_WEIGHTS),
            "weights_fitted_on": FIT_SPAN,
        }
    j = window(fg.frame, day).join(own.select("date", "sentiment"), on="date")
    a = j["value"].rank().to_numpy()
    b = j["sentiment"].rank().to_numpy()
    if j.height >= MIN_OVERLAP and np.ptp(a) > 0 and np.ptp(b) > 0:  # a constant has no rank
        out["spearman"] = {
            "rho": float(np.corrcoef(a, b)[0, 1]),
            "days": j.height,
            "date_from": str(j["date"].min()),
            "date_to": str(j["date"].max()),
            "from": cite(fg, j),
        }
    return out
