import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zoopt.random import philox4x32

import reference as ref

# Random123's published known-answer vectors (file kat_vectors of the
# distribution): rounds, counter, key, answer.
KAT = [
    (7, "00000000 00000000 00000000 00000000", "00000000 00000000",
     "5f6fb709 0d893f64 4f121f81 4f730a48"),
    (7, "ffffffff ffffffff ffffffff ffffffff", "ffffffff ffffffff",
     "5207ddc2 45165e59 4d8ee751 8c52f662"),
    (7, "243f6a88 85a308d3 13198a2e 03707344", "a4093822 299f31d0",
     "4dfccaba 190a87f0 c47362ba b6b5242a"),
    (10, "00000000 00000000 00000000 00000000", "00000000 00000000",
     "6627e8d5 e169c58d bc57ac4c 9b00dbd8"),
    (10, "ffffffff ffffffff ffffffff ffffffff", "ffffffff ffffffff",
     "408f276d 41c83b0e a20bc7c6 6d5451fd"),
    (10, "243f6a88 85a308d3 13198a2e 03707344", "a4093822 299f31d0",
     "d16cfe09 94fdcceb 5001e420 24126ea1"),
]


def _words(text):
    return np.array([int(w, 16) for w in text.split()], dtype=np.uint32)


@pytest.mark.parametrize(("rounds", "ctr", "key", "answer"), KAT)
def test_known_answers(rounds, ctr, key, answer):
    out = philox4x32(_words(ctr), _words(key), rounds=rounds)
    assert out.tolist() == _words(answer).tolist()
    # the NumPy twin agrees too
    assert ref.philox4x32(_words(ctr)[None], _words(key)[None], rounds)[0].tolist() == \
        _words(answer).tolist()


@given(st.integers(1, 50), st.integers(0, 2**32 - 1), st.integers(1, 12))
def test_matches_reference(n, seed, rounds):
    gen = np.random.default_rng(seed)
    ctr = gen.integers(0, 2**32, size=(n, 4), dtype=np.uint32)
    key = gen.integers(0, 2**32, size=(n, 2), dtype=np.uint32)
    assert np.array_equal(philox4x32(ctr, key, rounds=rounds), ref.philox4x32(ctr, key, rounds))


def test_broadcasting_and_shapes():
    ctr = np.arange(24, dtype=np.uint32).reshape(2, 3, 4)
    key = np.array([7, 9], dtype=np.uint32)
    out = philox4x32(ctr, key)
    assert out.shape == (2, 3, 4)
    assert out.dtype == np.uint32
    expect = ref.philox4x32(ctr.reshape(-1, 4), np.tile(key, (6, 1))).reshape(2, 3, 4)
    assert np.array_equal(out, expect)
    # python ints are accepted
    assert philox4x32([0, 0, 0, 0], [0, 0]).tolist() == _words(KAT[3][3]).tolist()


@pytest.mark.parametrize(
    ("ctr", "key", "exc", "match"),
    [
        (np.zeros(3, np.uint32), np.zeros(2, np.uint32), ValueError, "'counter'.*\\(..., 4\\)"),
        (np.zeros(4, np.uint32), np.zeros(3, np.uint32), ValueError, "'key'.*\\(..., 2\\)"),
        (np.zeros(4), np.zeros(2, np.uint32), TypeError, "'counter'.*uint32"),
        (np.array([-1, 0, 0, 0]), np.zeros(2, np.uint32), ValueError, "'counter'"),
        (np.zeros((2, 4), np.uint32), np.zeros((3, 2), np.uint32), ValueError, "broadcast"),
    ],
)
def test_bad_input(ctr, key, exc, match):
    with pytest.raises(exc, match=match):
        philox4x32(ctr, key)


def test_bad_rounds():
    with pytest.raises(ValueError, match="'rounds' parameter of philox4x32"):
        philox4x32(np.zeros(4, np.uint32), np.zeros(2, np.uint32), rounds=0)
