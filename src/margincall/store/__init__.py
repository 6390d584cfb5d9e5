"""The results store: one Parquet file per finished run in ``DIR/rows/``, read with DuckDB.

:mod:`margincall.store.rows` writes and lists rows (each file whole or not at all),
:mod:`margincall.store.db` queries them through the view ``runs``, and
:mod:`margincall.store.plot` charts two columns.
"""
