"""DuckDB over a store's rows: the view ``runs`` over ``DIR/rows/*.parquet``, read-only.

Files are read with ``union_by_name`` so a failed run's row (no summary columns) and successful
rows sit in one table, missing columns as NULL.

A query reads the store and nothing else: the connection is in memory (there is no database
file to open read-only), file access is limited to ``DIR/rows/`` (``allowed_directories`` with
``enable_external_access = false``), extensions are neither installed nor loaded, and the
configuration is locked before the view is created. On top of that, one statement is run and only when it reads
(``SELECT``, ``WITH``, ``FROM``, ``VALUES``, ``DESCRIBE``, ``SHOW``, ``SUMMARIZE`` or
``EXPLAIN`` of one of these): ``COPY``, ``ATTACH``, ``INSTALL``, ``LOAD``, ``CREATE``,
``DROP``, ``INSERT``, ``PRAGMA``, ``SET`` and the rest are refused with a message.

A store file that cannot be read (truncated, garbled) is named in the error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from margincall.core.errors import InvalidInputError
from margincall.store.rows import corrupt_error, rows_dir, unreadable

ALLOWED = "one read-only query on the view runs (SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN)"
_EXPLAIN = re.compile(r"EXPLAIN\s+(?:ANALY[SZ]E\s+)?(.*)", re.IGNORECASE | re.DOTALL)
_READ = "SELECT * FROM read_parquet('{}', union_by_name = true)"
_CHECK = f"SELECT bit_xor(hash(COLUMNS(*))) FROM ({_READ})"  # decodes every value
_KEYWORD = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*(\w+)", re.DOTALL)


def _store_files(out: Path) -> Path:
    folder = rows_dir(out)
    if not folder.is_dir() or not any(folder.glob("*.parquet")):
        raise InvalidInputError(
            "DIR", str(out), "a sweep output folder with finished runs (DIR/rows/*.parquet)"
        )
    return folder


def connect(out: Path):
    """An in-memory DuckDB connection with the view ``runs`` over the store in ``out``, that
    can read no other file, load no extension and change no setting."""
    import duckdb

    folder = _store_files(out).resolve()
    con = duckdb.connect(
        ":memory:",
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
    )
    allowed = (str(folder) + "/").replace("'", "''")
    con.execute(f"SET allowed_directories = ['{allowed}']")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    glob = str(folder / "*.parquet").replace("'", "''")
    try:  # binding the view reads every file's footer
        con.execute(f"CREATE VIEW runs AS {_READ.format(glob)}")
    except duckdb.Error as exc:
        bad = _corrupt_file(con, folder)
        con.close()
        if bad is not None:
            raise corrupt_error(*bad) from None
        raise InvalidInputError("DIR", str(out), f"a readable store ({_first_line(exc)})") from None
    return con


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _keyword(statement: str) -> str:
    """The first word of a statement, after any leading comments."""
    m = _KEYWORD.match(statement)
    return m.group(1).upper() if m else "(none)"


def _check_reads_only(con, sql: str) -> None:
    """Refuse anything but one reading statement (an ``EXPLAIN`` must explain one)."""
    import duckdb

    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise InvalidInputError("SQL", sql, f"{ALLOWED} ({_first_line(exc)})") from None
    if not statements:
        raise InvalidInputError("SQL", sql, f'{ALLOWED}, e.g. "SELECT * FROM runs LIMIT 10"')
    if len(statements) > 1:
        raise InvalidInputError("SQL", sql, f"{ALLOWED}; this is {len(statements)} statements")
    (st,) = statements
    if st.type == duckdb.StatementType.SELECT:
        return
    word = _keyword(st.query)
    if st.type == duckdb.StatementType.EXPLAIN:
        inner = _EXPLAIN.match(_KEYWORD.sub(r"\1", st.query, count=1))
        inner_st = con.extract_statements(inner.group(1)) if inner else []
        if len(inner_st) == 1 and inner_st[0].type == duckdb.StatementType.SELECT:
            return
        word = f"EXPLAIN {_keyword(inner.group(1)) if inner else ''}".strip()
    raise InvalidInputError("SQL", sql, f"{ALLOWED}; {word} is refused")


def _corrupt_file(con, folder: Path) -> tuple[Path, str] | None:
    """The first store file that cannot be read whole, with the reader's message; None when
    every file reads (so a failing query is the query's fault)."""
    import duckdb

    try:
        con.execute(_CHECK.format(str(folder / "*.parquet").replace("'", "''"))).fetchall()
        return None
    except duckdb.Error:
        pass
    for f in sorted(folder.glob("*.parquet")):
        problem = unreadable(f)
        if problem is None:
            try:
                con.execute(_CHECK.format(str(f).replace("'", "''"))).fetchall()
            except duckdb.Error as exc:
                problem = _first_line(exc)
        if problem is not None:
            return f, problem
    return None


def query(out: Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one read-only ``sql`` against the view ``runs``; returns column names and rows."""
    import duckdb

    con = connect(out)
    try:
        _check_reads_only(con, sql)
        try:
            cur = con.execute(sql)
            rows = cur.fetchall()
            names = [d[0] for d in cur.description or ()]
        except duckdb.PermissionException as exc:
            raise InvalidInputError(
                "SQL",
                sql,
                f"{ALLOWED}: it cannot read or write files other than the store's "
                f"({_first_line(exc)})",
            ) from None
        except (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException) as exc:
            raise InvalidInputError(
                "SQL", sql, f"a query on the view runs ({_first_line(exc)})"
            ) from None
        except duckdb.Error as exc:
            bad = _corrupt_file(con, rows_dir(out).resolve())
            if bad is not None:
                raise corrupt_error(*bad) from None
            raise InvalidInputError(
                "SQL", sql, f"a query on the view runs ({_first_line(exc)})"
            ) from None
    finally:
        con.close()
    return names, rows


def columns(out: Path) -> list[str]:
    """The columns of the view ``runs``."""
    return query(out, "SELECT * FROM runs LIMIT 0")[0]
