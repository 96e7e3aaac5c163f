"""Benchmark ``metrics``: BLEU and batched F1 (BENCHMARKS.md, task "metrics").

BLEU: 10,000 seeded synthetic hypothesis/reference pairs (5,000-word Zipf
vocabulary, lengths 5-40, about 60% shared tokens), corpus BLEU and the 10,000
sentence BLEUs (one batched call) against sacreBLEU (``tokenize="none"``) and
NLTK; the scores are checked identical to sacreBLEU's.
F1: P = 256 predictions of N = 100,000 binary labels in one batched call,
against the loop of 256 scikit-learn ``f1_score`` calls; the values are checked
equal.
"""

from __future__ import annotations

import argparse

import numpy as np

from zoopt._bench import median_time, table


def synthetic_corpus(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """Pairs of sentences over a 5,000-word Zipf vocabulary; about 60% of a
    reference's tokens are copied into its hypothesis."""
    gen = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(5000)])
    p = 1.0 / np.arange(1, 5001)
    p /= p.sum()
    hyps, refs = [], []
    for _ in range(n):
        L = int(gen.integers(5, 41))
        ref = gen.choice(vocab, size=L, p=p)
        hyp = np.where(gen.random(L) < 0.6, ref, gen.choice(vocab, size=L, p=p))
        refs.append(" ".join(ref))
        hyps.append(" ".join(hyp))
    return hyps, refs


def bleu_rows(n: int, repeats: int) -> list[list[str]]:
    from zoopt import metrics

    hyps, refs = synthetic_corpus(n)
    ours_refs = [[r] for r in refs]
    t_corpus = median_time(lambda: metrics.corpus_bleu(hyps, ours_refs), repeats=repeats)
    t_sent = median_time(lambda: metrics.sentence_bleu_batch(hyps, ours_refs), repeats=repeats)
    ours = metrics.corpus_bleu(hyps, ours_refs)
    rows = [["zoopt corpus_bleu", f"{t_corpus * 1e3:.1f}", "", f"{ours.score!r}"],
            [f"zoopt sentence_bleu_batch ({n})", f"{t_sent * 1e3:.1f}", "", ""]]
    try:
        import sacrebleu
    except ImportError:
        rows.append(["sacreBLEU", "not installed", "", ""])
        return rows
    sb = sacrebleu.metrics.BLEU(tokenize="none")
    sbs = sacrebleu.metrics.BLEU(tokenize="none", effective_order=True)
    t_sb = median_time(lambda: sb.corpus_score(hyps, [refs]), repeats=max(1, repeats // 2))
    theirs = sb.corpus_score(hyps, [refs])

    def sentences() -> list[float]:
        return [sbs.sentence_score(h, [r]).score for h, r in zip(hyps, refs, strict=True)]

    t_sbs = median_time(sentences, repeats=max(1, repeats // 2))
    same_sent = np.array_equal(metrics.sentence_bleu_batch(hyps, ours_refs), sentences())
    rows[0][2] = f"{t_sb / t_corpus:.1f}x"
    rows[1][2] = f"{t_sbs / t_sent:.1f}x"
    rows.append(["sacreBLEU corpus_score", f"{t_sb * 1e3:.1f}", "1x", f"{theirs.score!r}"])
    rows.append([f"sacreBLEU sentence_score x {n}", f"{t_sbs * 1e3:.1f}", "1x",
                 f"identical: {same_sent}"])
    try:
        from nltk.translate.bleu_score import corpus_bleu as nltk_corpus
    except ImportError:
        rows.append(["NLTK", "not installed", "", ""])
    else:
        toks_h = [h.split() for h in hyps]
        toks_r = [[r.split()] for r in refs]
        t_nl = median_time(lambda: nltk_corpus(toks_r, toks_h), repeats=max(1, repeats // 2))
        rows.append(["NLTK corpus_bleu", f"{t_nl * 1e3:.1f}", f"{t_nl / t_sb:.2f}x of sacre",
                     f"{100 * nltk_corpus(toks_r, toks_h)!r}"])
    return rows


def main(argv: list[str]) -> int:
    import zoopt
    from zoopt import metrics

    p = argparse.ArgumentParser(prog="python -m zoopt bench metrics", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="P = 32, N = 10,000")
    p.add_argument("--repeats", type=int, default=None)
    args = p.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)
    P, N = (32, 10_000) if args.quick else (256, 100_000)
    gen = np.random.default_rng(0)
    y_true = (gen.random(N) < 0.1).astype(np.int64)
    y_pred = np.where(gen.random((P, N)) < 0.8, y_true, 1 - y_true)
    print(f"zoopt {zoopt.__version__}: bench metrics -- F1 of P={P} predictions of N={N} "
          f"binary labels; median of {repeats} after a warm-up")
    t_zo = median_time(lambda: metrics.f1_score(y_true, y_pred), repeats=repeats)
    rows = [["zoopt metrics.f1_score (batched)", f"{t_zo * 1e3:.2f}", ""]]
    try:
        from sklearn.metrics import f1_score
    except ImportError:
        rows.append(["scikit-learn loop", "not installed", ""])
    else:
        def loop() -> list[float]:
            return [f1_score(y_true, row) for row in y_pred]

        t_sk = median_time(loop, repeats=max(1, repeats // 2))
        same = np.array_equal(metrics.f1_score(y_true, y_pred), np.array(loop()))
        rows[0][2] = f"{t_sk / t_zo:.0f}x"
        rows.append([f"scikit-learn f1_score, loop of {P}", f"{t_sk * 1e3:.1f}", "1x"])
        print(f"identical values: {same}")
    print(table(rows, ["F1", "ms", "speed vs loop"]))
    print()
    n = 1000 if args.quick else 10_000
    print(f"BLEU: {n} synthetic pairs (Zipf vocabulary of 5,000 words, lengths 5-40)")
    print(table(bleu_rows(n, repeats), ["BLEU", "ms", "speed vs sacreBLEU", "score"]))
    return 0
