"""Watch mode (``margincall monitor --every``) and alert rules (``--alert``): a real subprocess
re-reads files the test appends to, rewrites the report in place, fires an alert once, and stops
cleanly on SIGINT; no reader ever sees a half-written report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from margincall.core.errors import InvalidInputError
from margincall.monitor.alerts import Alerts, parse_rule, read_rules
from margincall.monitor.refresh import Stop, keep_current, parse_every

SRC = str(Path(__file__).resolve().parents[2] / "src")
DAY0 = date(2026, 1, 1)
DAYS = 40


def _write_sources(d: Path) -> tuple[Path, Path]:
    closes, fng = d / "btc_closes.csv", d / "fng.csv"
    closes.write_text(
        "date,close\n"
        + "".join(f"{DAY0 + timedelta(days=i)},{90000 - 300 * i}\n" for i in range(DAYS))
    )
    fng.write_text(
        "date,value\n" + "".join(f"{DAY0 + timedelta(days=i)},{40 - i % 7}\n" for i in range(DAYS))
    )
    return closes, fng


def _append(path: Path, line: str) -> None:
    with open(path, "a") as handle:  # one write of a whole line, as a producer would
        handle.write(line)


class Poller(threading.Thread):
    """Reads the report files as fast as it can and records any that is not whole."""

    def __init__(self, out: Path) -> None:
        super().__init__(daemon=True)
        self.out, self.bad, self.reads, self.running = out, [], 0, True

    def run(self) -> None:
        while self.running:
            try:
                summary = (self.out / "summary.json").read_text()
                md = (self.out / "report.md").read_text()
                html = (self.out / "report.html").read_text()
            except FileNotFoundError:
                continue  # not written yet (the first report appears whole, at once)
            try:
                json.loads(summary)
            except ValueError:
                self.bad.append(("summary.json", summary[-80:]))
            if not md.rstrip().splitlines()[-1].startswith("- Source fng.csv"):
                self.bad.append(("report.md", md[-80:]))
            if not html.rstrip().endswith("</html>"):
                self.bad.append(("report.html", html[-80:]))
            self.reads += 1


def _wait_for(proc: subprocess.Popen, lines: list[str], needle: str, timeout: float = 60) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"monitor ended before {needle!r}: {lines}")
        lines.append(line)
        if needle in line:
            return line
    raise AssertionError(f"no {needle!r} within {timeout}s: {lines}")


def test_watch_rewrites_in_place_fires_an_alert_once_and_stops_on_sigint(tmp_path):
    closes, fng = _write_sources(tmp_path)
    rules = tmp_path / "alerts.toml"
    rules.write_text('[alerts]\nextreme_fear = "fear_greed < 10"\nbtc_low = "close < 1000"\n')
    out = tmp_path / "watch"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "margincall.cli", "monitor", "--out", str(out)]
    cmd += ["--closes", f"BTC={closes}", "--fear-greed", str(fng)]
    cmd += ["--alert", str(rules), "--every", "1s"]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    poller = Poller(out)
    poller.start()
    lines: list[str] = []
    try:
        last = DAY0 + timedelta(days=DAYS - 1)
        assert f"as of {last}" in _wait_for(proc, lines, "refresh 1:")
        assert json.loads((out / "summary.json").read_text())["as_of_day"] == str(last)
        new = last + timedelta(days=1)
        _append(closes, f"{new},55000\n")
        _append(fng, f"{new},5\n")
        seen = _wait_for(proc, lines, f"as of {new}")
        assert "fear_greed 5" in seen
        assert "ALERT extreme_fear" in _wait_for(proc, lines, "ALERT")
        _wait_for(proc, lines, "refresh")  # one more refresh: the rule still holds, no new alert
        assert json.loads((out / "summary.json").read_text())["as_of_day"] == str(new)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        poller.running = False
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines += rest.splitlines(keepends=True)
    text = "".join(lines)
    assert proc.returncode == 0, text
    assert "Traceback" not in text
    assert sum("ALERT" in line for line in lines) == 1, text
    assert sum(" refresh " in line and "failed" not in line for line in lines) >= 3
    assert "stopped after" in lines[-1]
    poller.join(5)
    assert poller.reads > 0 and poller.bad == []
    records = [json.loads(x) for x in (out / "alerts.jsonl").read_text().splitlines()]
    assert [(r["rule"], r["value"], r["as_of"]) for r in records] == [
        ("extreme_fear", 5.0, str(new))
    ]
    assert sorted(p.name for p in out.iterdir()) == [
        "alerts.jsonl",
        "report.html",
        "report.md",
        "summary.json",
    ]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_rule_fires_when_it_becomes_true_and_again_only_after_it_was_false():
    alerts = Alerts([parse_rule("low", "close < 60000", "t.toml")])
    seq = [70000, 59000, 58000, None, 57000, 61000, 59999]
    fired = [bool(alerts.check({"close": v})) for v in seq]
    assert fired == [False, True, False, False, True, False, True]


def test_rules_of_the_brief_parse(tmp_path):
    f = tmp_path / "a.toml"
    f.write_text(
        "[alerts]\n"
        'liqs = "liq_1h_usd > 250e6"\nlow = "close < 60000"\n'
        'etf = "etf_flow_day < -500e6"\nfear = "fear_greed < 10"\n'
    )
    got = [(r.figure, r.op, r.threshold) for r in read_rules(f)]
    assert got == [
        ("liq_1h_usd", ">", 250e6),
        ("close", "<", 60000.0),
        ("etf_flow_day", "<", -500e6),
        ("fear_greed", "<", 10.0),
    ]


@pytest.mark.parametrize(
    "text", ["close << 1", "price < 1", "close < nan", "close < inf", "close", 5, "close < 1 2"]
)
def test_bad_rules_are_refused(text):
    with pytest.raises(InvalidInputError, match=r"alerts\.r"):
        parse_rule("r", text, "t.toml")


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("5m", 300), ("1h", 3600), ("0.5s", 0.5)]
)
def test_every(text, seconds):
    assert parse_every(text) == seconds


def test_a_later_failed_refresh_keeps_going_and_the_first_one_propagates():
    said: list[str] = []
    stop = Stop()

    def refresh(n: int) -> list[str]:
        if n == 2:
            raise InvalidInputError("file", "x.csv", "a readable file")
        if n == 3:
            stop.requested = True
        return [f"ok {n}"]

    assert keep_current(refresh, 0.0, said.append, stop=stop) == 2
    assert said[0] == "ok 1" and said[1].startswith("refresh 2 failed: file='x.csv'")
    assert said[2] == "ok 3"

    def broken(n: int) -> list[str]:
        raise InvalidInputError("file", "x.csv", "a readable file")

    with pytest.raises(InvalidInputError):
        keep_current(broken, 0.0, said.append, stop=Stop())
