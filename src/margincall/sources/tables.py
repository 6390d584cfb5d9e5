"""What every reader of :mod:`margincall.sources` shares: opening a CSV, Parquet or JSON file
with errors that name the file and the formats tried, and turning text cells into dates and
numbers with errors that name the first bad row (its line in the file) and field.

Cells are read as text (CSV) and converted here, so a bad cell is reported where it is, not
as a polars inference error. Numbers accept ``1,234.5`` (thousands separators), ``(12.3)``
(an accounting negative, as Farside writes outflows on its site) and an empty cell or ``-``
(no figure: null). Dates accept ``YYYY-MM-DD``, an ISO 8601 time (its UTC day) or a Parquet
date or datetime column.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from margincall.core.errors import InvalidInputError

_ACCOUNTING = re.compile(r"^\((.*)\)$")


class Source:
    """A file being read: its path, the formats tried (named in every error) and whether its
    rows start on line 2 (a CSV with a header) or 1 (Parquet, JSON records)."""

    def __init__(self, path: str | Path, formats: Sequence[str]) -> None:
        self.path = Path(path)
        self.formats = tuple(formats)
        self.first_line = 1

    def error(self, field: str, value: Any, expected: str) -> InvalidInputError:
        """An error naming this file, ``field`` (e.g. ``line 5, column date``) and the formats."""
        tried = "; ".join(self.formats)
        return InvalidInputError(
            f"{self.path}: {field}" if field else str(self.path),
            value,
            f"{expected} (formats tried: {tried})",
        )

    def row_error(self, index: int, column: str, value: Any, expected: str) -> InvalidInputError:
        return self.error(f"line {index + self.first_line}, column {column}", value, expected)

    def text(self) -> str:
        """The whole file as UTF-8 text; an absent, empty or non-UTF-8 file is refused."""
        if not self.path.is_file():
            raise self.error("", str(self.path), "an existing file")
        data = self.path.read_bytes()
        if not data.strip():
            raise self.error("", "(empty file)", "a file with a header and at least one row")
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise self.error(
                f"line {line}", f"byte {exc.start}", "UTF-8 text (this byte is not UTF-8)"
            ) from None

    def table(self) -> pl.DataFrame:
        """A CSV (every cell as text) or Parquet file, with at least one row."""
        if self.path.suffix.lower() in (".parquet", ".pq"):
            if not self.path.is_file():
                raise self.error("", str(self.path), "an existing file")
            try:
                frame = pl.read_parquet(self.path)
            except (OSError, pl.exceptions.PolarsError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise self.error("", f"{type(exc).__name__}: {first}", "a Parquet file") from None
            self.first_line = 1
        else:
            text = self.text()
            try:
                frame = pl.read_csv(text.encode(), infer_schema=False, truncate_ragged_lines=False)
            except pl.exceptions.PolarsError as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise self.error("", f"{type(exc).__name__}: {first}", "a CSV table") from None
            self.first_line = 2
            header = next(csv.reader(io.StringIO(text)), [])
            if len(header) == frame.width and len(set(header)) == len(header):
                frame.columns = header  # polars keeps a header cell's doubled quotes ("")
        if frame.height == 0:
            raise self.error("", "(no rows)", "a table with at least one row")
        return frame

    def json(self) -> Any:
        """The file parsed as JSON."""
        try:
            return json.loads(self.text())
        except json.JSONDecodeError as exc:
            raise self.error(f"line {exc.lineno}", exc.msg, "valid JSON") from None

    def column(self, frame: pl.DataFrame, names: Sequence[str], what: str) -> str:
        """The first of ``names`` that is a column of ``frame`` (case-insensitively)."""
        lower = {c.strip().lower(): c for c in frame.columns}
        for n in names:
            if n.lower() in lower:
                return lower[n.lower()]
        raise self.error(f"{what} column", frame.columns, f"a column named one of {list(names)}")

    def pick(
        self,
        frame: pl.DataFrame,
        mapping: Mapping[str, str],
        key: str,
        names: Sequence[str],
        what: str,
    ) -> str:
        """The column ``mapping[key]`` (which must be a column of ``frame``), else the first of
        ``names`` (:meth:`column`)."""
        if key not in mapping:
            return self.column(frame, names, what)
        if mapping[key] not in frame.columns:
            raise self.error(
                f"columns.{key}", mapping[key], f"a column of the file {frame.columns}"
            )
        return mapping[key]

    @staticmethod
    def check_keys(mapping: Mapping[str, str] | None, keys: Sequence[str], kind: str) -> dict:
        """``mapping`` as a dict, every key one of ``keys`` (the canonical names of ``kind``)."""
        out = dict(mapping or {})
        for key in out:
            if key not in keys:
                raise InvalidInputError(f"{kind} column mapping key", key, f"one of {list(keys)}")
        return out

    def dates(self, frame: pl.DataFrame, column: str) -> pl.Series:
        """The column as UTC days; the first cell that is not a date is refused."""
        col = frame[column]
        if col.dtype == pl.Date:
            out = col
        elif isinstance(col.dtype, pl.Datetime):
            out = col.dt.date()
        else:
            values = [self._date(i, column, v) for i, v in enumerate(col.cast(pl.String))]
            out = pl.Series(column, values, pl.Date)
        if out.null_count():
            i = int(out.is_null().arg_max() or 0)
            raise self.row_error(i, column, None, "a date (YYYY-MM-DD)")
        return out.alias("date")

    def numbers(self, frame: pl.DataFrame, column: str) -> pl.Series:
        """The column as Float64 (null for an empty cell); a cell that is not a number is
        refused."""
        col = frame[column]
        if col.dtype.is_numeric():
            return col.cast(pl.Float64)
        values = [self._number(i, column, v) for i, v in enumerate(col.cast(pl.String))]
        return pl.Series(column, values, pl.Float64)

    def lines(self, n: int) -> pl.Series:
        return pl.Series("line", range(self.first_line, self.first_line + n), pl.Int64)

    def _date(self, i: int, column: str, v: str | None) -> date:
        s = (v or "").strip()
        try:
            if len(s) == 10:
                return date.fromisoformat(s)
            return datetime.fromisoformat(s.replace("Z", "+00:00")).date()
        except ValueError:
            raise self.row_error(i, column, v, "a date (YYYY-MM-DD)") from None

    def _number(self, i: int, column: str, v: str | None) -> float | None:
        s = (v or "").strip().replace(",", "")
        if s in ("", "-"):
            return None
        m = _ACCOUNTING.match(s)
        try:
            x = -float(m.group(1)) if m else float(s)
        except ValueError:
            raise self.row_error(i, column, v, "a number (or an empty cell)") from None
        if x != x or x in (float("inf"), float("-inf")):
            raise self.row_error(i, column, v, "a finite number")
        return x


def check_sorted_unique(src: Source, frame: pl.DataFrame) -> None:
    """Refuse dates (of a frame with ``date`` and ``line``) that repeat or go backwards, naming
    the first such line."""
    days = frame["date"].to_list()
    lines = frame["line"].to_list()
    for i in range(1, len(days)):
        if days[i] <= days[i - 1]:
            raise src.error(
                f"line {lines[i]}, column date",
                str(days[i]),
                f"dates in increasing order, each once (line {lines[i - 1]} is {days[i - 1]})",
            )
