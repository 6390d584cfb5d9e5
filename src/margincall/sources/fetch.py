"""Live daily sources over HTTP (httpx): alternative.me's Fear & Greed and CoinGecko's global
market cap and coin market charts, saved to a cache folder and read by the same readers as files.

Each fetch writes the response body to ``CACHE/NAME.json`` (whole, by rename) and returns that
path; :func:`margincall.sources.fear_greed.read_fear_greed`,
:func:`~margincall.sources.market_cap.read_market_cap` and
:func:`~margincall.sources.closes.read_closes` read it, so a live source has the schema, checks
and line citations of a file (the cited "lines" are the JSON records' positions).

- **Endpoints** (:data:`ENDPOINTS`): ``fng`` = ``https://api.alternative.me/fng/?limit=0``
  (the whole history); ``global`` = ``https://api.coingecko.com/api/v3/global`` (one row, the
  day of ``updated_at``); ``market_chart`` = ``.../coins/{id}/market_chart?vs_currency=usd&days=
  365&interval=daily`` (the coin id from :data:`COINGECKO_IDS`, e.g. BTC = bitcoin);
  ``market_cap_chart`` = ``https://pro-api.coingecko.com/api/v3/global/market_cap_chart?
  vs_currency=usd&days=365``, the total market cap's history (daily points past 90 days), a
  paid endpoint: the key (:data:`API_KEY_VARIABLE`) goes in the ``x-cg-pro-api-key`` header,
  never into the cache.
- **Cache**: a cached response younger than ``max_age`` seconds (default :data:`MAX_AGE`, so a
  watch refreshing every minute does not ask every minute) is used without a request.
- **Timeouts and retries**: each request has a ``timeout`` (default 10 s). A timeout, a
  connection error, HTTP 429 or 5xx is retried up to ``retries`` times (default 3) after
  ``backoff x 2^k`` seconds (1, 2, 4 s), or the server's ``Retry-After`` seconds on a 429 when
  it gives them (at most :data:`MAX_WAIT`). Other HTTP errors (404, 400) are not retried.
- **Failure**: :class:`~margincall.core.errors.SourceUnavailableError` naming the URL and the
  last cause (``offline or unreachable`` for connection errors and timeouts, ``rate-limited
  (HTTP 429)``, ``HTTP 503``); the CLI prints it on one line and exits with status 2.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from margincall.core.atomic import write_atomic
from margincall.core.errors import InvalidInputError, SourceUnavailableError

ALTERNATIVE_ME = "https://api.alternative.me"
COINGECKO = "https://api.coingecko.com/api/v3"
COINGECKO_PRO = "https://pro-api.coingecko.com/api/v3"
API_KEY_VARIABLE = "COINGECKO_PRO_API_KEY"
"""The environment variable holding a CoinGecko Pro API key (for ``market_cap_chart``)."""
ENDPOINTS = {
    "fng": (ALTERNATIVE_ME + "/fng/", {"limit": "0", "format": "json"}),
    "global": (COINGECKO + "/global", {}),
    "market_chart": (
        COINGECKO + "/coins/{id}/market_chart",
        {"vs_currency": "usd", "days": "365", "interval": "daily"},
    ),
    "market_cap_chart": (
        COINGECKO_PRO + "/global/market_cap_chart",
        {"vs_currency": "usd", "days": "365"},
    ),
}
"""Name -> (URL, query parameters) of the live sources."""
COINGECKO_IDS = {
    "BTC": "bitcoin",
    "ETH": "ethereum",
    "SOL": "solana",
    "XRP": "ripple",
    "BNB": "binancecoin",
    "DOGE": "dogecoin",
    "ADA": "cardano",
    "TRX": "tron",
    "AVAX": "avalanche-2",
    "LINK": "chainlink",
    "DOT": "polkadot",
    "LTC": "litecoin",
}
"""CoinGecko coin ids of the symbols ``--live-closes`` takes (``SYMBOL=id`` for others)."""
MAX_AGE = 300.0
"""Seconds a cached response is used without asking again."""
MAX_WAIT = 60.0
"""The longest wait before a retry (a larger ``Retry-After`` is cut to this)."""
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def default_cache() -> Path:
    """``$XDG_CACHE_HOME/margincall/live`` (``~/.cache/margincall/live``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "margincall" / "live"


@dataclass
class Fetcher:
    """Fetches live sources into ``cache`` (module docstring). ``transport`` and ``sleep`` are
    for tests (an ``httpx.MockTransport`` and a recorder of the waits)."""

    cache: Path
    api_key: str | None = None  # CoinGecko Pro, for market_cap_history only
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 1.0
    max_age: float = MAX_AGE
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    waits: list[float] = field(default_factory=list)

    def fear_greed(self) -> Path:
        """alternative.me's whole Fear & Greed history (``fng.json``)."""
        return self.get("fng", "fng")

    def market_cap(self) -> Path:
        """CoinGecko's ``/global`` (``global.json``)."""
        return self.get("global", "global")

    def market_cap_history(self) -> Path:
        """CoinGecko's ``/global/market_cap_chart``, 365 days (``market_cap_chart.json``)."""
        if not self.api_key:
            raise InvalidInputError(
                "--live-market-cap-history",
                "(no API key)",
                f"a CoinGecko Pro API key in ${API_KEY_VARIABLE} (the endpoint is paid)",
            )
        key = {"x-cg-pro-api-key": self.api_key}
        return self.get("market_cap_chart", "market_cap_chart", headers=key)

    def closes(self, spec: str) -> tuple[str, Path]:
        """``SYMBOL`` or ``SYMBOL=coingecko-id``: the coin's daily market chart
        (``market_chart_ID.json``) and the symbol."""
        sym, _, coin = spec.partition("=")
        sym = sym.strip().upper()
        coin = coin.strip() or COINGECKO_IDS.get(sym, "")
        if not sym.isalnum() or not coin.replace("-", "").isalnum():
            raise InvalidInputError(
                "--live-closes",
                spec,
                f"SYMBOL (one of {', '.join(COINGECKO_IDS)}) or SYMBOL=coingecko-id",
            )
        return sym, self.get("market_chart", f"market_chart_{coin}", id=coin)

    def get(
        self, endpoint: str, name: str, headers: dict[str, str] | None = None, **path_args: str
    ) -> Path:
        """The cached or fetched response of ``endpoint`` saved as ``CACHE/NAME.json``
        (``headers`` are sent, not saved)."""
        target = self.cache / f"{name}.json"
        try:
            if self.clock() - target.stat().st_mtime < self.max_age:
                return target
        except FileNotFoundError:
            pass
        url, params = ENDPOINTS[endpoint]
        url = url.format(**path_args)
        body = self._request(url, params, headers or {})
        self.cache.mkdir(parents=True, exist_ok=True)
        write_atomic(target, body)
        return target

    def _request(self, url: str, params: dict[str, str], extra: dict[str, str]) -> bytes:
        why = ""
        headers = {"accept": "application/json", "user-agent": "margincall", **extra}
        with httpx.Client(
            timeout=self.timeout, transport=self.transport, headers=headers
        ) as client:
            for attempt in range(self.retries + 1):
                retry_after = None
                try:
                    r = client.get(url, params=params)
                except httpx.TimeoutException as exc:
                    why = f"offline or unreachable: no answer within {self.timeout:g} s ({exc})"
                except httpx.TransportError as exc:
                    why = f"offline or unreachable ({type(exc).__name__}: {exc})"
                else:
                    if r.status_code == 200:
                        return r.content
                    why = _status(r)
                    if r.status_code not in RETRY_STATUS:
                        break
                    retry_after = _retry_after(r)
                if attempt < self.retries:
                    wait = backoff_wait(attempt, self.backoff, retry_after)
                    self.waits.append(wait)
                    self.sleep(wait)
        raise SourceUnavailableError(url, f"{why}; {attempt + 1} attempt(s)")


def backoff_wait(attempt: int, backoff: float = 1.0, retry_after: float | None = None) -> float:
    """Seconds to wait before retrying after failed attempt ``attempt`` (0-based): the
    server's ``Retry-After`` when it gave one, else ``backoff x 2^attempt``; at most
    :data:`MAX_WAIT`. The one rule of every live source's retries (httpx and ccxt)."""
    wait = retry_after if retry_after else backoff * 2**attempt
    return min(wait, MAX_WAIT)


def _status(r: httpx.Response) -> str:
    if r.status_code == 429:
        return "rate-limited (HTTP 429)"
    if r.status_code in (401, 403):
        return f"HTTP {r.status_code} (refused: is the API key valid for this endpoint?)"
    return f"HTTP {r.status_code}"


def _retry_after(r: httpx.Response) -> float | None:
    value = r.headers.get("retry-after", "")
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
