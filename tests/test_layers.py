"""Layers: the estimator stands alone. No file under ``src/margincall/estimate/`` imports
``margincall.sim``, at the top or lazily inside a function (the run-folder and scenario sources
live in :mod:`margincall.inputs`, above both). The formulas sit below the venue: nothing under
``src/margincall/formulas/`` imports any layer but ``margincall.core`` (the venue may import the
formulas, never the reverse)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import margincall

PACKAGE = Path(margincall.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str) -> list[tuple[int, str]]:
    """``(line, dotted name)`` of every module that ``source`` (the module ``module``) imports,
    anywhere in it: ``import a.b``, ``from a.b import c`` (as ``a.b`` and ``a.b.c``), relative
    imports resolved against ``module``, and ``importlib.import_module("a.b")`` or
    ``__import__("a.b")`` with a literal name."""
    package = module.split(".")[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            found += [(node.lineno, f"{name}.{a.name}") for a in node.names]
        elif isinstance(node, ast.Call) and node.args:
            f = node.func
            called = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            arg = node.args[0]
            if called in ("import_module", "__import__") and isinstance(arg, ast.Constant):
                found.append((node.lineno, str(arg.value)))
    return found


def forbidden(source: str, module: str, layer: str = "margincall.sim") -> list[str]:
    return [
        f"line {line}: {name}"
        for line, name in imported_modules(source, module)
        if name == layer or name.startswith(layer + ".")
    ]


def test_estimate_imports_no_sim():
    files = sorted((PACKAGE / "estimate").rglob("*.py"))
    assert len(files) >= 5, files
    bad = {
        str(p.relative_to(PACKAGE)): hits
        for p in files
        if (hits := forbidden(p.read_text("utf-8"), _module_name(p)))
    }
    assert not bad, f"margincall.estimate imports margincall.sim: {bad}"


@pytest.mark.parametrize(
    "source",
    [
        "import margincall.sim.kernel",
        "from margincall.sim.scenario import load_scenario",
        "from margincall import sim",
        "def f():\n    from margincall.sim.kernel import Simulation\n    return Simulation",
        "from ..sim import scenario",
        "from ..sim.kernel import Simulation",
        "import importlib\nimportlib.import_module('margincall.sim.run_folder')",
    ],
)
def test_the_check_sees_every_form_of_import(source):
    assert forbidden(source, "margincall.estimate.stress")


@pytest.mark.parametrize(
    "source",
    [
        "from margincall.venue.accounts import MARK",
        "from . import maps",
        "from .maps import LiquidationMap",
        "import margincall.simulator_notes",
        "from margincall.estimate import simple",
    ],
)
def test_the_check_passes_other_imports(source):
    assert not forbidden(source, "margincall.estimate.stress")


FORMULAS_MAY_IMPORT = ("margincall.core", "margincall.formulas")
SOURCES_MAY_IMPORT = ("margincall.core", "margincall.sources")


def outside(source: str, module: str, allowed: tuple[str, ...]) -> list[str]:
    """The imports of ``source`` into margincall layers other than ``allowed``."""
    return [
        f"line {line}: {name}"
        for line, name in imported_modules(source, module)
        if name.startswith("margincall.")
        and not any(name == ok or name.startswith(ok + ".") for ok in allowed)
    ]


def _layer_offenders(package: str, allowed: tuple[str, ...], at_least: int) -> dict:
    files = sorted((PACKAGE / package).rglob("*.py"))
    assert len(files) >= at_least, files
    return {
        str(p.relative_to(PACKAGE)): hits
        for p in files
        if (hits := outside(p.read_text("utf-8"), _module_name(p), allowed))
    }


def test_formulas_import_only_core():
    bad = _layer_offenders("formulas", FORMULAS_MAY_IMPORT, 5)
    assert not bad, f"margincall.formulas imports a layer above it: {bad}"


def test_sources_import_only_core():
    """``margincall.sources`` is the layer below monitor, estimate and sim: its files import
    nothing of margincall but :mod:`margincall.core` and each other."""
    bad = _layer_offenders("sources", SOURCES_MAY_IMPORT, 6)
    assert not bad, f"margincall.sources imports a layer above it: {bad}"


@pytest.mark.parametrize(
    ("source", "bad"),
    [
        ("from margincall.venue.margin_int import tier_of", True),
        ("import margincall.venue", True),
        ("from margincall import venue", True),
        ("from ..venue import mark", True),
        ("def f():\n    from margincall.sim import kernel\n    return kernel", True),
        ("from margincall.core.errors import InvalidInputError", False),
        ("from .margin import tier_index", False),
        ("from margincall.formulas import band", False),
        ("from margincall import core", False),
        ("import math", False),
    ],
)
def test_the_formulas_check_tells_core_from_the_layers_above(source, bad):
    assert bool(outside(source, "margincall.formulas.funding", FORMULAS_MAY_IMPORT)) is bad
