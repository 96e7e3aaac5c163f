import numpy as np

def gumbel_argmax(
    logits: np.ndarray, inv_tau: float, out: np.ndarray, k0: int, k1: int, c2: int, c3: int,
    n_threads: int,
) -> None: ...
def categorical_score(
    labels: np.ndarray, adv: np.ndarray, probs: np.ndarray, scale: float, out: np.ndarray,
    n_threads: int,
) -> None: ...
def row_score(
    logits: np.ndarray, labels: np.ndarray, coef: np.ndarray, out: np.ndarray, n_threads: int
) -> None: ...
