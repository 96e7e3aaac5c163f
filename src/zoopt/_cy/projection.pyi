import numpy as np

def fwht_rows(a: np.ndarray, n_threads: int) -> None: ...
def srht_rows(
    X: np.ndarray, signs: np.ndarray, rows: np.ndarray, scale: float, padded: int,
    out: np.ndarray, n_threads: int,
) -> None: ...
def srht_lift_rows(
    Z: np.ndarray, signs: np.ndarray, rows: np.ndarray, scale: float, padded: int,
    out: np.ndarray, n_threads: int,
) -> None: ...
def sparse_signs(
    k0: int, k1: int, c2: int, c3: int, n_rows: int, m: int, half: int, n_threads: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
def sparse_rows(
    X: np.ndarray, indptr: np.ndarray, indices: np.ndarray, signs: np.ndarray, scale: float,
    out: np.ndarray, n_threads: int,
) -> None: ...
