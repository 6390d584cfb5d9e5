"""A scripted price drop through the venue engine: ``margincall demo`` and the liquidation
benchmark.

A population of leveraged accounts (80% long by default, leverage drawn uniformly between 2x and
the rulebook's maximum, sizes from 0.001 to 0.1 BTC) opens positions against a
market maker at one price. The index then falls step by step; at each step the maker re-quotes a
ladder of bids under the new price and the venue's liquidation engine closes every breached
account by its rulebook. Nothing here is an agent model: the flow is fixed, only the venue acts.
The agent-based simulator (``margincall simulate``) builds on the same engine.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

import numpy as np

from margincall.core.errors import InvalidInputError
from margincall.core.rng import RngTree
from margincall.core.units import micros_to_usd
from margincall.events.schema import EventKind
from margincall.report.candles import FORCED_CLOSE_KINDS, taker_mask
from margincall.sim.scenario import MAX_ACCOUNTS
from margincall.venue.engine import Venue

START_PRICE = 60_000


@dataclass(frozen=True)
class Step:
    """What one price step did."""

    step: int
    index_price: float
    mark_price: float
    liquidated_accounts: int  # accounts liquidated for the first time in this step
    attempts: int  # liquidation triggers (a partly liquidated account can trigger again)
    liquidated_long_usd: float  # notional of long positions force-closed (book, fund or ADL)
    liquidated_short_usd: float
    takeovers: int
    adl: int
    rounds: int
    insurance_fund_usd: float


def build_market(
    accounts: int,
    *,
    rulebook: str = "binance",
    seed: int = 7,
    long_share: float = 0.8,
    keep_events: bool = True,
    insurance_fund_usd: float = 50_000_000,
) -> tuple[Venue, int]:
    """A venue with ``accounts`` leveraged accounts holding positions opened at 60,000.

    Returns the venue and the market maker's account id.
    """
    if not 1 <= accounts <= MAX_ACCOUNTS:
        raise InvalidInputError("accounts", accounts, f"from 1 to {MAX_ACCOUNTS:,} accounts")
    if not 0.0 <= long_share <= 1.0:
        raise InvalidInputError("long_share", long_share, "a share between 0 and 1")
    rng = RngTree(seed).generator("demo.population")
    v = Venue(
        rulebook,
        "BTCUSDT",
        price=START_PRICE,
        capacity=accounts + 1,
        insurance_fund_usd=insurance_fund_usd,
        keep_events=keep_events,
        order_capacity=1 << 12,
        price_window=(0.5, 1.5),
        seed=seed,
    )
    mm = v.open_account(10_000_000_000, leverage=1)
    lot = v.scale.lot_size
    one_milli = round(0.001 / float(lot))  # lots per 0.001 BTC on this rulebook's grid
    lots = rng.integers(1, 101, accounts) * max(one_milli, 1)
    side = np.where(rng.random(accounts) < long_share, 1, -1)
    max_lev = int(v.instrument.tiers[0].max_leverage)
    lev_real = rng.uniform(2.0, max_lev, accounts)  # continuous, so liquidation prices spread out
    lev = np.minimum(np.ceil(lev_real).astype(np.int64), max_lev)  # the account's setting
    ticks = v.scale.price_to_ticks(START_PRICE)
    notional = lots * ticks * v.k
    # margin for the drawn leverage (at least the setting's initial margin) plus 0.1% for fees
    deposits = (
        np.maximum((notional / lev_real).astype(np.int64), -(-notional // lev)) + notional // 1000
    )
    step = 1_000_000
    for i in range(0, accounts, step):  # in chunks, so set-up events never pile up
        ids = v.open_accounts(deposits[i : i + step], leverage=lev[i : i + step])
        v.block_trades(ids, side[i : i + step] * lots[i : i + step], START_PRICE, mm)
    del lots, side, lev, notional, deposits
    gc.collect()
    return v, mm


def check_drop(drop: float, steps: int) -> None:
    """Refuse a drop schedule the demo cannot run (before any work is done)."""
    if not 0.0 < drop < 0.5:
        raise InvalidInputError("drop", drop, "a fraction between 0 and 0.5")
    if steps < 1:
        raise InvalidInputError("steps", steps, "at least 1 step")


def drop_to(v: Venue, mm: int, price: float, *, levels: int = 20, level_btc: float = 2_000.0):
    """One step: the maker re-quotes a bid ladder under ``price``, the index moves there, the mark
    follows and the venue liquidates; returns the step's events."""
    size = f"{round(level_btc / float(v.scale.lot_size)) * v.scale.lot_size}"
    tick = float(v.scale.tick_size)
    v.cancel_all(mm)
    for j in range(levels):  # 0.05% apart
        v.submit_order(mm, "buy", size, round(price * (1 - 0.0005 * j) / tick) * v.scale.tick_size)
    v.set_index_price(round(price / tick) * v.scale.tick_size)
    v.update_mark()
    return v.run_liquidations()


def price_drop(
    v: Venue,
    mm: int,
    *,
    drop: float = 0.15,
    steps: int = 100,
    levels: int = 20,
    level_btc: float = 2_000.0,
    step_seconds: int = 60,
):
    """Lower the index by ``drop`` in ``steps`` equal steps; yields a :class:`Step` per step."""
    check_drop(drop, steps)
    seen = np.zeros(v.capacity, bool)
    for s in range(1, steps + 1):
        price = START_PRICE * (1 - drop * s / steps)
        v.advance(v.now_ns + step_seconds * 1_000_000_000)
        ev = drop_to(v, mm, price, levels=levels, level_btc=level_btc)
        kind = ev["kind"]
        trig = ev[kind == EventKind.LIQUIDATION_TRIGGERED]["account"]
        new = np.unique(trig[~seen[trig]])
        seen[new] = True
        # the liquidated account is the taker of its forced fills; a long is closed by a sell
        closes = ev[taker_mask(ev, FORCED_CLOSE_KINDS)]
        notional = closes["notional"]
        yield Step(
            step=s,
            index_price=float(v.index_price),
            mark_price=float(v.mark_price),
            liquidated_accounts=len(new),
            attempts=len(trig),
            liquidated_long_usd=float(micros_to_usd(int(notional[closes["side"] < 0].sum()))),
            liquidated_short_usd=float(micros_to_usd(int(notional[closes["side"] > 0].sum()))),
            takeovers=int((kind == EventKind.BACKSTOP_TAKEOVER).sum()) // 2,
            adl=int((kind == EventKind.ADL_EXECUTED).sum()) // 2,
            rounds=int(ev["round"].max()) if len(ev) else 0,
            insurance_fund_usd=float(v.insurance_fund_usd),
        )
