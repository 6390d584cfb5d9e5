"""Live fetchers (alternative.me, CoinGecko) on stored responses: httpx.MockTransport replays the
JSON of ``fixtures/`` (written by ``fixtures/make_live.py`` in the documented shapes), a timeout,
rate limits and server errors; the cache; the monitor wired to them. Never the network: the one
offline test points httpx at a closed local port."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from margincall.cli import app
from margincall.core.errors import InvalidInputError, SourceUnavailableError
from margincall.sources.closes import read_closes
from margincall.sources.fear_greed import read_fear_greed
from margincall.sources.fetch import Fetcher
from margincall.sources.market_cap import read_market_cap

FIXTURES = Path(__file__).with_name("fixtures")


class Server:
    """Answers by path from the stored responses; ``script`` lists the answers of the next
    requests first (a status with headers, or an exception to raise)."""

    def __init__(self, script: list | None = None) -> None:
        self.script = list(script or [])
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            status, headers = step
            return httpx.Response(status, headers=headers, json={"status": "error"})
        path = request.url.path
        name = {
            "/fng/": "fng",
            "/api/v3/global": "global",
            "/api/v3/coins/bitcoin/market_chart": "market_chart_bitcoin",
            "/api/v3/global/market_cap_chart": "market_cap_chart",
        }.get(path)
        if name is None:
            return httpx.Response(404, json={"error": "coin not found"})
        return httpx.Response(200, content=(FIXTURES / f"{name}.json").read_bytes())


def fetcher(tmp_path: Path, server: Server, **kw) -> Fetcher:
    waits: list[float] = []
    return Fetcher(
        tmp_path / "cache",
        transport=httpx.MockTransport(server),
        sleep=waits.append,
        **kw,
    )


def test_fear_greed_fetched_cached_and_read_like_a_file(tmp_path):
    server = Server()
    f = fetcher(tmp_path, server)
    path = f.fear_greed()
    assert path == tmp_path / "cache" / "fng.json"
    req = server.requests[0]
    assert (req.url.host, req.url.path, dict(req.url.params)) == (
        "api.alternative.me",
        "/fng/",
        {"limit": "0", "format": "json"},
    )
    frame = read_fear_greed(path)
    stored = json.loads((FIXTURES / "fng.json").read_text())["data"]
    assert frame.height == len(stored) == 40
    assert frame["date"][-1] == date(2026, 2, 5)
    assert frame["value"][-1] == float(stored[0]["value"])  # newest first in the response
    assert f.fear_greed() == path and len(server.requests) == 1  # fresh cache: no request
    f.clock = lambda: path.stat().st_mtime + f.max_age + 1  # stale: asked again
    f.fear_greed()
    assert len(server.requests) == 2


def test_coingecko_global_and_market_chart(tmp_path):
    server = Server()
    f = fetcher(tmp_path, server)
    mc = read_market_cap(f.market_cap())
    assert mc.height == 1 and mc["date"][0] == date(2026, 2, 5)
    assert mc["total_usd"][0] == 2.4e12
    assert mc["btc_usd"][0] == pytest.approx(2.4e12 * 0.585)
    sym, path = f.closes("BTC")
    assert sym == "BTC" and path.name == "market_chart_bitcoin.json"
    assert dict(server.requests[-1].url.params) == {
        "vs_currency": "usd",
        "days": "365",
        "interval": "daily",
    }
    closes = read_closes(path)
    stored = json.loads((FIXTURES / "market_chart_bitcoin.json").read_text())["prices"]
    # 00:00 points close the day before; the latest (02-05 18:00) is 02-05 so far
    assert closes.height == 41 and closes["close"][-1] == stored[-1][1]
    assert closes["date"][-1] == date(2026, 2, 5) and closes["close"][-2] == stored[-2][1]
    with pytest.raises(SourceUnavailableError, match="HTTP 404"):
        f.closes("ZZZ=no-such-coin")
    assert len(server.requests) == 3  # a 404 is not retried
    with pytest.raises(InvalidInputError, match="--live-closes"):
        f.closes("QQQ")  # no known id and none given


def test_coingecko_market_cap_history_with_the_key_in_a_header_never_cached(tmp_path):
    server = Server([(429, {"retry-after": "3"})])
    f = fetcher(tmp_path, server, api_key="test-key-123")
    path = f.market_cap_history()
    assert path == tmp_path / "cache" / "market_cap_chart.json" and f.waits == [3.0]
    req = server.requests[-1]
    assert (req.url.host, req.url.path) == (
        "pro-api.coingecko.com",
        "/api/v3/global/market_cap_chart",
    )
    assert dict(req.url.params) == {"vs_currency": "usd", "days": "365"}
    assert req.headers["x-cg-pro-api-key"] == "test-key-123"
    assert b"test-key-123" not in path.read_bytes()
    mc = read_market_cap(path)
    stored = json.loads((FIXTURES / "market_cap_chart.json").read_text())
    points = stored["market_cap_chart"]["market_cap"]
    assert mc.height == 41 and mc["date"][-1] == date(2026, 2, 5)
    assert mc["total_usd"][-1] == points[-1][1]  # 02-05 so far: the 18:00 point
    assert mc["total_usd"][-2] == points[-2][1]  # 02-05 00:00: the close of 02-04
    assert mc["date"][0] == date(2025, 12, 27) and mc["line"][-1] == len(points)
    assert mc["btc_usd"].null_count() == 41  # the chart has the total only
    assert f.market_cap_history() == path and len(server.requests) == 2  # cached


def test_market_cap_history_without_a_key_or_with_a_refused_one(tmp_path):
    with pytest.raises(InvalidInputError, match="COINGECKO_PRO_API_KEY"):
        fetcher(tmp_path, Server()).market_cap_history()
    server = Server([(401, {})])
    with pytest.raises(SourceUnavailableError, match=r"HTTP 401 \(refused: is the API key"):
        fetcher(tmp_path, server, api_key="bad").market_cap_history()
    assert len(server.requests) == 1  # not retried
    assert not (tmp_path / "cache" / "market_cap_chart.json").exists()


def test_monitor_reads_the_market_cap_history_live(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "market_cap_chart.json").write_bytes((FIXTURES / "market_cap_chart.json").read_bytes())
    out = tmp_path / "report"
    args = ["monitor", "--out", str(out), "--cache", str(cache), "--live-market-cap-history"]
    monkeypatch.delenv("COINGECKO_PRO_API_KEY", raising=False)
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and "COINGECKO_PRO_API_KEY" in res.stderr and not out.exists()
    monkeypatch.setenv("COINGECKO_PRO_API_KEY", "k")
    res = CliRunner().invoke(app, [*args, "--since", "2026-01-14", "--json"])
    assert res.exit_code == 0, res.output
    m = json.loads(res.output)["market"]
    stored = json.loads((FIXTURES / "market_cap_chart.json").read_text())
    assert m["total_usd"] == stored["market_cap_chart"]["market_cap"][-1][1]
    assert m["since"]["date"] == "2026-01-14" and m["peak"]["date"] <= "2026-02-05"
    other = ["monitor", "--out", str(tmp_path / "o"), "--cache", str(cache)]
    res = CliRunner().invoke(app, [*other, "--live-market-cap-history", "--live-market-cap"])
    assert res.exit_code == 2 and "one market-cap source" in res.stderr


def test_a_rate_limit_is_retried_after_retry_after(tmp_path):
    server = Server([(429, {"retry-after": "7"}), (429, {})])
    f = fetcher(tmp_path, server)
    f.fear_greed()
    assert len(server.requests) == 3
    assert f.waits == [7.0, 2.0]  # the server's Retry-After, then the backoff (1, 2, 4 s)


def test_server_errors_then_success(tmp_path):
    server = Server([(503, {}), (502, {}), (500, {})])
    f = fetcher(tmp_path, server)
    assert read_fear_greed(f.fear_greed()).height == 40
    assert f.waits == [1.0, 2.0, 4.0]


def test_a_timeout_every_time_is_a_clear_offline_error_and_nothing_is_cached(tmp_path):
    server = Server([httpx.ReadTimeout("timed out")] * 4)
    f = fetcher(tmp_path, server, timeout=2.0)
    with pytest.raises(SourceUnavailableError) as err:
        f.fear_greed()
    msg = str(err.value)
    assert msg.startswith("https://api.alternative.me/fng/: could not be read")
    assert "offline or unreachable: no answer within 2 s" in msg and "4 attempt(s)" in msg
    assert f.waits == [1.0, 2.0, 4.0]
    assert not (tmp_path / "cache" / "fng.json").exists()


def test_rate_limited_every_time(tmp_path):
    server = Server([(429, {"retry-after": "600"})] * 4)
    f = fetcher(tmp_path, server, retries=1)
    with pytest.raises(SourceUnavailableError, match=r"rate-limited \(HTTP 429\); 2 attempt"):
        f.market_cap()
    assert f.waits == [60.0]  # Retry-After is capped


def test_monitor_reads_live_sources_from_a_fresh_cache(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    for name in ("fng", "global", "market_chart_bitcoin"):
        (cache / f"{name}.json").write_bytes((FIXTURES / f"{name}.json").read_bytes())
    out = tmp_path / "report"
    args = ["monitor", "--out", str(out), "--cache", str(cache), "--live-fear-greed"]
    args += ["--live-market-cap", "--live-closes", "BTC", "--json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    s = json.loads(res.output)
    assert s["as_of_day"] == "2026-02-05"
    assert s["fear_greed"]["published"]["from"]["file"] == "fng.json"
    assert s["market"]["total_usd"] == 2.4e12
    assert s["assets"]["symbols"][0]["symbol"] == "BTC"


def test_monitor_offline_is_one_line_and_exit_2(tmp_path, monkeypatch):
    """A proxy on a closed local port: httpx's connection is refused, as when offline."""
    for var in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    out = tmp_path / "report"
    args = ["monitor", "--out", str(out), "--cache", str(tmp_path / "c"), "--live-fear-greed"]
    res = CliRunner().invoke(app, [*args, "--live-retries", "0"])
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines() if res.stderr else res.output.strip().splitlines()
    assert len(lines) == 1, lines
    assert "api.alternative.me/fng/" in lines[0] and "offline or unreachable" in lines[0]
    assert "1 attempt(s)" in lines[0]
    assert not out.exists()


def test_a_file_and_the_same_source_live_is_refused(tmp_path):
    fg = tmp_path / "fg.csv"
    fg.write_text("date,value\n2026-02-05,12\n")
    args = ["monitor", "--out", str(tmp_path / "o"), "--fear-greed", str(fg), "--live-fear-greed"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2
    assert "--fear-greed and --live-fear-greed" in res.output + (res.stderr or "")
