"""The first run's parallel compile (:mod:`margincall.venue.warm`): a cold cache starts a child
that compiles the liquidation path while this process compiles order entry; a warm one does
nothing. (How much wall time it saves is measured by ``benchmarks/bench_first_run.py``.)"""

from __future__ import annotations

import numpy as np

from margincall.core.kernel_cache import cache_folder
from margincall.events.schema import EventKind
from margincall.venue.warm import _liquidation_path, compile_on_two_cores


def test_a_warm_cache_starts_nothing(tmp_path):
    (tmp_path / "engine-kernel.nbi").write_bytes(b"")
    assert compile_on_two_cores(tmp_path) is False


def test_a_cold_cache_compiles_on_two_processes_and_the_child_succeeds(tmp_path):
    # an empty folder stands for a cold cache; the kernels themselves go to the configured
    # cache, where the child's liquidation kernels must be found afterwards
    assert compile_on_two_cores(tmp_path) is True
    cached = [p.name for p in cache_folder().rglob("*.nbi")]
    assert any(name.startswith("liquidation.liquidation_rounds-") for name in cached), cached


def test_the_child_compiles_the_rounds_a_cascade_calls():
    # the child's tiny venue reaches no account, so it must still enter the compiled rounds
    # (run_liquidations skips them then); a real cascade afterwards finds them compiled for its
    # own argument types, not a second specialisation
    from margincall.venue.engine import Venue
    from margincall.venue.liquidation import liquidation_rounds

    _liquidation_path()
    assert len(liquidation_rounds.signatures) == 1
    v = Venue("bitmex", price=60_000, capacity=8, insurance_fund_usd=1_000_000)
    mm, t = v.open_accounts(np.array([10_000_000_000, 100_000_000], np.int64), leverage=50)
    v.block_trades(np.array([t]), np.array([40], np.int64), 60_000, int(mm))
    v.set_index_price(55_000)
    v.update_mark()
    events = v.run_liquidations()
    assert (events["kind"] == int(EventKind.LIQUIDATION_TRIGGERED)).any()
    assert len(liquidation_rounds.signatures) == 1
