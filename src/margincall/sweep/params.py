"""Dotted scenario paths (``"market.insurance_fund_usd"``): which exist, and setting one.

A sweep varies scenario fields by their dotted path through the pydantic
:class:`~margincall.sim.scenario.Scenario` model. Only leaf fields (numbers, strings, lists) can
be varied; an unknown path is refused with the nearest valid ones and the fields of its section.
"""

from __future__ import annotations

import difflib
from functools import cache
from typing import Any

from pydantic import BaseModel

from margincall.core.errors import InvalidInputError
from margincall.sim.scenario import Scenario


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


@cache
def valid_paths() -> tuple[str, ...]:
    """Every leaf field of a scenario as a dotted path, in model order."""
    out: list[str] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            if _is_model(field.annotation):
                walk(field.annotation, f"{prefix}{name}.")
            else:
                out.append(f"{prefix}{name}")

    walk(Scenario, "")
    return tuple(out)


def check_path(path: str, where: str) -> None:
    """Refuse a path that is not a leaf field of a scenario; the message lists the nearest
    paths and the valid fields of the path's section (or the valid sections)."""
    paths = valid_paths()
    if path in paths:
        return
    near = difflib.get_close_matches(path, paths, n=3, cutoff=0.5)
    section = path.rsplit(".", 1)[0] if "." in path else ""
    siblings = [p for p in paths if section and p.startswith(section + ".")]
    if siblings:
        listing = f"one of the {section} fields: " + ", ".join(siblings)
    else:
        sections = sorted({p.split(".")[0] for p in paths})
        listing = "a dotted scenario path starting with one of " + ", ".join(sections)
    hint = f" (nearest: {', '.join(near)})" if near else ""
    raise InvalidInputError(where, path, listing + hint)


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``path`` in a scenario dict (``Scenario.model_dump()``) in place."""
    *parents, leaf = path.split(".")
    node = data
    for key in parents:
        node = node[key]
    node[leaf] = value
