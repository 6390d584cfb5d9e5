"""The results store: atomic row files, the DuckDB view runs, and the runs query/plot CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from margincall.core.errors import InvalidInputError
from margincall.store.db import columns, query
from margincall.store.rows import clean_temporaries, finished, flatten, rows_dir, write_rows


def _ok(i: int, fund: float, liq: float) -> dict:
    return {
        "run_id": f"{i:05d}-x",
        "run_index": i,
        "status": "ok",
        "error": None,
        "seed": i,
        "param_market_insurance_fund_usd": fund,
        **flatten({"liquidations": {"total_usd": liq, "events": i}, "ok": True}),
        "wall_seconds": 0.5,
    }


@pytest.fixture
def store(tmp_path):
    out = tmp_path / "store"
    for i, (fund, liq) in enumerate([(1e8, 10.0), (1e8, 30.0), (1e9, 5.0), (1e9, 7.0)]):
        write_rows(out, f"{i:05d}-x", [_ok(i, fund, liq)])
    failed = {"run_id": "00004-x", "run_index": 4, "status": "failed", "error": "Boom: no"}
    write_rows(out, "00004-x", [{**failed, "seed": 4, "wall_seconds": 0.1}])
    return out


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "margincall.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_flatten_nests_with_underscores():
    assert flatten({"a": {"b": 1, "c": {"d": None}}, "e": [1, 2]}) == {
        "a_b": 1,
        "a_c_d": None,
        "e": "[1, 2]",
    }


def test_rows_are_whole_files_and_temporaries_are_invisible(store):
    (rows_dir(store) / ".00009-x.123.tmp").write_bytes(b"PAR1 half a file")
    assert finished(store) == {f"{i:05d}-x": "ok" for i in range(4)} | {"00004-x": "failed"}
    assert query(store, "SELECT count(*) FROM runs") == (["count_star()"], [(5,)])
    assert clean_temporaries(store) == 1
    assert not list(rows_dir(store).glob(".*"))
    table = pq.read_table(rows_dir(store) / "00001-x.parquet")
    assert table.column("liquidations_total_usd").to_pylist() == [30.0]


def test_failed_and_ok_rows_share_the_view(store):
    _, rows = query(
        store, "SELECT status, error, liquidations_total_usd FROM runs ORDER BY run_index"
    )
    assert rows[-1] == ("failed", "Boom: no", None)
    assert [r[2] for r in rows[:4]] == [10.0, 30.0, 5.0, 7.0]
    assert "param_market_insurance_fund_usd" in columns(store)
    with pytest.raises(InvalidInputError, match="a query on the view runs"):
        query(store, "SELECT nope FROM runs")


def test_rewriting_a_run_replaces_its_row(store):
    write_rows(store, "00004-x", [_ok(4, 1e9, 9.0)])
    assert query(store, "SELECT count(*), sum((status = 'ok')::INT) FROM runs")[1] == [(5, 5)]


def test_cli_runs_query_prints_a_table_and_json(store):
    sql = (
        "SELECT param_market_insurance_fund_usd AS fund, avg(liquidations_total_usd) AS mean "
        "FROM runs WHERE status = 'ok' GROUP BY 1 ORDER BY 1"
    )
    r = cli("runs", "query", str(store), sql)
    assert r.returncode == 0, r.stderr
    assert "2 rows" in r.stdout and "fund" in r.stdout and "20" in r.stdout and "6" in r.stdout
    r = cli("runs", "query", str(store), sql, "--json")
    assert [json.loads(x) for x in r.stdout.splitlines()] == [
        {"fund": 1e8, "mean": 20.0},
        {"fund": 1e9, "mean": 6.0},
    ]
    bad = cli("runs", "query", str(store), "SELECT nope FROM runs")
    assert bad.returncode == 2 and "nope" in bad.stderr
    empty = cli("runs", "query", str(store.parent), "SELECT 1")
    assert empty.returncode == 2 and "DIR/rows/*.parquet" in empty.stderr


def test_cli_runs_plot_writes_a_self_contained_chart(store, tmp_path):
    html = tmp_path / "chart.html"
    r = cli(
        "runs",
        "plot",
        str(store),
        "param_market_insurance_fund_usd",
        "liquidations_total_usd",
        "--html",
        str(html),
    )
    assert r.returncode == 0, r.stderr
    text = html.read_text()
    assert "plotly.js" in text.lower() or "Plotly" in text
    assert '<script src="https://cdn' not in text  # offline: plotly.js is embedded
    assert "liquidations_total_usd against param_market_insurance_fund_usd: 4 runs" in text
    assert '"mean"' in text  # the mean line over the discrete x
    bad = cli("runs", "plot", str(store), "param_market_insurance_fund_usd", "liquidation")
    assert bad.returncode == 2
    assert "liquidations_total_usd" in bad.stderr  # the valid columns are listed
