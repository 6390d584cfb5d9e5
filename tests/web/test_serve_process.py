"""``margincall serve`` as a real process answering real HTTP on 127.0.0.1 (``curl`` when the
machine has it, else httpx): a symlink out of a run folder is 404, a Host header of another
name is refused, a body over the limit is 413 whether announced or chunked; and after
``kill -9`` of the server the simulation it started is gone within 5 s."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from dashboard_helpers import RUN_NAME, free_port

import margincall

CURL = shutil.which("curl")
SRC = str(Path(margincall.__file__).resolve().parents[1])


def http(url: str, *, headers=(), body: bytes | None = None, chunked: bool = False):
    """(status, text) of a GET, or of a POST of ``body``, sent as it is."""
    headers = dict(headers)
    if CURL:
        cmd = [CURL, "-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", "30"]
        for k, v in headers.items():
            cmd += ["-H", f"{k}: {v}"]
        if chunked:
            cmd += ["-H", "Transfer-Encoding: chunked"]
        if body is not None:
            cmd += ["--data-binary", "@-"]
        out = subprocess.run([*cmd, url], input=body, capture_output=True, timeout=60, check=True)
        text, _, status = out.stdout.decode().rpartition("\n")
        return int(status), text
    import httpx

    content = iter([body[i : i + 4096] for i in range(0, len(body), 4096)]) if chunked else body
    method = "GET" if body is None else "POST"
    r = httpx.request(method, url, headers=headers, content=content, timeout=30)
    return r.status_code, r.text


class Served:
    """``margincall serve`` in a new session; stopped (and every process it left) at exit."""

    def __init__(self, runs: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
        self.log = open(runs.parent / "serve.log", "w+b")  # noqa: SIM115 - closed in __exit__
        cmd = [sys.executable, "-m", "margincall.cli", "serve", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            [*cmd, "--runs", str(runs), "--max-sims", "1", *args],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.seen: set[int] = set()

    def __enter__(self) -> Served:
        deadline = time.time() + 60
        while True:
            with contextlib.suppress(subprocess.CalledProcessError, OSError):
                if http(self.url + "/api/info")[0] == 200:
                    return self
            if self.proc.poll() is not None or time.time() > deadline:
                self.log.seek(0)
                raise RuntimeError(f"serve did not start: {self.log.read().decode()[-2000:]}")
            time.sleep(0.2)

    def children(self) -> set[int]:
        """The server's processes below it, remembered for the cleanup."""
        found = set(descendants(self.proc.pid))
        self.seen |= found
        return found

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        for pid in [self.proc.pid, *self.seen]:  # only processes this test started
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait()
        self.log.close()


def descendants(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                out += [int(child), *descendants(int(child))]
    return out


def alive(pid: int) -> bool:
    """Running: the process exists and is not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_paths_hosts_and_body_limit_over_real_http(runs_dir, tmp_path):
    link = runs_dir / "linked"
    shutil.copytree(runs_dir / RUN_NAME, link)
    (link / "summary.json").unlink()
    os.symlink("/etc/passwd", link / "summary.json")
    big = json.dumps({"preset": "calm", "pad": "x" * 40_000}).encode()
    json_type = {"content-type": "application/json"}
    with Served(runs_dir, "--allowed-host", "dash.example") as s:
        status, text = http(f"{s.url}/api/runs/linked")
        assert status == 404 and "root:" not in text, text
        assert http(f"{s.url}/api/runs/{RUN_NAME}")[0] == 200
        for host in ("evil.example", f"evil.example:{s.port}", f"localhost:{s.port + 1}"):
            status, text = http(f"{s.url}/api/runs", headers={"Host": host})
            assert status == 400 and "Host header" in text, (host, status, text)
        assert http(f"{s.url}/api/runs", headers={"Host": f"dash.example:{s.port}"})[0] == 200
        assert http(f"{s.url}/api/runs", headers={"Host": f"localhost:{s.port}"})[0] == 200
        status, text = http(f"{s.url}/api/runs", headers=json_type, body=big, chunked=True)
        assert status == 413 and "too large" in text, (status, text)
        status, text = http(f"{s.url}/api/runs", headers=json_type, body=big)
        assert status == 413 and "too large" in text, (status, text)


def test_kill_9_of_serve_stops_its_simulation(runs_dir):
    body = json.dumps({"preset": "calm", "hours": 24, "accounts": 100_000, "name": "long"})
    with Served(runs_dir) as s:
        status, text = http(
            f"{s.url}/api/runs", headers={"content-type": "application/json"}, body=body.encode()
        )
        assert status == 202, text
        job = json.loads(text)
        deadline = time.time() + 60
        while time.time() < deadline:  # the simulation has started simulating
            job = json.loads(http(f"{s.url}/api/jobs/{job['id']}")[1])
            if job["progress"] > 0:
                break
            time.sleep(0.3)
        assert job["state"] == "running" and job["progress"] > 0, job
        children = s.children()
        assert children and all(alive(pid) for pid in children)
        os.kill(s.proc.pid, signal.SIGKILL)
        s.proc.wait(5)
        deadline = time.time() + 5
        while any(alive(pid) for pid in children) and time.time() < deadline:
            time.sleep(0.1)
        left = [pid for pid in children if alive(pid)]
        assert left == [], f"still running 5 s after kill -9 of serve: {left}"
        assert sorted(p.name for p in runs_dir.iterdir()) == [RUN_NAME]  # nothing half-written
