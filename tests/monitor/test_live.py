"""Live ingest through ccxt, without the network: a real ``ccxt.binanceusdm`` object whose HTTP
``fetch`` is replaced by a fake server answering from JSON fixtures (built in Binance's
documented response shape by fixtures/make_fixtures.py, not recorded), so ccxt's own request
building, pagination parameters and parsing run; and the same answers one level lower, under
ccxt's ``requests`` session, with a timeout and HTTP 429 (retried, then a clear error)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import polars as pl
import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from margincall.core.errors import InvalidInputError, SourceUnavailableError
from margincall.monitor import live
from margincall.monitor.ingest import read_source
from margincall.monitor.schema import BAR_SCHEMA

FIXTURES = Path(__file__).resolve().parent / "fixtures"

ccxt = pytest.importorskip("ccxt", reason="ccxt (the live extra, also in dev) not installed")

T0 = datetime(2026, 2, 5, tzinfo=UTC)


def load(name: str):
    return json.loads((FIXTURES / f"binanceusdm_{name}.json").read_text())


class FakeBinance:
    """Serves the fixtures like the exchange would: filtered by startTime/endTime, cut at
    limit. Records every URL asked for."""

    def __init__(self):
        self.urls: list[str] = []
        self.klines = load("klines")
        self.funding = load("fundingRate")
        self.oi = load("openInterestHist")

    def __call__(self, url, method="GET", headers=None, body=None):
        self.urls.append(url)
        u = urlparse(url)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        start = int(q.get("startTime", 0))
        end = int(q.get("endTime", 2**62))
        limit = int(q.get("limit", 500))
        if u.path == "/fapi/v1/exchangeInfo":
            return load("exchangeInfo")
        if u.path == "/fapi/v1/klines":
            rows = [k for k in self.klines if start <= k[0] <= end]
        elif u.path == "/fapi/v1/fundingRate":
            rows = [r for r in self.funding if start <= r["fundingTime"] <= end]
        elif u.path == "/futures/data/openInterestHist":
            rows = [r for r in self.oi if start <= r["timestamp"] <= end]
        else:
            raise AssertionError(f"unexpected request {url}")
        return rows[:limit]


@pytest.fixture
def exchange():
    ex = ccxt.binanceusdm({"enableRateLimit": True})
    ex.fetch = FakeBinance()
    return ex


def test_ohlcv_funding_and_oi_paginated(exchange):
    bars = live.read_live(exchange, "BTC/USDT:USDT", "1h", since=T0, limit=7)
    assert exchange.enableRateLimit
    assert bars.schema == pl.Schema(BAR_SCHEMA)
    k = load("klines")
    assert bars.height == len(k) == 30
    kline_calls = [u for u in exchange.fetch.urls if "/fapi/v1/klines" in u]
    assert len(kline_calls) == 6  # pages of 7, 7, 7, 7, 2, then an empty one ends it
    assert bars["ts"][0] == T0
    assert bars["close"].to_list() == [float(r[4]) for r in k]
    assert bars["volume"].to_list() == [float(r[5]) for r in k]
    # funding: last settlement at or before each bar start
    f = load("fundingRate")
    times = np.array([r["fundingTime"] for r in f])
    rates = np.array([float(r["fundingRate"]) for r in f])
    starts = np.array([r[0] for r in k])
    expected = rates[np.searchsorted(times, starts, side="right") - 1]
    assert np.array_equal(bars["funding"].to_numpy(), expected)
    oi = load("openInterestHist")
    assert bars["oi_usd"].to_list() == [float(r["sumOpenInterestValue"]) for r in oi]
    # binance offers no public liquidation history in ccxt
    assert not exchange.has["fetchLiquidations"]
    assert bars["liq_long_usd"].null_count() == 30


def test_until_stops_pagination(exchange):
    bars = live.read_live(exchange, "BTC/USDT:USDT", "1h", since=T0, until="2026-02-05T09:00:00Z")
    assert bars["ts"][-1] == datetime(2026, 2, 5, 9, tzinfo=UTC)
    assert bars.height == 10


def test_read_source_spec(exchange, monkeypatch):
    monkeypatch.setattr(live, "make_exchange", lambda exchange_id, **kw: exchange)
    bars = read_source("ccxt:binanceusdm:BTC/USDT:USDT?timeframe=1h&since=2026-02-05T00:00:00Z")
    assert bars.height == 30


def test_bad_specs_and_timeframe(exchange):
    with pytest.raises(InvalidInputError, match="ccxt:EXCHANGE:SYMBOL"):
        live.read_live_spec("ccxt:binanceusdm")
    with pytest.raises(InvalidInputError, match="timeframe"):
        live.read_live(exchange, "BTC/USDT:USDT", "7m")
    with pytest.raises(InvalidInputError, match="exchange id known to ccxt"):
        live.make_exchange("no-such-exchange")


def test_missing_ccxt_gives_an_install_hint(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ccxt(name, *args, **kwargs):
        if name == "ccxt":
            raise ImportError("No module named 'ccxt'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ccxt)
    with pytest.raises(InvalidInputError, match=r"margincall\[live\]"):
        live.make_exchange("binanceusdm")


def test_liquidations_per_bar_by_side():
    h = 3_600_000
    recs = [
        {"timestamp": 10 * h + 5, "side": "long", "quoteValue": 100.0},
        {"timestamp": 10 * h + 9, "side": "sell", "price": 2.0, "baseValue": 30.0},
        {"timestamp": 11 * h, "side": "short", "quoteValue": 7.0},
        {"timestamp": 11 * h + 1, "side": None, "quoteValue": 1e9},
    ]
    with pytest.warns(UserWarning, match="1 liquidation record"):
        out = live.liquidations_per_bar(recs, h).sort("t")
    assert out["t"].to_list() == [10 * h, 11 * h]
    assert out["liq_long_usd"].to_list() == [160.0, 0.0]
    assert out["liq_short_usd"].to_list() == [0.0, 7.0]


class StoredBinance(BaseAdapter):
    """A ``requests`` transport under ccxt's own HTTP session: answers from the stored
    responses (through :class:`FakeBinance`), after ``script``'s failures (an exception to
    raise, or an HTTP status with headers). ccxt's request building, error mapping (HTTP 429,
    timeouts) and parsing all run."""

    def __init__(self, script: list | None = None) -> None:
        super().__init__()
        self.script, self.server, self.urls = list(script or []), FakeBinance(), []

    def send(self, request, **kwargs) -> requests.Response:
        self.urls.append(request.url)
        headers = {"Content-Type": "application/json"}
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            status, extra = step
            body = json.dumps({"code": -1003, "msg": "Too many requests."}).encode()
            headers.update(extra)
        else:
            status, body = 200, json.dumps(self.server(request.url)).encode()
        r = requests.Response()
        r.status_code, r._content, r.url, r.request = status, body, request.url, request
        r.reason = {200: "OK", 429: "Too Many Requests"}.get(status, "Error")
        r.headers = CaseInsensitiveDict(headers)
        return r

    def close(self) -> None:
        pass


def over_http(script: list) -> tuple:
    ex = ccxt.binanceusdm({"enableRateLimit": True})
    server = StoredBinance(script)
    ex.session.mount("https://", server)
    waits: list[float] = []
    ex.sleep = waits.append  # the retries' waits (ms), recorded instead of slept
    return ex, server, waits


def test_ccxt_timeout_and_rate_limit_are_retried_then_read():
    timeout = requests.exceptions.ReadTimeout("read timed out")
    ex, server, waits = over_http([timeout, (429, {"Retry-After": "1"}), timeout])
    bars = live.read_live(ex, "BTC/USDT:USDT", "1h", since=T0, limit=7)
    assert bars.height == 30 and bars["close"].to_list() == [float(r[4]) for r in load("klines")]
    assert waits == [1000, 2000, 4000]  # fetch.backoff_wait: 1, 2, 4 s
    assert "/fapi/v1/exchangeInfo" in server.urls[0] and server.urls[0] == server.urls[3]


@pytest.mark.parametrize(
    ("failure", "named"),
    [
        (requests.exceptions.ReadTimeout("read timed out"), "RequestTimeout"),
        ((429, {}), "429"),
    ],
)
def test_ccxt_timeout_or_rate_limit_every_time_is_one_clear_error(failure, named):
    ex, server, waits = over_http([failure] * (live.RETRIES + 1))
    with pytest.raises(SourceUnavailableError) as info:
        live.read_live(ex, "BTC/USDT:USDT", "1h", since=T0, limit=7)
    message = str(info.value)
    assert "ccxt:binanceusdm:BTC/USDT:USDT" in message and named in message
    assert "\n" not in message and len(waits) == live.RETRIES
    assert len(server.urls) == live.RETRIES + 1


def test_closes_of_any_symbol_a_ccxt_exchange_lists(exchange, monkeypatch, tmp_path):
    """``--closes SYMBOL=ccxt:EXCHANGE:PAIR``: the exchange's bars as daily closes (the last bar
    of each UTC day), cited by the spec; the hourly bars kept for the 4-hour indicators."""
    import json as _json

    from typer.testing import CliRunner

    from margincall.cli import app

    monkeypatch.setattr(live, "make_exchange", lambda exchange_id, **kw: exchange)
    spec = "ccxt:binanceusdm:BTC/USDT:USDT?timeframe=1h&since=2026-02-05T00:00:00Z"
    out = tmp_path / "r"
    res = CliRunner().invoke(
        app, ["monitor", "--out", str(out), "--closes", f"BTC={spec}", "--json"]
    )
    assert res.exit_code == 0, res.output
    s = _json.loads(res.output)
    k = load("klines")
    (row,) = s["assets"]["symbols"]
    assert row["symbol"] == "BTC" and row["date"] == "2026-02-06"
    assert row["price"] == float(k[-1][4])  # 2026-02-06 05:00, the last bar
    assert row["change_24h"]["pct"] == pytest.approx(float(k[-1][4]) / float(k[23][4]) - 1)
    assert row["intraday_4h"]["bars"] >= 6
    (source,) = s["sources"]
    assert source["file"] == "ccxt:binanceusdm:BTC/USDT:USDT" and source["rows"] == 2
    res = CliRunner().invoke(app, ["monitor", "--out", str(out) + "2", "--closes", spec])
    assert res.exit_code == 2 and "SYMBOL=FILE" in res.stderr
