"""Beyond batch norm: weight normalization, batch renormalization, "noisy" batch norm, and the cost of RMSNorm.

* **Weight normalization** (Salimans & Kingma, 2016) normalizes *weights*, not activations: each output unit's
  weight vector is written ``w = g * v / ||v||``, so its length ``g`` is a parameter of its own. Nothing depends
  on the batch. :func:`weight_norm`, :class:`WeightNormLinear`.
* **Batch renormalization** (Ioffe, 2017) keeps batch norm's batch statistics for the gradient but corrects the
  output towards the running statistics with ``r = sigma_B / sigma`` and ``d = (mu_B - mu) / sigma``, clipped
  to ``[1/rmax, rmax]`` and ``[-dmax, dmax]`` and treated as constants. :func:`batch_renorm`,
  :class:`BatchRenorm1d`, :class:`BatchRenorm2d`.
* **Noisy batch norm** (Santurkar et al., 2018) adds random noise *after* batch norm, with a mean and a spread
  that change at every step: the layer's output distribution then shifts all the time, yet training still
  works. :func:`noisy_batch_norm`, :class:`NoisyBatchNorm1d`, :class:`NoisyBatchNorm2d`.
* :func:`train_mlp` and :func:`compare_small_batches` train the digits MLP with any of these layers (a few
  seconds on a CPU); :func:`measure_norm_cost` times RMSNorm against LayerNorm.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from normviz._validation import (
    _type_name,
    check_ndim,
    check_optional_tensor,
    check_positive_int,
    check_positive_number,
    check_tensor,
)

__all__ = [
    "weight_norm",
    "WeightNormLinear",
    "renorm_correction",
    "batch_renorm",
    "BatchRenorm1d",
    "BatchRenorm2d",
    "noisy_batch_norm",
    "NoisyBatchNorm1d",
    "NoisyBatchNorm2d",
    "MODERN_NORMS",
    "make_modern_mlp",
    "train_mlp",
    "compare_small_batches",
    "SMALL_BATCH_SWEEP",
    "SMALL_BATCH_RESULTS",
    "run_small_batch_sweep",
    "load_small_batch_sweep",
    "plot_small_batch_comparison",
    "measure_norm_cost",
]


# ---------------------------------------------------------------------------------------- weight norm
def _norm_except_dim(v: torch.Tensor, dim: int) -> torch.Tensor:
    """L2 norm of ``v`` over every dim but ``dim``, kept as size-1 dims: shape ``(1, .., v.shape[dim], .., 1)``."""
    others = tuple(d for d in range(v.dim()) if d != dim)
    return v.pow(2).sum(dim=others, keepdim=True).sqrt()


def weight_norm(v, g, dim=0):
    r"""Weight normalization: ``w = g * v / ||v||``, the norm taken over every dim except ``dim``.

    .. math::
        w_i = g_i \, \frac{v_i}{\lVert v_i \rVert_2}

    for each slice ``i`` along ``dim`` (for a linear or conv weight and ``dim=0``: each output unit), so that
    ``||w_i|| = |g_i|`` whatever ``v`` is: the direction and the length are separate parameters.

    Parameters
    ----------
    v : torch.Tensor
        The direction parameter, shape of the weight.
    g : torch.Tensor
        The length parameter: ``v.shape[dim]`` values, either as a vector or with size-1 dims elsewhere
        (PyTorch's ``weight_g`` / ``original0`` layout, e.g. ``(C_out, 1)`` for a linear weight).
    dim : int, default=0

    Returns
    -------
    torch.Tensor
        ``w``, same shape as ``v``.

    Raises
    ------
    TypeError
        If ``v`` or ``g`` is not a floating-point tensor, or ``dim`` not an int.
    ValueError
        If ``dim`` is out of range or ``g`` does not have ``v.shape[dim]`` values.

    References
    ----------
    Salimans & Kingma, "Weight Normalization", NeurIPS 2016, arXiv:1602.07868. PyTorch:
    ``torch.nn.utils.parametrizations.weight_norm``.

    Examples
    --------
    >>> v = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    >>> weight_norm(v, torch.tensor([10.0, 2.0]))
    tensor([[6., 8.],
            [2., 0.]])
    """
    check_tensor(v, "v")
    check_tensor(g, "g")
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise TypeError(f"dim must be an int, got {_type_name(dim)} ({dim!r})")
    if not -v.dim() <= dim < v.dim():
        raise ValueError(f"dim must be in [{-v.dim()}, {v.dim() - 1}] for v of shape {tuple(v.shape)}, got {dim}")
    dim = dim % v.dim()
    keep = tuple(v.shape[dim] if d == dim else 1 for d in range(v.dim()))  # g's broadcasting shape
    if g.numel() != v.shape[dim] or (g.dim() > 1 and tuple(g.shape) != keep):
        raise ValueError(
            f"g must have v.shape[dim] = {v.shape[dim]} values, as a vector or of shape {keep}, "
            f"got shape {tuple(g.shape)}"
        )
    return v * (g.reshape(keep) / _norm_except_dim(v, dim))


class WeightNormLinear(nn.Module):
    r"""``nn.Linear`` with a weight-normalized weight: ``weight = weight_g * weight_v / ||weight_v||`` per row.

    Parameters ``weight_g`` ``(out_features, 1)``, ``weight_v`` ``(out_features, in_features)`` and ``bias``
    replace ``weight``; ``weight`` is a read-only property computed from them. Initialized like ``nn.Linear``,
    with ``weight_g`` set to the row norms, so the initial function equals an ``nn.Linear``'s.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool, default=True

    Shape
    -----
    Input ``(*, in_features)``, output ``(*, out_features)``.

    Notes
    -----
    The paper also proposes a data-dependent initialization (set ``g`` and ``bias`` so that the first batch's
    pre-activations have mean 0 and variance 1); it is not done here.

    Examples
    --------
    >>> layer = WeightNormLinear(3, 2)
    >>> torch.allclose(layer.weight.norm(dim=1), layer.weight_g.abs().squeeze(1))
    True
    >>> layer(torch.randn(5, 3)).shape
    torch.Size([5, 2])
    """

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features = check_positive_int(in_features, "in_features")
        self.out_features = check_positive_int(out_features, "out_features")
        reference = nn.Linear(in_features, out_features, bias=bias)  # nn.Linear's initialization
        self.weight_v = nn.Parameter(reference.weight.detach().clone())
        self.weight_g = nn.Parameter(_norm_except_dim(reference.weight.detach(), 0).clone())  # (out, 1)
        self.bias = nn.Parameter(reference.bias.detach().clone()) if bias else None

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> WeightNormLinear:
        """The weight-normalized layer computing the same function as ``linear`` (whose weights are copied).

        Examples
        --------
        >>> linear = nn.Linear(4, 3)
        >>> x = torch.randn(2, 4)
        >>> torch.allclose(WeightNormLinear.from_linear(linear)(x), linear(x), atol=1e-6)
        True
        """
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"linear must be a torch.nn.Linear, got {_type_name(linear)}")
        layer = cls(linear.in_features, linear.out_features, bias=linear.bias is not None)
        with torch.no_grad():
            layer.weight_v.copy_(linear.weight)
            layer.weight_g.copy_(_norm_except_dim(linear.weight, 0))
            if linear.bias is not None:
                layer.bias.copy_(linear.bias)
        return layer

    @property
    def weight(self) -> torch.Tensor:
        return weight_norm(self.weight_v, self.weight_g, dim=0)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


# ------------------------------------------------------------------------------------- batch renorm
def _check_bn_input(input, num_channels=None):
    check_tensor(input)
    check_ndim(input, range(2, 9), layout="(N, C, *spatial)")
    if num_channels is not None and input.shape[1] != num_channels:
        raise ValueError(
            f"input must have {num_channels} channels at dim 1, got shape {tuple(input.shape)}; "
            "is the input channels-last? Permute it to (N, C, *spatial)"
        )
    return input


def renorm_correction(batch_mean, batch_var, running_mean, running_var, eps=1e-5, rmax=3.0, dmax=5.0):
    r"""Batch renorm's per-channel correction ``(r, d)``, clipped and detached from the graph.

    .. math::
        r = \mathrm{clip}_{[1/r_{max},\, r_{max}]}\!\left(\frac{\sigma_B}{\sigma}\right), \qquad
        d = \mathrm{clip}_{[-d_{max},\, d_{max}]}\!\left(\frac{\mu_B - \mu}{\sigma}\right)

    with :math:`\sigma_B = \sqrt{\text{batch\_var} + \epsilon}` and :math:`\sigma = \sqrt{\text{running\_var}
    + \epsilon}`. Without clipping, ``(x - mu_B) / sigma_B * r + d == (x - mu) / sigma``: the training output
    is the inference output.

    Parameters
    ----------
    batch_mean, batch_var, running_mean, running_var : torch.Tensor
        Per-channel ``(C,)``; ``batch_var`` biased.
    eps : float, default=1e-5
    rmax : float, default=3.0
        >= 1; ``rmax=1`` forces ``r=1``.
    dmax : float, default=5.0
        >= 0; ``dmax=0`` forces ``d=0``. With both, batch renorm is batch norm.

    Returns
    -------
    r, d : torch.Tensor
        ``(C,)``, with no gradient (the paper treats them as constants).

    Examples
    --------
    >>> r, d = renorm_correction(torch.tensor([1.0]), torch.tensor([4.0]), torch.tensor([0.0]),
    ...                          torch.tensor([1.0]), eps=0.0, rmax=3.0, dmax=5.0)
    >>> r.item(), d.item()
    (2.0, 1.0)
    """
    for name, value in (("batch_mean", batch_mean), ("batch_var", batch_var),
                        ("running_mean", running_mean), ("running_var", running_var)):
        check_tensor(value, name)
    check_positive_number(eps, "eps", allow_zero=True)
    check_positive_number(rmax, "rmax")
    check_positive_number(dmax, "dmax", allow_zero=True)
    if rmax < 1:
        raise ValueError(f"rmax must be >= 1 (r is clipped to [1/rmax, rmax]), got {rmax!r}; try rmax=3.0")
    with torch.no_grad():
        sigma = torch.sqrt(running_var + eps)
        r = (torch.sqrt(batch_var + eps) / sigma).clamp(1.0 / rmax, rmax)
        d = ((batch_mean - running_mean) / sigma).clamp(-dmax, dmax)
    return r.detach(), d.detach()


def batch_renorm(
    input,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training=False,
    momentum=0.01,
    eps=1e-5,
    rmax=3.0,
    dmax=5.0,
):
    r"""Batch renormalization: batch norm whose training output is corrected towards the running statistics.

    .. math::
        \hat x = \frac{x - \mu_B}{\sigma_B}\, r + d, \qquad y = \gamma \hat x + \beta

    per channel over dims ``(0, 2, ...)``, with ``(r, d)`` from :func:`renorm_correction` (constants for
    autograd). The gradient still flows through the batch's :math:`\mu_B, \sigma_B`, as in batch norm. In
    training the running statistics are then updated in place (PyTorch's convention: ``momentum`` weights the
    new batch, ``running_var`` gets the unbiased variance). Out of training it is ``F.batch_norm`` in eval mode.

    Parameters
    ----------
    input : torch.Tensor
        ``(N, C, *spatial)``.
    running_mean, running_var : torch.Tensor
        ``(C,)``; required (they define ``r`` and ``d``).
    weight, bias : torch.Tensor or None, default=None
        ``(C,)``.
    training : bool, default=False
    momentum : float, default=0.01
        Slower than batch norm's usual 0.1: the training output leans on the running statistics, so they should
        average over many batches (the paper's update rate is a hyper-parameter; 0.01 is our choice).
    eps : float, default=1e-5
    rmax, dmax : float, default=3.0, 5.0
        The clipping limits; ``rmax=1, dmax=0`` gives batch norm exactly.

    Returns
    -------
    torch.Tensor

    Raises
    ------
    TypeError, ValueError
        Bad input or parameter shapes, ``rmax < 1``, one value per channel in training.

    Notes
    -----
    Deviation from the paper: it tracks the running standard deviation ``sigma``; like PyTorch's batch norm
    this tracks ``running_var`` (and ``sigma = sqrt(running_var + eps)``).

    References
    ----------
    Ioffe, "Batch Renormalization: Towards Reducing Minibatch Dependence in Batch-Normalized Models",
    NeurIPS 2017, arXiv:1702.03275.

    Examples
    --------
    >>> x = torch.randn(16, 3, dtype=torch.float64)
    >>> rm, rv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    >>> y = batch_renorm(x, rm.clone(), rv.clone(), training=True, rmax=1.0, dmax=0.0)
    >>> torch.allclose(y, F.batch_norm(x, rm.clone(), rv.clone(), training=True))  # rmax=1, dmax=0: batch norm
    True
    """
    _check_bn_input(input)
    C = input.shape[1]
    for name, value in (("running_mean", running_mean), ("running_var", running_var)):
        if value is None:
            raise ValueError(f"{name} must be a tensor of shape ({C},), got None; batch renorm needs running statistics")
        check_tensor(value, name)
        check_optional_tensor(value, name, (C,))
    check_optional_tensor(weight, "weight", (C,))
    check_optional_tensor(bias, "bias", (C,))
    check_positive_number(eps, "eps")
    check_positive_number(momentum, "momentum", allow_zero=True)
    if not training:
        return F.batch_norm(input, running_mean, running_var, weight, bias, False, 0.0, eps)
    count = input.numel() // C
    if count <= 1:
        raise ValueError(
            f"batch_renorm in training needs more than one value per channel, got input of shape "
            f"{tuple(input.shape)}; use a batch of at least 2, or training=False"
        )
    dims = (0, *range(2, input.dim()))  # everything but the channel
    view = (1, C) + (1,) * (input.dim() - 2)  # (C,) -> (1, C, 1, ..)
    mean = input.mean(dim=dims)  # (C,)
    centred = input - mean.view(view)
    var = (centred * centred).mean(dim=dims)  # biased; two passes for accuracy, as in batch norm
    r, d = renorm_correction(mean.detach(), var.detach(), running_mean, running_var, eps, rmax, dmax)
    x_hat = centred * torch.rsqrt(var + eps).view(view) * r.view(view) + d.view(view)
    y = x_hat
    if weight is not None:
        y = y * weight.view(view)
    if bias is not None:
        y = y + bias.view(view)
    with torch.no_grad():  # after computing r and d: they use the statistics from *before* this batch
        running_mean.mul_(1 - momentum).add_(mean.detach(), alpha=momentum)
        running_var.mul_(1 - momentum).add_(var.detach() * (count / (count - 1)), alpha=momentum)
    return y


class _BatchRenorm(nn.Module):
    _ranks: tuple[int, ...] = ()
    _layout = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.01, rmax=3.0, dmax=5.0, warmup_steps=0):
        super().__init__()
        self.num_features = check_positive_int(num_features, "num_features")
        self.eps = check_positive_number(eps, "eps")
        self.momentum = check_positive_number(momentum, "momentum", allow_zero=True)
        self.rmax = check_positive_number(rmax, "rmax")
        self.dmax = check_positive_number(dmax, "dmax", allow_zero=True)
        if rmax < 1:
            raise ValueError(f"rmax must be >= 1, got {rmax!r}; try rmax=3.0")
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, numbers.Integral) or warmup_steps < 0:
            raise ValueError(f"warmup_steps must be an int >= 0, got {warmup_steps!r}")
        self.warmup_steps = int(warmup_steps)
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long))

    def current_limits(self) -> tuple[float, float]:
        """``(rmax, dmax)`` at this step: ramped linearly from ``(1, 0)`` over ``warmup_steps`` steps."""
        if self.warmup_steps == 0:
            return self.rmax, self.dmax
        t = min(1.0, float(self.num_batches_tracked) / self.warmup_steps)
        return 1.0 + t * (self.rmax - 1.0), t * self.dmax

    def forward(self, input):
        _check_bn_input(input, self.num_features)
        check_ndim(input, self._ranks, layout=self._layout)
        rmax, dmax = self.current_limits()
        if self.training:
            self.num_batches_tracked.add_(1)
        return batch_renorm(
            input, self.running_mean, self.running_var, self.weight, self.bias,
            self.training, self.momentum, self.eps, rmax, dmax,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, rmax={self.rmax}, "
            f"dmax={self.dmax}, warmup_steps={self.warmup_steps}"
        )


class BatchRenorm1d(_BatchRenorm):
    """Batch renormalization of ``(N, C)`` or ``(N, C, L)`` inputs; see :func:`batch_renorm`.

    Parameters
    ----------
    num_features : int
    eps : float, default=1e-5
    momentum : float, default=0.01
    rmax, dmax : float, default=3.0, 5.0
    warmup_steps : int, default=0
        Ramp the limits linearly from ``(1, 0)`` (batch norm) to ``(rmax, dmax)`` over this many training
        steps. The paper keeps them at 1 and 0 for its first 5,000 steps, then relaxes them gradually (to 3 by
        step 40k, 5 by step 25k): the running statistics must be worth trusting before the output leans on them.

    Shape
    -----
    Input ``(N, C)`` or ``(N, C, L)``; output the same.

    Examples
    --------
    >>> BatchRenorm1d(4)
    BatchRenorm1d(4, eps=1e-05, momentum=0.01, rmax=3.0, dmax=5.0, warmup_steps=0)
    >>> BatchRenorm1d(4)(torch.randn(8, 4)).shape
    torch.Size([8, 4])
    """

    _ranks = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchRenorm2d(_BatchRenorm):
    """Batch renormalization of ``(N, C, H, W)`` inputs; see :class:`BatchRenorm1d`.

    Examples
    --------
    >>> BatchRenorm2d(3)(torch.randn(2, 3, 4, 4)).shape
    torch.Size([2, 3, 4, 4])
    """

    _ranks = (4,)
    _layout = "(N, C, H, W)"


# --------------------------------------------------------------------------------------- noisy BN
def noisy_batch_norm(
    input,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training=False,
    momentum=0.1,
    eps=1e-5,
    max_shift=1.0,
    max_std=1.0,
    generator=None,
):
    r"""Batch norm followed, in training, by noise whose mean and spread are redrawn at every call.

    .. math::
        y = \mathrm{BN}(x) + \xi, \qquad \xi_{n,c,\dots} \sim \mathcal N(m_c, s_c^2), \quad
        m_c \sim U(-\text{max\_shift}, \text{max\_shift}), \quad s_c \sim U(0, \text{max\_std})

    ``m`` and ``s`` are drawn per channel at every call (every training step), ``xi`` i.i.d. per element: each
    channel's output then has a non-zero mean and a non-unit variance that change from step to step, the
    "noisy BatchNorm" of Santurkar et al. (2018) that moves the distribution batch norm was said to stabilize.
    Out of training there is no noise: it is batch norm in eval mode.

    Parameters
    ----------
    input, running_mean, running_var, weight, bias, training, momentum, eps
        As :func:`normviz.functional.batch_norm`.
    max_shift : float, default=1.0
        Largest per-channel noise mean (in units of the normalized activation).
    max_std : float, default=1.0
        Largest per-channel noise standard deviation.
    generator : torch.Generator or None, default=None
        Source of the noise; ``None`` uses torch's global generator.

    Returns
    -------
    torch.Tensor

    References
    ----------
    Santurkar, Tsipras, Ilyas & Madry, "How Does Batch Normalization Help Optimization?", NeurIPS 2018,
    arXiv:1805.11604, Section 2.1. Their exact noise distribution differs; this one has the properties they
    describe (i.i.d. per activation, non-zero mean, non-unit variance, changing at each step).

    Examples
    --------
    >>> x = torch.randn(64, 3)
    >>> y = noisy_batch_norm(x, torch.zeros(3), torch.ones(3), training=True,
    ...                      generator=torch.Generator().manual_seed(0))
    >>> bool((y.mean(0).abs() > 0.01).any())  # no longer mean 0 per channel
    True
    """
    from normviz import functional as nvF

    check_positive_number(max_shift, "max_shift", allow_zero=True)
    check_positive_number(max_std, "max_std", allow_zero=True)
    y = nvF.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    if not training:
        return y
    C = input.shape[1]
    view = (1, C) + (1,) * (input.dim() - 2)  # (C,) -> (1, C, 1, ..)
    opts = {"generator": generator, "dtype": y.dtype, "device": y.device}
    shift = (torch.rand(C, **opts) * 2 - 1) * max_shift  # U(-max_shift, max_shift)
    spread = torch.rand(C, **opts) * max_std  # U(0, max_std)
    noise = torch.randn(y.shape, **opts) * spread.view(view) + shift.view(view)
    return y + noise  # the noise is a constant for autograd: gradients pass through unchanged


class _NoisyBatchNorm(nn.Module):
    _ranks: tuple[int, ...] = ()
    _layout = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, max_shift=1.0, max_std=1.0):
        super().__init__()
        self.num_features = check_positive_int(num_features, "num_features")
        self.eps = check_positive_number(eps, "eps")
        self.momentum = check_positive_number(momentum, "momentum", allow_zero=True)
        self.max_shift = check_positive_number(max_shift, "max_shift", allow_zero=True)
        self.max_std = check_positive_number(max_std, "max_std", allow_zero=True)
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, input):
        _check_bn_input(input, self.num_features)
        check_ndim(input, self._ranks, layout=self._layout)
        return noisy_batch_norm(
            input, self.running_mean, self.running_var, self.weight, self.bias, self.training,
            self.momentum, self.eps, self.max_shift, self.max_std,
        )

    def extra_repr(self) -> str:
        return f"{self.num_features}, max_shift={self.max_shift}, max_std={self.max_std}"


class NoisyBatchNorm1d(_NoisyBatchNorm):
    """Batch norm of ``(N, C)`` or ``(N, C, L)`` inputs plus step-varying noise in training; see
    :func:`noisy_batch_norm`.

    Examples
    --------
    >>> NoisyBatchNorm1d(4)
    NoisyBatchNorm1d(4, max_shift=1.0, max_std=1.0)
    """

    _ranks = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class NoisyBatchNorm2d(_NoisyBatchNorm):
    """Batch norm of ``(N, C, H, W)`` inputs plus step-varying noise in training; see :func:`noisy_batch_norm`.

    Examples
    --------
    >>> NoisyBatchNorm2d(3)(torch.randn(2, 3, 4, 4)).shape
    torch.Size([2, 3, 4, 4])
    """

    _ranks = (4,)
    _layout = "(N, C, H, W)"


# ------------------------------------------------------------------------------------- experiments
#: Names accepted by :func:`make_modern_mlp` and :func:`train_mlp`.
MODERN_NORMS = ("none", "batch", "layer", "batch_renorm", "weight_norm", "noisy_batch")

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def make_modern_mlp(norm, *, depth=2, width=128, activation="relu", in_features=64, num_classes=10,
                    renorm_warmup_steps=0):
    """The digits MLP ``in -> (Linear -> norm -> activation) x depth -> Linear`` with one of :data:`MODERN_NORMS`.

    ``"batch"`` and ``"layer"`` come from :func:`normviz.models.make_norm` (the layers every other experiment
    uses); ``"weight_norm"`` uses :class:`WeightNormLinear` for every layer and no normalization layer.

    Examples
    --------
    >>> net = make_modern_mlp("batch_renorm", depth=1, width=8)
    >>> [type(m).__name__ for m in net]
    ['Linear', 'BatchRenorm1d', 'ReLU', 'Linear']
    """
    if norm not in MODERN_NORMS:
        raise ValueError(f"norm must be one of {MODERN_NORMS}, got {norm!r}")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {tuple(_ACTIVATIONS)}, got {activation!r}")
    depth = check_positive_int(depth, "depth")
    width = check_positive_int(width, "width")

    def linear(n_in, n_out):
        return WeightNormLinear(n_in, n_out) if norm == "weight_norm" else nn.Linear(n_in, n_out)

    def norm_layer():
        if norm in ("none", "weight_norm"):
            return None
        if norm == "batch_renorm":
            return BatchRenorm1d(width, warmup_steps=renorm_warmup_steps)
        if norm == "noisy_batch":
            return NoisyBatchNorm1d(width)
        from normviz.models import make_norm

        return make_norm(norm, width, spatial=False)

    layers, n_in = [], in_features
    for _ in range(depth):
        layers.append(linear(n_in, width))
        layer = norm_layer()
        if layer is not None:
            layers.append(layer)
        layers.append(_ACTIVATIONS[activation]())
        n_in = width
    layers.append(linear(n_in, num_classes))
    return nn.Sequential(*layers)


@contextmanager
def _deterministic(seed: int):
    """One thread and a seeded global generator inside; the caller's thread count and random state come back."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a fixed order of floating-point sums: the same numbers on every run
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(threads)


def train_mlp(norm, *, batch_size=32, epochs=2, lr=None, momentum=0.9, depth=2, width=128,
              activation="relu", seed=0, renorm_warmup_steps=None):
    """Train :func:`make_modern_mlp` on the digits split (SGD) and return its validation error.

    Parameters
    ----------
    norm : str
        One of :data:`MODERN_NORMS`.
    batch_size : int, default=32
    epochs : int, default=2
    lr : float or None, default=None
        ``None``: ``0.05 * sqrt(batch_size / 32)``, the batch-size sweep's rule.
    momentum : float, default=0.9
    depth, width : int, default=2, 128
    activation : {"relu", "tanh", "sigmoid"}, default="relu"
    seed : int, default=0
        Seeds the initialization, the shuffling and the noise.
    renorm_warmup_steps : int or None, default=None
        For ``"batch_renorm"``: ``None`` ramps the limits over the first epoch.

    Returns
    -------
    dict
        ``val_error`` (eval mode), ``val_error_train_mode`` (validation set through the network in train mode
        in batches of ``batch_size``, for the batch-statistics layers; else None), ``train_loss`` (mean of each
        epoch), ``steps``, ``seconds``.

    Examples
    --------
    >>> result = train_mlp("weight_norm", epochs=1, width=32)
    >>> result["steps"], result["val_error"] < 0.2
    (42, True)
    """
    from normviz.data import load_digits_split

    batch_size = check_positive_int(batch_size, "batch_size")
    epochs = check_positive_int(epochs, "epochs")
    if batch_size < 2 and norm in ("batch", "batch_renorm", "noisy_batch"):
        raise ValueError(f"batch_size must be >= 2 for norm={norm!r} (a variance needs two values), got {batch_size}")
    lr = 0.05 * math.sqrt(batch_size / 32) if lr is None else float(check_positive_number(lr, "lr"))
    x_train, y_train, x_val, y_val = load_digits_split(flat=True)
    steps_per_epoch = len(x_train) // batch_size
    warmup = steps_per_epoch if renorm_warmup_steps is None else renorm_warmup_steps
    start = time.perf_counter()
    with _deterministic(seed):
        model = make_modern_mlp(norm, depth=depth, width=width, activation=activation,
                                renorm_warmup_steps=warmup)
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        g = torch.Generator().manual_seed(seed)
        losses = []
        for _ in range(epochs):
            order = torch.randperm(len(x_train), generator=g)
            total = 0.0
            for step in range(steps_per_epoch):
                idx = order[step * batch_size : (step + 1) * batch_size]
                loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.item()
            losses.append(total / steps_per_epoch)
        with torch.no_grad():
            model.eval()
            val_error = (model(x_val).argmax(1) != y_val).float().mean().item()
            train_mode_error = None
            if norm in ("batch", "batch_renorm", "noisy_batch"):
                # Batch statistics of validation batches instead of running ones: separates a bad fit from
                # running statistics that do not match what the network saw in training.
                model.train()
                state = {k: v.clone() for k, v in model.state_dict().items()}  # train mode moves the buffers
                wrong = sum(int((model(x_val[i : i + batch_size]).argmax(1) != y_val[i : i + batch_size]).sum())
                            for i in range(0, len(x_val) - batch_size + 1, batch_size))
                train_mode_error = wrong / (len(x_val) // batch_size * batch_size)
                model.load_state_dict(state)
    return {
        "val_error": val_error,
        "val_error_train_mode": train_mode_error,
        "train_loss": losses,
        "steps": steps_per_epoch * epochs,
        "seconds": time.perf_counter() - start,
    }


#: The batch-size sweep of notebook 07: the setup of the series' batch-size experiment (notebooks 04 and 06:
#: the 64-128-128-10 ReLU MLP, SGD momentum 0.9, lr 0.05 * sqrt(batch / 32), 5 epochs, 3 seeds), with batch
#: renorm and weight norm added and layer norm as the batch-independent reference. Chosen before running it.
SMALL_BATCH_SWEEP = {
    "norms": ("batch", "batch_renorm", "weight_norm", "layer"),
    "batch_sizes": (2, 4, 8, 16, 32, 64),
    "seeds": (0, 1, 2),
    "epochs": 5,
}

#: Where :func:`load_small_batch_sweep` reads the shipped runs (plain JSON: numbers and lists only).
SMALL_BATCH_RESULTS = Path(__file__).resolve().parent / "results" / "modern_small_batches.json"

_SWEEP_FORMAT = "normviz-modern-sweep-1"


def _round7(x):
    """Float32's precision, so that a stored run and a re-run compare exactly; JSON has no NaN (None)."""
    if x is None:
        return None
    x = float(x)
    return float(f"{x:.7g}") if math.isfinite(x) else None


def run_small_batch_sweep(norms=None, batch_sizes=None, seeds=None, epochs=None, progress=False) -> dict:
    """Train every (norm, batch size, seed) of :data:`SMALL_BATCH_SWEEP` (or the subsets given) with :func:`train_mlp`.

    Returns
    -------
    dict
        JSON-ready: ``{"format", "torch", "sweep": {...}, "runs": {norm: {str(batch_size): [result per seed]}}}``,
        each result as :func:`train_mlp` returns it, without ``seconds``, floats rounded to 7 digits.

    Examples
    --------
    >>> out = run_small_batch_sweep(("weight_norm",), (64,), (0,), epochs=1)
    >>> sorted(out["runs"]["weight_norm"]["64"][0])
    ['steps', 'train_loss', 'val_error', 'val_error_train_mode']
    """
    sweep = {
        "norms": tuple(SMALL_BATCH_SWEEP["norms"] if norms is None else norms),
        "batch_sizes": tuple(SMALL_BATCH_SWEEP["batch_sizes"] if batch_sizes is None else batch_sizes),
        "seeds": tuple(SMALL_BATCH_SWEEP["seeds"] if seeds is None else seeds),
        "epochs": SMALL_BATCH_SWEEP["epochs"] if epochs is None else check_positive_int(epochs, "epochs"),
    }
    for norm in sweep["norms"]:
        if norm not in MODERN_NORMS:
            raise ValueError(f"norms must contain names from {MODERN_NORMS}, got {norm!r}")
    runs: dict = {}
    for norm in sweep["norms"]:
        runs[norm] = {}
        for bs in sweep["batch_sizes"]:
            results = []
            for seed in sweep["seeds"]:
                r = train_mlp(norm, batch_size=bs, epochs=sweep["epochs"], seed=seed)
                results.append({
                    "val_error": _round7(r["val_error"]),
                    "val_error_train_mode": _round7(r["val_error_train_mode"]),
                    "train_loss": [_round7(v) for v in r["train_loss"]],
                    "steps": r["steps"],
                })
                if progress:
                    print(f"{norm:>13} batch {bs:>3} seed {seed}: {100 * r['val_error']:5.1f}% "
                          f"({r['seconds']:.1f} s)", flush=True)
            runs[norm][str(bs)] = results
    sweep = {k: list(v) if isinstance(v, tuple) else v for k, v in sweep.items()}
    from normviz.models import LAYERS_MODULE  # where "batch" and "layer" come from: recorded with the runs

    return {"format": _SWEEP_FORMAT, "torch": torch.__version__.split("+")[0], "layers_module": LAYERS_MODULE,
            "sweep": sweep, "runs": runs}


def load_small_batch_sweep(path=None, *, allow_train=False) -> dict:
    """The shipped runs of :data:`SMALL_BATCH_SWEEP`: ``{norm: {batch_size: [result per seed]}}``.

    Parameters
    ----------
    path : str or Path, default=SMALL_BATCH_RESULTS
    allow_train : bool, default=False
        If the file is missing, train the sweep now (a few minutes) instead of raising.

    Raises
    ------
    FileNotFoundError
        If the file is missing and ``allow_train`` is False; the message gives the command that writes it.

    Examples
    --------
    >>> runs = load_small_batch_sweep()
    >>> list(runs), list(runs["batch"]), len(runs["batch"][2])
    (['batch', 'batch_renorm', 'weight_norm', 'layer'], [2, 4, 8, 16, 32, 64], 3)
    """
    path = SMALL_BATCH_RESULTS if path is None else Path(path)
    if path.exists():
        data = json.loads(path.read_text())
        if data.get("format") != _SWEEP_FORMAT:
            raise ValueError(f"{path} has format {data.get('format')!r}, expected {_SWEEP_FORMAT!r}; regenerate it")
    elif allow_train:
        data = run_small_batch_sweep()
    else:
        raise FileNotFoundError(
            f"no cached runs at {path}; write them with `python -m normviz.modern regenerate` "
            "or pass allow_train=True"
        )
    # In the sweep's order of norms and increasing batch size (the JSON file stores its keys sorted as text).
    return {
        norm: {int(bs): data["runs"][norm][bs] for bs in sorted(data["runs"][norm], key=int)}
        for norm in data["sweep"]["norms"]
    }


def compare_small_batches(norms=("batch", "batch_renorm", "weight_norm"), batch_sizes=(2, 8, 32), *,
                          epochs=2, seed=0, **kwargs):
    """Validation error of :func:`train_mlp` for every norm and batch size: ``{norm: {batch_size: result}}``.

    Examples
    --------
    >>> out = compare_small_batches(("weight_norm",), (32,), epochs=1, width=16)
    >>> list(out), list(out["weight_norm"])
    (['weight_norm'], [32])
    """
    for norm in norms:
        if norm not in MODERN_NORMS:
            raise ValueError(f"norms must contain names from {MODERN_NORMS}, got {norm!r}")
    return {
        norm: {bs: train_mlp(norm, batch_size=bs, epochs=epochs, seed=seed, **kwargs) for bs in batch_sizes}
        for norm in norms
    }


_STYLE = {
    "batch": ("#0072B2", "o", "batch norm"),
    "batch_renorm": ("#D55E00", "s", "batch renorm"),
    "weight_norm": ("#009E73", "^", "weight norm (no BN)"),
    "layer": ("#E69F00", "D", "layer norm"),
    "none": ("#000000", "x", "no normalization"),
    "noisy_batch": ("#CC79A7", "v", "noisy batch norm"),
}


def _errors(entry) -> list[float]:
    """Validation errors (%) of one (norm, batch size): one result dict, or a list of them (one per seed)."""
    entries = entry if isinstance(entry, list) else [entry]
    return [100 * e["val_error"] for e in entries]


def plot_small_batch_comparison(results, ax=None):
    """Validation error (%) against batch size, one line per norm (mean over seeds, bars from min to max).

    Parameters
    ----------
    results : dict
        ``{norm: {batch_size: result or [result per seed]}}``, from :func:`compare_small_batches` or
        :func:`load_small_batch_sweep`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    list of matplotlib.lines.Line2D
        One line per norm, in the order of ``results``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> fake = {"batch": {2: {"val_error": 0.4}, 32: [{"val_error": 0.03}, {"val_error": 0.05}]}}
    >>> line, = plot_small_batch_comparison(fake)
    >>> line.get_label(), [round(float(y), 6) for y in line.get_ydata()]
    ('batch norm', [40.0, 4.0])
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4.0))
    lines = []
    for norm, by_batch in results.items():
        colour, marker, label = _STYLE.get(norm, ("#56B4E9", "o", norm))
        sizes = sorted(by_batch)
        errors = [_errors(by_batch[bs]) for bs in sizes]
        means = [sum(e) / len(e) for e in errors]
        (line,) = ax.plot(sizes, means, marker=marker, color=colour, label=label, linewidth=2)
        if any(len(e) > 1 for e in errors):
            low = [m - min(e) for m, e in zip(means, errors, strict=True)]
            high = [max(e) - m for m, e in zip(means, errors, strict=True)]
            ax.errorbar(sizes, means, yerr=[low, high], fmt="none", ecolor=colour, capsize=3, alpha=0.7)
        lines.append(line)
    ax.set_xscale("log", base=2)
    all_sizes = sorted({bs for by_batch in results.values() for bs in by_batch})
    ax.set_xticks(all_sizes, [str(s) for s in all_sizes])
    ax.set_xlabel("batch size")
    ax.set_ylabel("validation error (%)")
    ax.legend()
    return lines


# ------------------------------------------------------------------------------------------- cost
def _time_round_robin(fns: dict, repeats: int, warmup: int = 2) -> dict:
    """Best time in seconds of each function, timed in turn, round after round.

    Taking turns, rather than timing one function ``repeats`` times and then the next, makes a slow spell of
    the machine (another process, or the memory allocator handing out fresh pages that must be faulted in)
    hit every function alike, so that the ratios stay meaningful even when the absolute times are not.
    """
    for _ in range(warmup):  # first calls allocate
        for fn in fns.values():
            fn()
    best = dict.fromkeys(fns, math.inf)
    for _ in range(repeats):
        for key, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[key] = min(best[key], time.perf_counter() - start)
    return best


def measure_norm_cost(shape=(2048, 1024), *, repeats=20, backward=False, threads=1, seed=0, fresh_process=False):
    """Best-of-``repeats`` milliseconds of RMSNorm and LayerNorm over the last dim, in normviz and in torch.

    The four implementations are timed in turn, round after round, after two warm-up rounds.

    Parameters
    ----------
    shape : tuple of int, default=(2048, 1024)
        ``(tokens, hidden)``: e.g. batch 8 x sequence 256 tokens of width 1024.
    repeats : int, default=20
    backward : bool or tuple of bool, default=False
        Time forward plus backward (of ``output.sum()``) instead of forward only; ``(False, True)`` times both.
    threads : int, default=1
        ``torch.set_num_threads`` during the measurement (restored after).
    seed : int, default=0
    fresh_process : bool, default=False
        Measure in a new Python process (about 2 s more, to import torch there), whose memory allocator is told
        to keep freed memory for reuse. Otherwise glibc's allocator (Linux) may return the temporaries' memory to
        the operating system after every call and fault fresh pages in on the next: on a virtual machine that
        can cost several times the arithmetic being compared, and whether a process falls into that pattern
        depends on its history (a notebook kernel that has done a lot of work often does). The setting is made
        with environment variables of the new process only, and is ignored by other allocators.

    Returns
    -------
    list of dict
        One row per implementation (and pass): ``norm`` ("rms" or "layer"), ``impl`` ("normviz" or "torch"),
        ``shape``, ``backward``, ``ms``.

    Raises
    ------
    TypeError, ValueError
        A shape, ``repeats`` or ``threads`` that is not a positive int; ``backward`` not a bool or a tuple of
        them.

    Examples
    --------
    >>> rows = measure_norm_cost((8, 16), repeats=2)
    >>> sorted((r["norm"], r["impl"]) for r in rows)
    [('layer', 'normviz'), ('layer', 'torch'), ('rms', 'normviz'), ('rms', 'torch')]
    """
    shape = tuple(check_positive_int(s, "shape") for s in shape)
    repeats = check_positive_int(repeats, "repeats")
    threads = check_positive_int(threads, "threads")
    passes = backward if isinstance(backward, tuple) else (backward,)
    if not passes or not all(isinstance(p, bool) for p in passes):
        raise TypeError(f"backward must be a bool or a tuple of bools, got {backward!r}; try (False, True)")
    if fresh_process:
        return _measure_in_fresh_process(shape, repeats, passes, threads, seed)
    rows = []
    for p in passes:
        rows += _measure_norm_cost(shape, repeats, p, threads, seed)
    return rows


def _measure_in_fresh_process(shape, repeats, passes, threads, seed) -> list[dict]:
    import subprocess

    code = (
        "import json, sys; from normviz.modern import measure_norm_cost; "
        "a = json.loads(sys.argv[1]); "
        "print(json.dumps(measure_norm_cost(tuple(a['shape']), repeats=a['repeats'], "
        "backward=tuple(a['passes']), threads=a['threads'], seed=a['seed'])))"
    )
    args = json.dumps({"shape": shape, "repeats": repeats, "passes": passes, "threads": threads, "seed": seed})
    package_parent = str(Path(__file__).resolve().parent.parent)  # so that the child imports this normviz
    env = dict(os.environ)
    # glibc: never serve a tensor-sized block by mmap, and never give the top of the heap back to the system,
    # so that each call reuses the memory the previous one freed instead of faulting in fresh pages
    env.update(MALLOC_MMAP_THRESHOLD_=str(32 << 20), MALLOC_TRIM_THRESHOLD_=str(256 << 20))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", code, args], capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"the timing process failed:\n{done.stderr[-2000:]}")
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    for row in rows:
        row["shape"] = tuple(row["shape"])
    return rows


def _measure_norm_cost(shape, repeats, backward, threads, seed) -> list[dict]:
    from normviz import functional as nvF

    hidden = shape[-1]
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g).requires_grad_(backward)
    w, b = torch.ones(hidden, requires_grad=backward), torch.zeros(hidden, requires_grad=backward)
    eps = 1e-5
    calls = {
        ("rms", "normviz"): lambda: nvF.rms_norm(x, (hidden,), w, eps),
        ("rms", "torch"): lambda: F.rms_norm(x, (hidden,), w, eps),
        ("layer", "normviz"): lambda: nvF.layer_norm(x, (hidden,), w, b, eps),
        ("layer", "torch"): lambda: F.layer_norm(x, (hidden,), w, b, eps),
    }
    runs = {}
    for key, call in calls.items():
        if backward:
            def run(call=call):
                x.grad = w.grad = b.grad = None  # accumulating into old gradients would add a full-size add
                call().sum().backward()
        else:
            def run(call=call):
                with torch.no_grad():
                    call()
        runs[key] = run
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        best = _time_round_robin(runs, repeats)
    finally:
        torch.set_num_threads(old)
    return [{"norm": norm, "impl": impl, "shape": shape, "backward": backward, "ms": 1000 * best[(norm, impl)]}
            for norm, impl in calls]


def main(argv=None) -> int:
    """``python -m normviz.modern regenerate``: re-train :data:`SMALL_BATCH_SWEEP` and write the shipped JSON."""
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["regenerate"]:
        print("usage: python -m normviz.modern regenerate")
        return 2
    data = run_small_batch_sweep(progress=True)
    SMALL_BATCH_RESULTS.parent.mkdir(parents=True, exist_ok=True)
    SMALL_BATCH_RESULTS.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {SMALL_BATCH_RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
