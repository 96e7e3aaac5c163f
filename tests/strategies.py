"""Reusable Hypothesis strategies."""

import numpy as np
from hypothesis import strategies as st

seeds = st.integers(min_value=0, max_value=2**63 - 1)
keys = st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)).map(
    lambda k: np.array(k, dtype=np.uint32)
)
steps = st.one_of(st.integers(0, 20), st.integers(0, 2**56 - 1))
float_dtypes = st.sampled_from([np.float32, np.float64])
dists = st.sampled_from(["normal", "rademacher", "sphere"])
# small dimensions and ones that cross block and tile boundaries
dims = st.one_of(st.integers(1, 9), st.integers(120, 140), st.integers(1020, 1030),
                 st.integers(2040, 2200))
small_dims = st.integers(1, 40)


@st.composite
def points(draw, d, dtype=np.float64, scale=3.0):
    vals = draw(st.lists(st.floats(-scale, scale, allow_nan=False, width=32),
                         min_size=d, max_size=d))
    return np.array(vals, dtype=dtype)
