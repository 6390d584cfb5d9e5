"""Price-impact models for the cascade estimator: how far forced orders move the price.

Every model gives ``delta(Q)``: the fractional price move, as a fraction of the reference price
``P0``, that ``Q`` USD of forced selling (longs liquidated, down moves) or buying (shorts, up
moves) causes. They are encoded as a kind and a parameter vector so the compiled fixed point
(:mod:`margincall.estimate.cascade`) and the grid (:mod:`margincall.estimate.grid`) evaluate them
without Python in the loop.

* :class:`DepthCurve`, the book walk (cascade-models.md §0 (a), §2.3): the cumulative depth
  within ``delta`` of the touch is ``D(delta) = m * D1 * (delta / 1%)**beta``; ``D1`` is the
  ±1% depth in USD, ``beta`` about 0.4 to 0.7 (default 0.55, the middle of the reference's two
  fits 0.4 and 0.67). Instant impact is the inverse, ``delta = 1% * (Q / (m D1))**(1/beta)``,
  convex in size.
* :class:`BookDepth`, the same walk on a real book: the cumulative bid (ask) quantity of a
  venue's book from its touch, valued at the touch, as read from :class:`~margincall.venue.engine.Venue`; beyond the
  last level, the power law through the book's own ±1% point and its end (``beta`` of the tail).
* :class:`SqrtImpact`, the metaorder square-root law (§2.1): ``delta = Y sigma_D sqrt(Q / (m
  V_D))``, concave; defaults ``Y = 0.7`` (the c ≈ 0.69 fit), ``sigma_D = 3%``, ``V_D = $75B``
  (Binance BTC futures' record days). The reference warns this normal-time law is an order of
  magnitude below crash-day moves.
* :class:`NoImpact`, an infinitely deep book: ``delta = 0``.

**Thinning with stress** (book walks only, §2.4): makers withdraw as forced flow grows. The
depth is divided by ``1 + theta * Q / (m D1)``: every ±1%-depth worth of liquidations already
sent removes a further share of the book (``theta = 0.3`` means depth is down 23% after one
``D1`` of forced selling, 55% after four). So ``delta(Q) = base(Q (1 + theta Q / (m D1)) / m)``.
``theta = 0`` is a book that does not thin.

**Refill between rounds** (book walks only): makers restore a share ``r`` (``refill``) of the
depth the cascade has consumed before the next round, re-quoted at the price the book has
reached (resilience, cascade-models.md §2.4: depth comes back within minutes). The consumed
depth ``E`` (USD at the touch) evolves as ``E_n = (1 - r) E_{n-1} + q_n`` with ``q_n`` what
round ``n`` liquidates, and round ``n`` moves the price by ``delta(E_n) - delta((1 - r)
E_{n-1})``: the walk resumes from the partly refilled book. ``r = 0`` (the default) is one
book walked by everything, ``delta(Q)`` (the fixed point below); ``r = 1`` a fresh book for
every round. With linear impact (``beta = 1``, no thinning) refill changes nothing; the more
convex the curve, the more it matters. ``r`` per round comes from a refill half-life ``tau``
and the time a round takes ``dt`` as ``r = 1 - 2**(-dt / tau)``.

**Depth implied by market data** (:func:`implied_depth_1pct`): on real hourly data the forced
flow of an hour and the move it came with bound the depth from below. An hour in which ``Q``
dollars of longs were liquidated while the price fell ``delta`` from the open to the low cannot
have had less depth than the ``D1`` at which ``Q`` alone, walking the thinning curve, moves the
price by exactly ``delta``: ``Q (1 + theta Q / D1) = D1 (delta/1%)**beta``, so
``D1 = Q (1 + sqrt(1 + 4 theta x)) / (2 x)`` with ``x = (delta/1%)**beta`` (shorts: the rise to
the high). The largest such ``D1`` over the hours is the depth the data has shown at least once.

**Assumptions common to all**: the book keeps its profile re-centred on the shocked price (makers
re-quote after the exogenous move), the touch is at ``P0 (1 + s)``, and it does not refill while
the cascade runs unless ``refill`` says so; the depth multiplier ``m`` (``depth_scale``) scales all depth alike; buy-side
depth is the mirror of sell-side depth for the parametric models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit

from margincall.core.errors import InvalidInputError

KIND_NONE = 0
KIND_POWER = 1
KIND_SQRT = 2
KIND_BOOK = 3

# parameter slots
_D1, _BETA, _THETA, _Y, _SIGMA, _VOL, _TAIL_BETA, REFILL = range(8)
N_PARAMS = 8


@njit(cache=True)
def impact_delta(kind, params, tab_q, tab_d, q_usd, m):
    """The fractional move of ``q_usd`` forced flow under depth multiplier ``m``."""
    if q_usd <= 0.0 or kind == KIND_NONE:
        return 0.0
    if kind == KIND_SQRT:
        return params[_Y] * params[_SIGMA] * np.sqrt(q_usd / (m * params[_VOL]))
    d1 = params[_D1]
    x = q_usd * (1.0 + params[_THETA] * q_usd / (m * d1)) / m  # in undisturbed-book dollars
    if kind == KIND_POWER:
        return 0.01 * (x / d1) ** (1.0 / params[_BETA])
    # a real book: the distance of the first level whose cumulative depth reaches x
    n = tab_q.shape[0]
    if n == 0:
        return 1.0
    if x > tab_q[n - 1]:
        return tab_d[n - 1] * (x / tab_q[n - 1]) ** (1.0 / params[_TAIL_BETA])
    lo, hi = 0, n - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if tab_q[mid] >= x:
            hi = mid
        else:
            lo = mid + 1
    return tab_d[lo]


def _check_refill(value: float) -> None:
    if not (isinstance(value, int | float) and np.isfinite(value) and 0.0 <= value <= 1.0):
        raise InvalidInputError("refill", value, "a share of consumed depth between 0 and 1")


def _positive(name: str, value: float) -> float:
    if not (isinstance(value, int | float) and np.isfinite(value) and value > 0):
        raise InvalidInputError(name, value, "a positive finite number")
    return float(value)


@dataclass(frozen=True)
class Encoded:
    """A model as the compiled kernels read it, for one side (sell or buy)."""

    kind: int
    params: np.ndarray
    tab_q: np.ndarray
    tab_d: np.ndarray


_EMPTY = np.zeros(0, np.float64)


class Impact:
    """Base of the impact models (see the module docstring)."""

    name = "impact"

    def encode(self, side: int) -> Encoded:  # side -1 sells (down moves), +1 buys
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError

    def delta(self, q_usd: float | np.ndarray, side: int = -1, depth_scale: float = 1.0):
        """Fractional move (of ``P0``) caused by ``q_usd`` of forced selling (side -1) or
        buying (+1)."""
        e = self.encode(side)
        q = np.atleast_1d(np.asarray(q_usd, np.float64))
        out = np.array(
            [impact_delta(e.kind, e.params, e.tab_q, e.tab_d, x, depth_scale) for x in q]
        )
        return out if np.ndim(q_usd) else float(out[0])


@dataclass(frozen=True)
class NoImpact(Impact):
    """An infinitely deep book: forced orders do not move the price."""

    name = "none"

    def encode(self, side: int) -> Encoded:
        return Encoded(KIND_NONE, np.zeros(N_PARAMS), _EMPTY, _EMPTY)

    def describe(self) -> dict[str, Any]:
        return {"impact": "none (infinitely deep book)"}


@dataclass(frozen=True)
class DepthCurve(Impact):
    """Book walk on ``D(delta) = D1 (delta/1%)**beta`` with thinning ``theta``."""

    d1_usd: float = 20e6
    beta: float = 0.55
    thinning: float = 0.3
    origin: str = "cross-venue BTC ±1% depth, cascade-models.md §2.3"
    refill: float = 0.0
    name = "depth"

    def __post_init__(self) -> None:
        _positive("d1_usd", self.d1_usd)
        if not (0.05 <= self.beta <= 3.0):
            raise InvalidInputError("beta", self.beta, "a depth exponent between 0.05 and 3")
        if not (np.isfinite(self.thinning) and self.thinning >= 0):
            raise InvalidInputError("thinning", self.thinning, "a number >= 0")
        _check_refill(self.refill)

    def encode(self, side: int) -> Encoded:
        p = np.zeros(N_PARAMS)
        p[_D1], p[_BETA], p[_THETA] = self.d1_usd, self.beta, self.thinning
        p[REFILL] = self.refill
        return Encoded(KIND_POWER, p, _EMPTY, _EMPTY)

    def describe(self) -> dict[str, Any]:
        return {
            "impact": "depth-curve walk",
            "depth_curve": f"D(delta) = {self.d1_usd:,.0f} USD x (delta/1%)^{self.beta:g}",
            "depth_1pct_usd": self.d1_usd,
            "depth_source": self.origin,
            "beta": self.beta,
            "thinning": f"depth / (1 + {self.thinning:g} x Q / D1)",
            "refill": _refill_text(self.refill),
        }


@dataclass(frozen=True)
class SqrtImpact(Impact):
    """Square-root law ``delta = Y sigma_D sqrt(Q / V_D)``."""

    y: float = 0.7
    sigma_daily: float = 0.03
    volume_daily_usd: float = 75e9
    name = "sqrt"

    def __post_init__(self) -> None:
        _positive("y", self.y)
        _positive("sigma_daily", self.sigma_daily)
        _positive("volume_daily_usd", self.volume_daily_usd)

    def encode(self, side: int) -> Encoded:
        p = np.zeros(N_PARAMS)
        p[_Y], p[_SIGMA], p[_VOL] = self.y, self.sigma_daily, self.volume_daily_usd
        p[_D1] = 1.0
        return Encoded(KIND_SQRT, p, _EMPTY, _EMPTY)

    def describe(self) -> dict[str, Any]:
        return {
            "impact": "square-root law",
            "formula": f"delta = {self.y:g} x {self.sigma_daily:g} x sqrt(Q / {self.volume_daily_usd:,.0f})",
            "y": self.y,
            "sigma_daily": self.sigma_daily,
            "volume_daily_usd": self.volume_daily_usd,
        }


def _refill_text(refill: float) -> str:
    if refill == 0:
        return "none: one book walked by the whole cascade"
    return f"{refill:.0%} of the consumed depth restored before each round"


def _tail_beta(q: np.ndarray, d: np.ndarray) -> float:
    """log-log slope of depth against distance between the 1% point and the book's end."""
    if len(q) < 2 or d[-1] <= 0:
        return 0.55
    i = int(np.searchsorted(d, 0.01))
    i = min(max(i, 0), len(q) - 2)
    if d[i] <= 0 or d[-1] <= d[i] or q[-1] <= q[i]:
        return 0.55
    b = float(np.log(q[-1] / q[i]) / np.log(d[-1] / d[i]))
    return float(np.clip(b, 0.05, 3.0))


@dataclass(frozen=True)
class BookDepth(Impact):
    """The cumulative depth of a real book, each side from its touch.

    ``bid_q`` / ``ask_q``: cumulative quantity through each level valued at the side's best
    price (USD), increasing (the estimator values forced quantity at the touch too);
    ``bid_d`` / ``ask_d``: that level's distance from the touch as a fraction of ``reference``.
    """

    bid_q: np.ndarray
    bid_d: np.ndarray
    ask_q: np.ndarray
    ask_d: np.ndarray
    reference: float
    thinning: float = 0.0
    source: str = "book"
    name = "book"
    extra: dict[str, Any] = field(default_factory=dict)
    refill: float = 0.0

    def __post_init__(self) -> None:
        _check_refill(self.refill)

    @classmethod
    def from_venue(
        cls,
        v,
        *,
        reference: float | None = None,
        thinning: float = 0.0,
        refill: float = 0.0,
    ) -> BookDepth:
        """Read venue ``v``'s resting book. Distances are measured from each side's best price
        and expressed as fractions of ``reference`` (default: the venue's mark)."""
        tick = float(v.scale.tick_size)
        ref = float(reference) if reference is not None else v.mark_ticks * tick
        lv = np.asarray(v.resting_lots())
        prices = v.min_tick + np.arange(lv.shape[1], dtype=np.int64)
        out = []
        for si, sign in ((0, -1), (1, 1)):
            nz = np.flatnonzero(lv[si] > 0)
            if sign < 0:
                nz = nz[::-1]  # bids: best (highest) first
            p = prices[nz]
            # quantity through each level, valued at the touch (forced orders walk quantity)
            q = np.cumsum(lv[si, nz]) * (p[0] * v.k / 1e6) if len(p) else _EMPTY
            d = np.abs(p - p[0]) * tick / ref if len(p) else _EMPTY
            out += [q.astype(np.float64), d.astype(np.float64)]
        bq, bd, aq, ad = out
        source = f"book of venue {v.rulebook.name}"
        return cls(bq, bd, aq, ad, ref, thinning, source, refill=refill)

    def _side(self, side: int) -> tuple[np.ndarray, np.ndarray]:
        return (self.bid_q, self.bid_d) if side < 0 else (self.ask_q, self.ask_d)

    def depth_1pct(self, side: int) -> float:
        q, d = self._side(side)
        if len(q) == 0:
            return 0.0
        return float(q[np.searchsorted(d, 0.01, side="right") - 1]) if d[0] <= 0.01 else 0.0

    def encode(self, side: int) -> Encoded:
        q, d = self._side(side)
        p = np.zeros(N_PARAMS)
        p[_D1] = max(self.depth_1pct(side), 1.0)
        p[_THETA] = self.thinning
        p[_TAIL_BETA] = _tail_beta(q, d)
        p[REFILL] = self.refill
        return Encoded(KIND_BOOK, p, np.ascontiguousarray(q), np.ascontiguousarray(d))

    def describe(self) -> dict[str, Any]:
        return {
            "impact": "walk of a real book's depth",
            "source": self.source,
            "bid_depth_1pct_usd": round(self.depth_1pct(-1)),
            "ask_depth_1pct_usd": round(self.depth_1pct(1)),
            "bid_levels": len(self.bid_q),
            "ask_levels": len(self.ask_q),
            "beyond_the_book": "power law through the book's 1% point and its end",
            "thinning": f"depth / (1 + {self.thinning:g} x Q / D1)",
            "refill": _refill_text(self.refill),
        }


@dataclass(frozen=True)
class ImpliedDepth:
    """The ±1% depth a market-data panel implies, and the hour that sets it."""

    d1_usd: float
    row: int  # the binding hour's row in the panel
    side: str  # "long" (a fall) or "short" (a rise)
    move: float  # that hour's move from the open, as a fraction
    forced_usd: float  # that hour's liquidations on the side the move hit

    def as_dict(self) -> dict[str, Any]:
        return {
            "depth_1pct_usd": self.d1_usd,
            "row": self.row,
            "side": self.side,
            "move": self.move,
            "forced_usd": self.forced_usd,
            "rule": "smallest D1 under which no hour's liquidations alone would have moved the "
            "price further than it moved (open to low for longs, open to high for shorts)",
        }


def implied_depth_1pct(
    open_: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    liq_long_usd: np.ndarray,
    liq_short_usd: np.ndarray,
    *,
    beta: float = 0.55,
    thinning: float = 0.3,
    min_move: float = 0.005,
) -> ImpliedDepth | None:
    """The depth the hours imply (see the module docstring); hours that moved less than
    ``min_move`` or have no liquidation figure are left out. None when no hour counts."""
    o = np.asarray(open_, np.float64)
    best: ImpliedDepth | None = None
    for side, move, q in (
        ("long", (o - np.asarray(low, np.float64)) / o, np.asarray(liq_long_usd, np.float64)),
        ("short", (np.asarray(high, np.float64) - o) / o, np.asarray(liq_short_usd, np.float64)),
    ):
        ok = np.isfinite(move) & np.isfinite(q) & (move >= min_move) & (q > 0)
        if not ok.any():
            continue
        x = (move[ok] / 0.01) ** beta
        d1 = q[ok] * (1.0 + np.sqrt(1.0 + 4.0 * thinning * x)) / (2.0 * x)
        j = int(np.argmax(d1))
        if best is None or d1[j] > best.d1_usd:
            row = int(np.flatnonzero(ok)[j])
            best = ImpliedDepth(float(d1[j]), row, side, float(move[row]), float(q[row]))
    return best


VISIBLE_DEPTH_USD = 20e6
"""Cross-venue BTC ±1% depth before October 2025 (cascade-models.md §2.3)."""


def market_depth_curve(
    panel: Any, *, beta: float = 0.55, thinning: float = 0.3, refill: float = 0.0
) -> DepthCurve:
    """The depth curve for a market-data map: the visible ±1% depth of the reference, or the
    depth the panel's own hours imply (:func:`implied_depth_1pct`) where that is larger.
    ``panel`` has columns ``ts``, ``open``, ``low``, ``high``, ``liq_long_usd``,
    ``liq_short_usd`` (polars); use only the rows known at the time of the estimate."""
    cols = ("open", "low", "high", "liq_long_usd", "liq_short_usd")
    arrays = [panel[c].cast(float).fill_null(float("nan")).to_numpy() for c in cols]
    implied = implied_depth_1pct(*arrays, beta=beta, thinning=thinning)
    if implied is None or implied.d1_usd <= VISIBLE_DEPTH_USD:
        return DepthCurve(VISIBLE_DEPTH_USD, beta, thinning, refill=refill)
    hour = panel["ts"][implied.row]
    origin = (
        f"implied by the data: the {hour:%Y-%m-%d %H:%M} UTC hour liquidated "
        f"${implied.forced_usd / 1e6:,.1f}M of {implied.side}s in a "
        f"{implied.move:.2%} move (the visible ±1% depth of the reference is $20M)"
    )
    return DepthCurve(implied.d1_usd, beta, thinning, origin, refill)
