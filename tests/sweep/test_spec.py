"""The sweep spec: expansion, run ids, and every bad input refused before any run starts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sweep_helpers import cli, write_spec

from margincall.core.errors import InvalidInputError
from margincall.sweep.params import valid_paths
from margincall.sweep.runner import STUDY, prepare
from margincall.sweep.spec import parse_spec


def test_grid_range_seeds_expand_in_order_with_stable_ids(tmp_path):
    study = parse_spec(write_spec(tmp_path, seeds=3).read_text(), base_dir=tmp_path)
    assert len(study.runs) == 2 * 2 * 3
    first = study.runs[0]
    assert first.params["market.insurance_fund_usd"] == 1e8
    assert first.params["population.retail.leverage_max"] == 50
    assert [r.seed for r in study.runs[:4]] == [1, 2, 3, 1]
    assert study.runs[3].params["population.retail.leverage_max"] == 125
    again = parse_spec(write_spec(tmp_path, seeds=3).read_text(), base_dir=tmp_path)
    assert [r.run_id for r in again.runs] == [r.run_id for r in study.runs]
    assert len({r.run_id for r in study.runs}) == len(study.runs)
    sc = study.scenario_for(study.runs[3])
    assert sc.population.retail.leverage_max == 125
    assert sc.run.accounts == 500


def test_random_draws_are_seeded_and_within_bounds(tmp_path):
    extra = """
[random]
draws = 5
seed = 11
[random.parameters]
"index.vol_annual" = { uniform = [0.3, 0.6] }
"makers.depth_1pct_usd" = { loguniform = [3e7, 1e8] }
"run.rulebook" = { choice = ["binance", "bitmex"] }
"""
    text = write_spec(tmp_path, extra=extra).read_text()
    a, b = parse_spec(text, base_dir=tmp_path), parse_spec(text, base_dir=tmp_path)
    assert len(a.runs) == 4 * 5
    assert [r.params for r in a.runs] == [r.params for r in b.runs]
    vols = {r.params["index.vol_annual"] for r in a.runs}
    assert len(vols) == 5 and all(0.3 <= v < 0.6 for v in vols)
    assert all(3e7 <= r.params["makers.depth_1pct_usd"] < 1e8 for r in a.runs)
    other = parse_spec(text.replace("seed = 11", "seed = 12"), base_dir=tmp_path)
    assert [r.params for r in other.runs] != [r.params for r in a.runs]


def test_unknown_parameter_lists_the_valid_ones(tmp_path):
    text = write_spec(tmp_path).read_text().replace("insurance_fund_usd", "insurance_fund")
    with pytest.raises(InvalidInputError) as exc:
        parse_spec(text, base_dir=tmp_path)
    msg = str(exc.value)
    assert "market.insurance_fund" in msg
    assert "start_price" in msg and "open_interest_usd" in msg
    assert "nearest: market.insurance_fund_usd" in msg
    assert "market.insurance_fund_usd" in valid_paths()


def test_empty_grid_and_invalid_values_fail_at_parse(tmp_path):
    empty = write_spec(tmp_path).read_text().replace("[1e8, 1e9]", "[]")
    with pytest.raises(InvalidInputError, match="empty grid"):
        parse_spec(empty, base_dir=tmp_path)
    backwards = write_spec(tmp_path).read_text().replace("step = 75", "step = -75")
    with pytest.raises(InvalidInputError, match="empty grid"):
        parse_spec(backwards, base_dir=tmp_path)
    bad = write_spec(tmp_path).read_text().replace("start = 50", "start = 5")  # < leverage_min
    with pytest.raises(InvalidInputError, match="leverage_max"):
        parse_spec(bad, base_dir=tmp_path)


def _assert_refused(result, *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    for n in needles:
        assert n in result.stderr, result.stderr


def test_cli_unknown_parameter_and_empty_grid_exit_2_nothing_written(tmp_path):
    spec = write_spec(tmp_path)
    spec.write_text(spec.read_text().replace("leverage_max", "leverage_maximum"))
    out = tmp_path / "out"
    _assert_refused(cli("sweep", str(spec), "--out", str(out)), "leverage_max", "nearest")
    spec.write_text(write_spec(tmp_path).read_text().replace("[1e8, 1e9]", "[]"))
    _assert_refused(cli("sweep", str(spec), "--out", str(out)), "empty grid")
    assert not out.exists()


def test_cli_unreachable_ray_address_exit_2(tmp_path):
    pytest.importorskip("ray", reason="ray is not installed (pip install 'margincall[ray]')")
    out = tmp_path / "out"
    r = cli(
        "sweep",
        str(write_spec(tmp_path)),
        "--out",
        str(out),
        "--backend",
        "ray",
        "--address",
        "127.0.0.1:1",
    )
    _assert_refused(r, "127.0.0.1:1", "ray start --head", "--backend local")
    assert not out.exists()


def _read_only_folder(tmp_path: Path) -> Path:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        (ro / "probe").write_text("x")
    except OSError:
        return ro
    (ro / "probe").unlink()  # root ignores the mode: use a folder of a read-only file system
    for candidate in (Path("/sys/kernel"), Path("/proc/sys")):
        try:
            (candidate / ".margincall-probe").write_text("x")
        except OSError:
            return candidate
    pytest.skip("no read-only folder available (running as root on writable file systems)")


def test_cli_read_only_output_folder_exit_2(tmp_path):
    ro = _read_only_folder(tmp_path)
    r = cli("sweep", str(write_spec(tmp_path)), "--out", str(ro))
    _assert_refused(r, "a folder you can write to", "choose another --out")
    r = cli("sweep", str(write_spec(tmp_path)), "--out", str(ro / "new"))
    _assert_refused(r, "a folder you can write to")


def test_changed_spec_is_refused_with_the_difference(tmp_path):
    spec = write_spec(tmp_path)
    out = tmp_path / "out"
    prepare(spec, out, workers=1)  # the first start records the study; no run needed
    assert json.loads((out / STUDY).read_text())["runs"] == 4
    spec.write_text(spec.read_text().replace("[1e8, 1e9]", "[1e8, 2e9]"))
    with pytest.raises(InvalidInputError) as exc:
        prepare(spec, out, workers=1)
    msg = str(exc.value)
    assert "- spec.grid.market.insurance_fund_usd = [100000000.0, 1000000000.0]" in msg
    assert "+ spec.grid.market.insurance_fund_usd = [100000000.0, 2000000000.0]" in msg
    r = cli("sweep", str(spec), "--out", str(out))
    _assert_refused(r, "it changed", "insurance_fund_usd")
    # the backend is not part of the study: changing it is a resume, not a new study
    spec.write_text(write_spec(tmp_path).read_text().replace("workers = 2", "workers = 1"))
    assert len(prepare(spec, out).todo) == 4


def test_non_sweep_folder_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="new or empty folder"):
        prepare(write_spec(tmp_path), out)
    assert sorted(os.listdir(out)) == ["notes.txt"]


def test_a_folder_started_before_a_field_was_added_still_resumes(tmp_path):
    """A study.json written before ``stress.refill`` existed (the key absent, the hash without
    it) resumes while the spec leaves refill at its default, and is refused once it sets one."""
    spec = write_spec(tmp_path)
    out = tmp_path / "out"
    prepare(spec, out, workers=1)
    record = json.loads((out / STUDY).read_text())
    del record["identity"]["spec.stress.refill"]  # what the earlier version recorded
    record["hash"] = "0" * 64
    (out / STUDY).write_text(json.dumps(record))
    assert len(prepare(spec, out, workers=1).todo) == 4
    assert "spec.stress.refill" in json.loads((out / STUDY).read_text())["identity"]
    (out / STUDY).write_text(json.dumps(record))  # the earlier record again
    spec.write_text(spec.read_text().replace("[backend]", "[stress]\nrefill = 0.5\n[backend]"))
    with pytest.raises(InvalidInputError, match=r"\+ spec.stress.refill = 0.5"):
        prepare(spec, out, workers=1)
