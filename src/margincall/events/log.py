"""The event log: a growable in-memory buffer, Arrow/Parquet I/O and the canonical digest.

The canonical form of a log is its records in ``EVENT_DTYPE`` (little-endian, fixed layout), in
``seq`` order. The digest is the SHA-256 of those bytes, so two runs agree byte for byte exactly
when their digests agree, whichever process produced them.

Large records handed over (``owned``) are hashed by one worker thread while the caller goes on
(hashlib lets go of the interpreter lock while it hashes), and every later record of the log
while it has some (lent ones copied), in the order they came: a long run's log is gigabytes,
and hashing them took as long as a third of its compiled work. The digest waits for them.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import weakref
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from margincall.core.errors import InvalidInputError
from margincall.events.schema import EVENT_DTYPE, EventKind, order_detail

_KIND_NAMES = {int(k): k.name.lower() for k in EventKind}
_FIELDS: tuple[str, ...] = tuple(EVENT_DTYPE.names or ())

ARROW_SCHEMA = pa.schema(
    [pa.field(name, pa.from_numpy_dtype(EVENT_DTYPE[name])) for name in _FIELDS]
)
"""The Arrow schema of the integer columns, one field per ``EVENT_DTYPE`` field."""


JOIN_BYTES = 1 << 26
"""Records kept in memory are joined into one array every this many bytes (64 MiB): a long
run appends millions of small arrays, whose memory the allocator keeps after a final join
frees them (feb-2026-market at 1,000,000 accounts held 2.9 GB of them), while arrays this large
go back to the system when freed."""


HASH_AHEAD_BYTES = 1 << 20
"""Records handed over from this size on (1 MiB) are hashed by the worker thread. Smaller ones
are hashed in the caller's thread while the worker has nothing of this log left, else held and
handed over together once they reach this size. A hand-over costs the caller about 20 us and
the worker's turns on the interpreter: at 64 KiB, handing over each small batch made the
single-venue abides-sized day 60% slower (0.85 s against 0.53 s), and each step's batch of
about 80 KiB still 38% (0.74 s); at 1 MiB it takes 0.51-0.57 s, and the portfolio 2M sweep the
thread is for is no slower (5.34-5.50 s against 5.40-5.61 s)."""
PENDING_BYTES = 1 << 26
"""At most this many bytes of a log wait for the worker (the caller waits beyond): the records
stay alive until hashed."""

_worker: tuple[int, ThreadPoolExecutor] | None = None  # (process id, its one hashing thread)
_hashing: weakref.WeakSet[EventLog] = weakref.WeakSet()  # logs with records waiting


def _hasher() -> ThreadPoolExecutor:
    """This process's hashing thread (a forked child starts its own)."""
    global _worker
    if _worker is None or _worker[0] != os.getpid():
        _worker = (os.getpid(), ThreadPoolExecutor(1, thread_name_prefix="margincall-hash"))
    return _worker[1]


def _finish_all() -> None:
    """Every log's waiting records hashed (before a fork: the child has no worker thread)."""
    for log in list(_hashing):
        log._finish_hashing()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_finish_all)


class EventLog:
    """Events in ``seq`` order, kept in memory or only hashed.

    Args:
        keep: keep every record (``True``) or only count and hash them (``False``), which is
            what very large runs and benchmarks use: the digest is the same either way.
        reports_only: with ``keep``, keep only the records a run's candles and summary read,
            leaving out the orders' bookkeeping (:func:`~margincall.events.schema.order_detail`,
            more than half of a market run's records); every record is still counted and hashed.
    """

    def __init__(self, keep: bool = True, reports_only: bool = False) -> None:
        self.keep = keep
        self.reports_only = reports_only
        self.kept = 0  # records kept (all of them unless reports_only)
        self._chunks: list[np.ndarray] = []
        self._joined = 0  # chunks before this one are joins of JOIN_BYTES or more
        self._loose = 0  # bytes in the chunks after them
        self._hash = hashlib.sha256()
        self._waiting: deque[tuple[Future, int]] = deque()  # the worker's jobs, with their bytes
        self._waiting_bytes = 0
        self._held: list[bytes] = []  # small records after the worker's jobs, not yet handed over
        self._held_bytes = 0
        self.count = 0

    def extend(self, records: np.ndarray, owned: bool = False) -> None:
        """Append records (already in ``EVENT_DTYPE`` and ``seq`` order).

        ``owned`` says the caller hands the array over and will not change it, so it is kept
        without a copy.
        """
        if records.dtype != EVENT_DTYPE:
            raise InvalidInputError("records.dtype", str(records.dtype), "EVENT_DTYPE")
        if len(records) == 0:
            return
        records = np.ascontiguousarray(records)
        self.count += len(records)
        if self.keep and not owned and not self.reports_only:  # (reports_only: a copy below)
            records, owned = records.copy(), True
        self._update(records, owned)
        if self.keep and self.reports_only:
            # take: several times faster than a boolean index on a record array
            records = records.take(np.flatnonzero(~order_detail(records)))
        if self.keep and len(records):
            self.kept += len(records)
            self._chunks.append(records)
            self._loose += records.nbytes
            if self._loose >= JOIN_BYTES:
                self._chunks[self._joined :] = [join_records(self._chunks[self._joined :])]
                self._joined = len(self._chunks)
                self._loose = 0

    def records(self) -> np.ndarray:
        """The kept records as one array (only when ``keep`` is set)."""
        if not self.keep:
            raise InvalidInputError("keep", False, "an EventLog created with keep=True")
        if not self._chunks:
            return np.empty(0, EVENT_DTYPE)
        if len(self._chunks) > 1:
            self._chunks = [_join_freeing(self._chunks)]
            self._joined, self._loose = 1, 0
        return self._chunks[0]

    def since(self, kept: int) -> list[np.ndarray]:
        """The records kept after the first ``kept`` of them (only when ``keep`` is set; a
        position in :attr:`kept`), as the chunks that hold them (views, in order)."""
        if not self.keep:
            raise InvalidInputError("keep", False, "an EventLog created with keep=True")
        out: list[np.ndarray] = []
        left = self.kept - kept
        for chunk in reversed(self._chunks):
            if left <= 0:
                break
            out.append(chunk[max(0, len(chunk) - left) :])
            left -= len(chunk)
        return out[::-1]

    def _update(self, records: np.ndarray, owned: bool) -> None:
        """Hash ``records`` after those before: here when the worker has none of this log's and
        they are small or only lent (the caller may reuse its array); else small ones are held
        and handed over with the next held ones, large ones handed to the worker (a copy of
        lent ones)."""
        while self._waiting and self._waiting[0][0].done():
            self._waiting_bytes -= self._waiting.popleft()[1]
        small = records.nbytes < HASH_AHEAD_BYTES
        if not self._waiting:
            self._hash_held()
            if small or not owned:
                self._hash.update(memoryview(records).cast("B"))  # type: ignore[arg-type]
                return
        elif small:
            self._held.append(records.tobytes())
            self._held_bytes += records.nbytes
            if self._held_bytes >= HASH_AHEAD_BYTES:
                self._hand_over(self._take_held())
            return
        if self._held:
            self._hand_over(self._take_held())
        self._hand_over(records if owned else records.copy())

    def _take_held(self) -> bytes:
        held = b"".join(self._held)
        self._held, self._held_bytes = [], 0
        return held

    def _hash_held(self) -> None:
        """The held records hashed here (the worker has none of this log's before them)."""
        if self._held:
            self._hash.update(self._take_held())

    def _hand_over(self, data: np.ndarray | bytes) -> None:
        """``data`` (the caller no longer changes it) hashed by the worker after its jobs; the
        caller waits while more than ``PENDING_BYTES`` would be waiting."""
        view = memoryview(data).cast("B")  # type: ignore[arg-type]
        while self._waiting and self._waiting_bytes + view.nbytes > PENDING_BYTES:
            future, size = self._waiting.popleft()
            future.result()
            self._waiting_bytes -= size
        self._waiting.append((_hasher().submit(self._hash.update, view), view.nbytes))
        self._waiting_bytes += view.nbytes
        _hashing.add(self)

    def _finish_hashing(self) -> None:
        """Wait for the worker to hash this log's records, then hash those held."""
        while self._waiting:
            self._waiting.popleft()[0].result()
        self._waiting_bytes = 0
        self._hash_held()

    def digest(self) -> str:
        """SHA-256 (hex) of the canonical bytes of every record so far."""
        self._finish_hashing()
        return self._hash.hexdigest()

    def __len__(self) -> int:
        return self.count


def join_records(chunks: Sequence[np.ndarray]) -> np.ndarray:
    """Record arrays one after another in one array; the only non-empty one itself, when only
    one is. Byte copies: np.concatenate checks the structured dtype of every chunk and is about
    6x slower on many small ones."""
    full = [c for c in chunks if len(c)]
    if len(full) == 1:
        return full[0]
    out = np.empty(sum(len(c) for c in full), EVENT_DTYPE)
    raw = out.view(np.uint8)
    pos = 0
    for chunk in full:
        n = chunk.nbytes
        raw[pos : pos + n] = np.ascontiguousarray(chunk).view(np.uint8)
        pos += n
    return out


def _join_freeing(chunks: list[np.ndarray]) -> np.ndarray:
    """:func:`join_records` that empties ``chunks`` as it copies them, so that the memory of a
    chunk copied (a join of :data:`JOIN_BYTES`) is free before the next is: a log's join then
    needs little more than the log's own size, not twice it."""
    out = np.empty(sum(len(c) for c in chunks), EVENT_DTYPE)
    raw = out.view(np.uint8)
    pos = 0
    chunks.reverse()
    while chunks:
        n = chunks[-1].nbytes
        raw[pos : pos + n] = np.ascontiguousarray(chunks.pop()).view(np.uint8)
        pos += n
    return out


def digest(records: np.ndarray) -> str:
    """SHA-256 (hex) of a record array in canonical form."""
    return hashlib.sha256(
        np.ascontiguousarray(records.astype(EVENT_DTYPE, copy=False)).tobytes()
    ).hexdigest()


def to_arrow(records: np.ndarray, metadata: Mapping[str, str] | None = None) -> pa.Table:
    """Records to an Arrow table: the integer columns plus derived convenience columns.

    Derived: ``kind_name``, ``notional_usd`` and ``amount_usd`` (floats, for reading; the
    integer columns stay the exact record), and ``price_usd`` and ``qty_base`` when
    ``metadata`` gives ``tick_size`` and ``lot_size``. ``metadata`` is stored in the schema and
    comes back from :func:`read_parquet`.
    """
    cols = {name: pa.array(records[name]) for name in _FIELDS}
    table = pa.table(cols, schema=ARROW_SCHEMA)
    lut = np.full(1 << 16, -1, np.int32)  # kind (int16, offset to be non-negative) -> name index
    for i, k in enumerate(EventKind):
        lut[int(k) + (1 << 15)] = i
    idx = lut[records["kind"].astype(np.int32) + (1 << 15)]
    names = pa.array([_KIND_NAMES[int(k)] for k in EventKind], pa.string())
    kind_col = pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32(), mask=idx < 0), names)
    table = table.append_column("kind_name", kind_col)
    table = table.append_column("notional_usd", pa.array(records["notional"] / 1e6))
    table = table.append_column("amount_usd", pa.array(records["amount"] / 1e6))
    if metadata and "tick_size" in metadata and "lot_size" in metadata:
        tick, lot = float(metadata["tick_size"]), float(metadata["lot_size"])
        table = table.append_column("price_usd", pa.array(records["price"] * tick))
        table = table.append_column("qty_base", pa.array(records["qty"] * lot))
    if metadata:
        table = table.replace_schema_metadata({k: str(v) for k, v in metadata.items()})
    return table


def write_parquet(
    records: np.ndarray, path: str | Path, metadata: Mapping[str, str] | None = None
) -> Path:
    """Write records to a Parquet file atomically (temporary name, then rename)."""
    path = Path(path)
    table = to_arrow(records, metadata)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; give it normal permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_parquet(path: str | Path) -> tuple[np.ndarray, dict[str, str]]:
    """Read an event file back to records in ``EVENT_DTYPE`` and its metadata."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError("path", str(path), "an existing events.parquet file")
    table = pq.read_table(path)
    missing = [n for n in _FIELDS if n not in table.column_names]
    if missing:
        raise InvalidInputError("columns", missing, f"the event schema columns {_FIELDS}")
    out = np.empty(table.num_rows, EVENT_DTYPE)
    for name in _FIELDS:
        out[name] = table.column(name).to_numpy()
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    return out, meta
