from typing import Any

import numpy as np

TILE: int

def max_threads() -> int: ...
def has_openmp() -> bool: ...
def team_size(n_threads: int) -> int: ...
def philox4x32(
    ctr: np.ndarray, key: np.ndarray, out: np.ndarray, rounds: int, n_threads: int
) -> None: ...
def fill_sphere(
    out: np.ndarray, k0: int, k1: int, c2: int, c3: int, i0: int, n_threads: int,
) -> None: ...
def fill(
    scale: np.ndarray, out: np.ndarray, dist: int, k0: int, k1: int, c2: int, c3: int,
    i0: int, n_threads: int,
) -> None: ...
def perturb(
    x: np.ndarray, sigma: Any, sigma_vec: np.ndarray, scale: np.ndarray, out: np.ndarray,
    dist: int, k0: int, k1: int, c2: int, c3: int, i0: int, antithetic: bool, n_threads: int,
) -> None: ...
def accumulate(
    w: np.ndarray, scale: np.ndarray, acc: np.ndarray, dist: int, k0: int, k1: int,
    c2: int, c3: int, i0: int, square: bool, n_threads: int,
) -> None: ...
def sq_norms(
    dtype_of: np.ndarray, out: np.ndarray, d: int, dist: int, k0: int, k1: int, c2: int,
    c3: int, i0: int, n_threads: int,
) -> None: ...
def fill_span(
    out: np.ndarray, dist: int, k0: int, k1: int, c2: int, c3: int, direction: int,
    j_first: int, n_threads: int,
) -> None: ...
def shift_span(
    theta: np.ndarray, scale: float, sign: int, lost: np.ndarray, orig: np.ndarray,
    # lost: int32 positions and orig: old values, packed into their first n entries
    dist: int, k0: int, k1: int, c2: int, c3: int, direction: int, j_first: int,
    n_threads: int,
) -> int: ...
def unshift_span(
    theta: np.ndarray, scale: float, sign: int, dist: int, k0: int, k1: int, c2: int,
    c3: int, direction: int, j_first: int, n_threads: int,
) -> None: ...
def accumulate_span(
    w: np.ndarray, acc: np.ndarray, dtype_of: np.ndarray, dist: int, k0: int, k1: int, c2: int,
    c3: int, i0: int, j_first: int, n_threads: int,
) -> None: ...
