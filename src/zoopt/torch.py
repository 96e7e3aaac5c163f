"""PyTorch bridges: gradients through black boxes, surrogate losses, forward-only training.

``import zoopt.torch`` (PyTorch is imported here, never by ``import zoopt``).

* :func:`zo_function` wraps a non-differentiable function of tensors (a
  rounding or argmax layer, a simulator, a metric) in an autograd function
  whose backward pass is the zeroth-order estimate of the vector-Jacobian
  product in the function's *input* space.  Autograd carries it through the
  rest of the model (the variance grows with the size of that input, not
  with the number of parameters).
* :func:`reinforce_loss` and :func:`metric_loss` are surrogate losses whose
  gradients are :mod:`zoopt.policy`'s REINFORCE estimates.
* :class:`ZOOptimizer` trains with forward passes only (MeZO-style): it
  perturbs the parameters in place from the counter stream, evaluates the loss
  twice per direction, restores the parameters bit for bit, and updates with
  SGD or Adam.
* :class:`LowRankPopulation` runs a whole population of perturbed copies of a
  model in one batched forward, with low-rank perturbations of its weight
  matrices (low-rank evolution strategies), and writes the ES gradient into
  ``.grad`` for any ``torch.optim`` optimizer.

Tensors of float32 and float64 (and bfloat16 or float16 parameters for
:class:`ZOOptimizer`), on the CPU or, with the GPU backend (CuPy), on a CUDA
device.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeGuard

import numpy as np
import torch

from zoopt import _backend
from zoopt._bridge import VJPEstimator
from zoopt._threads import get_num_threads
from zoopt._validation import check_choice, check_int, check_positive_float
from zoopt.random import (
    _DIST_CODES,
    _DIST_KINDS,
    _MAX_STEP,
    KIND_LOWRANK,
    _check_coordinates,
    _check_step,
    _counter_words,
    _Stream,
    key_from_rng,
)

__all__ = ["LowRankPopulation", "ZOFunction", "ZOOptimizer", "metric_loss", "reinforce_loss",
           "zo_function"]

_FLOATS = (torch.float32, torch.float64)


def _check_tensor(x: Any, name: str, caller: str, dtypes: tuple[Any, ...] = _FLOATS,
                  cuda: bool = False) -> Any:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"The {name!r} parameter of {caller} must be a torch.Tensor. Got "
                        f"{type(x).__name__} instead.")
    if x.device.type == "cuda" and cuda:
        pass  # served by the GPU backend through DLPack
    elif x.device.type != "cpu":
        raise ValueError(
            f"The {name!r} parameter of {caller} is on {x.device}; zoopt.torch works on CPU "
            "tensors in this build (its GPU kernels are not available). Move it with .cpu()."
        )
    if x.dtype not in dtypes:
        names = ", ".join(str(d).replace("torch.", "") for d in dtypes)
        raise TypeError(f"The {name!r} parameter of {caller} must have dtype {names}. Got "
                        f"{str(x.dtype).replace('torch.', '')} instead.")
    return x


def _as_numpy(x: Any, name: str, caller: str) -> np.ndarray:
    """Array-likes and tensors that do not require grad, as NumPy."""
    if isinstance(x, torch.Tensor):
        if x.requires_grad:
            raise ValueError(f"The {name!r} parameter of {caller} must not require grad (it "
                             "is a constant of the surrogate loss). Pass it .detach()-ed.")
        if x.device.type != "cpu":
            x = x.detach().cpu()
        return x.detach().numpy()
    return np.asarray(x)


# ---------------------------------------------------------------------------
# zo_function

class _ZOAutograd(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, z: Any, owner: ZOFunction) -> Any:
        y = owner._forward(z)
        ctx.owner = owner
        ctx.save_for_backward(z, y)
        return y

    @staticmethod
    def backward(ctx: Any, v: Any) -> Any:
        z, y = ctx.saved_tensors
        return ctx.owner._backward(z, y, v), None


class ZOFunction:
    """A black box made differentiable by zeroth-order estimation (see :func:`zo_function`).

    Attributes
    ----------
    fun : callable
        The black box.
    step : int
        Stream step of the next backward pass (incremented by each backward).
    """

    def __init__(self, fun: Callable[..., Any], est: VJPEstimator, step: int):
        self.fun = fun
        self._est = est
        self.step = step

    def __call__(self, z: Any) -> Any:
        _check_tensor(z, "z", "zo_function", cuda=True)
        if self._est.batched and z.ndim == 0:
            raise ValueError("zo_function with batched=True needs an input with a batch axis "
                             "(shape (B, ...)); pass batched=False for a single point.")
        return _ZOAutograd.apply(z, self)

    def __repr__(self) -> str:
        e = self._est
        return (f"ZOFunction({getattr(self.fun, '__name__', self.fun)!r}, method={e.method!r}, "
                f"dist={e.dist!r}, sigma={e.sigma!r}, n_dirs={e.n_dirs}, batched={e.batched})")

    def _call(self, z: Any) -> Any:
        with torch.no_grad():
            y = self.fun(z)
        if not isinstance(y, torch.Tensor):  # NumPy, CuPy (through DLPack), lists
            y = torch.as_tensor(y if _backend.is_device_array(y) else np.asarray(y))
        if y.is_complex():
            raise TypeError(f"The function passed to zo_function must return real numbers. Got "
                            f"dtype {y.dtype}.")
        if y.dtype not in _FLOATS:  # integers, bools, half precisions: compared in float32
            y = y.to(torch.float32)
        return y

    def _forward(self, z: Any) -> Any:
        y = self._call(z.detach())
        if self._est.batched and (y.ndim == 0 or y.shape[0] != z.shape[0]):
            raise ValueError(
                f"The function passed to zo_function (batched=True) must keep the batch axis: "
                f"input batch {z.shape[0]}, output shape {tuple(y.shape)}."
            )
        if not y.dtype.is_floating_point:
            y = y.to(z.dtype)
        return y

    def _backward(self, z: Any, y: Any, v: Any) -> Any:
        # the tensors seen as arrays of their device's backend (NumPy or CuPy), no copies
        xp = _tensor_backend(z.device).xp

        def arr(t: Any) -> Any:
            return xp.from_dlpack(t.detach().contiguous())

        def call(Z: Any) -> Any:
            out = self._call(torch.from_dlpack(Z))
            return arr(out.to(z.device))

        if z.numel() == 0:
            return torch.zeros_like(z)
        with _cuda_context(z.device):
            g = self._est.estimate(call, arr(z), arr(v.to(z.device)), arr(y), self.step)
        self.step += 1
        return torch.from_dlpack(g)


def zo_function(fun: Callable[..., Any], *, method: str = "central", dist: str = "normal",
                sigma: float = 1e-3, n_dirs: int = 32, rng: Any = None, batched: bool = True,
                batch_size: int | None = None, step: int = 0) -> ZOFunction:
    """Make a black box differentiable in autograd by zeroth-order estimation.

    Parameters
    ----------
    fun : callable
        ``fun(z)`` maps a tensor to a tensor (or array-like), without
        gradients (it runs under ``torch.no_grad()``).  With ``batched=True``
        (default) the first axis is a batch of independent rows, like a layer:
        row ``b`` of the output depends on row ``b`` of the input only, and
        ``fun`` must accept any number of rows (the probes of several
        directions are stacked along that axis).
    method : {"central", "forward"}, optional
        Finite differences: antithetic pairs (default, ``2 n_dirs`` rows of
        probes) or one-sided (``n_dirs``; reuses the forward output).
    dist : {"normal", "rademacher", "sphere", "orthogonal"}, optional
        Directions (default normal); ``"sphere"`` and ``"orthogonal"`` only
        with ``batched=False``.
    sigma : float, optional
        Step of the differences, in the units of ``z`` (default 1e-3).
    n_dirs : int, optional
        Directions per backward pass (default 32).
    rng : None, int, SeedSequence or Generator, optional
        Source of the stream key, drawn once here.
    batched : bool, optional
        Per-row estimates (default True) or one estimate for the whole input.
    batch_size : int, optional
        Most probe rows per call of ``fun`` (default: what fits in 16 MiB).
    step : int, optional
        Stream step of the first backward pass (default 0); each backward
        pass uses the next step, so a run is reproducible from ``rng``.

    Returns
    -------
    f : ZOFunction
        Callable on tensors; ``f(z)`` equals ``fun(z)`` and its backward pass
        returns the estimate of ``J^T v`` for the incoming gradient ``v``.

    Raises
    ------
    ValueError, TypeError
        Bad options (here); a CUDA or non-float input, an output without the
        batch axis, non-finite or wrongly shaped outputs on probes (when
        called).

    See Also
    --------
    zoopt.grad : the estimator (``batched=False`` calls it on ``<v, fun(z)>``).
    zoopt.policy.output_space : the same estimate for a reward of the outputs.

    Notes
    -----
    With ``batched=True``, direction ``i`` is stream direction ``i`` of
    length ``B k`` reshaped to ``(B, k)`` and row ``b`` gets
    ``(1/n) sum_i (phi_b(z + s u_i) - phi_b(z - s u_i)) / (2 s) u_{i,b}`` with
    ``phi_b(z) = <v_b, fun(z)_b>``: unbiased for the Gaussian-smoothed
    ``fun``, exactly ``(1/n) sum_i u u^T J^T v`` for linear ``fun``.

    Examples
    --------
    >>> import torch
    >>> from zoopt.torch import zo_function
    >>> hard = zo_function(torch.round, sigma=0.5, n_dirs=64, rng=0)
    >>> z = torch.tensor([[0.2, 1.7]], requires_grad=True)
    >>> hard(z).sum().backward()          # round has zero gradient almost everywhere;
    >>> z.grad.shape                      # its smoothed version does not
    torch.Size([1, 2])
    """
    caller = "zo_function"
    if not callable(fun):
        raise TypeError(f"The 'fun' parameter of {caller} must be callable. Got {fun!r}.")
    est = VJPEstimator(method, dist, sigma, n_dirs, rng, batched, batch_size, caller)
    return ZOFunction(fun, est, _check_step(step, caller))


# ---------------------------------------------------------------------------
# surrogate losses

def reinforce_loss(log_probs: Any, rewards: Any, *, baseline: str | float = "rloo",
                   greedy_rewards: Any = None, group_size: int | None = None) -> Any:
    r"""REINFORCE surrogate loss for sampled actions or sequences.

    ``loss = -(1/S) sum_s A_s log p(y_s)`` with advantages ``A_s = R_s - b_s``;
    its gradient is minus :func:`zoopt.policy.sequence`'s estimate of
    :math:`\nabla E[R]` (so minimizing it raises the expected reward).

    Parameters
    ----------
    log_probs : torch.Tensor, shape (S,) or (S, T)
        Log-probabilities of the ``S`` sampled actions (per step for
        sequences, summed over the second axis; zero the steps after the end).
    rewards : array_like or tensor (without grad), shape (S,)
    baseline, greedy_rewards, group_size
        As in :func:`zoopt.policy.sequence` (default ``"rloo"``).

    Returns
    -------
    loss : torch.Tensor, scalar
        Its gradient with respect to ``log_probs[s]`` is exactly
        ``-A_s / S`` rounded to the dtype of ``log_probs``, the coefficient
        :func:`zoopt.policy.sequence` applies to the score of sample ``s``.

    Examples
    --------
    >>> import torch
    >>> from zoopt.torch import reinforce_loss
    >>> logits = torch.zeros(4, 3, requires_grad=True)
    >>> actions = torch.tensor([0, 1, 2, 0])
    >>> logp = torch.log_softmax(logits, dim=1)[torch.arange(4), actions]
    >>> reinforce_loss(logp, [1.0, 0.0, 0.0, 1.0]).backward()
    >>> bool(logits.grad[0, 0] < 0)           # descent raises action 0's logit
    True
    """
    from zoopt.policy import _check_rewards, _sequence_advantages

    caller = "reinforce_loss"
    _check_tensor(log_probs, "log_probs", caller, cuda=True)
    if log_probs.ndim not in (1, 2) or log_probs.shape[0] < 1:
        raise ValueError(f"The 'log_probs' parameter of {caller} must have shape (S,) or "
                         f"(S, T). Got shape {tuple(log_probs.shape)}.")
    S = log_probs.shape[0]
    R = _check_rewards(_as_numpy(rewards, "rewards", caller), ((S,),), "The 'rewards' "
                       "parameter", caller)
    if greedy_rewards is not None:
        greedy_rewards = _as_numpy(greedy_rewards, "greedy_rewards", caller)
    adv = _sequence_advantages(R, baseline, greedy_rewards, group_size, caller)
    # rounded on the host, then the S coefficients go to the device of log_probs
    coef = torch.from_numpy(adv / S).to(log_probs.dtype).to(log_probs.device)
    lp = log_probs.sum(dim=1) if log_probs.ndim == 2 else log_probs
    return -(coef * lp).sum()


_METRICS = ("accuracy", "f1")


def metric_loss(logits: Any, targets: Any, metric: str | Callable[..., Any] = "accuracy", *,
                n_samples: int = 16, baseline: str | float = "rloo", temperature: float = 1.0,
                rng: Any = None, step: int = 0, average: str = "binary", pos_label: int = 1,
                return_info: bool = False) -> Any:
    r"""Surrogate loss to maximize a classification metric by REINFORCE.

    Labels are sampled from ``softmax(logits / T)`` (compiled Gumbel-max,
    counter stream), the metric is computed for each sampled labeling, and
    the loss's gradient is minus :func:`zoopt.policy.categorical`'s estimate
    of :math:`\nabla E[\mathrm{metric}]`, bit for bit.  Its value is minus the
    mean metric of the samples.

    Parameters
    ----------
    logits : torch.Tensor, shape (N, C)
        float32 or float64, CPU.
    targets : array_like or tensor of int (without grad), shape (N,)
        Class labels in ``[0, C)``, ``C = logits.shape[1]``.
    metric : {"accuracy", "f1"} or callable, optional
        ``"accuracy"`` (default): per-example correctness over ``N`` (its mean
        is the accuracy; per-example baselines); ``"f1"``:
        :func:`zoopt.metrics.f1_score` of each sampled labeling (batched,
        compiled) with ``average`` and ``pos_label``; a callable
        ``metric(targets, Y)`` with ``Y`` of shape ``(S, N)`` returning
        ``(S,)`` or ``(S, N)``.
    n_samples : int, optional
        Sampled labelings ``S`` (default 16).
    baseline, temperature, rng, step
        As in :func:`zoopt.policy.categorical`.  Pass a
        ``numpy.random.Generator`` as ``rng`` to get fresh samples at each
        call of a training loop, reproducibly.
    average, pos_label
        For ``metric="f1"`` (default binary F1 of label 1).
    return_info : bool, optional
        Also return the :class:`~zoopt.PolicyInfo` of the estimate.

    Returns
    -------
    loss : torch.Tensor, scalar
    info : PolicyInfo
        With ``return_info=True``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from zoopt.torch import metric_loss
    >>> logits = torch.zeros(6, 2, requires_grad=True)
    >>> y = np.array([0, 1, 1, 0, 1, 1])
    >>> loss = metric_loss(logits, y, "f1", n_samples=64, rng=0)
    >>> loss.backward()
    >>> bool((logits.grad[y == 1, 1] < 0).all())   # descent raises the true class
    True
    """
    from zoopt import metrics, policy

    caller = "metric_loss"
    _check_tensor(logits, "logits", caller, cuda=True)
    if logits.ndim != 2:
        raise ValueError(f"The 'logits' parameter of {caller} must have shape (N, C). Got "
                         f"shape {tuple(logits.shape)}.")
    xp = _tensor_backend(logits.device).xp
    if logits.device.type == "cuda":  # labels, metric and gradient on the device
        if isinstance(targets, torch.Tensor):
            if targets.requires_grad:
                raise ValueError(f"The 'targets' parameter of {caller} must not require grad.")
            t = xp.from_dlpack(targets.detach().to(logits.device).contiguous())
        else:
            with _cuda_context(logits.device):  # the N labels, copied to logits' device
                t = xp.asarray(np.asarray(targets))
    else:
        t = _as_numpy(targets, "targets", caller)
    if t.dtype.kind not in "iu" or t.shape != (logits.shape[0],):
        raise ValueError(f"The 'targets' parameter of {caller} must hold N = {logits.shape[0]} "
                         f"integer labels. Got dtype {t.dtype} and shape {t.shape}.")
    C = logits.shape[1]
    if t.size and (int(t.min()) < 0 or int(t.max()) >= C):  # a label no sample can match
        raise ValueError(f"The 'targets' parameter of {caller} must hold class labels in "
                         f"[0, C) = [0, {C}), C = logits.shape[1]. Got values in "
                         f"[{int(t.min())}, {int(t.max())}].")
    N = logits.shape[0]
    reward: Callable[[np.ndarray], Any]
    if callable(metric):
        fn = metric

        def reward(Y: np.ndarray) -> Any:
            return fn(t, Y)
    else:
        name = check_choice(metric, "metric", caller, _METRICS)
        if name == "accuracy":
            def reward(Y: np.ndarray) -> Any:
                return (Y == t).astype(np.float64) / N
        else:
            def reward(Y: np.ndarray) -> Any:
                return metrics.f1_score(t, Y, average=average, pos_label=pos_label)
    z = xp.from_dlpack(logits.detach().contiguous())
    with _cuda_context(logits.device):
        g, info = policy.categorical(z, reward, n_samples=n_samples, baseline=baseline,
                                     temperature=temperature, rng=rng, step=step,
                                     return_info=True)
    vals = np.asarray(info.values, dtype=np.float64)
    mean_metric = float(vals.sum(axis=1).mean() if vals.ndim == 2 else vals.mean())
    surrogate = -(torch.from_dlpack(g) * logits).sum()
    loss = surrogate - surrogate.detach() + torch.tensor(-mean_metric, dtype=logits.dtype)
    return (loss, info) if return_info else loss


# ---------------------------------------------------------------------------
# forward-only training

_CHUNK = 1 << 18  # coordinates per pass over a tensor: bounds the scratch memory
# on a GPU, passes are launches (and a sync to find the lost bits): fewer, larger ones
_DEVICE_CHUNK = 1 << 25
_PARAM_DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)
_INT_VIEW = {torch.float32: torch.int32, torch.float64: torch.int64,
             torch.bfloat16: torch.int16, torch.float16: torch.int16}


class ZOOptimizer(torch.optim.Optimizer):
    r"""Forward-only training: central differences along directions from the stream.

    Each direction ``u_i`` (stream direction ``i`` of the current step over all
    parameters flattened in order, as ``torch.nn.utils.parameters_to_vector``
    would lay them out) is applied in place: ``theta + s u_i``, the loss,
    ``theta - s u_i``, the loss, and the parameters are put back bit for bit.
    The update uses ``g = (1/n) sum_i (L_+ - L_-) / (2 s) u_i``, regenerated
    from the stream chunk by chunk.

    Parameters
    ----------
    params : iterable of tensors or of dicts
        Parameters (or parameter groups; ``lr``, ``weight_decay``, ``betas``,
        ``eps`` may differ per group).  CPU, contiguous, float32, float64,
        bfloat16 or float16.
    lr : float, optional
        Learning rate (default 1e-3).
    sigma : float, optional
        Perturbation scale (default 1e-3).
    n_dirs : int, optional
        Directions per :meth:`step` (or per :meth:`accumulate` call), default 1.
    rule : {"sgd", "adam"}, optional
        Update rule (default "sgd": ``theta -= lr g``; "adam": Kingma and Ba's
        moments, kept in the parameter dtype like ``torch.optim.Adam``).
    betas, eps : optional
        Adam's constants (default (0.9, 0.999) and 1e-8).
    weight_decay : float, optional
        Added to the gradient as ``weight_decay * theta`` (default 0).
    dist : {"normal", "rademacher"}, optional
        Directions (default normal).
    rng : None, int, SeedSequence or Generator, optional
        Source of the stream key.
    perturbation : {"full", "lowrank"}, optional
        ``"full"`` (default, MeZO): every parameter moves along ``dist``.
        ``"lowrank"`` (LOZO, Chen et al., "Enhancing Zeroth-order Fine-tuning for
        Language Models with Low-rank Structures", ICLR 2025): each 2-D parameter
        ``(m, n)`` moves along ``A_i B_i^T / sqrt(rank)`` (the ``"lowrank"``
        directions of :func:`zoopt.random.directions`, factors from their own kind
        of the stream, laid out as in :class:`LowRankPopulation`), the others
        along ``dist``.
    rank : int, optional
        With ``"lowrank"``: the rank, capped at ``min(m, n)`` per parameter
        (default 1).
    lazy : int, optional
        With ``"lowrank"``: LOZO's lazy sampling.  The factors ``B_i`` stay those
        of the first step of each window of ``lazy`` steps while the ``A_i`` are
        drawn afresh at every step (default 1: both fresh).

    Notes
    -----
    Directions come from the float64 stream when every parameter is float64,
    else from the float32 stream; each tensor reads its own span of
    coordinates, so no two tensors share noise, and for float32/float64
    parameters the gradient is exactly ``zoopt.grad(L, theta_flat,
    sigma=sigma, n_dirs=n, rng=..., step=t)`` (tests check it).  A direction
    has ``2**38`` distinct float32 normal coordinates (``2**37`` float64 ones,
    ``2**43`` Rademacher signs): larger models are refused.

    Memory: no copy of the parameters.  Scratch buffers cover ``2**18``
    coordinates at a time, and the exact restore keeps, for the elements whose
    value ``fl(fl(theta + s u) - s u)`` does not give back (the rounding of
    the perturbation lost information there), their index and value: a
    fraction of the parameters that grows with ``sigma`` relative to their
    magnitudes (``exception_fraction`` after each step; typically a few
    percent for ``sigma = 1e-3``).  Adam adds its two moment buffers.

    Gradient accumulation: :meth:`accumulate` evaluates ``n_dirs`` more
    directions at the current parameters (continuing the direction indices),
    and :meth:`step` then updates with all of them: the same result as one step
    with the total number of directions.

    Examples
    --------
    >>> import torch
    >>> from zoopt.torch import ZOOptimizer
    >>> w = torch.nn.Parameter(torch.ones(5))
    >>> opt = ZOOptimizer([w], lr=0.1, sigma=1e-2, n_dirs=8, rng=0)
    >>> for _ in range(50):
    ...     _ = opt.step(lambda: (w * w).sum())
    >>> bool((w * w).sum() < 5.0)
    True
    """

    def __init__(self, params: Iterable[Any], *, lr: float = 1e-3, sigma: float = 1e-3,
                 n_dirs: int = 1, rule: str = "sgd", betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, dist: str = "normal",
                 rng: Any = None, perturbation: str = "full", rank: int = 1,
                 lazy: int = 1) -> None:
        caller = "ZOOptimizer"
        self.perturbation = check_choice(perturbation, "perturbation", caller,
                                         ("full", "lowrank"))
        self.rank = check_int(rank, "rank", caller, low=1)
        self.lazy = check_int(lazy, "lazy", caller, low=1, high=_MAX_STEP)
        if self.perturbation == "full" and (rank != 1 or lazy != 1):
            raise ValueError(f"The 'rank' and 'lazy' parameters of {caller} are for "
                             f"perturbation='lowrank'. Got rank={rank}, lazy={lazy} with "
                             "perturbation='full'.")
        lr = _check_nonneg(lr, "lr", caller)
        self.sigma = check_positive_float(sigma, "sigma", caller)
        self.n_dirs = check_int(n_dirs, "n_dirs", caller, low=1, high=(1 << 31))
        self.rule = check_choice(rule, "rule", caller, ("sgd", "adam"))
        self.dist = check_choice(dist, "dist", caller, ("normal", "rademacher"))
        defaults = {"lr": lr, "betas": betas, "eps": eps,
                    "weight_decay": _check_nonneg(weight_decay, "weight_decay", caller)}
        super().__init__(params, defaults)
        self.key = key_from_rng(rng, caller)
        self.t = 0  # the stream step of the current update
        self._diffs: list[float] = []  # (L+ - L-) of the directions evaluated at step t
        self.exception_fraction = 0.0
        self._layout_changed()

    def _layout_changed(self) -> None:
        """Stream dtype, step and scratch for the current parameters."""
        params_ = self._params()
        self._stream_dtype = self._check_length(params_, "ZOOptimizer")
        with np.errstate(over="ignore"):
            self.h = float(self._stream_dtype(self.sigma))
        if not (np.isfinite(self.h) and self.h > 0):
            raise ValueError(f"The 'sigma' parameter of ZOOptimizer must be a positive number "
                             f"representable in {np.dtype(self._stream_dtype)}. Got "
                             f"{self.sigma!r}.")
        devices = {p.device for p in params_}
        if len(devices) > 1:
            raise ValueError(f"The 'params' of ZOOptimizer must all be on one device. Got "
                             f"{sorted(str(d) for d in devices)}.")
        self._device = devices.pop() if devices else torch.device("cpu")
        self._backend = _tensor_backend(self._device)
        self._chunk = _DEVICE_CHUNK if self._device.type == "cuda" else _CHUNK
        if hasattr(self, "_zo_scratch"):
            del self._zo_scratch
        # "lowrank": the 2-D parameters' factors, consecutive spans of one row of kind 6
        self._low: dict[int, tuple[int, int, int, int]] = {}
        off = 0
        if self.perturbation == "lowrank":
            for q in params_:
                if q.dim() == 2:
                    m, n = q.shape
                    r = min(self.rank, m, n)
                    self._low[id(q)] = (off, m, n, r)
                    off += (m + n) * r
            if off:
                _check_coordinates(off, "The low-rank factors", "ZOOptimizer", "normal",
                                   self._stream_dtype)
        self._low_size = off
        self._low_cache: tuple[Any, ...] | None = None

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group (checked like the constructor's parameters)."""
        params = param_group.get("params", [])
        params = [params] if isinstance(params, torch.Tensor) else list(params)
        _check_group({**self.defaults, **param_group, "params": params},
                     "ZOOptimizer.add_param_group")
        if hasattr(self, "key"):  # after construction: refused before it is added
            self._check_length(self._params() + params, "ZOOptimizer.add_param_group")
        super().add_param_group({**param_group, "params": params})
        if hasattr(self, "key"):  # after construction: the layout changed
            if self._diffs:
                raise RuntimeError("ZOOptimizer.add_param_group between accumulate() and "
                                   "step(): finish the step first.")
            self._layout_changed()

    # -- layout and stream -------------------------------------------------------

    def _check_length(self, params_: list[Any], caller: str) -> type:
        """The stream dtype of ``params_``, whose elements in all must be distinct
        coordinates of one stream direction (each tensor reads its own span)."""
        dtype = np.float64 if all(p.dtype == torch.float64 for p in params_) else np.float32
        _check_coordinates(sum(p.numel() for p in params_), "The 'params'", caller, self.dist,
                           dtype, "elements in all")
        return dtype

    def _params(self) -> list[Any]:
        return [p for g in self.param_groups for p in g["params"]]

    def _layout(self) -> list[tuple[Any, int, dict[str, Any]]]:
        out, off = [], 0
        for g in self.param_groups:
            for p in g["params"]:
                out.append((p, off, g))
                off += p.numel()
        return out

    def _words(self) -> tuple[int, int, int, int, int]:
        c2, c3 = _counter_words(self.t, _DIST_KINDS[self.dist])
        return _DIST_CODES[self.dist], int(self.key[0]), int(self.key[1]), c2, c3

    def _noise(self, buf: Any, direction: int, j_first: int, out: Any) -> Any:
        """``fl(sigma * u)`` for coordinates ``j_first ..`` of a direction, in ``out``'s
        dtype (written into ``out`` when the dtypes differ).  ``buf`` is an array of the
        parameters' backend (NumPy or CuPy), seen by torch through DLPack (no copy)."""
        code, k0, k1, c2, c3 = self._words()
        self._backend.streams.fill_span(buf, code, k0, k1, c2, c3, direction, j_first,
                                        get_num_threads())
        u = torch.from_dlpack(buf)
        u.mul_(torch.tensor(self._stream_dtype(self.sigma), dtype=u.dtype))
        if u.dtype == out.dtype:
            return u
        return out.copy_(u)

    def _span_noise(self, part: Any, sc: dict[str, Any], direction: int, j: int, p: Any,
                    c0: int) -> Any:
        """``fl(sigma * u)`` for the coordinates of ``part`` (coordinates ``c0 ..`` of
        parameter ``p``, ``j ..`` of the whole layout), in ``part``'s dtype."""
        m = part.numel()
        out = sc[part.dtype][0][:m]
        if id(p) not in self._low:
            return self._noise(sc["words"][:m], direction, j, out)
        off, rows, n, r = self._low[id(p)]
        A, B = self._factors(direction, off, rows, n, r)
        r0, r1 = c0 // n, -(-(c0 + m) // n)
        # the rows r0 .. r1 - 1 of A B^T / sqrt(r), the outer products in the order of
        # zoopt.random.directions, then sigma as for the other directions
        V = A[r0:r1, 0, None] * B[None, :, 0]
        for k in range(1, r):
            V = V + A[r0:r1, k, None] * B[None, :, k]
        sd = A.dtype
        V = V * torch.tensor(self._stream_dtype(1.0 / math.sqrt(r)), dtype=sd, device=V.device)
        u = V.reshape(-1)[c0 - r0 * n : c0 - r0 * n + m]
        u = u * torch.tensor(self._stream_dtype(self.sigma), dtype=sd, device=V.device)
        return u if u.dtype == out.dtype else out.copy_(u)

    def _factor_rows(self, step: int, start: int, count: int) -> Any:
        """Rows ``start ..`` of the factors (kind 6) of ``step``: ``(count, low_size)``."""
        xp = self._backend.xp
        st = _Stream(self.key, step, "normal", np.dtype(self._stream_dtype), self._low_size,
                     kind=KIND_LOWRANK, backend=self._backend)
        buf = xp.empty((count, self._low_size), dtype=self._stream_dtype)
        st.fill(start, buf, xp.empty(0, dtype=self._stream_dtype))
        return torch.from_dlpack(buf) if xp is not np else torch.from_numpy(buf)

    def _window(self) -> int:
        """The step whose ``B`` factors the current step uses (LOZO's lazy sampling)."""
        return self.t - self.t % self.lazy

    def _factors(self, direction: int, off: int, m: int, n: int, r: int) -> tuple[Any, Any]:
        """``A`` (m, r) from the current step and ``B`` (n, r) from its window's first
        step, of one direction (the rows of the last direction asked for are kept)."""
        key = (self.t, direction, tuple(self.key.tolist()))
        if self._low_cache is None or self._low_cache[0] != key:
            fa = self._factor_rows(self.t, direction, 1)[0]
            t0 = self._window()
            fb = fa if t0 == self.t else self._factor_rows(t0, direction, 1)[0]
            self._low_cache = (key, fa, fb)
        _, fa, fb = self._low_cache
        return (fa[off : off + m * r].reshape(m, r),
                fb[off + m * r : off + (m + n) * r].reshape(n, r))

    def _lowrank_grad(self, w: np.ndarray, p: Any) -> Any:
        """``sum_i w_i A_i B_i^T / sqrt(r)`` for parameter ``p``, float64, flat."""
        off, m, n, r = self._low[id(p)]
        N = w.size
        fa = self._factor_rows(self.t, 0, N)
        t0 = self._window()
        fb = fa if t0 == self.t else self._factor_rows(t0, 0, N)
        A = fa[:, off : off + m * r].reshape(N, m, r).to(torch.float64)
        B = fb[:, off + m * r : off + (m + n) * r].reshape(N, n, r).to(torch.float64)
        wt = torch.as_tensor(w, dtype=torch.float64, device=A.device) / math.sqrt(r)
        A = A * wt.reshape(N, 1, 1)
        G = A.permute(1, 0, 2).reshape(m, N * r) @ B.permute(1, 0, 2).reshape(n, N * r).T
        return G.reshape(-1)

    def _scratch(self) -> dict[str, Any]:
        """Chunk-sized buffers, allocated once per optimizer and dtype."""
        key = "_zo_scratch"
        if not hasattr(self, key):
            sd = torch.float64 if self._stream_dtype == np.float64 else torch.float32
            xp, dev = self._backend.xp, self._device
            c = self._chunk
            bufs: dict[Any, Any] = {"words": xp.empty(c, dtype=self._stream_dtype),
                                    "grad": xp.empty(c, dtype=self._stream_dtype),
                                    "acc": xp.empty(c, dtype=np.float64),
                                    "step64": xp.empty(c, dtype=np.float64),
                                    "mask": torch.empty(c, dtype=torch.bool, device=dev),
                                    "lost": np.empty(c, dtype=np.int32)}
            for dt in {p.dtype for p in self._params()} | {sd}:
                bufs[dt] = tuple(torch.empty(c, dtype=dt, device=dev) for _ in range(3))
            setattr(self, key, bufs)
        return getattr(self, key)

    # -- probes --------------------------------------------------------------------

    def _shift(self, direction: int, sign: int) -> list[tuple[Any, Any, Any]]:
        """theta <- theta + sign * s u in place; what the rounding loses, kept aside.
        Undone if it fails half way."""
        kept: list[tuple[Any, Any, Any]] = []
        # chunks already moved: (part, its first coordinate, the parameter, its offset there)
        done: list[tuple[Any, int, Any, int]] = []
        try:
            return self._shift_all(direction, sign, kept, done)
        except BaseException:
            sc = self._scratch()
            for part, j, q, c0 in done:
                s = self._span_noise(part, sc, direction, j, q, c0)
                if sign > 0:
                    part.sub_(s)
                else:
                    part.add_(s)
            for part, lost, values in kept:
                part[lost] = values
            raise

    def _fused(self, p: Any) -> bool:
        """The parameter moves in one compiled pass (noise, move, exactness check): on
        the CPU, in the stream's dtype.  Otherwise torch's ops do the same arithmetic."""
        stream = torch.float64 if self._stream_dtype == np.float64 else torch.float32
        return self._device.type == "cpu" and p.dtype == stream

    def _lowrank_move(self, p: Any, direction: int) -> tuple[Any, Any, Any]:
        """``A``, ``B`` (NumPy views) and ``fl(1 / sqrt(r))`` of a low-rank parameter's
        direction, for the compiled moves."""
        off, rows, n, r = self._low[id(p)]
        A, B = self._factors(direction, off, rows, n, r)
        return A.numpy(), B.numpy(), self._stream_dtype(1.0 / math.sqrt(r))

    def _shift_all(self, direction: int, sign: int, kept: list[tuple[Any, Any, Any]],
                   done: list[tuple[Any, int, Any, int]]) -> list[tuple[Any, Any, Any]]:
        sc = self._scratch()
        n_lost = 0
        code, k0, k1, c2, c3 = self._words()
        for p, off, _ in self._layout():
            flat = p.data.view(-1)
            _, moved, back = sc[p.dtype]
            fused = self._fused(p)
            for c0 in range(0, flat.numel(), self._chunk):
                m = min(self._chunk, flat.numel() - c0)
                if fused:
                    part = flat[c0 : c0 + m]
                    lost_m, orig = sc["lost"][:m], back[:m].numpy()
                    if id(p) in self._low:
                        A, B, inv = self._lowrank_move(p, direction)
                        n = self._backend.streams.shift_lowrank(
                            part.numpy(), A, B, c0, inv, self._stream_dtype(self.sigma), sign,
                            lost_m, orig, get_num_threads())
                    else:
                        n = self._backend.streams.shift_span(
                            part.numpy(), self._stream_dtype(self.sigma), sign, lost_m, orig,
                            code, k0, k1, c2, c3, direction, off + c0, get_num_threads())
                    done.append((part, off + c0, p, c0))
                    if n:  # the kernel packed the lost coordinates and their old values
                        kept.append((part, torch.from_numpy(lost_m[:n].copy()),
                                     torch.from_numpy(orig[:n].copy())))
                        n_lost += n
                    continue
                part = flat[c0 : c0 + m]
                s = self._span_noise(part, sc, direction, off + c0, p, c0)
                mv, bk, mask = moved[:m], back[:m], sc["mask"][:m]
                if sign > 0:
                    torch.add(part, s, out=mv)
                    torch.sub(mv, s, out=bk)
                else:
                    torch.sub(part, s, out=mv)
                    torch.add(mv, s, out=bk)
                # compare the bits (so -0.0 and NaN payloads come back too)
                ity = _INT_VIEW[part.dtype]
                torch.ne(bk.view(ity), part.view(ity), out=mask)
                lost = torch.nonzero(mask).view(-1)
                if lost.numel():
                    kept.append((part, lost.to(torch.int32), part[lost]))
                    n_lost += lost.numel()
                part.copy_(mv)
                done.append((part, off + c0, p, c0))
        total = sum(p.numel() for p in self._params())
        self.exception_fraction = max(self.exception_fraction, n_lost / max(total, 1))
        return kept

    def _unshift(self, direction: int, sign: int, kept: list[tuple[Any, Any, Any]]) -> None:
        sc = self._scratch()
        code, k0, k1, c2, c3 = self._words()
        for p, off, _ in self._layout():
            flat = p.data.view(-1)
            fused = self._fused(p)
            for c0 in range(0, flat.numel(), self._chunk):
                m = min(self._chunk, flat.numel() - c0)
                if fused and id(p) in self._low:
                    A, B, inv = self._lowrank_move(p, direction)
                    self._backend.streams.unshift_lowrank(
                        flat[c0 : c0 + m].numpy(), A, B, c0, inv, self._stream_dtype(self.sigma),
                        sign, get_num_threads())
                    continue
                if fused:
                    self._backend.streams.unshift_span(
                        flat[c0 : c0 + m].numpy(), self._stream_dtype(self.sigma), sign, code,
                        k0, k1, c2, c3, direction, off + c0, get_num_threads())
                    continue
                part = flat[c0 : c0 + m]
                s = self._span_noise(part, sc, direction, off + c0, p, c0)
                if sign > 0:
                    part.sub_(s)
                else:
                    part.add_(s)
        for part, lost, values in kept:
            part[lost] = values

    def _loss(self, closure: Callable[[], Any], direction: int, sign: int) -> float:
        with torch.no_grad():
            val = closure()
        arr = np.asarray(val.detach().cpu().numpy() if isinstance(val, torch.Tensor) else val,
                         dtype=np.float64)
        if arr.size != 1 or not np.isfinite(arr).all():
            raise ValueError(
                f"The closure passed to ZOOptimizer must return one finite number; got "
                f"{arr.ravel()[:3].tolist()} at direction {direction} "
                f"({'+' if sign > 0 else '-'} side) of step {self.t}."
            )
        return float(arr.reshape(()))

    # -- public ----------------------------------------------------------------------

    def accumulate(self, closure: Callable[[], Any]) -> float:
        """Evaluate ``n_dirs`` more directions at the current parameters (no update).

        Returns the mean of the losses evaluated.
        """
        if not callable(closure):
            raise TypeError("ZOOptimizer needs a closure: a callable returning the loss.")
        with self._on_device():
            return self._accumulate(closure)

    def _accumulate(self, closure: Callable[[], Any]) -> float:
        total = 0.0
        for _ in range(self.n_dirs):
            i = len(self._diffs)
            values = []
            for sign in (1, -1):
                kept = self._shift(i, sign)
                try:
                    values.append(self._loss(closure, i, sign))
                finally:
                    self._unshift(i, sign, kept)
            self._diffs.append(values[0] - values[1])
            total += values[0] + values[1]
        return total / (2 * self.n_dirs)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update.  With a closure: evaluate ``n_dirs`` directions first (added to
        any accumulated ones); then update with all of them and go to the next step.

        Returns the mean loss over the probes of this call (None without closure).
        """
        loss = self.accumulate(closure) if closure is not None else None
        with self._on_device():
            self._step()
        return loss

    def _step(self) -> None:
        if not self._diffs:
            raise RuntimeError("ZOOptimizer.step() without a closure needs accumulate() "
                               "calls first.")
        n = len(self._diffs)
        w_host = (np.array(self._diffs) / (2.0 * self.h)) * (1.0 / n)
        be = self._backend
        w = be.xp.asarray(w_host)  # the n weights: the one copy to the device per step
        code, k0, k1, c2, c3 = self._words()
        like = be.xp.empty(0, dtype=self._stream_dtype)
        for p, off, group in self._layout():
            flat = p.data.view(-1)
            state = self.state[p]
            if self.rule == "adam" and not state:
                state["step"] = 0
                state["exp_avg"] = torch.zeros_like(p)
                state["exp_avg_sq"] = torch.zeros_like(p)
            if self.rule == "adam":
                state["step"] += 1
            G = self._lowrank_grad(w_host, p) if id(p) in self._low else None
            for c0 in range(0, flat.numel(), self._chunk):
                m = min(self._chunk, flat.numel() - c0)
                acc = self._scratch()["acc"][:m]
                if G is not None:
                    acc[...] = be.xp.from_dlpack(G[c0 : c0 + m]) if be.xp is not np else \
                        G[c0 : c0 + m].numpy()
                else:
                    acc.fill(0.0)
                    be.streams.accumulate_span(w, acc, like, code, k0, k1, c2, c3, 0,
                                               off + c0, get_num_threads())
                part = flat[c0 : c0 + m]
                self._update(part, acc, group, state, c0, m)
        self._diffs = []
        self.t += 1

    def _on_device(self) -> Any:
        """For CUDA parameters: CuPy's kernels on the parameters' device and on torch's
        current stream there (so they are ordered with the model's own work)."""
        return _cuda_context(self._device)

    def _update(self, part: Any, acc: np.ndarray, group: dict[str, Any], state: dict[str, Any],
                c0: int, m: int) -> None:
        sc = self._scratch()
        conv, tmp, _ = sc[part.dtype]
        xp = self._backend.xp
        gs = sc["grad"][:m]
        gs[...] = acc  # the estimate rounded to the stream dtype, as grad
        g = conv[:m].copy_(torch.from_dlpack(gs))
        if group["weight_decay"]:
            g.add_(part, alpha=group["weight_decay"])
        if self.rule == "sgd":
            d64 = sc["step64"][:m]
            if group["weight_decay"]:
                xp.multiply(xp.from_dlpack(g.to(torch.float64)), np.float64(group["lr"]),
                            out=d64)
            else:
                xp.multiply(gs, np.float64(group["lr"]), out=d64)
            part.sub_(tmp[:m].copy_(torch.from_dlpack(d64)))
            return
        b1, b2 = group["betas"]
        k = state["step"]
        m1 = state["exp_avg"].view(-1)[c0 : c0 + m]
        m2 = state["exp_avg_sq"].view(-1)[c0 : c0 + m]
        m1.mul_(b1).add_(g, alpha=1 - b1)
        m2.mul_(b2).addcmul_(g, g, value=1 - b2)
        denom = torch.div(m2, 1 - b2**k, out=tmp[:m]).sqrt_().add_(group["eps"])
        part.addcdiv_(m1, denom, value=-group["lr"] / (1 - b1**k))

    def state_dict(self) -> dict[str, Any]:
        out = super().state_dict()
        out["zoopt"] = {"t": self.t, "key": self.key.tolist(), "diffs": list(self._diffs)}
        return out

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state from :meth:`state_dict`.  Its fields are checked first
        (nothing changes when one is wrong); the message names the field."""
        caller = "ZOOptimizer.load_state_dict"
        _check_zo_state(self, state_dict, caller)
        extra = state_dict["zoopt"]
        rest = {k: v for k, v in state_dict.items() if k != "zoopt"}
        super().load_state_dict(rest)
        self.t = int(extra["t"])
        self.key = np.array([int(k) for k in extra["key"]], dtype=np.uint32)
        self._diffs = [float(x) for x in extra["diffs"]]


@contextlib.contextmanager
def _cuda_context(device: Any) -> Iterator[None]:
    """CuPy on ``device`` and on torch's current stream there (nothing for the CPU)."""
    if device.type != "cuda":
        yield
        return
    import cupy

    with cupy.cuda.Device(device.index):
        current = torch.cuda.current_stream(device)
        if hasattr(cupy.cuda.Stream, "from_external") and hasattr(current, "__cuda_stream__"):
            stream = cupy.cuda.Stream.from_external(current)  # the CUDA stream protocol
        else:  # older CuPy or torch: by the raw handle (deprecated in CuPy 14)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                stream = cupy.cuda.ExternalStream(current.cuda_stream)
        with stream:
            yield


def _tensor_backend(device: Any) -> Any:
    """The kernel set for tensors on ``device``: the CPU's for CPU tensors, the GPU
    backend (CuPy, through DLPack) for CUDA tensors."""
    if device.type == "cuda":
        return _backend.cuda()
    return _backend.backend_of(np.empty(0))


def _is_int(v: Any) -> TypeGuard[numbers.Integral]:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool | np.bool_)


def _check_zo_state(opt: ZOOptimizer, state_dict: Any, caller: str) -> None:
    """The fields of a ZOOptimizer state: the stream position, the accumulated
    differences, the groups' hyper-parameters and Adam's moments."""
    where = f"The 'state_dict' parameter of {caller}"
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"{where} must be a dict from ZOOptimizer.state_dict(). Got "
                        f"{type(state_dict).__name__} instead.")

    def bad(field: str, expected: str, got: Any) -> ValueError:
        return ValueError(f"{where}: field {field!r} must be {expected}. Got {got!r} instead.")

    extra = state_dict.get("zoopt")
    if not isinstance(extra, Mapping):
        raise bad("zoopt", "the dict of t, key and diffs that ZOOptimizer.state_dict writes",
                  extra)
    t_raw = extra.get("t")
    t = int(t_raw) if _is_int(t_raw) else -1
    if not 0 <= t <= _MAX_STEP + 1:
        raise bad("zoopt.t", f"an integer in [0, {_MAX_STEP + 1}]", t_raw)
    key = extra.get("key")
    if not (isinstance(key, list | tuple) and len(key) == 2
            and all(_is_int(k) and 0 <= int(k) < (1 << 32) for k in key)):
        raise bad("zoopt.key", "two integers in [0, 2**32)", key)
    diffs = extra.get("diffs")
    if not (isinstance(diffs, list | tuple) and all(
            isinstance(v, numbers.Real) and not isinstance(v, bool | np.bool_)
            and math.isfinite(float(v)) for v in diffs)):
        raise bad("zoopt.diffs", "a list of finite floats", diffs)
    saved_groups = state_dict.get("param_groups")
    if not (isinstance(saved_groups, list | tuple)
            and all(isinstance(g, Mapping) for g in saved_groups)):
        raise bad("param_groups", "a list of dicts", type(saved_groups).__name__)
    for i, g in enumerate(saved_groups):
        for name in ("lr", "eps", "weight_decay"):
            v = g.get(name, opt.defaults[name])
            if not (isinstance(v, numbers.Real) and not isinstance(v, bool | np.bool_)
                    and math.isfinite(float(v)) and float(v) >= 0):
                raise bad(f"param_groups[{i}][{name!r}]", "a finite float >= 0", v)
        betas = g.get("betas", opt.defaults["betas"])
        if not (isinstance(betas, tuple | list) and len(betas) == 2 and all(
                isinstance(b, numbers.Real) and 0.0 <= float(b) < 1.0 for b in betas)):
            raise bad(f"param_groups[{i}]['betas']", "two floats in [0, 1)", betas)
    saved_ids = [list(g.get("params", ())) for g in saved_groups]
    if [len(ids) for ids in saved_ids] != [len(g["params"]) for g in opt.param_groups]:
        return  # torch's own load_state_dict refuses other groups, with its message
    params = dict(zip((k for ids in saved_ids for k in ids), opt._params(), strict=True))
    states = state_dict.get("state", {})
    if not isinstance(states, Mapping):
        raise bad("state", "a dict", type(states).__name__)
    if opt.rule != "adam":
        return
    for k, st in states.items():
        p = params.get(k)
        if p is None:
            continue
        field = f"state[{k!r}]"
        if not isinstance(st, Mapping):
            raise bad(field, "a dict", type(st).__name__)
        if not st:
            continue  # not updated yet
        step = st.get("step")
        if not (_is_int(step) and 0 <= int(step) <= t):
            raise bad(f"{field}['step']", f"an integer in [0, t = {t}]", step)
        for name in ("exp_avg", "exp_avg_sq"):
            m = st.get(name)
            if not (isinstance(m, torch.Tensor) and m.shape == p.shape
                    and m.is_floating_point()):
                got = (f"{m.dtype} tensor of shape {tuple(m.shape)}"
                       if isinstance(m, torch.Tensor) else type(m).__name__)
                raise bad(f"{field}[{name!r}]", f"a float tensor of shape {tuple(p.shape)}",
                          got)
            if not bool(torch.isfinite(m).all()):
                raise bad(f"{field}[{name!r}]", "finite", "non-finite values")
            if name == "exp_avg_sq" and bool((m < 0).any()):
                raise bad(f"{field}[{name!r}]", ">= 0 (a mean of squares)", "negative values")


def _check_group(group: dict[str, Any], caller: str) -> None:
    seen: set[tuple[Any, int]] = set()
    for p in group["params"]:
        _check_tensor(p, "params", caller, _PARAM_DTYPES, cuda=True)
        if not p.is_contiguous():
            raise ValueError(f"{caller}: parameters must be contiguous tensors.")
        # a tensor listed twice would be shifted twice per probe: no exact restore
        where = (p.device, p.data_ptr())
        if p.numel() and where in seen:
            raise ValueError(f"The 'params' of {caller} list the same tensor twice; list "
                             "each parameter once.")
        seen.add(where)
    betas = group.get("betas", (0.9, 0.999))
    ok = (isinstance(betas, tuple | list) and len(betas) == 2
          and all(isinstance(b, numbers.Real) and 0.0 <= float(b) < 1.0 for b in betas))
    if not ok:
        raise ValueError(f"The 'betas' parameter of {caller} must be two floats in [0, 1). "
                         f"Got {betas!r} instead.")
    _check_nonneg(group.get("eps", 1e-8), "eps", caller)
    _check_nonneg(group.get("lr", 0.0), "lr", caller)
    _check_nonneg(group.get("weight_decay", 0.0), "weight_decay", caller)


def _check_nonneg(value: Any, name: str, caller: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
            np.isfinite(float(value)) and float(value) >= 0):
        raise ValueError(f"The {name!r} parameter of {caller} must be a finite float >= 0. "
                         f"Got {value!r} instead.")
    return float(value)


from zoopt._torch_lowrank import LowRankPopulation  # noqa: E402  (imports torch itself)
