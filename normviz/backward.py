r"""The batch norm backward pass, derived by hand: closed-form gradients for input, weight and bias.

Derivation
----------
Fix one channel and let :math:`x_1, \dots, x_m` be its values over the batch and positions
(:math:`m = N \cdot H \cdot W`). The forward pass in training is

.. math::

    \mu = \frac1m \sum_i x_i, \quad \sigma^2 = \frac1m \sum_i (x_i - \mu)^2, \quad
    \hat x_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}}, \quad y_i = \gamma \hat x_i + \beta .

Given the upstream gradient :math:`g_i = \partial L / \partial y_i`:

1. :math:`\beta` is added to every :math:`y_i`, so :math:`\partial L/\partial\beta = \sum_i g_i`.
2. :math:`\gamma` multiplies every :math:`\hat x_i`, so :math:`\partial L/\partial\gamma = \sum_i g_i \hat x_i`.
3. :math:`\partial L/\partial \hat x_i = \gamma g_i =: d_i`.
4. :math:`x_j` reaches :math:`\hat x_i` three ways: directly (only when :math:`i = j`), through
   :math:`\mu` and through :math:`\sigma^2`. With :math:`s = (\sigma^2 + \epsilon)^{-1/2}`,
   :math:`\partial \mu / \partial x_j = 1/m` and :math:`\partial \sigma^2/\partial x_j = 2(x_j - \mu)/m`
   (the :math:`\mu`-term of :math:`\sigma^2` sums to zero), so

   .. math::

       \frac{\partial \hat x_i}{\partial x_j} = s\left(\delta_{ij} - \frac1m\right)
           - \frac{(x_i - \mu)\, s^3 (x_j - \mu)}{m}
         = \frac{s}{m}\left(m\,\delta_{ij} - 1 - \hat x_i \hat x_j\right).

5. Summing :math:`d_i\, \partial \hat x_i / \partial x_j` over :math:`i` gives the compact form
   (Ioffe & Szegedy 2015; CS231n assignment 2):

   .. math::

       \frac{\partial L}{\partial x_j} = \frac{s}{m}\left(m\, d_j - \sum_i d_i - \hat x_j \sum_i d_i \hat x_i\right).

Reading it: the gradient reaching :math:`x` is :math:`d` with its mean removed and its component along
:math:`\hat x` removed, scaled by :math:`s`. Shifting or scaling a whole channel changes nothing after
normalization, so no gradient flows in those two directions.
"""

from __future__ import annotations

import statistics
import time

import torch

from normviz import axes
from normviz._validation import check_positive_int
from normviz.functional import _channel_view, _check_eps, _check_input, _check_param, _mean_var

__all__ = ["BatchNormFunction", "batch_norm_backward", "batch_norm_with_manual_backward", "time_backward"]


def batch_norm_backward(grad_output, input, weight=None, eps=1e-5):
    r"""Closed-form gradients of training-mode batch norm: ``(grad_input, grad_weight, grad_bias)``.

    .. math::

        \frac{\partial L}{\partial \beta_c} = \sum g, \quad
        \frac{\partial L}{\partial \gamma_c} = \sum g \hat x, \quad
        \frac{\partial L}{\partial x} = \frac{s}{m}\Big(m\,d - \sum d - \hat x \sum d \hat x\Big),
        \quad d = \gamma g,\; s = (\sigma^2 + \epsilon)^{-1/2},

    with the sums over the ``m`` values of each channel (dims ``0, 2, 3, ...``). The derivation is in the
    module docstring.

    Parameters
    ----------
    grad_output : torch.Tensor
        :math:`\partial L / \partial y`, the same shape as ``input``.
    input : torch.Tensor
        The forward input ``(N, C, *spatial)``.
    weight : torch.Tensor or None, default=None
        :math:`\gamma`, shape ``(C,)``; ``None`` means :math:`\gamma = 1`.
    eps : float, default=1e-5

    Returns
    -------
    grad_input : torch.Tensor
        Same shape as ``input``.
    grad_weight, grad_bias : torch.Tensor
        Shape ``(C,)``: the gradients a weight and a bias would receive (returned even when ``weight`` is
        None, since the notebook shows them).

    Shape
    -----
    input and grad_output ``(N, C)`` or ``(N, C, *spatial)``.

    Raises
    ------
    TypeError
        Non-tensor arguments.
    ValueError
        Mismatched shapes, a weight not of shape ``(C,)``, one value per channel, or ``eps <= 0``.

    Examples
    --------
    >>> x = torch.randn(8, 3, requires_grad=True)
    >>> weight = torch.rand(3, requires_grad=True)
    >>> y = torch.nn.functional.batch_norm(x, None, None, weight, training=True)
    >>> g = torch.randn(8, 3)
    >>> auto = torch.autograd.grad(y, (x, weight), g)
    >>> grad_input, grad_weight, grad_bias = batch_norm_backward(g, x.detach(), weight.detach())
    >>> torch.allclose(grad_input, auto[0], atol=1e-5), torch.allclose(grad_weight, auto[1], atol=1e-5)
    (True, True)
    """
    _check_input(input, "batch_norm_backward", 2, "(N, C, *spatial)")
    _check_input(grad_output, "batch_norm_backward", 2, "(N, C, *spatial)", name="grad_output")
    if grad_output.shape != input.shape:
        raise ValueError(
            f"grad_output must have the shape of input {tuple(input.shape)}, got {tuple(grad_output.shape)}"
        )
    channels = input.shape[1]
    weight = _check_param(weight, "weight", (channels,), f"one value per channel; input has {channels}")
    _check_eps(eps)
    m = input.numel() // channels
    if m <= 1:
        raise ValueError(
            "batch_norm_backward needs more than one value per channel, "
            f"got input of shape {tuple(input.shape)}; use a batch of at least 2"
        )

    dims = axes.reduced_dims("batch", input.dim())  # (0, 2, 3, ...): everything but the channel
    view = _channel_view(input.dim())  # (1, C, 1, ...)
    g = grad_output
    _, var, centred = _mean_var(input, dims)
    s = torch.rsqrt(var + eps)  # (1, C, 1, ...)
    x_hat = centred * s

    grad_bias = g.sum(dim=dims)  # (C,)
    grad_weight = (g * x_hat).sum(dim=dims)  # (C,)
    d = g if weight is None else g * weight.view(view)  # dL/dx_hat
    sum_d = d.sum(dim=dims, keepdim=True)
    sum_d_xhat = (d * x_hat).sum(dim=dims, keepdim=True)
    grad_input = (s / m) * (m * d - sum_d - x_hat * sum_d_xhat)
    return grad_input, grad_weight, grad_bias


class BatchNormFunction(torch.autograd.Function):
    """Training-mode batch norm whose backward is :func:`batch_norm_backward`, not autograd's.

    ``torch.autograd.gradcheck`` on :func:`batch_norm_with_manual_backward` compares this hand-written
    backward with finite differences of the forward.
    """

    @staticmethod
    def forward(ctx, input, weight, bias, eps):
        dims = axes.reduced_dims("batch", input.dim())
        view = _channel_view(input.dim())
        _, var, centred = _mean_var(input, dims)
        y = centred * torch.rsqrt(var + eps)
        if weight is not None:
            y = y * weight.view(view)
        if bias is not None:
            y = y + bias.view(view)
        ctx.save_for_backward(input, weight)
        ctx.eps = eps
        ctx.has_bias = bias is not None
        return y

    @staticmethod
    def backward(ctx, grad_output):
        input, weight = ctx.saved_tensors
        grad_input, grad_weight, grad_bias = batch_norm_backward(grad_output, input, weight, ctx.eps)
        return (
            grad_input,
            grad_weight if weight is not None else None,
            grad_bias if ctx.has_bias else None,
            None,  # eps is not differentiable
        )


def batch_norm_with_manual_backward(input, weight=None, bias=None, eps=1e-5):
    """Training-mode batch norm (batch statistics, no running buffers) backpropagated by the closed form.

    Parameters
    ----------
    input : torch.Tensor
        ``(N, C, *spatial)``.
    weight, bias : torch.Tensor or None, default=None
        Shape ``(C,)``.
    eps : float, default=1e-5

    Returns
    -------
    torch.Tensor
        Same as ``normviz.functional.batch_norm(input, None, None, weight, bias, training=True, eps=eps)``.

    Raises
    ------
    TypeError, ValueError
        As :func:`normviz.functional.batch_norm`.

    Examples
    --------
    >>> x = torch.randn(6, 2, 3, dtype=torch.float64, requires_grad=True)
    >>> w = torch.rand(2, dtype=torch.float64, requires_grad=True)
    >>> b = torch.rand(2, dtype=torch.float64, requires_grad=True)
    >>> torch.autograd.gradcheck(batch_norm_with_manual_backward, (x, w, b))
    True
    """
    _check_input(input, "batch_norm_with_manual_backward", 2, "(N, C, *spatial)")
    channels = input.shape[1]
    what = f"one value per channel; input has {channels} channels at dim 1"
    weight = _check_param(weight, "weight", (channels,), what)
    bias = _check_param(bias, "bias", (channels,), what)
    _check_eps(eps)
    if input.numel() // channels <= 1:
        raise ValueError(
            "batch_norm in training needs more than one value per channel to compute a variance, "
            f"got input of shape {tuple(input.shape)}; use a batch of at least 2"
        )
    return BatchNormFunction.apply(input, weight, bias, eps)


def time_backward(shape=(64, 128), *, number=30, repeats=7, threads=1, seed=0) -> dict[str, float]:
    """Median microseconds of one training-mode batch norm, forward and backward, computed three ways.

    * ``"autograd"``: :func:`normviz.functional.batch_norm`, explicit formulas that autograd differentiates;
    * ``"closed form"``: :func:`batch_norm_with_manual_backward`, the backward derived in this module;
    * ``"torch (fused)"``: ``torch.nn.functional.batch_norm``, one compiled kernel forward and one backward.

    The three run alternately, ``repeats`` rounds of ``number`` passes each, so that a change in the machine's
    load hits all of them. Timings depend on the machine: print them, do not compare them in a test.

    Parameters
    ----------
    shape : tuple of int, default=(64, 128)
        ``(N, C, *spatial)``; the default is a hidden layer of the experiments' MLP.
    number, repeats : int, default=30, 7
    threads : int, default=1
        ``torch.set_num_threads`` during the measurement (restored after). With 1 the clock is the CPU time
        of this thread, so waiting for a busy machine is not counted.
    seed : int, default=0

    Returns
    -------
    dict
        ``{"autograd": us, "closed form": us, "torch (fused)": us}``.

    Raises
    ------
    TypeError, ValueError
        ``shape`` not a tuple of at least 2 positive ints; ``number``, ``repeats`` or ``threads`` not a
        positive int.

    Examples
    --------
    >>> sorted(time_backward((8, 4), number=2, repeats=1))
    ['autograd', 'closed form', 'torch (fused)']
    """
    from normviz import functional

    if not isinstance(shape, (tuple, list)) or len(shape) < 2:
        raise ValueError(f"shape must be a tuple (N, C, *spatial) of at least 2 ints, got {shape!r}")
    shape = tuple(check_positive_int(size, "shape") for size in shape)
    number, repeats = check_positive_int(number, "number"), check_positive_int(repeats, "repeats")
    threads = check_positive_int(threads, "threads")
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=generator).requires_grad_(True)
    grad = torch.randn(shape, generator=generator)
    weight = torch.rand(shape[1], generator=generator).requires_grad_(True)
    bias = torch.rand(shape[1], generator=generator).requires_grad_(True)
    variants = {
        "autograd": lambda: functional.batch_norm(x, None, None, weight, bias, training=True),
        "closed form": lambda: batch_norm_with_manual_backward(x, weight, bias),
        "torch (fused)": lambda: torch.nn.functional.batch_norm(x, None, None, weight, bias, training=True),
    }
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    clock = time.thread_time if threads == 1 else time.perf_counter
    try:
        times: dict[str, list[float]] = {name: [] for name in variants}
        for round_ in range(repeats + 1):  # round 0 warms up caches and is not kept
            for name, forward in variants.items():
                start = clock()
                for _ in range(number):
                    x.grad = weight.grad = bias.grad = None
                    forward().backward(grad)
                if round_:
                    times[name].append((clock() - start) / number * 1e6)
    finally:
        torch.set_num_threads(previous)
    return {name: statistics.median(values) for name, values in times.items()}
