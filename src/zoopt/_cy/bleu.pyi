import numpy as np

def bleu_stats(
    toks: np.ndarray, hyp_start: np.ndarray, hyp_end: np.ndarray, ref_start: np.ndarray,
    ref_end: np.ndarray, ref_ptr: np.ndarray, max_order: int, table_size: int, scratch: int,
    stats: np.ndarray, n_threads: int,
) -> None: ...
def bleu_scores(
    stats: np.ndarray, max_order: int, smooth: int, smooth_value: float, effective_order: bool,
    compensated: bool, score: np.ndarray, precisions: np.ndarray, bp_out: np.ndarray,
    n_threads: int,
) -> None: ...
def encode_words(lines: list[str], n_threads: int = 1) -> tuple[np.ndarray, np.ndarray]: ...
