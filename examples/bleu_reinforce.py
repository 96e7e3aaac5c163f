"""Raise the sentence BLEU of a small seq2seq model by self-critical REINFORCE.

Task: spell out numbers.  The script makes its own data: each integer in
0..9999 is given as digit tokens ("4 0 7") and the target is its English
words ("four hundred seven"); a random 20% of the numbers is held out as the
test set.  The model is a GRU encoder-decoder without attention (the encoder's
last state starts the decoder and is fed to it at every step), about 50k
parameters, on the CPU.

1. Maximum likelihood (teacher forcing, cross-entropy) for a short budget: a
   decent but imperfect starting point.
2. From that same starting point, two continuations with the same number of
   steps on the same mini-batches of inputs:

   * continued maximum likelihood (the fair baseline);
   * REINFORCE with the self-critical baseline (Rennie et al. 2017): ``S``
     sequences are sampled per input (``torch.multinomial`` on the softmax),
     each is scored by its sentence BLEU against the reference (all of them in
     one compiled call, ``zoopt.metrics.sentence_bleu_batch``), the input's
     greedy decode is scored too and is the baseline, and the surrogate
     ``zoopt.torch.reinforce_loss(..., baseline="greedy", group_size=S)`` is
     minimized with Adam (plus a small maximum-likelihood term).

The table reports, on the held-out numbers and with greedy decoding, corpus
BLEU (``zoopt.metrics.corpus_bleu``, checked against sacreBLEU's
``corpus_score`` with ``tokenize="none"`` when sacreBLEU is installed), mean
sentence BLEU, exact-match rate and the training seconds of each phase.

What to expect (seed 0, normal mode, 2 CPU threads, about a minute): both
continuations improve on the starting point and REINFORCE ends higher than
continued maximum likelihood on all three test metrics, in more wall time per
step (sampling, greedy decoding and BLEU scoring come on top of the backward
pass).  The script prints which continuation won rather than assuming it.

Run:  python examples/bleu_reinforce.py [--quick]
Needs PyTorch (sacreBLEU optional, for the cross-check).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from zoopt.metrics import corpus_bleu, sentence_bleu_batch
from zoopt.torch import reinforce_loss

ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
        "fourteen fifteen sixteen seventeen eighteen nineteen").split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
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


def evaluate(model, src, refs):
    model.eval()
    hyps = to_text(model.decode(src))
    model.train()
    corpus = corpus_bleu(hyps, refs).score
    sent = float(sentence_bleu_batch(hyps, refs).mean())
    exact = float(np.mean([h == r for h, r in zip(hyps, refs, strict=True)]))
    return corpus, sent, exact, hyps


def sacrebleu_check(rows, refs):
    """Largest |zoopt corpus BLEU - sacreBLEU corpus_score| over the rows, or None."""
    try:
        from sacrebleu.metrics import BLEU
    except ImportError:
        return None
    bleu = BLEU(tokenize="none")
    return max(abs(row[1] - bleu.corpus_score(row[4], [refs]).score) for row in rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mle-steps", type=int, default=400, help="phase-1 steps")
    p.add_argument("--steps", type=int, default=300, help="phase-2 steps (each method)")
    p.add_argument("--batch", type=int, default=64, help="inputs per step")
    p.add_argument("--samples", type=int, default=8, help="samples per input (S)")
    p.add_argument("--rl-lr", type=float, default=1e-3)
    p.add_argument("--mle-weight", type=float, default=0.1,
                   help="weight of the ML term added to the REINFORCE loss")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="tiny budgets (for tests)")
    args = p.parse_args(argv)
    if args.quick:
        args.mle_steps, args.steps, args.batch, args.samples = 30, 10, 16, 4
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    perm = rng.permutation(10000)
    n_test = 2000
    src_te, _, refs_te = make_data(perm[:n_test])
    src_tr, tgt_tr, refs_tr = make_data(perm[n_test:])
    if args.quick:
        src_te, refs_te = src_te[:200], refs_te[:200]
    n_tr = len(refs_tr)

    model = Seq2Seq()
    n_params = sum(q.numel() for q in model.parameters())
    print(f"numbers 0..9999 as digits -> English words: {n_tr} train, {len(refs_te)} test "
          f"(held out); GRU encoder-decoder, {n_params} parameters")

    # phase 1: maximum likelihood from scratch, a short budget
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    t0 = time.perf_counter()
    for _ in range(args.mle_steps):
        idx = torch.from_numpy(rng.choice(n_tr, 128, replace=False))
        opt.zero_grad()
        mle_loss(model, src_tr[idx], tgt_tr[idx]).backward()
        opt.step()
    rows = [(f"MLE start ({args.mle_steps} steps)", *evaluate(model, src_te, refs_te),
             time.perf_counter() - t0)]
    start = {k: v.clone() for k, v in model.state_dict().items()}
    batches = [torch.from_numpy(rng.choice(n_tr, args.batch, replace=False))
               for _ in range(args.steps)]  # the same inputs for both continuations

    # phase 2a: continued maximum likelihood (same steps, same inputs)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    for idx in batches:
        opt.zero_grad()
        mle_loss(model, src_tr[idx], tgt_tr[idx]).backward()
        opt.step()
    rows.append((f"+ continued MLE ({args.steps} steps)", *evaluate(model, src_te, refs_te),
                 time.perf_counter() - t0))

    # phase 2b: self-critical REINFORCE on sentence BLEU (+ a small ML term)
    model.load_state_dict(start)
    opt = torch.optim.Adam(model.parameters(), lr=args.rl_lr)
    gen = torch.Generator().manual_seed(args.seed)
    S = args.samples
    t0 = time.perf_counter()
    mean_reward = []
    for idx in batches:
        src, refs = src_tr[idx], [refs_tr[i] for i in idx.tolist()]
        src_s = src.repeat_interleave(S, dim=0)
        samples = model.decode(src_s, greedy=False, generator=gen)  # (B S, T), no grad
        rewards = sentence_bleu_batch(to_text(samples), [r for r in refs for _ in range(S)])
        greedy = sentence_bleu_batch(to_text(model.decode(src)), refs)
        logp = torch.log_softmax(model(src_s, samples), dim=2)
        logp = logp.gather(2, samples[:, :, None])[:, :, 0] * step_mask(samples)
        loss = reinforce_loss(logp, rewards / 100.0, baseline="greedy",
                              greedy_rewards=greedy / 100.0, group_size=S)
        if args.mle_weight:
            loss = loss + args.mle_weight * mle_loss(model, src, tgt_tr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        mean_reward.append(rewards.mean())
    rows.append((f"+ REINFORCE, self-critical, S={S} ({args.steps} steps)",
                 *evaluate(model, src_te, refs_te), time.perf_counter() - t0))
    k = max(1, len(mean_reward) // 10)
    print(f"mean sampled sentence BLEU during REINFORCE: first {k} steps "
          f"{np.mean(mean_reward[:k]):.1f}, last {k} steps {np.mean(mean_reward[-k:]):.1f}")

    print(f"{'method':>44}  {'corpus BLEU':>11}  {'sent BLEU':>9}  {'exact':>6}  {'seconds':>7}")
    for name, corpus, sent, exact, _, sec in rows:
        print(f"{name:>44}  {corpus:11.2f}  {sent:9.2f}  {exact:6.3f}  {sec:7.1f}")
    diff = sacrebleu_check(rows, refs_te)
    if diff is None:
        print("sacreBLEU not installed: corpus BLEU cross-check skipped")
    else:
        print(f"corpus BLEU vs sacreBLEU corpus_score (tokenize='none'): max |diff| = {diff:.1e}")
        if diff > 1e-9:
            print("MISMATCH with sacreBLEU")
            return 1
    mle, rl = rows[1], rows[2]
    wins = sum(b > a for a, b in zip(mle[1:4], rl[1:4], strict=True))
    if wins == 3:
        verdict = "REINFORCE beats continued MLE on all three test metrics"
    elif wins == 0:
        verdict = "REINFORCE does NOT beat continued MLE on any test metric"
    else:
        verdict = f"REINFORCE beats continued MLE on {wins} of 3 test metrics"
    print(f"verdict: {verdict}")
    print(f"held-out examples (REINFORCE): " + "; ".join(
        f"{src_te[i][src_te[i] != SRC_PAD].tolist()} -> {rl[4][i]!r}" for i in range(3)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
