"""The venue's kernels stay on short parameter lists and one account-row layout."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from margincall.core.errors import InvalidInputError
from margincall.venue import params as P
from margincall.venue.accounts import ACCOUNT_ROW, ROW_FIELDS, Accounts
from margincall.venue.engine import Venue
from margincall.venue.liq_index import LiqIndex

VENUE = Path(__file__).resolve().parents[2] / "src" / "margincall" / "venue"
MOST = 10


def _parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = node.args
    return (
        len(a.posonlyargs)
        + len(a.args)
        + len(a.kwonlyargs)
        + (a.vararg is not None)
        + (a.kwarg is not None)
    )


def _functions() -> list[tuple[str, str, int]]:
    found = []
    for path in sorted(VENUE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found.append((path.name, node.name, _parameters(node)))
    return found


def test_counting_sees_every_kind_of_parameter() -> None:
    src = "def f(a, /, b, *c, d, e=1, **f): pass"
    node = ast.parse(src).body[0]
    assert isinstance(node, ast.FunctionDef)
    assert _parameters(node) == 6


def test_no_venue_function_takes_more_than_ten_parameters() -> None:
    functions = _functions()
    assert len(functions) > 100  # the scan found the package
    long = [f"{file}:{name} ({n})" for file, name, n in functions if n > MOST]
    assert not long, f"more than {MOST} parameters: {', '.join(long)}"


def test_the_accounts_and_the_index_are_views_of_one_row_per_account() -> None:
    v = Venue("binance", price=60_000, capacity=8)
    # every field but ``rest`` (a portfolio leg's loan, beside the row: ROW_FIELDS)
    in_row = {k: v.acc._asdict()[k] for k in ROW_FIELDS}
    fields = {**in_row, **{k: v.index._asdict()[k] for k in ("key", "side", "loc")}}
    assert set(fields) == set(ACCOUNT_ROW.names)
    assert set(Accounts._fields) - {"rest"} == set(ROW_FIELDS)
    assert set(ROW_FIELDS) | {"key", "side", "loc"} == set(ACCOUNT_ROW.names)
    assert {"key", "side", "loc"} <= set(LiqIndex._fields)
    base = v.acc.wallet.__array_interface__["data"][0]
    for name, view in fields.items():
        dtype, offset = ACCOUNT_ROW.fields[name][:2]
        assert view.dtype == dtype, name
        assert view.strides == (ACCOUNT_ROW.itemsize,), name
        assert view.__array_interface__["data"][0] == base + offset, name


def test_max_rounds_is_set_on_the_venue_and_checked() -> None:
    v = Venue("binance", price=60_000, capacity=8)
    assert v.max_rounds == 100
    v.max_rounds = 3
    assert v.max_rounds == 3
    with pytest.raises(InvalidInputError, match="max_rounds"):
        v.max_rounds = 0
    assert v.max_rounds == 3
    assert v.params[P.MAX_ROUNDS] == 3  # what the kernels read
