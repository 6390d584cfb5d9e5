"""DuckDB over a store's rows: the view ``runs`` over ``DIR/rows/*.parquet``.

Files are read with ``union_by_name`` so a failed run's row (no summary columns) and successful
rows sit in one table, missing columns as NULL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from margincall.core.errors import InvalidInputError
from margincall.store.rows import rows_dir


def connect(out: Path):
    """An in-memory DuckDB connection with the view ``runs`` over the store in ``out``."""
    import duckdb

    folder = rows_dir(out)
    if not folder.is_dir() or not any(folder.glob("*.parquet")):
        raise InvalidInputError(
            "DIR", str(out), "a sweep output folder with finished runs (DIR/rows/*.parquet)"
        )
    con = duckdb.connect(":memory:")
    glob = str(folder / "*.parquet").replace("'", "''")
    con.execute(f"CREATE VIEW runs AS SELECT * FROM read_parquet('{glob}', union_by_name = true)")
    return con


def query(out: Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ``sql`` against the view ``runs``; returns column names and rows."""
    import duckdb

    con = connect(out)
    try:
        cur = con.execute(sql)
    except duckdb.Error as exc:
        raise InvalidInputError("SQL", sql, f"a query on the view runs ({exc})") from None
    if cur.description is None:
        return [], []
    return [d[0] for d in cur.description], cur.fetchall()


def columns(out: Path) -> list[str]:
    """The columns of the view ``runs``."""
    return query(out, "SELECT * FROM runs LIMIT 0")[0]
