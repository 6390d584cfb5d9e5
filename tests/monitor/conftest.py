"""Shared helpers for the monitor tests (the real data: ``real_csv`` and ``fear_greed_csv`` in
tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
