"""Alert rules of ``margincall monitor --alert FILE``: a small TOML of named conditions on the
report's figures, checked after every refresh.

The file::

    [alerts]
    liquidation_burst = "liq_1h_usd > 250e6"
    btc_below_60k = "close < 60000"
    etf_exodus = "etf_flow_day < -500e6"
    extreme_fear = "fear_greed < 10"

Each rule is ``FIGURE OP NUMBER`` with ``OP`` one of ``<``, ``<=``, ``>``, ``>=``, and FIGURE
one of :data:`FIGURES` (taken from the report just written; :func:`figures`). A figure the
report does not have (no bars for ``liq_1h_usd``, no ``--fear-greed``) makes its rule false.

A rule **fires** when it becomes true: it was false (or not yet checked) at the previous
refresh. It is not fired again while it stays true; once false it may fire again. A firing
appends one JSON line to ``alerts.jsonl`` in the output folder and prints one line.
"""

from __future__ import annotations

import json
import operator
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from margincall.core.errors import InvalidInputError

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_RULE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(\S+)\s*(\S+)\s*$")


def _daily(result: Any) -> dict[str, Any]:
    s = result.summary
    return s.get("daily") or (s if s.get("kind") else {})


def _first_etf(result: Any) -> dict[str, Any] | None:
    flows = _daily(result).get("etf_flows") or {}
    return flows.get("BTC") or next(iter(flows.values()), None)


def _close(result: Any) -> float | None:
    price = result.summary.get("price")
    if price is not None:
        return price.get("last_close")
    assets = (_daily(result).get("assets") or {}).get("symbols") or []
    row = next((a for a in assets if a["symbol"] == "BTC"), assets[0] if assets else None)
    return None if row is None else row.get("price")


def _liq(result: Any, hours: int) -> float | None:
    m = result.metrics
    if m is None or "liq_long_usd" not in m.columns:
        return None
    last = m["ts"].max()
    win = m.filter(m["ts"] > last - timedelta(hours=hours))
    total = win["liq_long_usd"].fill_null(0).sum() + win["liq_short_usd"].fill_null(0).sum()
    nulls = win["liq_long_usd"].null_count() + win["liq_short_usd"].null_count()
    return None if nulls == 2 * win.height else float(total)


def _path(*keys: str) -> Callable[[Any], float | None]:
    def get(result: Any) -> float | None:
        node: Any = result.summary
        for k in keys:
            node = node.get(k) if isinstance(node, dict) else None
        return None if node is None else float(node)

    return get


def _etf(key: str, sub: str) -> Callable[[Any], float | None]:
    def get(result: Any) -> float | None:
        flows = _first_etf(result)
        part = None if flows is None else flows.get(key)
        return None if part is None else float(part[sub])

    return get


def _fear_greed(result: Any) -> float | None:
    pub = (_daily(result).get("fear_greed") or {}).get("published")
    return None if pub is None else float(pub["value"])


def _market_cap(result: Any) -> float | None:
    market = _daily(result).get("market") or {}
    return market.get("total_usd")


FIGURES: dict[str, tuple[str, Callable[[Any], float | None]]] = {
    "close": ("last close in USD (the bars' last close, else BTC's daily close)", _close),
    "change_24h": (
        "the bars' 24 h change, a fraction (-0.05 = -5%)",
        _path("price", "change_24h_pct"),
    ),
    "liq_1h_usd": (
        "long + short liquidations of the bars in the last hour, USD",
        lambda r: _liq(r, 1),
    ),
    "liq_24h_usd": (
        "long + short liquidations of the bars in the last 24 h, USD",
        lambda r: _liq(r, 24),
    ),
    "sentiment": ("the market's own sentiment index, 0-100", _path("sentiment", "value")),
    "fear_greed": ("the published Fear & Greed on the report day, 0-100", _fear_greed),
    "etf_flow_day": (
        "the last ETF flow day's total, USD (BTC funds first)",
        _etf("last_day", "total_usd"),
    ),
    "etf_flow_5d": ("the last 5 ETF flow days' sum, USD", _etf("sum_5d", "usd")),
    "market_cap": ("total crypto market cap on the report day, USD", _market_cap),
}
"""Figures a rule may name: description and how it is read from a monitor result."""


def figures(result: Any) -> dict[str, float | None]:
    """Every figure of :data:`FIGURES` in ``result`` (None where the report lacks it)."""
    return {name: get(result) for name, (_, get) in FIGURES.items()}


@dataclass(frozen=True)
class Rule:
    name: str
    figure: str
    op: str
    threshold: float
    number: str = ""  # the threshold as written in the file

    @property
    def text(self) -> str:
        return f"{self.figure} {self.op} {self.number or format(self.threshold, 'g')}"

    def holds(self, values: dict[str, float | None]) -> bool:
        value = values.get(self.figure)
        return value is not None and OPERATORS[self.op](value, self.threshold)


def parse_rule(name: str, text: Any, where: str) -> Rule:
    """One rule ``FIGURE OP NUMBER`` (see the module docstring)."""
    field_ = f"{where}: alerts.{name}"
    if not isinstance(text, str):
        raise InvalidInputError(field_, text, "a string 'FIGURE OP NUMBER', e.g. 'close < 60000'")
    m = _RULE.match(text)
    if m is None:
        raise InvalidInputError(field_, text, "'FIGURE OP NUMBER', e.g. 'close < 60000'")
    figure, op, number = m.groups()
    if figure not in FIGURES:
        raise InvalidInputError(f"{field_}: figure", figure, f"one of {sorted(FIGURES)}")
    if op not in OPERATORS:
        raise InvalidInputError(f"{field_}: operator", op, f"one of {list(OPERATORS)}")
    try:
        threshold = float(number)
    except ValueError:
        threshold = float("nan")
    if threshold != threshold or threshold in (float("inf"), float("-inf")):
        raise InvalidInputError(f"{field_}: threshold", number, "a finite number, e.g. 250e6")
    return Rule(name, figure, op, threshold, number)


def read_rules(path: str | Path) -> list[Rule]:
    """The rules of an alert TOML (``[alerts]`` table of name = "FIGURE OP NUMBER").

    Raises:
        InvalidInputError: the file is absent, not TOML, has no ``[alerts]`` table with at least
            one rule, or a rule names an unknown figure, a bad operator or a bad number.
    """
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise InvalidInputError("--alert", str(path), "an existing TOML file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInputError(
            "--alert", str(path), f"a readable UTF-8 TOML file ({type(exc).__name__}: {exc})"
        ) from None
    table = doc.get("alerts")
    if not isinstance(table, dict) or not table:
        raise InvalidInputError(
            f"{path.name}: [alerts]",
            table,
            'a table of rules, e.g. [alerts] btc_below_60k = "close < 60000"',
        )
    return [parse_rule(name, text, path.name) for name, text in table.items()]


@dataclass
class Alerts:
    """The rules and which of them held at the last check."""

    rules: list[Rule]
    active: set[str] = field(default_factory=set)

    def check(self, values: dict[str, float | None]) -> list[Rule]:
        """The rules that fire now (true now, false at the previous check)."""
        fired = []
        for rule in self.rules:
            if rule.holds(values):
                if rule.name not in self.active:
                    fired.append(rule)
                self.active.add(rule.name)
            else:
                self.active.discard(rule.name)
        return fired


def record(
    rule: Rule, values: dict[str, float | None], at: str | None, time: str
) -> dict[str, Any]:
    """The ``alerts.jsonl`` record of a firing."""
    return {
        "time": time,
        "as_of": at,
        "rule": rule.name,
        "condition": rule.text,
        "figure": rule.figure,
        "value": values[rule.figure],
        "threshold": rule.threshold,
    }


def append_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    """Append ``records`` to ``path``, one JSON line each, in one write."""
    if not records:
        return
    data = "".join(json.dumps(r) + "\n" for r in records)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(data)
