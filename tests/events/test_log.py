"""The event log: Parquet round trip, atomic writes, and one digest whether records are kept."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from margincall.core.errors import InvalidInputError
from margincall.events import log as log_module
from margincall.events.log import EventLog, digest, read_parquet, to_arrow, write_parquet
from margincall.events.schema import EVENT_DTYPE, ORDER_LIFECYCLE, EventKind, order_detail

META = {"tick_size": "0.1", "lot_size": "0.001", "rulebook": "binance"}


def _records(n: int = 257, seed: int = 0) -> np.ndarray:
    """Records with every column filled, extreme int64 values included."""
    rng = np.random.default_rng(seed)
    rec = np.zeros(n, EVENT_DTYPE)
    for name in EVENT_DTYPE.names:
        info = np.iinfo(EVENT_DTYPE[name])
        rec[name] = rng.integers(info.min, info.max, n, dtype=EVENT_DTYPE[name], endpoint=True)
    rec["seq"] = np.arange(n)
    kinds = np.array([int(k) for k in EventKind], np.int16)
    rec["kind"] = kinds[np.arange(n) % len(kinds)]
    rec["amount"][0] = np.iinfo(np.int64).min
    rec["notional"][1] = np.iinfo(np.int64).max
    return rec


def _files(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


def test_parquet_round_trip_gives_identical_records_and_metadata(tmp_path):
    rec = _records()
    path = write_parquet(rec, tmp_path / "events.parquet", META)
    back, meta = read_parquet(path)
    assert back.dtype == EVENT_DTYPE
    assert back.tobytes() == rec.tobytes()
    assert digest(back) == digest(rec)
    assert meta == META
    assert _files(tmp_path) == ["events.parquet"]  # no temporary file left behind


def test_an_empty_log_round_trips(tmp_path):
    rec = np.empty(0, EVENT_DTYPE)
    back, meta = read_parquet(write_parquet(rec, tmp_path / "e.parquet"))
    assert len(back) == 0 and back.dtype == EVENT_DTYPE
    assert meta == {}


def test_the_file_carries_readable_kind_names(tmp_path):
    rec = _records(5)
    write_parquet(rec, tmp_path / "e.parquet")
    names = pq.read_table(tmp_path / "e.parquet").column("kind_name").to_pylist()
    assert names == [EventKind(int(k)).name.lower() for k in rec["kind"]]


def test_writing_into_a_missing_directory_fails_and_creates_nothing(tmp_path):
    target = tmp_path / "missing" / "events.parquet"
    with pytest.raises(OSError):
        write_parquet(_records(), target)
    assert not target.exists()
    assert _files(tmp_path) == []


def test_writing_below_a_file_fails_and_creates_nothing(tmp_path):
    (tmp_path / "plain").write_text("not a directory")
    with pytest.raises(OSError):
        write_parquet(_records(), tmp_path / "plain" / "events.parquet")
    assert _files(tmp_path) == ["plain"]


def test_a_write_that_fails_halfway_leaves_no_partial_file_and_keeps_the_old_one(
    tmp_path, monkeypatch
):
    target = tmp_path / "events.parquet"
    old = _records(10, seed=1)
    write_parquet(old, target, META)
    before = target.read_bytes()

    def broken_write(table, where, **kwargs):
        Path(where).write_bytes(b"PAR1 half a file")  # something is on disk when it fails
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(log_module.pq, "write_table", broken_write)
    with pytest.raises(OSError, match="No space left"):
        write_parquet(_records(50), target, META)
    assert target.read_bytes() == before
    assert _files(tmp_path) == ["events.parquet"]
    monkeypatch.undo()
    back, meta = read_parquet(target)
    assert back.tobytes() == old.tobytes() and meta == META


def test_an_interrupted_write_also_cleans_up(tmp_path, monkeypatch):
    def interrupted(table, where, **kwargs):
        Path(where).write_bytes(b"PAR1")
        raise KeyboardInterrupt

    monkeypatch.setattr(log_module.pq, "write_table", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_parquet(_records(), tmp_path / "events.parquet")
    assert _files(tmp_path) == []


def test_reading_a_missing_file_names_the_path(tmp_path):
    with pytest.raises(InvalidInputError) as e:
        read_parquet(tmp_path / "nope.parquet")
    assert e.value.field == "path"


def test_reading_a_file_without_the_event_columns_names_them(tmp_path):
    table = to_arrow(_records(3)).drop_columns(["amount"])
    pq.write_table(table, tmp_path / "bad.parquet")
    with pytest.raises(InvalidInputError) as e:
        read_parquet(tmp_path / "bad.parquet")
    assert e.value.field == "columns"
    assert e.value.value == ["amount"]


def test_the_digest_is_the_same_whether_records_are_kept_or_only_hashed():
    rec = _records(1000)
    kept, hashed = EventLog(keep=True), EventLog(keep=False)
    for lo, hi in [(0, 1), (1, 1), (1, 300), (300, 301), (301, 1000)]:  # uneven chunks
        kept.extend(rec[lo:hi])
        hashed.extend(rec[lo:hi])
    assert hashed.digest() == digest(kept.records()) == kept.digest() == digest(rec)
    assert len(hashed) == len(kept) == 1000
    assert kept.records().tobytes() == rec.tobytes()


def test_a_log_for_reports_keeps_all_but_the_orders_bookkeeping_and_hashes_everything():
    """reports_only: every record counted and hashed, only those not order detail kept (the
    lifecycle kinds and maker-side fills), in order; ``since`` counts kept records."""
    rec = _records(1000, seed=5)
    rec["liquidity"] = np.arange(1000) % 3
    lean, full = EventLog(keep=True, reports_only=True), EventLog(keep=True)
    for lo, hi, owned in [(0, 1, False), (1, 300, True), (300, 301, False), (301, 1000, False)]:
        lean.extend(rec[lo:hi].copy(), owned=owned)
        full.extend(rec[lo:hi].copy(), owned=owned)
    want = rec[~order_detail(rec)]
    assert 0 < len(want) < len(rec)
    assert lean.digest() == full.digest() == digest(rec)
    assert len(lean) == 1000 and lean.kept == len(want) and full.kept == 1000
    assert lean.records().tobytes() == want.tobytes()
    assert np.concatenate(lean.since(len(want) - 5)).tobytes() == want[-5:].tobytes()
    lifecycle = {int(k) for k in ORDER_LIFECYCLE}
    kind, liq = want["kind"], want["liquidity"]
    assert not set(kind.tolist()) & lifecycle
    assert not np.any((kind == EventKind.ORDER_FILLED) & (liq == 1))


def test_records_handed_over_are_hashed_in_order_by_the_worker(monkeypatch):
    """Large records handed over go to the hashing thread, and every later one while it has
    some (a copy of the borrowed ones); the digest is that of every record in order, and a
    borrowed array changed after extend() does not change it."""
    monkeypatch.setattr(log_module, "HASH_AHEAD_BYTES", 1000)
    monkeypatch.setattr(log_module, "PENDING_BYTES", 3000)  # the caller waits for the worker
    rec = _records(2000, seed=3)
    for keep in (False, True):
        log = EventLog(keep=keep)
        borrowed = rec[40:41].copy()
        for lo, hi, owned in [(0, 20, True), (20, 40, True), (40, 41, False), (41, 42, True),
                              (42, 900, True), (900, 1500, True), (1500, 2000, False)]:  # fmt: skip
            part = borrowed if lo == 40 else rec[lo:hi].copy()
            log.extend(part, owned=owned)
        borrowed["amount"] += 1  # the caller's own array: hashed before extend() returned
        assert log.digest() == digest(rec)
        assert log.digest() == digest(rec)  # asked twice, the same
        assert len(log) == 2000


class _LazyPool:
    """A hashing worker that is busy until asked for a result: each job runs then, in order."""

    def __init__(self) -> None:
        self.jobs: list[_LazyJob] = []

    def submit(self, fn, data):
        self.jobs.append(_LazyJob(self, fn, data))
        return self.jobs[-1]


class _LazyJob:
    def __init__(self, pool: _LazyPool, fn, data) -> None:
        self.pool, self.fn, self.data, self.ran = pool, fn, data, False

    def done(self) -> bool:
        return self.ran

    def result(self) -> None:
        for job in self.pool.jobs[: self.pool.jobs.index(self) + 1]:  # the worker's order
            if not job.ran:
                job.fn(job.data)
                job.ran = True


def test_small_records_behind_the_workers_are_held_and_handed_over_together(monkeypatch):
    """While the worker has records of a log, small ones are held, not handed over one by one
    (each hand-over costs the caller), and handed over together once they reach
    HASH_AHEAD_BYTES; the digest is that of every record in order."""
    monkeypatch.setattr(log_module, "HASH_AHEAD_BYTES", 1000)
    pool = _LazyPool()
    monkeypatch.setattr(log_module, "_hasher", lambda: pool)
    rec = _records(100, seed=5)
    log = EventLog(keep=False)
    log.extend(rec[:20].copy(), owned=True)  # large: handed over, the worker stays busy
    for i in range(20, 100):  # small, lent or owned: held behind it
        log.extend(rec[i : i + 1], owned=bool(i % 2))
    per_batch = -(-1000 // EVENT_DTYPE.itemsize)  # records held before a hand-over
    assert len(pool.jobs) == 1 + 80 // per_batch
    assert log.digest() == digest(rec)


def test_the_digest_sees_every_byte_and_the_order():
    rec = _records(20)
    changed = rec.copy()
    changed["amount"][7] += 1
    assert digest(changed) != digest(rec)
    assert digest(rec[::-1]) != digest(rec)


def test_a_non_contiguous_view_hashes_like_its_copy():
    rec = _records(40)
    log = EventLog(keep=False)
    log.extend(rec[::2])
    assert log.digest() == digest(rec[::2].copy())


def test_a_log_that_only_hashes_refuses_to_return_records():
    log = EventLog(keep=False)
    log.extend(_records(3))
    with pytest.raises(InvalidInputError) as e:
        log.records()
    assert e.value.field == "keep"


def test_records_of_another_dtype_are_refused():
    with pytest.raises(InvalidInputError) as e:
        EventLog().extend(np.zeros(3, np.int64))
    assert e.value.field == "records.dtype"


def test_the_file_carries_dollar_columns_derived_from_the_exact_integers(tmp_path):
    records = np.zeros(2, EVENT_DTYPE)
    records["kind"] = [int(EventKind.ORDER_FILLED), int(EventKind.POSITION_LIQUIDATED)]
    records["price"] = [652_661, 600_000]  # ticks of 0.1
    records["qty"] = [250, 1]  # lots of 0.001
    records["notional"] = [16_316_525_000, 60_000_000]
    records["amount"] = [-1, 8_158_263]
    write_parquet(records, tmp_path / "e.parquet", {"tick_size": "0.1", "lot_size": "0.001"})
    table = pq.read_table(tmp_path / "e.parquet")
    assert table.column("notional_usd").to_pylist() == [16_316.525, 60.0]
    assert table.column("amount_usd").to_pylist() == [-0.000001, 8.158263]
    assert table.column("price_usd").to_pylist() == pytest.approx([65_266.1, 60_000.0], rel=1e-12)
    assert table.column("qty_base").to_pylist() == pytest.approx([0.25, 0.001], rel=1e-12)
    back, _ = read_parquet(tmp_path / "e.parquet")
    assert back.tobytes() == records.tobytes()


def test_a_file_without_a_grid_has_no_price_or_size_in_dollars(tmp_path):
    write_parquet(np.zeros(1, EVENT_DTYPE), tmp_path / "e.parquet")
    names = pq.read_table(tmp_path / "e.parquet").column_names
    assert "notional_usd" in names and "price_usd" not in names and "qty_base" not in names


def test_records_joined_while_kept_are_the_records_in_order(monkeypatch):
    monkeypatch.setattr(log_module, "JOIN_BYTES", 50 * EVENT_DTYPE.itemsize)
    rec = _records(1000, seed=3)
    log = EventLog(keep=True)
    cuts = [0, 7, 8, 60, 61, 200, 333, 334, 700, 1000]
    for lo, hi in itertools.pairwise(cuts):
        log.extend(rec[lo:hi])
    assert len(log._chunks) < 9  # joined as it went
    assert log.records().tobytes() == rec.tobytes()
    more = _records(120, seed=4)
    for lo in range(0, 120, 40):  # kept after a full join, joined again past the limit
        log.extend(more[lo : lo + 40])
    assert log.records().tobytes() == rec.tobytes() + more.tobytes()
    assert log.digest() == digest(np.concatenate([rec, more]))
