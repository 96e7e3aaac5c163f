"""Raise the sentence BLEU of a small seq2seq model by self-critical REINFORCE.

Task: spell out numbers.  The script makes its own data: each integer in
0..9999 is given as digit tokens ("4 0 7") and the target is its English
words ("four hundred seven"); a random 20% of the numbers is held out as the
test set.  The model is a GRU encoder-decoder without attention (the encoder's
last state starts the decoder and is fed to it at every step), 53k
parameters, on the CPU.

1. Maximum likelihood (teacher forcing, cross-entropy) for a short budget: a
   decent but imperfect starting point (a).
2. From that same starting point, continuations with the same number of
   steps, on the same mini-batches of inputs, with the same Adam learning rate:

   (b) continued maximum likelihood (the fair baseline);
   (c) REINFORCE with the self-critical baseline (Rennie et al. 2017): ``S``
       sequences are sampled per input (``torch.multinomial`` on the softmax),
       each is scored by its sentence BLEU against the reference (all of them
       in one compiled call, ``zoopt.metrics.sentence_bleu_batch``), the
       input's greedy decode is scored too and is the baseline, and the
       surrogate ``zoopt.torch.reinforce_loss(..., baseline="greedy",
       group_size=S)`` is minimized;
   (d) the same plus a small maximum-likelihood term (``--mle-weight``).

The table reports, on the held-out numbers and with greedy decoding, corpus
BLEU (``zoopt.metrics.corpus_bleu``, checked against sacreBLEU's
``corpus_score`` with ``tokenize="none"`` when sacreBLEU is installed), mean
sentence BLEU, exact-match rate and the training seconds of each phase.

What it shows (seeds 0, 1, 2; about 40 s on 2 cores): self-critical REINFORCE
does what the literature says, it raises the BLEU of its maximum-likelihood
start on held-out inputs (seed 0: corpus BLEU 93.4 -> 98.7, exact match
0.85 -> 0.94).  It does NOT beat continued maximum likelihood, which gets
further (99.97, exact match 0.998) in the same steps and in about a ninth of
the time; the ML term (d) closes most of the gap but not all of it.  This
toy task has one clean, deterministic reference per input, so the per-token
supervised signal is richer than one sequence-level reward per sample, and
maximum likelihood has not plateaued: the published gains of self-critical
training are over models whose maximum-likelihood training had converged.
(The same held with a 16-unit model pretrained for 1500 steps, and with
learning rates 1e-3 to 1e-2 and S = 4 or 8.)  The script prints its verdict
from the numbers rather than assuming it.

Run:  python examples/bleu_reinforce.py [--quick]
Needs PyTorch (sacreBLEU optional, for the cross-check).
"""

from __future__ import annotations

import argparse
import time

# zoopt first: its default OMP_WAIT_POLICY=PASSIVE then reaches torch's OpenMP pool too
import zoopt  # noqa: F401  # isort: skip
import numpy as np
import torch

from zoopt.metrics import corpus_bleu, sentence_bleu_batch
from zoopt.torch import reinforce_loss

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
PAD, BOS, EOS = 0, 1, 2
WORDS = ["<pad>", "<s>", "</s>", *ONES, *TENS[2:], "hundred", "thousand"]
WORD_ID = {w: i for i, w in enumerate(WORDS)}
SRC_PAD = 10  # digits are tokens 0..9
T_MAX = 8  # longest target: 6 words and the end token


def spell(n):
    """English words of 0 <= n <= 9999, e.g. 7015 -> 'seven thousand fifteen'."""
    if n == 0:
        return "zero"
    words = []
    thousands, rest = divmod(n, 1000)
    hundreds, rest = divmod(rest, 100)
    if thousands:
        words += [ONES[thousands], "thousand"]
    if hundreds:
        words += [ONES[hundreds], "hundred"]
    if rest >= 20:
        words.append(TENS[rest // 10])
        if rest % 10:
            words.append(ONES[rest % 10])
    elif rest:
        words.append(ONES[rest])
    return " ".join(words)


def make_data(numbers):
    """Digit tokens (left-padded to 4), target ids (ending with EOS, padded) and texts."""
    src = torch.full((len(numbers), 4), SRC_PAD, dtype=torch.long)
    tgt = torch.full((len(numbers), T_MAX), PAD, dtype=torch.long)
    texts = []
    for i, n in enumerate(numbers):
        digits = [int(c) for c in str(int(n))]
        src[i, 4 - len(digits):] = torch.tensor(digits)
        text = spell(int(n))
        ids = [WORD_ID[w] for w in text.split()] + [EOS]
        tgt[i, :len(ids)] = torch.tensor(ids)
        texts.append(text)
    return src, tgt, texts


class Seq2Seq(torch.nn.Module):
    """GRU encoder-decoder; the decoder sees the encoder state at every step."""

    def __init__(self, emb=32, hidden=64):
        super().__init__()
        self.src_emb = torch.nn.Embedding(11, emb)
        self.encoder = torch.nn.GRU(emb, hidden, batch_first=True)
        self.tgt_emb = torch.nn.Embedding(len(WORDS), emb)
        self.decoder = torch.nn.GRU(emb + hidden, hidden, batch_first=True)
        self.out = torch.nn.Linear(hidden, len(WORDS))

    def encode(self, src):
        return self.encoder(self.src_emb(src))[1]  # (1, B, H)

    def step(self, y_in, h, ctx):
        """Logits of the next tokens after inputs y_in (B, T), from state h."""
        x = torch.cat([self.tgt_emb(y_in), ctx.expand(-1, y_in.shape[1], -1)], dim=2)
        o, h = self.decoder(x, h)
        return self.out(o), h

    def forward(self, src, tgt):
        """Teacher-forced logits (B, T, V) of the target tokens tgt (B, T)."""
        h = self.encode(src)
        y_in = torch.cat([torch.full_like(tgt[:, :1], BOS), tgt[:, :-1]], dim=1)
        return self.step(y_in, h, h.transpose(0, 1))[0]

    @torch.no_grad()
    def decode(self, src, greedy=True, generator=None):
        """Greedy or sampled decoding: tokens (B, T_MAX), PAD after the first EOS."""
        h = self.encode(src)
        ctx = h.transpose(0, 1)
        y = torch.full((src.shape[0], 1), BOS, dtype=torch.long)
        done = torch.zeros(src.shape[0], dtype=torch.bool)
        out = torch.full((src.shape[0], T_MAX), PAD, dtype=torch.long)
        for t in range(T_MAX):
            logits, h = self.step(y, h, ctx)
            logits = logits[:, 0]
            if greedy:
                nxt = logits.argmax(1)
            else:
                nxt = torch.multinomial(torch.softmax(logits, 1), 1, generator=generator)[:, 0]
            nxt = torch.where(done, torch.full_like(nxt, PAD), nxt)
            out[:, t] = nxt
            done |= nxt == EOS
            if done.all():
                break
            y = nxt[:, None]
        return out


def to_text(tokens):
    """Token rows -> strings of words (stopping at EOS; special tokens dropped)."""
    rows = []
    for row in tokens.tolist():
        words = []
        for i in row:
            if i == EOS:
                break
            if i > EOS:
                words.append(WORDS[i])
        rows.append(" ".join(words))
    return rows


def step_mask(tokens):
    """1 for the steps up to and including the first EOS (all steps if none), else 0."""
    eos = (tokens == EOS).long()
    after = (eos.cumsum(1) - eos) > 0  # strictly after the first EOS
    return (~after).float()


def mle_loss(model, src, tgt):
    logits = model(src, tgt)
    return torch.nn.functional.cross_entropy(logits.reshape(-1, len(WORDS)), tgt.reshape(-1),
                                             ignore_index=PAD)


def train_mle(model, batches, src, tgt, lr):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for idx in batches:
        opt.zero_grad()
        mle_loss(model, src[idx], tgt[idx]).backward()
        opt.step()


def train_self_critical(model, batches, src, tgt, refs, lr, S, mle_weight, gen):
    """REINFORCE on sentence BLEU, greedy decodes as the baseline; mean rewards per step."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    trace = []
    for idx in batches:
        x, r = src[idx], [refs[i] for i in idx.tolist()]
        xs = x.repeat_interleave(S, dim=0)  # S consecutive copies of each input
        samples = model.decode(xs, greedy=False, generator=gen)  # (B S, T), no grad
        rewards = sentence_bleu_batch(to_text(samples), [ref for ref in r for _ in range(S)])
        greedy = sentence_bleu_batch(to_text(model.decode(x)), r)  # (B,): one per group
        logp = torch.log_softmax(model(xs, samples), dim=2)  # teacher-forced on the samples
        logp = logp.gather(2, samples[:, :, None])[:, :, 0] * step_mask(samples)
        loss = reinforce_loss(logp, rewards / 100.0, baseline="greedy",
                              greedy_rewards=greedy / 100.0, group_size=S)
        if mle_weight:
            loss = loss + mle_weight * mle_loss(model, x, tgt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        trace.append((rewards.mean(), greedy.mean()))
    return np.array(trace)


def evaluate(model, src, refs):
    """Greedy decodes of src: corpus BLEU, mean sentence BLEU, exact match, texts."""
    hyps = to_text(model.decode(src))
    corpus = corpus_bleu(hyps, refs).score
    sent = float(sentence_bleu_batch(hyps, refs).mean())
    exact = float(np.mean([h == r for h, r in zip(hyps, refs, strict=True)]))
    return corpus, sent, exact, hyps


def sacrebleu_diff(hyp_lists, refs):
    """Largest |zoopt corpus BLEU - sacreBLEU corpus_score| over the systems, or None."""
    try:
        from sacrebleu.metrics import BLEU
    except ImportError:
        return None
    bleu = BLEU(tokenize="none")
    return max(abs(corpus_bleu(h, refs).score - bleu.corpus_score(h, [refs]).score)
               for h in hyp_lists)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mle-steps", type=int, default=150, help="phase-1 steps (batch 128)")
    p.add_argument("--steps", type=int, default=300, help="phase-2 steps, each method")
    p.add_argument("--batch", type=int, default=64, help="inputs per phase-2 step")
    p.add_argument("--samples", type=int, default=8, help="samples per input (S)")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam, every phase and method")
    p.add_argument("--mle-weight", type=float, default=0.3,
                   help="weight of the ML term of the mixed REINFORCE row")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="tiny budgets (for tests)")
    args = p.parse_args(argv)
    if args.quick:
        args.mle_steps, args.steps, args.batch, args.samples = 20, 5, 16, 4
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    perm = rng.permutation(10000)
    src_te, _, refs_te = make_data(perm[:2000])  # the held-out 20%
    src_tr, tgt_tr, refs_tr = make_data(perm[2000:])
    if args.quick:
        src_te, refs_te = src_te[:200], refs_te[:200]
    n_tr = len(refs_tr)
    model = Seq2Seq()
    print(f"numbers 0..9999, digits -> English words: {n_tr} train, {len(refs_te)} held-out "
          f"test; GRU encoder-decoder, {sum(q.numel() for q in model.parameters())} "
          "parameters, greedy decoding")

    # phase 1: maximum likelihood from scratch, a short budget
    t0 = time.perf_counter()
    train_mle(model, [torch.from_numpy(rng.choice(n_tr, 128, replace=False))
                      for _ in range(args.mle_steps)], src_tr, tgt_tr, args.lr)
    rows = [(f"(a) MLE start ({args.mle_steps} steps)", time.perf_counter() - t0,
             *evaluate(model, src_te, refs_te))]
    start = {k: v.clone() for k, v in model.state_dict().items()}
    # phase 2: the same steps on the same inputs for every continuation
    batches = [torch.from_numpy(rng.choice(n_tr, args.batch, replace=False))
               for _ in range(args.steps)]
    S = args.samples
    methods = [(f"(b) + continued MLE ({args.steps} steps)", None),
               (f"(c) + self-critical REINFORCE, S={S}", 0.0)]
    if args.mle_weight:
        methods.append((f"(d) + self-critical, S={S}, + {args.mle_weight:g} ML", args.mle_weight))
    traces = {}
    for name, weight in methods:
        model.load_state_dict(start)
        t0 = time.perf_counter()
        if weight is None:
            train_mle(model, batches, src_tr, tgt_tr, args.lr)
        else:
            gen = torch.Generator().manual_seed(args.seed)
            traces[name] = train_self_critical(model, batches, src_tr, tgt_tr, refs_tr,
                                               args.lr, S, weight, gen)
        rows.append((name, time.perf_counter() - t0, *evaluate(model, src_te, refs_te)))

    print(f"{'method':>40}  {'corpus BLEU':>11}  {'sent BLEU':>9}  {'exact':>6}  {'seconds':>7}")
    for name, sec, corpus, sent, exact, _ in rows:
        print(f"{name:>40}  {corpus:11.2f}  {sent:9.2f}  {exact:6.3f}  {sec:7.1f}")

    k = max(1, args.steps // 10)
    for name, tr in traces.items():
        print(f"{name.split(' + ')[0]} training-batch sentence BLEU, first/last {k} steps: "
              f"samples {tr[:k, 0].mean():.1f} -> {tr[-k:, 0].mean():.1f}, "
              f"greedy {tr[:k, 1].mean():.1f} -> {tr[-k:, 1].mean():.1f}")
    diff = sacrebleu_diff([row[5] for row in rows], refs_te)
    if diff is None:
        print("sacreBLEU not installed: corpus BLEU cross-check skipped")
    else:
        print(f"corpus BLEU = sacreBLEU corpus_score(tokenize='none'): max |diff| {diff:.1e}")
        if diff > 1e-9:
            print("MISMATCH with sacreBLEU")
            return 1

    a, b, c = (row[2:5] for row in rows[:3])
    up = sum(y > x for x, y in zip(a, c, strict=True))
    wins = sum(y > x for x, y in zip(b, c, strict=True))
    print(f"verdict: self-critical REINFORCE improves on its MLE start on {up} of 3 test metrics "
          f"and beats continued MLE on {wins} of 3"
          + (" (quick mode: budgets too small to compare)" if args.quick else ""))
    wrong = [i for i, h in enumerate(rows[0][5]) if h != refs_te[i]][:3]
    for i in wrong:
        digits = " ".join(str(d) for d in src_te[i][src_te[i] != SRC_PAD].tolist())
        print(f"  {digits}: reference {refs_te[i]!r}; " + "; ".join(
            f"{row[0][:3]} {row[5][i]!r}" for row in rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
