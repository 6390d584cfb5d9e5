"""Rows of a results store: one small Parquet file per finished run, written atomically.

A run's file ``DIR/rows/RUN_ID.parquet`` is written under a temporary name that does not end in
``.parquet`` and renamed with :func:`os.replace`, so a reader (or a resumed sweep) sees a run's
rows whole or not at all, whatever interrupted the writer. A run has one row (a simulation) or
several (a stress grid: one per cell); every row carries the run's id.

Columns: ``run_id``, ``run_index``, ``kind``, ``status`` (``ok`` or ``failed``), ``error``,
``seed``, ``params`` (JSON), one ``param_<path>`` column per varied parameter (dots become
``_``), every summary field flattened with ``_`` (``liquidations_total_usd``, ``adl_events``,
...), and ``wall_seconds`` (the only column that depends on the machine).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from margincall.core.errors import InvalidInputError

ROWS = "rows"
WALL = "wall_seconds"


def rows_dir(out: Path) -> Path:
    return Path(out) / ROWS


def param_column(path: str) -> str:
    """The column of a dotted scenario path: ``param_market_insurance_fund_usd``."""
    return "param_" + path.replace(".", "_")


def flatten(summary: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested summary dicts to ``a_b_c`` keys; lists become JSON text."""
    out: dict[str, Any] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "_"))
        elif isinstance(value, list | tuple):
            out[name] = json.dumps(value)
        elif hasattr(value, "item"):  # numpy scalars
            out[name] = value.item()
        else:
            out[name] = value
    return out


def _column(values: list[Any]) -> pa.Array:
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return pa.array(values, pa.float64())  # all missing: a numeric null
    if kinds <= {bool}:
        return pa.array(values, pa.bool_())
    if kinds <= {int}:
        return pa.array(values, pa.int64())
    if kinds <= {int, float}:
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    return pa.array([None if v is None else str(v) for v in values], pa.string())


def write_rows(out: Path, run_id: str, rows: list[dict[str, Any]]) -> Path:
    """Write a run's rows to ``DIR/rows/RUN_ID.parquet`` atomically (replacing an old file)."""
    folder = rows_dir(out)
    folder.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    for row in rows:
        names += [k for k in row if k not in names]
    table = pa.table({n: _column([r.get(n) for r in rows]) for n in names})
    final = folder / f"{run_id}.parquet"
    tmp = folder / f".{run_id}.{os.getpid()}.tmp"
    try:
        pq.write_table(table, tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final


def corrupt_error(path: Path, problem: str) -> InvalidInputError:
    """The error of a store file that cannot be read."""
    return InvalidInputError(
        "store file",
        str(path),
        f"a readable Parquet file of a finished run ({problem}); move it away and run the "
        "sweep again to redo that run",
    )


def _problem(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def unreadable(path: Path) -> str | None:
    """Why the rows file ``path`` cannot be read whole, or None when it can."""
    try:
        pq.read_table(path).validate(full=True)
    except (pa.ArrowException, OSError) as exc:
        return _problem(exc)
    return None


def finished(out: Path) -> dict[str, str]:
    """``run_id -> status`` of every run with a complete rows file; a file that cannot be read
    is an error naming it."""
    folder = rows_dir(out)
    if not folder.is_dir():
        return {}
    status: dict[str, str] = {}
    for f in sorted(folder.glob("*.parquet")):
        try:
            col = pq.read_table(f, columns=["status"]).column("status").to_pylist()
        except (pa.ArrowException, OSError, KeyError) as exc:
            raise corrupt_error(f, _problem(exc)) from None
        status[f.stem] = "failed" if "failed" in col else "ok"
    return status


def clean_temporaries(out: Path) -> int:
    """Remove temporary files left by an interrupted writer; returns how many."""
    folder = rows_dir(out)
    n = 0
    for f in folder.glob(".*.tmp") if folder.is_dir() else ():
        f.unlink(missing_ok=True)
        n += 1
    return n
