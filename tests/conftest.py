"""Fixtures shared by all the tests: the real market data in ``../shared/data``.

The folder sits beside the checkout and is not part of it; a test that asks for one of these
fixtures is skipped, saying which path is missing, when it is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
REAL_NAME = "btc_1h_liquidations_oi_funding_2025-12_2026-02.csv"
FEAR_GREED_NAME = "fear_greed_daily_2025-12_2026-02.csv"


def _shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"real market data not found at {path} (../shared/data absent)")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ``../shared/data`` folder, or skip the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real market data folder not found at {SHARED_DATA} (../shared/data absent)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def real_csv(shared_data: Path) -> Path:
    """The hourly BTC liquidations / open interest / funding file (CoinGlass), or skip."""
    return _shared_file(REAL_NAME)


@pytest.fixture(scope="session")
def fear_greed_csv(shared_data: Path) -> Path:
    """The daily Fear & Greed index file, or skip."""
    return _shared_file(FEAR_GREED_NAME)


MARKET_TOML = Path(__file__).resolve().parent / "sim" / "data" / "two-venue-market.toml"


@pytest.fixture(scope="session")
def market_run(tmp_path_factory) -> Path:
    """A small market run folder of the two-venue test market (1 h, 800 accounts, seed 1),
    written once per session: the readers' tests (report, dashboard, monitor, stress) share it."""
    from margincall.sim.market import load_market, parse_market
    from margincall.sim.market_run import write_market_run

    out = tmp_path_factory.mktemp("market") / "run"
    data = load_market(MARKET_TOML).model_dump()
    data["run"]["hours"] = 1.0
    write_market_run(out, parse_market(data, "two-venue test market, 1 h"), 1, accounts=800)
    return out
