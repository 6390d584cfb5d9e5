"""The seeded RNG tree: named children are stable across processes and independent by name."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from margincall.core.errors import InvalidInputError
from margincall.core.rng import RngTree

_SNIPPET = (
    "from margincall.core.rng import RngTree;"
    "t = RngTree(12345);"
    "print(list(t.child('agents').child('makers').sequence.generate_state(4)));"
    "print(list(t.generator('venue').integers(0, 2**62, 4)))"
)


def _here() -> str:
    t = RngTree(12345)
    a = list(t.child("agents").child("makers").sequence.generate_state(4))
    b = list(t.generator("venue").integers(0, 2**62, 4))
    return f"{a}\n{b}\n"


def test_children_give_the_same_numbers_in_a_fresh_process():
    # a different hash seed makes sure nothing depends on Python's salted hash()
    env = {"PYTHONHASHSEED": "977"}
    out = subprocess.run(
        [sys.executable, "-c", _SNIPPET],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    ).stdout
    assert out == _here()


def test_the_same_seed_and_name_give_the_same_stream():
    a = RngTree(7).generator("makers").integers(0, 1 << 30, 8)
    b = RngTree(7).generator("makers").integers(0, 1 << 30, 8)
    assert (a == b).all()


def test_different_names_give_different_streams():
    t = RngTree(7)
    names = ["makers", "takers", "venue", "makers2", "Makers"]
    states = {tuple(t.child(n).sequence.generate_state(4)) for n in names}
    assert len(states) == len(names)


def test_different_seeds_give_different_streams():
    a = RngTree(7).child("makers").sequence.generate_state(4)
    b = RngTree(8).child("makers").sequence.generate_state(4)
    assert not (a == b).all()


def test_nesting_is_not_the_same_as_concatenating_names_and_order_matters():
    t = RngTree(3)
    ab = tuple(t.child("a").child("b").sequence.generate_state(4))
    ba = tuple(t.child("b").child("a").sequence.generate_state(4))
    joined = tuple(t.child("ab").sequence.generate_state(4))
    assert len({ab, ba, joined}) == 3


def test_asking_for_a_new_child_does_not_change_an_existing_one():
    t1 = RngTree(11)
    before = t1.generator("makers").random(5)
    t2 = RngTree(11)
    t2.generator("extra-consumer").random(100)
    after = t2.generator("makers").random(5)
    assert np.array_equal(before, after)


@pytest.mark.parametrize("seed", [-1, True, 1.5, "7"])
def test_a_bad_seed_is_refused_naming_the_field(seed):
    with pytest.raises(InvalidInputError) as e:
        RngTree(seed)
    assert e.value.field == "seed"


def test_an_empty_child_name_is_refused():
    with pytest.raises(InvalidInputError) as e:
        RngTree(1).child("")
    assert e.value.field == "name"
