"""Shared helpers for the monitor tests: where the real data lives, and small bar frames."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
REAL = DATA / "btc_1h_liquidations_oi_funding_2025-12_2026-02.csv"
FEAR_GREED = DATA / "fear_greed_daily_2025-12_2026-02.csv"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

needs_real = pytest.mark.skipif(
    not (REAL.is_file() and FEAR_GREED.is_file()),
    reason=f"real market data not found in {DATA} (../shared/data absent): skipped",
)
