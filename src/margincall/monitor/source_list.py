"""Which column of which file: a column mapping per source, from ``--mapping FILE:col=name`` or
from a sources TOML (``--sources FILE``), so files that name their columns differently (a
closes file and a liquidations file, two flows tables) are read together.

A sources TOML lists the sources, each an ``[[source]]`` table::

    [[source]]
    kind = "bars"                      # bars, etf_flows, market_cap, closes, fear_greed
    path = "btc_close.csv"             # relative to the TOML's folder
    columns = { ts = "Date", close = "Close" }

    [[source]]
    kind = "closes"
    path = "eth_daily.csv"
    symbol = "ETH"                     # closes: the symbol; etf_flows: the asset; bars: the
    columns = { date = "Day", close = "Last" }  # report's symbol (as --symbol)

Keys other than ``kind``, ``path``, ``symbol`` and ``columns``, an unknown kind, a column key
that the kind does not have (:data:`COLUMNS`), a ``symbol`` for ``market_cap`` or
``fear_greed``, two market-cap or Fear & Greed sources, or bar sources naming different
symbols are refused with the file, the source's position and the key. A column that is not in
the file is refused by the reader, naming the file and ``columns.KEY``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from margincall.core.errors import InvalidInputError
from margincall.monitor.schema import BAR_SCHEMA
from margincall.sources import closes, fear_greed, flows, market_cap

COLUMNS: dict[str, tuple[str, ...]] = {
    "bars": tuple(BAR_SCHEMA),
    "etf_flows": flows.COLUMNS,
    "market_cap": market_cap.COLUMNS,
    "closes": closes.COLUMNS,
    "fear_greed": fear_greed.COLUMNS,
}
"""The kinds of source and the columns a mapping of each may name."""
KEYS = ("kind", "path", "symbol", "columns")


def file_key(path: str | Path) -> str:
    """The key of a file in :class:`Mappings` (its absolute, normalised path)."""
    return os.path.normpath(os.path.abspath(str(path)))


@dataclass(frozen=True)
class Mappings:
    """Column mappings: ``every`` for every bar table (``--mapping close=Close``) and ``files``
    per file (``--mapping FILE:..``, ``--sources``: :func:`file_key` -> ``{canonical:
    column}``). A file's own mapping wins over the one an option gives every file of its kind."""

    every: Mapping[str, str] | None = None
    files: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def of_bars(cls, mapping: Mapping[str, str] | Mappings | None) -> Mappings:
        """``mapping`` as :class:`Mappings` (a plain mapping applies to every bar table)."""
        return mapping if isinstance(mapping, Mappings) else cls(every=mapping or None)

    def of(
        self, path: str | Path, every: Mapping[str, str] | None = None
    ) -> Mapping[str, str] | None:
        """The mapping of ``path``: its own, else ``every``."""
        return self.files.get(file_key(path)) or every


def split_file_mapping(text: str) -> tuple[str | None, str]:
    """``FILE:col=name,..`` as ``(FILE, "col=name,..")``; ``col=name,..`` as ``(None, text)``."""
    head, sep, _ = text.partition("=")
    file, colon, _ = head.rpartition(":")
    if not sep or not colon or not file or "," in file:
        return None, text
    return file, text[len(file) + 1 :]


@dataclass
class SourceList:
    """The sources of a sources TOML, as the command-line options would give them."""

    bars: list[str] = field(default_factory=list)
    etf_flows: list[str] = field(default_factory=list)
    closes: list[str] = field(default_factory=list)
    market_cap: str | None = None
    fear_greed: str | None = None
    symbol: str | None = None
    files: dict[str, dict[str, str]] = field(default_factory=dict)

    def merged_into(self, daily: Any, mappings: Mappings) -> tuple[Any, Mappings]:
        """``daily`` (a :class:`~margincall.monitor.daily.DailyInputs`) and ``mappings`` with
        these sources and their columns added (the daily inputs carry the mappings too); a
        market cap or Fear & Greed given twice is refused."""
        for kind in ("market_cap", "fear_greed"):
            if getattr(self, kind) and getattr(daily, kind):
                raise InvalidInputError(
                    f"--sources {kind}", getattr(self, kind), f"one {kind} source (also given)"
                )
        mappings = Mappings(mappings.every, {**mappings.files, **self.files})
        daily = replace(
            daily,
            etf_flows=[*daily.etf_flows, *self.etf_flows],
            closes=[*daily.closes, *self.closes],
            market_cap=self.market_cap or daily.market_cap,
            fear_greed=self.fear_greed or daily.fear_greed,
            mappings=mappings,
        )
        return daily, mappings


def read_source_list(path: str | Path) -> SourceList:
    """The sources TOML at ``path`` (module docstring).

    Raises:
        InvalidInputError: the file is absent or not UTF-8 TOML, or an entry is not as the
            module docstring says.
    """
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise InvalidInputError("--sources", str(path), "an existing TOML file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInputError(
            "--sources", str(path), f"a readable UTF-8 TOML file ({type(exc).__name__}: {exc})"
        ) from None
    extra = sorted(set(doc) - {"source"})
    entries = doc.get("source")
    if extra or not isinstance(entries, list) or not entries:
        raise InvalidInputError(
            f"{path.name}: {extra[0] if extra else '[[source]]'}",
            extra[0] if extra else entries,
            '[[source]] tables only, at least one, e.g. [[source]] kind = "closes" path = "..."',
        )
    out = SourceList()
    for i, entry in enumerate(entries, 1):
        _add(out, path, i, entry)
    return out


def _add(out: SourceList, toml: Path, i: int, entry: Any) -> None:
    where = f"{toml.name}: source {i}"
    if not isinstance(entry, dict):
        raise InvalidInputError(where, entry, "a [[source]] table")
    for key in entry:
        if key not in KEYS:
            raise InvalidInputError(f"{where}: key", key, f"one of {list(KEYS)}")
    kind = entry.get("kind")
    if kind not in COLUMNS:
        raise InvalidInputError(f"{where}: kind", kind, f"one of {list(COLUMNS)}")
    where = f"{where} ({kind})"
    file = entry.get("path")
    if not isinstance(file, str) or not file.strip():
        raise InvalidInputError(f"{where}: path", file, "a file path (relative to the TOML)")
    file = file if file.startswith("ccxt:") else str(toml.parent / file)
    symbol = entry.get("symbol")
    if symbol is not None and (kind in ("market_cap", "fear_greed") or not _ticker(symbol)):
        expected = "no symbol for this kind" if kind in ("market_cap", "fear_greed") else ""
        raise InvalidInputError(f"{where}: symbol", symbol, expected or "a ticker, e.g. BTC")
    columns = entry.get("columns", {})
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise InvalidInputError(f"{where}: columns", columns, '{ close = "Close", ... }')
    for key in columns:
        if key not in COLUMNS[kind]:
            raise InvalidInputError(f"{where}: columns.{key}", key, f"one of {list(COLUMNS[kind])}")
    if columns:
        out.files[file_key(file)] = dict(columns)
    spec = f"{symbol.upper()}={file}" if symbol else file
    if kind == "bars":
        if symbol and out.symbol and symbol.upper() != out.symbol:
            raise InvalidInputError(f"{where}: symbol", symbol, f"{out.symbol}, as before")
        out.symbol = symbol.upper() if symbol else out.symbol
        out.bars.append(file)
    elif kind in ("etf_flows", "closes"):
        getattr(out, kind).append(spec)
    elif getattr(out, kind) is not None:
        raise InvalidInputError(f"{where}: kind", kind, f"one {kind} source")
    else:
        setattr(out, kind, file)


def _ticker(symbol: Any) -> bool:
    return isinstance(symbol, str) and symbol.isalnum() and 2 <= len(symbol) <= 10


def parse_mappings(texts: Sequence[str], parse: Any) -> Mappings:
    """``--mapping`` values (each parsed by ``parse``): one without a file for every bar table,
    and ``FILE:col=name,..`` ones, each for its file (of any kind)."""
    every, files = None, {}
    for text in texts:
        file, pairs = split_file_mapping(text)
        if file is None:
            every = parse(text)
        else:
            files[file_key(file)] = parse(pairs)
    return Mappings(every, files)
