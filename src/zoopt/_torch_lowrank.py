"""Populations of perturbed models evaluated in one batched forward (low-rank ES).

:class:`LowRankPopulation` is public as :class:`zoopt.torch.LowRankPopulation`.
Member ``i`` of a population perturbs every weight matrix ``W`` (``m x n``) of the
model's ``nn.Linear`` and ``nn.Embedding`` layers, and every convolution's weight
seen as the matrix ``(out, in * kernel)``, by ``sigma A_i B_i^T / sqrt(r)``, and every
other perturbed parameter (biases, LayerNorm) by ``sigma u_i`` with ``u_i`` normal.
The whole population runs as one batch of ``popsize * B`` rows: each Linear layer
computes the shared product ``h W^T`` and adds ``sigma ((h B_i) A_i^T) / sqrt(r)``
per member, ``O(B r (m + n))`` more work per member instead of its own ``m x n``
matrix (Sarkar et al., "Evolution Strategies at the Hyperscale", arXiv:2511.16652).
A convolution adds ``sigma A_i conv(h, B_i^T) / sqrt(r)``: the ``r`` filters of
``B_i^T``, then a 1 x 1 mixing by ``A_i``.  A layer whose input is the population's
replicated input itself (the first layer) computes ``x W^T`` once, for ``B`` rows.

Stream layout (the same numbers as :func:`zoopt.random.directions`): the factors of
all low-rank weights, in module order, are consecutive spans of counter row ``j``
of kind :data:`~zoopt.random.KIND_LOWRANK` (``(m + n) r`` normal coordinates per
weight: ``A`` row-major, then ``B``); the other parameters are consecutive spans of
the normal direction ``j`` (kind :data:`~zoopt.random.KIND_NORMAL`), both at the
population's step.  With ``antithetic=True`` members ``2j`` and ``2j + 1`` use
direction ``j`` with the signs ``+`` and ``-``.  For a model with one bias-free
Linear layer, member ``2j``'s perturbation of ``W.ravel()`` is therefore exactly
``sigma * directions(..., dist="lowrank", shape=W.shape, rank=r, step=t)[j]``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from zoopt._validation import check_bool, check_choice, check_int, check_positive_float
from zoopt.policy import shape as _fitness_shape
from zoopt.random import (
    _MAX_STEP,
    KIND_LOWRANK,
    KIND_NORMAL,
    _check_coordinates,
    _check_step,
    _Stream,
    key_from_rng,
)

__all__ = ["LowRankPopulation"]

_SHAPINGS = ("centered_ranks", "nes", "zscore", "none")
_CONV = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
_CONV_FN = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


class _Low:
    """A weight perturbed by low-rank factors: its span in the factor row."""

    __slots__ = ("m", "module", "n", "name", "offset", "param", "r")

    def __init__(self, name: str, module: Any, param: Any, rank: int, offset: int):
        self.name, self.module, self.param = name, module, param
        # a convolution's weight (out, in, *kernel) is the matrix (out, in * prod(kernel))
        self.m = int(param.shape[0])
        self.n = int(param.numel()) // self.m
        self.r = min(rank, self.m, self.n)
        self.offset = offset

    @property
    def size(self) -> int:
        return (self.m + self.n) * self.r


class _Full:
    """A parameter perturbed by a normal direction: its span in the normal row."""

    __slots__ = ("name", "offset", "param")

    def __init__(self, name: str, param: Any, offset: int):
        self.name, self.param, self.offset = name, param, offset

    @property
    def size(self) -> int:
        return int(self.param.numel())


class LowRankPopulation:
    r"""A population of perturbed copies of a PyTorch model, run in one batched forward.

    Parameters
    ----------
    model : torch.nn.Module
        Its parameters that require grad are perturbed: the weights of
        ``nn.Linear``, ``nn.Embedding`` and ``nn.Conv1d/2d/3d`` (``groups=1``) by
        low-rank matrices, their biases and the parameters of ``nn.LayerNorm`` by
        normal vectors.  Another module
        holding such a parameter is refused (freeze it with
        ``requires_grad_(False)`` to leave it unperturbed).  The model's code does
        not change: hooks add the perturbations to the layers' outputs, and the
        population is a batch of ``popsize * B`` rows to everything else (layers
        that mix the rows of a batch, such as BatchNorm in training mode, would
        mix members).  Each perturbed layer must be called on the members' rows:
        one called on other inputs (an ``nn.Embedding`` of positions applied to
        ``arange(L)``, say) is refused, since its members would need tables of
        their own; use a buffer for such positions.  Parameters of float32,
        float64, bfloat16 or float16, on one device: the CPU, or a CUDA device
        through the GPU backend (CuPy draws the factors there; that path has not
        yet run on a device).  The factors are drawn in float64 for a float64
        model and in float32 otherwise; a bfloat16 or float16 layer adds its
        perturbation in its own dtype, and :meth:`backward` computes in float32
        and rounds the gradient to the parameter's dtype.
    popsize : int
        Members per step, >= 2 (even with ``antithetic``).
    sigma : float
        Perturbation scale, > 0.
    rank : int, optional
        Rank ``r`` of the weight perturbations (default 1), at most
        ``min(m, n)`` of each weight (smaller weights use their ``min(m, n)``).
    antithetic : bool, optional
        Mirrored members ``+E_j, -E_j`` (default True).
    shaping : {"centered_ranks", "nes", "zscore", "none"}, optional
        Fitness shaping of the losses in :meth:`backward` (default
        ``"centered_ranks"``, as OpenAI-ES), see :func:`zoopt.policy.shape`.
    rng : None, int, SeedSequence or Generator, optional
        Source of the stream key.

    Notes
    -----
    :meth:`backward` writes the ES estimate of the gradient of the expected loss
    into each parameter's ``.grad``, as ``loss.backward()`` would, so any
    ``torch.optim`` optimizer applies it:

    .. math::

        g_W = \frac{1}{Q}\sum_{j=1}^{Q} \frac{\ell^+_j - \ell^-_j}{2\sigma}
              \frac{A_jB_j^\top}{\sqrt r}

    with the shaped losses :math:`\ell^\pm_j` of the mirrored members (without
    ``antithetic``: :math:`\frac1P\sum_i \ell_i E_i/\sigma`), which is
    :func:`zoopt.policy.gaussian` with ``dist="lowrank"``, ``baseline="none"``
    and the same shaping.  The sum is one product
    :math:`(A\,\mathrm{diag}(w))B^\top` per weight, of rank up to :math:`Qr`,
    in the parameters' dtype.

    Memory above the model: the factors, :math:`Q\,r\,(m + n)` numbers per
    weight (:math:`Q` = directions per step), the normal perturbations of the
    other parameters, and the activations of ``popsize * B`` rows.

    Examples
    --------
    >>> import torch
    >>> from zoopt.torch import LowRankPopulation
    >>> model = torch.nn.Linear(3, 2, bias=False)
    >>> x, y = torch.randn(16, 3), torch.randn(16, 2)
    >>> pop = LowRankPopulation(model, popsize=8, sigma=0.1, rank=1, rng=0)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.05)
    >>> with torch.no_grad():
    ...     out = pop.forward(x)                  # (8, 16, 2): every member's outputs
    ...     losses = ((out - y) ** 2).mean(dim=(1, 2))
    ...     pop.backward(losses)                  # the ES gradient into .grad
    >>> opt.step()
    >>> out.shape
    torch.Size([8, 16, 2])
    """

    def __init__(self, model: Any, *, popsize: int, sigma: float, rank: int = 1,
                 antithetic: bool = True, shaping: str = "centered_ranks",
                 rng: Any = None) -> None:
        caller = "LowRankPopulation"
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"The 'model' parameter of {caller} must be a torch.nn.Module. "
                            f"Got {type(model).__name__} instead.")
        self.model = model
        self.antithetic = check_bool(antithetic, "antithetic", caller)
        self.popsize = check_int(popsize, "popsize", caller, low=2, high=1 << 31)
        if self.antithetic and self.popsize % 2:
            raise ValueError(f"The 'popsize' parameter of {caller} must be even with "
                             f"antithetic=True (mirrored pairs). Got {self.popsize}.")
        self.sigma = check_positive_float(sigma, "sigma", caller)
        self.rank = check_int(rank, "rank", caller, low=1)
        self.shaping = check_choice(shaping, "shaping", caller, _SHAPINGS)
        self.key = key_from_rng(rng, caller)
        self.t = 0
        self._low: list[_Low] = []
        self._full: list[_Full] = []
        self._layout(caller)
        self._hooks: list[Any] = []
        self._ctx: dict[str, Any] | None = None
        self._last_step: int | None = None  # the step that forward() drew

    # -- layout --------------------------------------------------------------------

    def _layout(self, caller: str) -> None:
        low_off = full_off = 0
        dtypes, devices = set(), set()
        for mname, mod in self.model.named_modules():
            own = [(n, p) for n, p in mod.named_parameters(recurse=False) if p.requires_grad]
            if not own:
                continue
            where = f"the module {mname!r}" if mname else "the model itself"
            if isinstance(mod, _CONV) and mod.groups != 1:
                raise ValueError(f"The 'model' of {caller}: the {type(mod).__name__} {where} "
                                 f"has groups={mod.groups}; a population perturbs "
                                 "convolutions with groups=1 only. Freeze it with "
                                 "requires_grad_(False).")
            if isinstance(mod, (torch.nn.Linear, torch.nn.Embedding, *_CONV)):
                for n, p in own:
                    if n == "weight":
                        if isinstance(mod, torch.nn.Embedding) and (
                                mod.max_norm is not None or mod.sparse):
                            raise ValueError(f"The 'model' of {caller}: the Embedding "
                                             f"{where} uses max_norm or sparse gradients, "
                                             "which a perturbed population cannot apply.")
                        e = _Low(_join(mname, n), mod, p, self.rank, low_off)
                        self._low.append(e)
                        low_off += e.size
                    else:  # a Linear's or a convolution's bias
                        self._full.append(_Full(_join(mname, n), p, full_off))
                        full_off += p.numel()
            elif isinstance(mod, torch.nn.LayerNorm):
                for n, p in own:
                    self._full.append(_Full(_join(mname, n), p, full_off))
                    full_off += p.numel()
            else:
                raise ValueError(
                    f"The 'model' of {caller} has parameters that require grad in "
                    f"{where} ({type(mod).__name__}: {', '.join(n for n, _ in own)}); a "
                    "population perturbs those of nn.Linear, nn.Embedding, nn.Conv1d/2d/3d and "
                    "nn.LayerNorm only. Freeze the others with requires_grad_(False).")
            for _, p in own:
                dtypes.add(p.dtype)
                devices.add(p.device)
        if not self._low and not self._full:
            raise ValueError(f"The 'model' of {caller} has no parameter that requires grad: "
                             "there is nothing to perturb.")
        if not dtypes <= {torch.float32, torch.float64, torch.bfloat16, torch.float16}:
            raise TypeError(f"The parameters of the 'model' of {caller} must be float32, "
                            "float64, bfloat16 or float16. Got "
                            f"{sorted(str(d) for d in dtypes)}.")
        if len(devices) > 1:
            raise ValueError(f"The parameters of the 'model' of {caller} must be on one "
                             f"device. Got {sorted(str(d) for d in devices)}.")
        self.device = devices.pop()
        if self.device.type not in ("cpu", "cuda"):
            raise ValueError(f"The parameters of the 'model' of {caller} are on "
                             f"{self.device}; LowRankPopulation runs on CPU and CUDA tensors. "
                             "Move the model with .cpu().")
        from zoopt.torch import _tensor_backend

        # CUDA: the factors are drawn by the GPU backend's kernels (CuPy) on the device
        self._backend = _tensor_backend(self.device)
        self.dtype = torch.float64 if dtypes == {torch.float64} else torch.float32
        self._np_dtype = np.dtype(np.float64 if self.dtype == torch.float64 else np.float32)
        self._low_size, self._full_size = low_off, full_off
        for size, what in ((low_off, "The low-rank factors"), (full_off, "The parameters "
                                                                         "perturbed in full")):
            if size:
                _check_coordinates(size, what, caller, "normal", self._np_dtype)

    @property
    def n_dirs(self) -> int:
        """The number of directions per step (``popsize / 2`` with ``antithetic``, else
        ``popsize``)."""
        return self.popsize // 2 if self.antithetic else self.popsize

    def named_perturbed(self) -> list[tuple[str, str, tuple[int, ...]]]:
        """``(name, "lowrank" or "normal", shape)`` of each perturbed parameter, in the
        order of the stream layout."""
        out = [(e.name, "lowrank", tuple(e.param.shape)) for e in self._low]
        return out + [(e.name, "normal", tuple(e.param.shape)) for e in self._full]

    # -- the stream ------------------------------------------------------------------

    def _draw(self, step: int) -> tuple[Any, Any]:
        """Factors ``(Q, low_size)`` and normal perturbations ``(Q, full_size)`` of the
        ``Q`` directions of ``step``, as tensors (no copy of the stream's arrays)."""
        from zoopt.torch import _cuda_context

        Q, dt = self.n_dirs, self._np_dtype
        xp = self._backend.xp
        out: list[Any] = []
        with _cuda_context(self.device):
            for size, kind in ((self._low_size, KIND_LOWRANK),
                               (self._full_size, KIND_NORMAL)):
                if not size:
                    out.append(None)
                    continue
                st = _Stream(self.key, step, "normal", dt, size, kind=kind,
                             backend=self._backend)
                buf = xp.empty((Q, size), dtype=dt)
                st.fill(0, buf, xp.empty(0, dtype=dt))
                out.append(torch.from_numpy(buf) if xp is np else torch.from_dlpack(buf))
        return out[0], out[1]

    def _signs(self, dtype: Any = None) -> Any:
        return torch.tensor([1.0, -1.0], dtype=dtype or self.dtype, device=self.device)

    def _members(self, T: Any) -> Any:
        """``(Q, ...)`` per direction -> ``(P, ...)`` per member (mirrored pairs)."""
        if not self.antithetic:
            return T
        s = self._signs(T.dtype).reshape(1, 2, *([1] * (T.dim() - 1)))
        return (T.unsqueeze(1) * s).reshape(self.popsize, *T.shape[1:])

    def perturbation(self, member: int, step: int | None = None) -> dict[str, Any]:
        """The perturbation of each parameter for ``member`` (``sigma`` times the
        direction, materialized; for inspection and tests), keyed by name."""
        member = check_int(member, "member", "LowRankPopulation.perturbation", low=0,
                           high=self.popsize - 1)
        step = self.t if step is None else _check_step(step, "LowRankPopulation.perturbation")
        low, full = self._draw(step)
        j, sign = (member // 2, 1.0 - 2.0 * (member % 2)) if self.antithetic else (member, 1.0)
        out = {}
        for e in self._low:
            f = low[j, e.offset : e.offset + e.size]
            A = f[: e.m * e.r].reshape(e.m, e.r)
            B = f[e.m * e.r :].reshape(e.n, e.r)
            V = torch.zeros(e.m, e.n, dtype=self.dtype, device=self.device)
            for k in range(e.r):  # the outer products in the order of directions()
                V = V + A[:, k, None] * B[None, :, k]
            inv = torch.tensor(self._np_dtype.type(1.0 / math.sqrt(e.r)), dtype=self.dtype,
                               device=self.device)
            out[e.name] = ((V * inv) * (self.sigma * sign)).reshape(e.param.shape)
        for fe in self._full:
            u = full[j, fe.offset : fe.offset + fe.size].reshape(fe.param.shape)
            out[fe.name] = u * (self.sigma * sign)
        return out

    # -- forward -------------------------------------------------------------------

    def forward(self, x: Any, *args: Any, per_member: bool = False, **kwargs: Any) -> Any:
        """The outputs of all members on the batch ``x``: shape ``(popsize, B, ...)``.

        ``x`` (a tensor of ``B`` rows) is replicated ``popsize`` times along its first
        axis and passed with ``args`` and ``kwargs`` to the model, whose perturbed
        layers add each member's perturbation to the rows of that member.  With
        ``per_member=True``, ``x`` has shape ``(popsize, B, ...)``: each member its own
        inputs (the environments of a reinforcement-learning population, say).  Run it
        under ``torch.no_grad()``.  The directions are those of the current step
        (the attribute ``t``), which :meth:`backward` advances.
        """
        caller = "LowRankPopulation.forward"
        if not isinstance(x, torch.Tensor) or x.dim() == 0:
            got = "a 0-d tensor" if isinstance(x, torch.Tensor) else type(x).__name__
            raise TypeError(f"The 'x' parameter of {caller} must be a tensor with a batch "
                            f"axis first. Got {got}.")
        if x.device != self.device:
            raise ValueError(f"The 'x' parameter of {caller} is on {x.device}; the model is "
                             f"on {self.device}.")
        if x.numel() == 0:
            raise ValueError(f"The 'x' parameter of {caller} must not be empty. Got shape "
                             f"{tuple(x.shape)}.")
        P = self.popsize
        if check_bool(per_member, "per_member", caller):
            if x.dim() < 2 or x.shape[0] != P:
                raise ValueError(f"The 'x' parameter of {caller} with per_member=True must "
                                 f"have shape (popsize, B, ...) = ({P}, B, ...). Got "
                                 f"{tuple(x.shape)}.")
            B0 = int(x.shape[1])
            rep = x.reshape(P * B0, *x.shape[2:])
            shared = None  # no layer sees inputs common to all members
        else:
            B0 = int(x.shape[0])
            rep = x.unsqueeze(0).expand(P, *x.shape).reshape(P * B0, *x.shape[1:])
            shared = x
        low, full = self._draw(self.t)
        self._ctx = {"low": low, "full": full, "x": shared, "rep": rep}
        try:
            with self._hooked():
                out = self.model(rep, *args, **kwargs)
        finally:
            self._ctx = None
        self._last_step = self.t
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"The model passed to LowRankPopulation returned "
                            f"{type(out).__name__}; forward needs a tensor.")
        if out.dim() == 0 or out.shape[0] != P * B0:
            raise ValueError(f"The model passed to LowRankPopulation returned shape "
                             f"{tuple(out.shape)} for an input of {P * B0} rows (popsize "
                             f"{P} x batch {B0}); forward needs the rows kept in order.")
        return out.reshape(P, B0, *out.shape[1:])

    @contextlib.contextmanager
    def _hooked(self) -> Iterator[None]:
        hooks = []
        try:
            for e in self._low:
                hooks.append(e.module.register_forward_pre_hook(self._pre_hook))
                hooks.append(e.module.register_forward_hook(self._hook_for(e)))
            seen = {id(e.module) for e in self._low}
            for fe in self._full:
                mod = self._owner(fe)
                if id(mod) not in seen:
                    seen.add(id(mod))
                    hooks.append(mod.register_forward_hook(self._hook_for(None, mod)))
            yield
        finally:
            for h in hooks:
                h.remove()

    def _owner(self, e: _Full) -> Any:
        name = e.name.rsplit(".", 1)[0] if "." in e.name else ""
        return self.model.get_submodule(name)

    def _pre_hook(self, module: Any, args: tuple[Any, ...]) -> Any:
        """The replicated input itself: the layer computes on the ``B`` shared rows."""
        ctx = self._ctx
        if ctx is not None and ctx["x"] is not None and args and args[0] is ctx["rep"]:
            return (ctx["x"], *args[1:])
        return None

    def _hook_for(self, low: _Low | None, module: Any = None) -> Any:
        mod = low.module if low is not None else module
        fulls = [e for e in self._full if self._owner(e) is mod]

        def hook(module: Any, args: tuple[Any, ...], out: Any) -> Any:
            ctx = self._ctx
            if ctx is None:
                return None
            return self._perturb(module, low, fulls, args[0], out, ctx)

        return hook

    def _perturb(self, module: Any, low: _Low | None, fulls: list[_Full], h: Any, out: Any,
                 ctx: dict[str, Any]) -> Any:
        P = self.popsize
        shared = h is ctx["x"]
        rows = out.shape[0] if shared else out.shape[0] // P
        if not shared and out.shape[0] != rows * P:
            raise ValueError(f"The layer {type(module).__name__} of the model passed to "
                             f"LowRankPopulation got {out.shape[0]} rows, not a multiple of "
                             f"popsize {P}: the model changed the batch axis.")
        tail = out.shape[1:]
        # the layer's own output, fresh from its forward: perturbed in place (the shared
        # rows of the first layer are copied once per member)
        res = out.reshape(P, rows, *tail) if not shared else \
            out.reshape(1, rows, *tail).expand(P, rows, *tail).clone()
        G = 1 if shared else P  # leading axis of h: the shared rows, or one per member
        if low is not None:
            # the factors in the activations' dtype (bfloat16 and float16 models)
            f = ctx["low"][:, low.offset : low.offset + low.size].to(out.dtype)
            Q, m, n, r = f.shape[0], low.m, low.n, low.r
            A = f[:, : m * r].reshape(Q, m, r)
            Bf = f[:, m * r :].reshape(Q, n, r)
            # Work per direction, not per member: a mirrored pair's 2 x rows rows share
            # A_j and B_j, and the sign of member 2j + 1 goes on its small (rows, r)
            # block of h B (or of the picked rows of A), so no factor is repeated.
            k = 2 if self.antithetic else 1
            if isinstance(module, torch.nn.Linear):
                if shared:  # (1, rows, n) @ (Q, n, r): h B once per direction
                    left = torch.matmul(h.reshape(1, -1, n), Bf).unsqueeze(1)
                    if k == 2:
                        left = torch.cat((left, -left), dim=1)
                else:
                    left = torch.matmul(h.reshape(Q, -1, n), Bf).view(Q, k, -1, r)
                    if k == 2:
                        left[:, 1].neg_()
                right = A.transpose(1, 2) * (self.sigma / math.sqrt(r))  # (Q, r, m)
                if fulls:  # the bias: a column of signs beside h B, its u beside A^T
                    e = fulls[0]
                    u = ctx["full"][:, e.offset : e.offset + e.size].to(out.dtype) * self.sigma
                    col = self._signs(left.dtype)[:k].reshape(1, k, 1, 1)
                    left = torch.cat((left, col.expand(Q, k, left.shape[2], 1)), dim=-1)
                    right = torch.cat((right, u.unsqueeze(1)), dim=1)  # (Q, r + 1, m)
                    fulls = []
            elif isinstance(module, _CONV):
                self._perturb_conv(module, res, h, A, Bf, fulls, shared, ctx)
                return res.reshape(P * rows, *tail)
            else:  # Embedding (num, dim): the rows of A that the indices pick
                idx = h.reshape(G, -1)
                idx = (idx.expand(P, -1) if shared else idx).reshape(Q, -1)  # (Q, k L)
                left = torch.gather(A, 1, idx.unsqueeze(-1).expand(-1, -1, r))  # (Q, k L, r)
                if k == 2:
                    left.view(Q, 2, -1, r)[:, 1].neg_()
                right = Bf.transpose(1, 2) * (self.sigma / math.sqrt(r))  # (Q, r, dim)
            # res += left @ right, in place: no temporary of the activation's size
            res.view(Q, -1, res.shape[-1]).baddbmm_(left.reshape(Q, -1, right.shape[1]),
                                                    right)
        for e in fulls:
            u = self._members(ctx["full"][:, e.offset : e.offset + e.size].to(res.dtype))
            u = u * self.sigma
            if isinstance(module, torch.nn.LayerNorm):
                ns = tuple(module.normalized_shape)
                shp = (P, *([1] * (res.dim() - 1 - len(ns))), *ns)
                if e.name.rsplit(".", 1)[-1] == "weight":
                    normed = F.layer_norm(h, ns, None, None, module.eps)
                    res.addcmul_(normed.reshape(G, rows, *tail), u.reshape(shp))  # one pass
                else:
                    res += u.reshape(shp)
            elif isinstance(module, _CONV):  # a bias per output channel
                res += u.reshape(P, 1, u.shape[1], *([1] * (res.dim() - 3)))
            else:  # a Linear's bias, for every row of the member
                res += u.reshape(P, *([1] * (res.dim() - 2)), u.shape[1])
        return res.reshape(P * rows, *tail)

    def _perturb_conv(self, module: Any, res: Any, h: Any, A: Any, Bf: Any,
                      fulls: list[_Full], shared: bool, ctx: dict[str, Any]) -> None:
        """A convolution's members, ``res`` (P, rows, out, *spatial) in place.  The
        perturbation ``A B^T / sqrt(r)`` of the weight, as a matrix (out, in * kernel),
        is the convolution with the ``r`` filters of ``B^T`` followed by the 1 x 1
        mixing ``A``: ``conv(h, W + s E) = conv(h, W) + s A conv(h, B^T) / sqrt(r)``."""
        Q, m, r = A.shape
        P, rows = res.shape[0], res.shape[1]
        k = 2 if self.antithetic else 1
        filt = Bf.transpose(1, 2).reshape(Q * r, *module.weight.shape[1:])  # (Q r, in, *k)
        if shared:  # one convolution with the Q r filters, for the shared rows
            z = module._conv_forward(h, filt, None)  # (rows, Q r, *spatial)
            z = z.reshape(rows, Q, r, -1).transpose(0, 1).unsqueeze(1)  # (Q, 1, rows, r, L)
            z = torch.cat((z, -z), dim=1) if k == 2 else z
        else:  # a grouped convolution: the rows of direction j see its r filters only
            C, sp = h.shape[1], h.shape[2:]
            hg = h.reshape(Q, k * rows, C, *sp).transpose(0, 1).reshape(k * rows, Q * C, *sp)
            conv, pad = _CONV_FN[len(sp)], module.padding
            if module.padding_mode != "zeros":
                hg = F.pad(hg, module._reversed_padding_repeated_twice,
                           mode=module.padding_mode)
                pad = 0
            z = conv(hg, filt, None, module.stride, pad, module.dilation, Q)
            z = z.reshape(k * rows, Q, r, -1).transpose(0, 1).contiguous()  # (Q, k rows, r, L)
            z = z.view(Q, k, rows, r, -1)
            if k == 2:
                z[:, 1].neg_()
        coef = A * (self.sigma / math.sqrt(r))  # (Q, m, r)
        L = z.shape[-1]
        res.view(Q, k * rows, m, L).add_(
            torch.matmul(coef.unsqueeze(1), z.reshape(Q, k * rows, r, L)))
        for e in fulls:  # the bias, per output channel of each member
            u = self._members(ctx["full"][:, e.offset : e.offset + e.size].to(res.dtype))
            u = u * self.sigma
            res += u.reshape(P, 1, m, *([1] * (res.dim() - 3)))

    # -- backward ------------------------------------------------------------------

    def backward(self, losses: Any) -> None:
        """Write the ES gradient of the losses of the members of the last
        :meth:`forward` into the parameters' ``.grad`` and advance the step.

        ``losses``: a tensor or array of shape ``(popsize,)``, finite, member ``i``'s
        loss (lower is better) in position ``i``.
        """
        caller = "LowRankPopulation.backward"
        if self._last_step is None or self._last_step != self.t:
            raise RuntimeError(f"{caller} needs the members' losses of forward() at the "
                               "current step: call forward first.")
        if isinstance(losses, torch.Tensor):
            losses = losses.detach().cpu().to(torch.float64).numpy()
        vals = np.asarray(losses, dtype=np.float64)
        if vals.shape != (self.popsize,):
            raise ValueError(f"The 'losses' parameter of {caller} must have shape "
                             f"({self.popsize},), one per member. Got {vals.shape}.")
        if not np.isfinite(vals).all():
            bad = np.flatnonzero(~np.isfinite(vals))
            raise ValueError(f"The 'losses' parameter of {caller} must be finite. Got "
                             f"non-finite values for members {bad[:5].tolist()}.")
        w = self.weights(vals)
        low, full = self._draw(self.t)
        wt = torch.from_numpy(w).to(dtype=self.dtype, device=self.device)  # P weights
        for e in self._low:
            f = low[:, e.offset : e.offset + e.size]
            Q, m, n, r = f.shape[0], e.m, e.n, e.r
            A = f[:, : m * r].reshape(Q, m, r) * (wt / math.sqrt(r)).reshape(Q, 1, 1)
            B = f[:, m * r :].reshape(Q, n, r)
            G = A.permute(1, 0, 2).reshape(m, Q * r) @ B.permute(1, 0, 2).reshape(n, Q * r).T
            e.param.grad = G.reshape(e.param.shape).to(e.param.dtype)
        for fe in self._full:
            u = full[:, fe.offset : fe.offset + fe.size]
            fe.param.grad = (wt @ u).reshape(fe.param.shape).to(fe.param.dtype)
        self.t += 1
        if self.t > _MAX_STEP:
            raise OverflowError("LowRankPopulation: the step counter passed 2**56 - 1.")

    def weights(self, losses: np.ndarray) -> np.ndarray:
        """Per-direction weights ``w_j`` of the gradient ``sum_j w_j E_j / sigma`` (the
        sigma included), from the members' losses, in float64."""
        util = losses.reshape(self.n_dirs, 2 if self.antithetic else 1)
        if self.shaping != "none":
            util = _fitness_shape(util, self.shaping)
        h = float(self._np_dtype.type(self.sigma))
        if self.antithetic:
            return (util[:, 0] - util[:, 1]) / (2.0 * h) * (1.0 / self.n_dirs)
        return util[:, 0] / h * (1.0 / self.n_dirs)

    # -- checkpoints -----------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The step and the stream key (the model and the optimizer keep the rest)."""
        return {"t": self.t, "key": self.key.tolist()}

    def load_state_dict(self, state: Any) -> None:
        """Restore :meth:`state_dict`; the fields are checked first."""
        caller = "LowRankPopulation.load_state_dict"
        if not isinstance(state, dict) or set(state) != {"t", "key"}:
            raise ValueError(f"The 'state' parameter of {caller} must be a dict with the keys "
                             f"'t' and 'key' of state_dict(). Got {state!r:.80}.")
        t = _check_step(state["t"], caller)
        key = state["key"]
        if (not isinstance(key, list | tuple) or len(key) != 2
                or not all(isinstance(k, int) and 0 <= k < 1 << 32 for k in key)):
            raise ValueError(f"The 'key' field of the 'state' of {caller} must be two "
                             f"uint32 ints. Got {key!r:.80}.")
        self.t, self.key = t, np.array(key, dtype=np.uint32)
        self._last_step = None


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
