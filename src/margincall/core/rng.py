"""The seeded random-number tree.

One seed builds one ``numpy.random.SeedSequence``; every agent group and model asks for a child
by a stable name, so adding a new consumer never changes the draws of the others, and the same
seed gives the same numbers in any process (names are hashed with SHA-256, never ``hash()``).

Example:
    >>> tree = RngTree(7)
    >>> a = tree.generator("makers").integers(0, 100, 3)
    >>> b = RngTree(7).generator("makers").integers(0, 100, 3)
    >>> bool((a == b).all())
    True
"""

from __future__ import annotations

import hashlib

import numpy as np

from margincall.core.errors import InvalidInputError


def _name_key(name: str) -> tuple[int, ...]:
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))


class RngTree:
    """A tree of independent random streams under one integer seed."""

    def __init__(self, seed: int, _key: tuple[int, ...] = ()) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise InvalidInputError("seed", seed, "a non-negative integer")
        self.seed = int(seed)
        self._key = _key
        self.sequence = np.random.SeedSequence(entropy=self.seed, spawn_key=_key)

    def child(self, name: str) -> RngTree:
        """The subtree for ``name`` (stable across runs and processes)."""
        if not name:
            raise InvalidInputError("name", name, "a non-empty stream name")
        return RngTree(self.seed, self._key + _name_key(name))

    def generator(self, name: str) -> np.random.Generator:
        """A fresh ``Generator`` for the named stream."""
        return np.random.Generator(np.random.PCG64(self.child(name).sequence))
