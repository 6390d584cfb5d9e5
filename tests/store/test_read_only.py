"""``runs query`` reads the store and nothing else: statements that write, attach, install,
load, change settings or read other files are refused with a one-line message; the README's
example queries still answer; a store file that cannot be read is named in the error."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from margincall.core.errors import InvalidInputError
from margincall.store.db import query
from margincall.store.rows import finished, flatten, rows_dir, write_rows

README = Path(__file__).resolve().parents[2] / "README.md"
ONLY = "one read-only query on the view runs"


def _row(i: int) -> dict:
    return {
        "run_id": f"{i:05d}-x",
        "run_index": i,
        "status": "ok",
        "error": None,
        "seed": i,
        "param_market_insurance_fund_usd": [1e8, 1e9][i % 2],
        "param_population_retail_leverage_max": [50, 125][i // 2],
        **flatten({"liquidations": {"total_usd": 1e6 * i, "accounts": i}, "adl_events": i % 3}),
        "wall_seconds": 0.5,
    }


@pytest.fixture
def store(tmp_path):
    out = tmp_path / "store"
    for i in range(4):
        write_rows(out, f"{i:05d}-x", [_row(i)])
    return out


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "margincall.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _readme_queries() -> list[str]:
    text = README.read_text("utf-8")
    found = re.findall(r'margincall runs query \S+ "(.*?)"', text, re.DOTALL)
    assert found, "the README documents no runs query"
    return found


def test_readme_example_queries_still_answer(store):
    for sql in [*_readme_queries(), "SELECT * FROM runs LIMIT 10"]:
        names, rows = query(store, sql)
        assert names and rows, sql
    _, rows = query(store, _readme_queries()[0])
    assert rows == [(1e8, 0.5), (1e9, 0.5)]  # adl_events 0 and 2 at 1e8; 1 and 0 at 1e9


@pytest.mark.parametrize(
    "sql",
    ["DESCRIBE runs", "SHOW TABLES", "SUMMARIZE runs", "EXPLAIN SELECT * FROM runs", "FROM runs"],
)
def test_other_reading_statements_answer(store, sql):
    assert query(store, sql)[1]


def _outside(tmp_path: Path) -> Path:
    other = tmp_path / "other"
    write_rows(other, "secret", [{"run_id": "secret", "status": "ok"}])
    return rows_dir(other) / "secret.parquet"


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        ("COPY runs TO '{tmp}/copied.csv'", "COPY is refused"),
        ("COPY (SELECT 1) TO '{rows}/inside.csv'", "COPY is refused"),
        ("ATTACH '{tmp}/attached.duckdb'", "ATTACH is refused"),
        ("SELECT * FROM read_csv('/etc/passwd')", "cannot read or write files other than"),
        ("SELECT * FROM read_text('{rows}/../../../etc/passwd')", "cannot read or write files"),
        ("SELECT * FROM read_parquet('{outside}')", "cannot read or write files other than"),
        ("INSTALL httpfs", "INSTALL is refused"),
        ("LOAD httpfs", "LOAD is refused"),
        ("DROP VIEW runs", "DROP is refused"),
        ("CREATE TABLE t AS SELECT * FROM runs", "CREATE is refused"),
        ("INSERT INTO runs VALUES (1)", "INSERT is refused"),
        ("PRAGMA version", "PRAGMA is refused"),
        ("SET enable_external_access = true", "SET is refused"),
        ("CALL pragma_version()", "CALL is refused"),
        ("EXPORT DATABASE '{tmp}/exported'", "EXPORT is refused"),
        ("EXPLAIN ANALYZE DROP VIEW runs", "EXPLAIN DROP is refused"),
        ("-- a comment\n/* another */ COPY runs TO '{tmp}/c.csv'", "COPY is refused"),
        ("SELECT 1; DROP VIEW runs", "this is 2 statements"),
        ("", 'e.g. "SELECT * FROM runs LIMIT 10"'),
        ("  -- only a comment", 'e.g. "SELECT * FROM runs LIMIT 10"'),
    ],
)
def test_anything_but_a_read_of_the_store_is_refused(store, tmp_path, sql, says):
    sql = sql.format(tmp=tmp_path, rows=rows_dir(store).resolve(), outside=_outside(tmp_path))
    with pytest.raises(InvalidInputError) as exc:
        query(store, sql)
    msg = str(exc.value)
    assert says in msg and ONLY in msg and "\n" not in msg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "store"]  # nothing written
    assert sorted(p.name for p in rows_dir(store).iterdir()) == [
        f"{i:05d}-x.parquet" for i in range(4)
    ]
    assert query(store, "SELECT count(*) FROM runs")[1] == [(4,)]  # the view is still there


def test_cli_refuses_with_exit_2_and_one_line(store, tmp_path):
    for sql in ("", f"COPY runs TO '{tmp_path}/x.csv'", "SELECT * FROM read_csv('/etc/passwd')"):
        r = cli("runs", "query", str(store), sql)
        assert r.returncode == 2, (sql, r.stdout, r.stderr)
        assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
        assert "Traceback" not in r.stderr
    assert not (tmp_path / "x.csv").exists()


def _garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[4:34] = b"\xff" * 30  # the first column chunk, just after the magic bytes
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("damage", [_garble, _truncate])
def test_a_corrupt_store_file_is_named(store, damage):
    bad = rows_dir(store) / "00002-x.parquet"
    damage(bad)
    with pytest.raises(InvalidInputError) as exc:
        query(store, "SELECT * FROM runs")
    msg = str(exc.value)
    assert str(bad.resolve()) in msg and "a readable Parquet file" in msg and "\n" not in msg
    r = cli("runs", "query", str(store), "SELECT * FROM runs")
    assert r.returncode == 2 and "00002-x.parquet" in r.stderr and "Traceback" not in r.stderr


def test_a_truncated_store_file_stops_a_resume_with_its_name(store):
    bad = rows_dir(store) / "00001-x.parquet"
    _truncate(bad)
    with pytest.raises(InvalidInputError, match=re.escape(str(bad))):
        finished(store)


def test_a_query_error_on_a_sound_store_is_the_query_s(store):
    with pytest.raises(InvalidInputError, match="Conversion Error") as exc:
        query(store, "SELECT 'a'::INT FROM runs")
    assert "store file" not in str(exc.value)
