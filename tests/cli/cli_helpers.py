"""Helpers of the command-line tests: the checks every refused input must pass (exit status 2,
one line on stderr naming what, no traceback, nothing written)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from margincall.cli import app

runner = CliRunner()


def invoke(args: list[str]):
    return runner.invoke(app, [str(a) for a in args])


def assert_refused(result, *needles: str) -> str:
    """Exit status 2 and one stderr line that starts with ``error:``, names every needle, and
    holds neither a traceback nor a numpy repr; returns the line."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("error: "), line
    assert "Traceback" not in result.output + result.stderr
    assert "np.float64" not in line and "np.int64" not in line, line
    for needle in needles:
        assert needle in line, (needle, line)
    return line


def leftovers(folder: Path) -> list[str]:
    """Hidden temporaries and locks of margincall in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if ".margincall" in p.name)
