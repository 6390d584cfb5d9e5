"""Issue 18, defect 9: the repository's own checks and documents say what is true."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import invoke

ROOT = Path(__file__).resolve().parents[2]


def _ruff() -> list[str]:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if exe is None:
        pytest.skip("ruff (a dev dependency) is not installed")
    return [exe]


def test_make_lint_passes():
    for args in (["check", "."], ["format", "--check", "."]):
        done = subprocess.run(
            [*_ruff(), *args], cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_ci_runs_lint_after_the_tests():
    steps = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert "make lint" in steps and steps.index("make lint") > steps.index("make test")


def test_make_clean_keeps_the_users_runs():
    text = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^clean:.*\n((?:\t.*\n?)+)", text, re.M)
    assert recipe is not None
    removed = {word for line in recipe.group(1).splitlines() for word in shlex.split(line)}
    assert ".venv" in removed or "$(VENV)" in removed
    assert "runs" not in removed and "runs/" not in removed


def test_the_readme_mapping_example_runs_on_a_generic_table(tmp_path):
    readme = (ROOT / "README.md").read_text()
    example = next(
        line for line in readme.splitlines() if "--mapping" in line and "monitor" in line
    )
    args = shlex.split(example.split("#")[0])[1:]  # without "margincall" and the comment
    mapping = dict(p.split("=") for p in args[args.index("--mapping") + 1].split(","))
    sources = [a for a in args[1 : args.index("--mapping")]]
    assert sources and all(not s.startswith("klines") for s in sources)
    rows = [f"{mapping['ts']},{mapping['close']}"] + [
        f"2026-01-{1 + i // 24:02d}T{i % 24:02d}:00:00Z,{60_000 + 100 * (i % 5)}" for i in range(48)
    ]
    for s in sources:
        (tmp_path / s).write_text("\n".join(rows) + "\n")
    args[args.index("--out") + 1] = str(tmp_path / "report")
    result = invoke([args[0], *(str(tmp_path / s) for s in sources), *args[1 + len(sources) :]])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "report" / "summary.json").is_file()


def test_the_readme_gives_the_first_run_time_a_fresh_machine_sees():
    readme = (ROOT / "README.md").read_text()
    assert "1 to 2 minutes" not in readme
    assert "about a minute on a 2-core machine" in readme  # bench_first_run: 63.2 s
