"""The *ETF flows* section: one block per flows file (BTC, ETH, SOL funds).

Figures (``summary["etf_flows"][ASSET]``), from the flow days (US trading days) on or before
the report day D; amounts in USD:

- ``last_day``: the last flow day's Total and its :data:`TOP_FUNDS` largest funds by size;
- ``streak``: how many flow days in a row, ending with the last, had a Total of the same
  sign (a zero Total ends a streak);
- ``sum_5d``: the last five flow days (and each of them); ``month_to_date``: the flow days of D's month;
  ``months``: each of the three calendar months before D's month;
- ``cumulative_usd``: every flow day since launch;
- ``holdings`` (with closes of the asset): coins bought = sum over flow days of
  ``Total / close`` (the close of that UTC day, or the latest before it), their value at D's
  close, their share of the asset's market cap (with a market-cap source giving it), and the
  flow-weighted cost basis ``cumulative dollars / coins``, with the close's distance from it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from margincall.monitor.daily import Series, cite, last_on_or_before
from margincall.sources.flows import EtfFlows

TOP_FUNDS = 3
"""Funds named beside the last day's total."""
CAVEATS = (
    "Holdings are derived from flows (each day's net flow divided by that day's close, "
    "summed): they leave out what the funds held before their first flow day (GBTC's "
    "conversion from a trust brought its coins in without a flow), so they understate the "
    "funds' holdings.",
    "Net assets published by a source that reports them (the issuers, Farside's or SoSoValue's "
    "total net assets) are to be preferred to these flow-derived figures when given.",
    "The cost basis is the flow-weighted average price of the net dollars that came in, not "
    "the price the funds' shareholders paid; a close below it means the average net dollar "
    "that came in since launch is at a loss.",
)


def etf_section(
    flows: EtfFlows,
    series: Series,
    closes: Series | None,
    market_cap: Series | None,
    day: date,
) -> dict[str, Any]:
    """The figures of one flows file (module docstring)."""
    d = series.frame
    last = d.tail(1)
    last_day = last["date"][0]
    funds = flows.funds.filter(pl.col("date") == last_day)
    top = funds.sort(pl.col("flow_usd").abs(), descending=True, maintain_order=True).head(TOP_FUNDS)
    out: dict[str, Any] = {
        "asset": flows.asset,
        "last_day": {
            "date": str(last_day),
            "total_usd": float(last["total_usd"][0]),
            "funds": [
                {"fund": f, "flow_usd": v}
                for f, v in zip(top["fund"], top["flow_usd"], strict=True)
            ],
            "from": cite(series, last),
        },
        "streak": _streak(series),
        "sum_5d": _sum(series, d.tail(5))
        | {
            "each": [
                {"date": str(a), "total_usd": b}
                for a, b in zip(d.tail(5)["date"], d.tail(5)["total_usd"], strict=True)
            ]
        },
        "month_to_date": _sum(series, d.filter(_month(day) == _month_of(pl.col("date")))),
        "months": [
            {"month": f"{y:04d}-{m:02d}"}
            | _sum(series, d.filter(_month_of(pl.col("date")) == y * 12 + m - 1))
            for y, m in _previous_months(day, 3)
        ],
        "cumulative_usd": float(d["total_usd"].sum()),
        "cumulative_from": cite(series, d),
        "first_day": str(d["date"][0]),
        "holdings": None,
        "caveats": list(CAVEATS),
    }
    if closes is not None:
        out["holdings"] = _holdings(flows.asset, series, closes, market_cap, day)
    return out


def _month(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_of(col: pl.Expr) -> pl.Expr:
    return col.dt.year().cast(pl.Int64) * 12 + col.dt.month().cast(pl.Int64) - 1


def _previous_months(day: date, n: int) -> list[tuple[int, int]]:
    k = _month(day)
    return [((k - i) // 12, (k - i) % 12 + 1) for i in range(n, 0, -1)]


def _sum(series: Series, rows: pl.DataFrame) -> dict[str, Any]:
    return {"usd": float(rows["total_usd"].sum()), "days": rows.height, "from": cite(series, rows)}


def _streak(series: Series) -> dict[str, Any]:
    totals = series.frame["total_usd"].to_list()
    sign = (totals[-1] > 0) - (totals[-1] < 0)
    n = 0
    for t in reversed(totals):
        if sign == 0 or (t > 0) - (t < 0) != sign:
            break
        n += 1
    rows = series.frame.tail(n)
    kind = "outflow" if sign < 0 else "inflow" if sign > 0 else "flat"
    return {
        "days": n,
        "kind": kind,
        "usd": float(rows["total_usd"].sum()),
        "from": cite(series, rows),
    }


def _holdings(
    asset: str, series: Series, closes: Series, market_cap: Series | None, day: date
) -> dict[str, Any]:
    c = closes.frame.select("date", "close", pl.col("line").alias("close_line"))
    j = series.frame.sort("date").join_asof(c.sort("date"), on="date", strategy="backward")
    missing = j.filter(pl.col("close").is_null())
    j = j.filter(pl.col("close").is_not_null())
    coins = float((j["total_usd"] / j["close"]).sum())
    dollars = float(j["total_usd"].sum())
    now = last_on_or_before(closes.frame, day)
    price = float(now["close"][0])
    out: dict[str, Any] = {
        "coins": coins,
        "value_usd": coins * price,
        "price": price,
        "price_date": str(now["date"][0]),
        "cost_basis": dollars / coins if coins > 0 else None,
        "flow_days": j.height,
        "flow_days_without_close": missing.height,
        "from": cite(series, j)
        | {"closes": cite(closes, j.select(pl.col("close_line").alias("line")))},
        "price_from": cite(closes, now),
        "share_of_market_cap": None,
    }
    out["distance_from_cost_basis"] = (
        None if out["cost_basis"] is None else price / out["cost_basis"] - 1.0
    )
    if market_cap is not None:
        col = f"{asset.lower()}_usd"
        row = last_on_or_before(market_cap.frame, day)
        if col in row.columns and row[col][0] is not None:
            out["share_of_market_cap"] = out["value_usd"] / float(row[col][0])
            out["market_cap_usd"] = float(row[col][0])
            out["market_cap_from"] = cite(market_cap, row)
    return out
