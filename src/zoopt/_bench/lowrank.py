"""Benchmark ``lowrank``: populations of a model evaluated in one batched forward.

Throughput: an MLP of 12.6 million parameters (1024 -> 4096 -> 2048 -> 10, float32,
ReLU), a batch of 64 rows per member, populations 16 to 1,024; and a small
transformer (token embedding, two blocks of width 256 made of ``nn.Linear`` and
``nn.LayerNorm``, sequences of 32 tokens), populations up to 256.  Members evaluated
per second (forward and loss, under ``torch.no_grad``) for

* ``ceiling``: plain inference of the unperturbed model over the same
  ``popsize * 64`` rows in one call;
* ``zoopt low-rank, own inputs``: :class:`zoopt.torch.LowRankPopulation`
  (rank 4), each member its own 64 rows (``per_member=True``): the ceiling's work
  plus the low-rank terms;
* ``zoopt low-rank, shared batch``: the same population on one batch of 64 rows
  (the first layer computes ``x W^T`` once);
* ``full-rank, one by one``: the OpenAI-ES / MeZO way, each member in turn
  perturbs every parameter in place with ``torch.randn`` from its own seed, runs
  the batch and puts the parameters back (timed on the first members, at most 32:
  its rate does not depend on the population).

Each variant runs in a fresh process, so the peak resident memory during the
timed calls above the memory after the model, its inputs and one warm-up call
is its own.  ``--quality`` trains a 64-32-10 MLP on scikit-learn's digits from
scratch with low-rank ES and with full-rank ES, at equal evaluations, and prints
the test accuracy over 3 seeds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from zoopt._bench import rss_mib, table

_BATCH = 64
_RANK = 4
_VOCAB, _SEQ = 1000, 32  # the transformer's tokens and sequence length


def _mlp(hidden: int) -> Any:
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(1024, hidden), torch.nn.ReLU(),
                               torch.nn.Linear(hidden, hidden // 2), torch.nn.ReLU(),
                               torch.nn.Linear(hidden // 2, 10))


def _transformer(width: int) -> Any:
    """Token embedding, two pre-norm transformer blocks built of nn.Linear and
    nn.LayerNorm (4 heads, MLP 4x), mean pooling and a linear head; sinusoidal
    positions (a buffer, not a parameter)."""
    import torch
    import torch.nn.functional as F

    class Block(torch.nn.Module):
        def __init__(self, d: int):
            super().__init__()
            self.ln1, self.ln2 = torch.nn.LayerNorm(d), torch.nn.LayerNorm(d)
            self.q, self.k, self.v, self.o = (torch.nn.Linear(d, d) for _ in range(4))
            self.fc1, self.fc2 = torch.nn.Linear(d, 4 * d), torch.nn.Linear(4 * d, d)

        def forward(self, h: Any) -> Any:
            N, L, d = h.shape
            a = self.ln1(h)
            q, k, v = (f(a).reshape(N, L, 4, d // 4).transpose(1, 2)
                       for f in (self.q, self.k, self.v))
            att = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(N, L, d)
            h = h + self.o(att)
            return h + self.fc2(F.gelu(self.fc1(self.ln2(h))))

    class Tiny(torch.nn.Module):
        def __init__(self, d: int):
            super().__init__()
            self.emb = torch.nn.Embedding(_VOCAB, d)
            pos = torch.arange(_SEQ)[:, None] / (10000 ** (torch.arange(0, d, 2) / d))
            self.register_buffer("pos", torch.cat([pos.sin(), pos.cos()], dim=1))
            self.blocks = torch.nn.Sequential(Block(d), Block(d))
            self.ln, self.head = torch.nn.LayerNorm(d), torch.nn.Linear(d, 10)

        def forward(self, idx: Any) -> Any:
            h = self.blocks(self.emb(idx) + self.pos)
            return self.head(self.ln(h).mean(dim=1))

    torch.manual_seed(0)
    return Tiny(width)


def _worker(kind: str, popsize: int, hidden: int, repeats: int,
            arch: str = "mlp") -> dict[str, Any]:
    import numpy as np
    import torch
    import torch.nn.functional as F

    import zoopt.torch  # noqa: F401  (imports paid before the baseline)

    model = _mlp(hidden) if arch == "mlp" else _transformer(hidden)
    n_params = sum(p.numel() for p in model.parameters())
    gen = torch.Generator().manual_seed(1)
    P, B = popsize, _BATCH
    y = torch.arange(B) % 10
    row = (1024,) if arch == "mlp" else (_SEQ,)

    def draw(*lead: int) -> Any:
        if arch == "mlp":
            return torch.randn(*lead, 1024, generator=gen)
        return torch.randint(0, _VOCAB, (*lead, _SEQ), generator=gen)

    X = draw(P, B) if kind in ("ceiling", "own") else draw(B)

    if kind == "ceiling":
        yy = y.repeat(P)

        def call() -> int:
            out = model(X.reshape(P * B, *row))
            F.cross_entropy(out, yy, reduction="none").reshape(P, B).mean(dim=1)
            return P
    elif kind in ("own", "shared"):
        from zoopt.torch import LowRankPopulation

        pop = LowRankPopulation(model, popsize=P, sigma=1e-3, rank=_RANK, rng=0)

        def call() -> int:
            out = pop.forward(X, per_member=kind == "own")
            F.cross_entropy(out.reshape(P * B, 10), y.repeat(P), reduction="none")
            return P
    else:  # full rank, member by member
        params = list(model.parameters())
        sigma = 1e-3
        members = min(P, 32)

        def perturb(seed: int, scale: float) -> None:
            g = torch.Generator().manual_seed(seed)
            for p in params:
                p.add_(torch.randn(p.shape, generator=g), alpha=scale)

        def call() -> int:
            for i in range(members):
                perturb(i, sigma)
                F.cross_entropy(model(X), y)
                perturb(i, -sigma)
            return members

    with torch.no_grad():
        call()  # warm-up (allocations, the first BLAS calls)
        base = rss_mib("VmRSS")
        times, counts = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            counts.append(call())
            times.append(time.perf_counter() - t0)
    rate = float(np.median([c / t for c, t in zip(counts, times, strict=True)]))
    factors = 0
    if kind in ("own", "shared"):
        factors = sum((w.shape[0] + w.shape[1]) * min(_RANK, *w.shape)
                      for m in model.modules()
                      if isinstance(m, torch.nn.Linear | torch.nn.Embedding)
                      for w in [m.weight]) * (P // 2) * 4
    return {"rate": rate, "peak_extra": rss_mib("VmHWM") - base, "n_params": n_params,
            "factors_mib": factors / 2**20}


def _quality(seeds: int, steps: int, popsize: int) -> list[list[str]]:
    """Digits from scratch: low-rank ES against full-rank ES, equal evaluations."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from zoopt.policy import shape
    from zoopt.random import directions
    from zoopt.torch import LowRankPopulation

    Xa, ya = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(Xa / 16.0, ya, test_size=0.3, random_state=0,
                                          stratify=ya)
    Xtr_t, Xte_t = torch.tensor(Xtr, dtype=torch.float32), torch.tensor(Xte, dtype=torch.float32)
    ytr_t = torch.tensor(ytr)
    sigma, lr = 0.05, 0.03

    def make(seed: int) -> Any:
        torch.manual_seed(seed)
        return torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.Tanh(),
                                   torch.nn.Linear(32, 10))

    def accuracy(model: Any) -> float:
        with torch.no_grad():
            return float((model(Xte_t).argmax(dim=1).numpy() == yte).mean())

    def batches(seed: int) -> Any:
        g = np.random.default_rng(seed)
        for _ in range(steps):
            idx = g.choice(len(Xtr), size=_BATCH, replace=False)
            yield Xtr_t[idx], ytr_t[idx]

    rows = []
    results: dict[str, list[float]] = {"low-rank ES (rank 1)": [], "full-rank ES": []}
    for seed in range(seeds):
        model = make(seed)
        pop = LowRankPopulation(model, popsize=popsize, sigma=sigma, rank=1, rng=seed)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        for xb, yb in batches(seed):
            with torch.no_grad():
                out = pop.forward(xb)
                losses = F.cross_entropy(out.reshape(-1, 10), yb.repeat(popsize),
                                         reduction="none").reshape(popsize, -1).mean(dim=1)
                pop.backward(losses)
            opt.step()
        results["low-rank ES (rank 1)"].append(accuracy(model))

        # full rank: every member perturbs the flat parameter vector by a normal direction
        model = make(seed)
        params = list(model.parameters())
        flat = torch.nn.utils.parameters_to_vector(params).detach()
        opt = torch.optim.Adam(params, lr=lr)
        q = popsize // 2
        for t, (xb, yb) in enumerate(batches(seed)):
            U = torch.from_numpy(directions(q, flat.numel(), rng=seed, step=t,
                                            dtype=np.float32))
            thetas = torch.cat([flat + sigma * U, flat - sigma * U])  # (P, d)
            with torch.no_grad():
                losses = torch.stack([_flat_loss(model, th, xb, yb) for th in thetas])
            vals = losses.numpy().astype(np.float64)
            util = shape(np.stack([vals[:q], vals[q:]], axis=1), "centered_ranks")
            w = torch.from_numpy((util[:, 0] - util[:, 1]) / (2 * sigma * q)).float()
            torch.nn.utils.vector_to_parameters(flat, params)  # back to the mean
            g = w @ U
            off = 0
            for p in params:
                p.grad = g[off : off + p.numel()].reshape(p.shape).clone()
                off += p.numel()
            opt.step()
            flat = torch.nn.utils.parameters_to_vector(params).detach()
        results["full-rank ES"].append(accuracy(model))
    for name, accs in results.items():
        rows.append([name, str(popsize), str(steps), f"{steps * popsize:,}",
                     " ".join(f"{a:.3f}" for a in accs), f"{np.mean(accs):.3f}"])
    return rows


def _flat_loss(model: Any, theta: Any, xb: Any, yb: Any) -> Any:
    import torch
    import torch.nn.functional as F

    torch.nn.utils.vector_to_parameters(theta, model.parameters())
    return F.cross_entropy(model(xb), yb)


def _throughput(arch: str, width: int, pops: list[int], repeats: int) -> tuple[list[Any], int]:
    """The table rows of one model: each variant of each population in a fresh process."""
    kinds = [("ceiling", "ceiling: plain inference"), ("own", "zoopt low-rank, own inputs"),
             ("shared", "zoopt low-rank, shared batch"), ("full", "full-rank, one by one")]
    rows, n_params = [], 0
    for P in pops:
        res = {}
        for kind, _ in kinds:
            cmd = [sys.executable, "-m", "zoopt", "bench", "lowrank", "--worker", kind,
                   "--arch", arch, "--hidden", str(width), "--popsize", str(P),
                   "--repeats", str(repeats)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True)
            res[kind] = json.loads(out.stdout.strip().splitlines()[-1])
        n_params = res["ceiling"]["n_params"]
        for kind, label in kinds:
            r = res[kind]
            rows.append([str(P), label, f"{r['rate']:,.1f}" if r["rate"] < 10
                         else f"{r['rate']:,.0f}",
                         f"{r['rate'] / res['ceiling']['rate']:.2f}",
                         f"{r['rate'] / res['full']['rate']:.1f}x", f"{r['peak_extra']:.0f}",
                         f"{r['factors_mib']:.1f}" if r["factors_mib"] else ""])
    return rows, n_params


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m zoopt bench lowrank", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="a 0.8-million-parameter MLP and a narrow transformer, populations "
                        "16 and 64, 3 timed calls")
    p.add_argument("--popsizes", default=None, help="comma-separated populations")
    p.add_argument("--models", default="mlp,transformer",
                   help="comma-separated: mlp, transformer (default both)")
    p.add_argument("--quality", action="store_true",
                   help="also train on digits: low-rank against full-rank ES, 3 seeds")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--arch", default="mlp", help=argparse.SUPPRESS)
    p.add_argument("--hidden", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--popsize", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--repeats", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)
    if args.worker:
        print(json.dumps(_worker(args.worker, args.popsize, args.hidden, repeats, args.arch)))
        return 0
    try:
        import torch
    except ImportError:
        print("bench lowrank: PyTorch is not installed (pip install torch)")
        return 1
    import zoopt

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = sorted(set(models) - {"mlp", "transformer"})
    if bad or not models:
        print(f"bench lowrank: --models takes mlp and transformer; got {args.models!r}")
        return 2
    pops = ([int(s) for s in args.popsizes.split(",")] if args.popsizes
            else [16, 64] if args.quick else [16, 64, 256, 1024])
    header = ["popsize", "variant", "members/s", "of ceiling", "vs full-rank",
              "peak extra MiB", "factors MiB"]
    print(f"zoopt {zoopt.__version__}: bench lowrank -- batch {_BATCH} per member, rank "
          f"{_RANK}, median of {repeats} calls, torch {torch.__version__} on "
          f"{torch.get_num_threads()} threads, a fresh process per row")
    for arch in models:
        if arch == "mlp":
            width = 512 if args.quick else 4096
            rows, n = _throughput(arch, width, pops, repeats)
            print(f"\nMLP 1024 -> {width} -> {width // 2} -> 10 ({n / 1e6:.1f} M parameters, "
                  "float32, ReLU)")
        else:
            width = 64 if args.quick else 256
            # the full-rank baseline and the ceiling at P = 1,024 take minutes here
            tp = [P for P in pops if P <= 256]
            rows, n = _throughput(arch, width, tp, repeats)
            print(f"\ntransformer: embedding ({_VOCAB} tokens), 2 blocks of width {width} "
                  f"(4 heads, MLP 4x, LayerNorm), sequences of {_SEQ} tokens "
                  f"({n / 1e6:.1f} M parameters, float32)")
        print(table(rows, header))
    if args.quality:
        q = _quality(seeds=3, steps=100 if args.quick else 600, popsize=32)
        print("\nquality: digits (1,257 train / 540 test), MLP 64-32-10 from scratch, batch "
              f"{_BATCH}, Adam lr 0.03, sigma 0.05, centered ranks, mirrored pairs")
        print(table(q, ["method", "popsize", "steps", "evaluations", "test accuracy (seeds "
                        "0, 1, 2)", "mean"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
