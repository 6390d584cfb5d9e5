"""The HTML report and the PNG: self-contained, written atomically, the expected content."""

from __future__ import annotations

import re
import struct

import numpy as np
import pytest
from report_events import END, LOT, T0, TICK, scenario

from margincall.core import atomic
from margincall.core.errors import InvalidInputError
from margincall.report import figures
from margincall.report.candles import candles
from margincall.report.figures import write_price_png, write_report_html
from margincall.report.stats import summarize

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run():
    events = scenario()
    df = candles(events, TICK, LOT, T0, END)
    return df, summarize(events, df, {})


@pytest.fixture(scope="module")
def liq_map():
    grid = np.array([55_000.0, 57_500.0, 62_500.0, 65_000.0])
    return grid, np.array([2e6, 5e6, 0.0, 0.0]), np.array([0.0, 0.0, 1e6, 3e6])


def test_html_is_self_contained_and_complete(tmp_path, run, liq_map):
    df, summary = run
    path = write_report_html(tmp_path / "report.html", df, summary, liq_map, "Crash <test>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # no temporary left
    page = path.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc\s*=\s*[\"']?https?://", page, re.IGNORECASE)
    assert "<script" in page and "Plotly.newPlot" in page  # plotly.js is inline
    assert "Crash &lt;test&gt;" in page
    assert "simulation&#x27;s truth" in page and "undercount on stress days" in page
    assert "Liquidation map at the start" in page
    assert "Price 60,010.00 → low 59,800.00 (-0.35%) at 2024-01-01T00:01:00Z" in page
    assert "$3.28K: $2.98K long, $299.25 short (91% long)" in page
    assert "ADL: 1 executions, $1.19K." in page


def test_html_without_liquidation_map(tmp_path, run):
    df, summary = run
    page = write_report_html(tmp_path / "r.html", df, summary, None, "t").read_text("utf-8")
    assert "Liquidation map at the start" not in page
    assert page.count("Plotly.newPlot") == 1


def test_headline_tolerates_missing_values():
    text = figures.headline({"price": {"start": None}, "liquidations": {"total_usd": 0.0}})
    assert "n/a" in text


def test_bad_liquidation_map_is_refused(tmp_path, run):
    df, summary = run
    bad = (np.arange(3.0), np.ones(3), np.ones(2))
    with pytest.raises(InvalidInputError):
        write_report_html(tmp_path / "r.html", df, summary, bad, "t")


def test_failed_write_leaves_neither_temporary_nor_target(tmp_path, run, monkeypatch):
    df, summary = run

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", fail)
    with pytest.raises(OSError):
        write_report_html(tmp_path / "report.html", df, summary, None, "t")
    with pytest.raises(OSError):
        write_price_png(tmp_path / "price.png", df, "t")
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_existing_file(tmp_path, run):
    df, summary = run
    target = tmp_path / "report.html"
    target.write_text("old")
    write_report_html(target, df, summary, None, "t")
    assert target.read_text("utf-8").startswith("<!DOCTYPE html>")


def test_png_signature_and_size(tmp_path, run):
    df, _ = run
    path = write_price_png(tmp_path / "price.png", df, "Crash")
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    assert (width, height) == (1200, 600)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["price.png"]
