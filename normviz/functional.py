r"""The normalization formulas, written out over explicit axes, with the signatures of ``torch.nn.functional``.

Each function computes its statistics over the dimensions that :mod:`normviz.axes` defines (so the pictures
drawn from :func:`normviz.axes.stats_mask` always agree with the math), then

.. math::

    \hat x = \frac{x - \mathrm{mean}}{\sqrt{\mathrm{var} + \epsilon}}, \qquad y = \gamma \hat x + \beta,

with the *biased* variance (divide by the count, not count - 1). Everything is plain torch ops, so autograd
gives the backward pass; :mod:`normviz.backward` derives the batch norm backward by hand.

Numerical care, as in the real libraries:

* the variance is computed in two passes (subtract the mean, then average the squares), so an offset of
  1e4 on float32 data does not swallow a unit variance, which the one-pass ``E[x^2] - E[x]^2`` does;
* ``eps`` keeps a constant input finite: it normalizes to zeros, not NaN;
* float16 and bfloat16 inputs are upcast to float32 for the statistics and the result is cast back,
  as PyTorch does.

Deviations from PyTorch, all in the direction of clearer errors: bad input raises ``ValueError`` or
``TypeError`` naming the parameter, what was expected and what was received (PyTorch often raises
``RuntimeError``); ``eps`` must be > 0 everywhere (PyTorch allows 0 outside batch-norm training, which turns
a constant input into NaN); ``momentum`` must lie in [0, 1].
"""

from __future__ import annotations

import math
import numbers

import torch

from normviz import axes
from normviz._validation import _type_name, check_positive_int, check_positive_number, check_tensor

__all__ = [
    "batch_norm",
    "batch_norm_stats",
    "compute_stats",
    "group_norm",
    "instance_norm",
    "layer_norm",
    "layer_norm_channels_last",
    "local_response_norm",
    "rms_norm",
]


# ----------------------------------------------------------------------------------------------- checks
def _check_input(input, function: str, min_ndim: int, layout: str, name: str = "input") -> torch.Tensor:
    check_tensor(input, name)
    if input.dim() < min_ndim:
        hint = ""
        if input.dim() == min_ndim - 1:
            hint = f"; if this is a single sample, add the batch dimension with {name}.unsqueeze(0)"
        raise ValueError(
            f"{function} expects {name} of at least {min_ndim} dimensions {layout}, got {input.dim()}-D "
            f"{name} of shape {tuple(input.shape)}{hint}"
        )
    return input


def _check_eps(eps) -> float:
    return check_positive_number(eps, "eps")


def _check_momentum(momentum) -> float:
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real):
        raise TypeError(
            f"momentum must be a real number in [0, 1], got {_type_name(momentum)} ({momentum!r}); "
            "the modules turn momentum=None into a cumulative average 1 / num_batches_tracked"
        )
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(
            f"momentum must be in [0, 1] (the weight of the new batch in the running average), got {momentum!r}"
        )
    return float(momentum)


def _check_param(value, name: str, shape: tuple[int, ...], what: str):
    """``None`` passes; otherwise a floating-point tensor of exactly ``shape``."""
    if value is None:
        return None
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape {shape} or None, got {_type_name(value)}; "
            f"convert it with torch.as_tensor({name}, dtype=torch.float32)"
        )
    if tuple(value.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)} ({what}), got {tuple(value.shape)}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype, got {value.dtype}; use {name}.float()")
    return value


def _check_real(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_type_name(value)} ({value!r})")
    return float(value)


# ------------------------------------------------------------------------------------------ the maths
def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    # float16/bfloat16 statistics lose too much precision (bfloat16 has 8 significant bits): compute in
    # float32 and cast the result back, as PyTorch's kernels do.
    return torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype


def _as_dtype(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    # x.to(dtype) returns x itself when the dtype already matches, but still costs a dispatch
    return x if x.dtype == dtype else x.to(dtype)


def _centre(x: torch.Tensor, dims: tuple[int, ...]):
    """``x - mean`` over ``dims`` (the mean kept as size-1 dims), with the sum and the count it came from."""
    count = math.prod(x.shape[d] for d in dims)
    total = x.sum(dim=dims, keepdim=True)
    # x - mean, with mean = total / count, written x + (total / -count): autograd's backward of a subtraction
    # negates the full-size gradient, while this negates the small mean. (And a sum rather than .mean(), whose
    # backward divides a full-size tensor.) Dividing, not multiplying by 1 / count, keeps a constant input's
    # mean exact, so that it normalizes to exact zeros.
    centred = x + total / -count
    return centred, total, count


def _moments(x: torch.Tensor, dims: tuple[int, ...], eps: float):
    """The pieces of ``x_hat = (x - mean) / sqrt(var + eps)`` over ``dims`` (kept as size-1 dims).

    Returns ``centred = x - mean``, ``inv_std = 1 / sqrt(var + eps)`` with ``var`` the biased variance, and
    two functions returning ``mean`` and ``var`` for the running statistics, computed only if called.
    """
    centred, total, count = _centre(x, dims)
    # Two passes: averaging squares of *centred* values keeps the variance exact when the mean is large;
    # E[x^2] - E[x]^2 would subtract two nearly equal numbers of size mean^2 and lose every digit.
    sum_sq = (centred * centred).sum(dim=dims, keepdim=True)
    # var + eps = eps + sum_sq / count in one op (torch.add(a, b, alpha=k) is a + k * b): at the sizes the
    # experiments train, the time goes to the number of autograd nodes more than to the arithmetic.
    inv_std = torch.rsqrt(torch.add(sum_sq.new_full((), eps), sum_sq, alpha=1.0 / count))
    return centred, inv_std, lambda: total / count, lambda: sum_sq / count


def _mean_var(x: torch.Tensor, dims: tuple[int, ...]):
    """Mean, biased variance and the centred input over ``dims`` (kept as size-1 dims for broadcasting)."""
    centred, total, count = _centre(x, dims)
    return total / count, (centred * centred).sum(dim=dims, keepdim=True) / count, centred


def _channel_view(ndim: int) -> tuple[int, ...]:
    # a per-channel vector (C,) viewed as (1, C, 1, ..., 1) broadcasts against (N, C, *spatial)
    return (1, -1) + (1,) * (ndim - 2)


def _affine(x_hat: torch.Tensor, weight, bias) -> torch.Tensor:
    """``x_hat * weight + bias`` (elementwise parameters), skipping whichever is None.

    A multiply and an add rather than ``torch.addcmul``: the fused op saves a pass forward, but its backward
    multiplies the full-size ``x_hat`` by its scalar ``value`` first, two passes more than it saved.
    """
    if weight is not None:
        x_hat = x_hat * weight
    if bias is not None:
        x_hat = x_hat + bias
    return x_hat


def _normalize_per_channel(centred: torch.Tensor, inv_std: torch.Tensor, weight, bias, ndim: int):
    """``weight * (centred * inv_std) + bias`` with per-channel ``weight`` and ``bias`` of shape ``(C,)``.

    ``inv_std`` is small (one value per statistics set), so ``inv_std * weight`` is folded first: the same
    value as ``weight * x_hat``, one full-size multiply fewer forward and backward.
    """
    if ndim == 2:  # (N, C): a (C,) vector already broadcasts along the channels
        scale = inv_std if weight is None else inv_std * weight
        return _affine(centred, scale, bias)
    view = _channel_view(ndim)
    scale = inv_std if weight is None else inv_std * weight.view(view)
    return _affine(centred, scale, None if bias is None else bias.view(view))


def _update_running(running_mean, running_var, batch_mean, batch_var, momentum: float) -> None:
    """running <- (1 - momentum) * running + momentum * batch, in place, for each buffer that is not None.

    The caller's buffers change, exactly as with ``torch.nn.functional.batch_norm``. ``batch_mean`` and
    ``batch_var`` are callables, so that nothing is computed when there is no buffer to update.
    """
    if running_mean is None and running_var is None:
        return
    with torch.no_grad():
        for running, batch_value in ((running_mean, batch_mean), (running_var, batch_var)):
            if running is not None:
                running.mul_(1.0 - momentum).add_(batch_value().to(running.dtype), alpha=momentum)


# ------------------------------------------------------------------------------------------ batch norm
def batch_norm(
    input,
    running_mean,
    running_var,
    weight=None,
    bias=None,
    training=False,
    momentum=0.1,
    eps=1e-5,
):
    r"""Batch normalization: each channel is normalized with statistics over the batch and all positions.

    .. math::

        y_{n,c,\dots} = \gamma_c \frac{x_{n,c,\dots} - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}} + \beta_c,
        \qquad \mu_c, \sigma^2_c \text{ over dims } (0, 2, 3, \dots)

    In training, :math:`\mu_c` and the biased :math:`\sigma_c^2` come from the batch, and the running
    buffers (when given) are updated in place: ``running = (1 - momentum) * running + momentum * batch``,
    with the *unbiased* variance (count / (count - 1) times the biased one) going into ``running_var``.
    Out of training, the running buffers are used instead.

    Parameters
    ----------
    input : torch.Tensor
        ``(N, C, *spatial)``.
    running_mean, running_var : torch.Tensor or None
        Shape ``(C,)``. Required when ``training=False``; updated in place when ``training=True``.
    weight, bias : torch.Tensor or None, default=None
        :math:`\gamma`, :math:`\beta`, shape ``(C,)``.
    training : bool, default=False
        Use (and record) the batch statistics.
    momentum : float, default=0.1
        Weight of the new batch in the running averages.
    eps : float, default=1e-5
        Added to the variance before the square root.

    Returns
    -------
    torch.Tensor
        Same shape and dtype as ``input``.

    Shape
    -----
    input ``(N, C)`` or ``(N, C, *spatial)``; output the same.

    Raises
    ------
    TypeError
        A non-tensor input or parameter.
    ValueError
        Input with fewer than 2 dims; parameters or buffers not of shape ``(C,)``; training with a single
        value per channel; ``training=False`` without running statistics; ``eps <= 0``; momentum outside
        [0, 1].

    References
    ----------
    Ioffe & Szegedy, "Batch Normalization", ICML 2015, arXiv:1502.03167.

    Examples
    --------
    >>> x = torch.randn(8, 3, 4, 4) * 5 + 2
    >>> running_mean, running_var = torch.zeros(3), torch.ones(3)
    >>> y = batch_norm(x, running_mean, running_var, training=True)
    >>> torch.allclose(y.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    True
    >>> torch.allclose(running_mean, 0.1 * x.mean(dim=(0, 2, 3)))
    True
    """
    _check_input(input, "batch_norm", 2, "(N, C, *spatial)")
    channels = input.shape[1]
    what = f"one value per channel; input has {channels} channels at dim 1"
    running_mean = _check_param(running_mean, "running_mean", (channels,), what)
    running_var = _check_param(running_var, "running_var", (channels,), what)
    weight = _check_param(weight, "weight", (channels,), what)
    bias = _check_param(bias, "bias", (channels,), what)
    momentum = _check_momentum(momentum)
    _check_eps(eps)
    if (running_mean is None) != (running_var is None):
        raise ValueError(
            "running_mean and running_var must be given together or both be None, got only "
            f"{'running_mean' if running_var is None else 'running_var'}"
        )

    dims = axes.reduced_dims("batch", input.dim())  # (0, 2, 3, ...): everything but the channel
    view = _channel_view(input.dim())
    x = _as_dtype(input, _compute_dtype(input))
    if training:
        count = input.numel() // channels
        if count <= 1:
            raise ValueError(
                "batch_norm in training needs more than one value per channel to compute a variance, "
                f"got input of shape {tuple(input.shape)}; use a batch of at least 2, or use the running "
                "statistics (training=False; call model.eval() on a module)"
            )
        centred, inv_std, batch_mean, batch_var = _moments(x, dims, eps)
        # the running variance estimates the population variance, so it gets the unbiased estimator
        _update_running(
            running_mean,
            running_var,
            lambda: batch_mean().view(channels),
            lambda: batch_var().view(channels) * (count / (count - 1)),
            momentum,
        )
    else:
        if running_mean is None:
            raise ValueError(
                "batch_norm with training=False normalizes with running_mean and running_var, got None; "
                "pass the running statistics, or training=True to use the batch statistics"
            )
        mean, var = running_mean.to(x.dtype).view(view), running_var.to(x.dtype).view(view)
        centred, inv_std = x - mean, torch.rsqrt(var + eps)
    # x_hat = centred * inv_std, then weight * x_hat + bias
    y = _normalize_per_channel(centred, inv_std, weight, bias, input.dim())
    return _as_dtype(y, input.dtype)


def compute_stats(method: str, input, *, num_groups=None, normalized_shape=None):
    """The mean and biased variance that ``method`` normalizes ``input[index]`` with, for every index.

    Parameters
    ----------
    method : {"batch", "layer", "layer_channels_last", "instance", "group"}
        See :data:`normviz.axes.METHODS` (local response and RMS norm compute no mean).
    input : torch.Tensor
        ``(N, C, *spatial)``.
    num_groups : int, optional
        Required for ``"group"``.
    normalized_shape : int or tuple of int, optional
        For ``"layer"``; default ``input.shape[1:]``.

    Returns
    -------
    mean, var : torch.Tensor
        With the reduced dims removed: batch ``(C,)``; instance ``(N, C)``; group ``(N, G)``; layer the
        leading dims; layer_channels_last ``(N, *spatial)``.

    Raises
    ------
    ValueError
        An unsupported method, or invalid ``num_groups`` / ``normalized_shape``.

    Examples
    --------
    >>> x = torch.arange(24.0).reshape(2, 6, 2)
    >>> mean, var = compute_stats("group", x, num_groups=3)
    >>> mean.shape, mean[0].tolist()
    (torch.Size([2, 3]), [1.5, 5.5, 9.5])
    """
    supported = ("batch", "layer", "layer_channels_last", "instance", "group")
    if method not in supported:
        raise ValueError(
            f"method must be one of {supported}, got {method!r}; local response and RMS normalization "
            "compute no mean (RMS norm divides by sqrt(mean(x**2) + eps))"
        )
    _check_input(input, "compute_stats", 2, "(N, C, *spatial)")
    x = _as_dtype(input, _compute_dtype(input))
    if method == "group":
        x = x.reshape(axes.group_view_shape(tuple(input.shape), num_groups))  # (N, G, C//G, *spatial)
        dims = axes.reduced_dims("group", input.dim())
    elif method == "layer":
        normalized_shape = axes._check_normalized_shape(normalized_shape, tuple(input.shape))
        dims = axes.reduced_dims("layer", input.dim(), normalized_shape=normalized_shape)
    else:
        dims = axes.reduced_dims(method, input.dim())
    mean, var, _ = _mean_var(x, dims)
    return mean.squeeze(dims), var.squeeze(dims)


def batch_norm_stats(input):
    """Per-channel batch mean and biased variance, shape ``(C,)`` each: what batch norm trains with.

    Parameters
    ----------
    input : torch.Tensor
        ``(N, C, *spatial)``.

    Returns
    -------
    mean, var : torch.Tensor
        Shape ``(C,)``.

    Examples
    --------
    >>> mean, var = batch_norm_stats(torch.tensor([[1.0, 10.0], [3.0, 30.0]]))
    >>> mean.tolist(), var.tolist()
    ([2.0, 20.0], [1.0, 100.0])
    """
    return compute_stats("batch", input)


# --------------------------------------------------------------------------------------- instance norm
def instance_norm(
    input,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    use_input_stats=True,
    momentum=0.1,
    eps=1e-5,
):
    r"""Instance normalization: each (sample, channel) pair is normalized over its own positions.

    .. math::

        y_{n,c,\dots} = \gamma_c \frac{x_{n,c,\dots} - \mu_{n,c}}{\sqrt{\sigma_{n,c}^2 + \epsilon}} + \beta_c,
        \qquad \mu_{n,c}, \sigma^2_{n,c} \text{ over dims } (2, 3, \dots)

    With ``use_input_stats`` and running buffers, the buffers are updated in place with the statistics
    averaged over the batch (unbiased variance), as PyTorch does; without ``use_input_stats`` the running
    buffers normalize every sample.

    Parameters
    ----------
    input : torch.Tensor
        ``(N, C, *spatial)`` with at least one spatial dim.
    running_mean, running_var : torch.Tensor or None, default=None
        Shape ``(C,)``.
    weight, bias : torch.Tensor or None, default=None
        Shape ``(C,)``.
    use_input_stats : bool, default=True
        Normalize with each instance's own statistics.
    momentum : float, default=0.1
    eps : float, default=1e-5

    Returns
    -------
    torch.Tensor
        Same shape and dtype as ``input``.

    Shape
    -----
    input ``(N, C, *spatial)``, at least 3-D; output the same.

    Raises
    ------
    TypeError
        A non-tensor input or parameter.
    ValueError
        Fewer than 3 dims; a single position per instance with ``use_input_stats``; parameters of the wrong
        shape; ``use_input_stats=False`` without running statistics; ``eps <= 0``.

    References
    ----------
    Ulyanov, Vedaldi & Lempitsky, "Instance Normalization", arXiv:1607.08022.

    Examples
    --------
    >>> x = torch.randn(2, 3, 5, 5) + torch.arange(3.0).view(1, 3, 1, 1)
    >>> y = instance_norm(x)
    >>> torch.allclose(y.mean(dim=(2, 3)), torch.zeros(2, 3), atol=1e-5)
    True
    """
    _check_input(input, "instance_norm", 3, "(N, C, *spatial)")
    n, channels = input.shape[:2]
    what = f"one value per channel; input has {channels} channels at dim 1"
    running_mean = _check_param(running_mean, "running_mean", (channels,), what)
    running_var = _check_param(running_var, "running_var", (channels,), what)
    weight = _check_param(weight, "weight", (channels,), what)
    bias = _check_param(bias, "bias", (channels,), what)
    momentum = _check_momentum(momentum)
    _check_eps(eps)
    if (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must be given together or both be None")

    dims = axes.reduced_dims("instance", input.dim())  # (2, 3, ...): the positions
    view = _channel_view(input.dim())
    x = _as_dtype(input, _compute_dtype(input))
    if use_input_stats:
        count = input[0, 0].numel()
        if count <= 1:
            raise ValueError(
                "instance_norm needs more than one position per (sample, channel) to compute a variance, "
                f"got input of shape {tuple(input.shape)}; a single position has no spread, so use "
                "batch_norm or layer_norm for inputs without spatial extent"
            )
        centred, inv_std, batch_mean, batch_var = _moments(x, dims, eps)  # inv_std: (N, C, 1, ...)
        # PyTorch updates one copy of the buffers per sample and then averages them over the batch
        _update_running(
            running_mean,
            running_var,
            lambda: batch_mean().reshape(n, channels).mean(dim=0),
            lambda: (batch_var().reshape(n, channels) * (count / (count - 1))).mean(dim=0),
            momentum,
        )
    else:
        if running_mean is None:
            raise ValueError(
                "instance_norm with use_input_stats=False normalizes with running_mean and running_var, "
                "got None; pass them, or use_input_stats=True"
            )
        mean, var = running_mean.to(x.dtype).view(view), running_var.to(x.dtype).view(view)
        centred, inv_std = x - mean, torch.rsqrt(var + eps)
    # x_hat = centred * inv_std, then weight * x_hat + bias
    y = _normalize_per_channel(centred, inv_std, weight, bias, input.dim())
    return _as_dtype(y, input.dtype)


# ------------------------------------------------------------------------------------------ layer norm
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    r"""Layer normalization over the trailing ``normalized_shape`` dims of each sample.

    .. math::

        y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} \odot \gamma + \beta,

    with mean and biased variance over the last ``len(normalized_shape)`` dims, and elementwise
    :math:`\gamma, \beta` of shape ``normalized_shape``. No running statistics: train and eval agree.

    Parameters
    ----------
    input : torch.Tensor
        ``(*, *normalized_shape)``.
    normalized_shape : int or tuple of int
        The trailing shape of ``input`` to normalize over.
    weight, bias : torch.Tensor or None, default=None
        Shape ``normalized_shape``.
    eps : float, default=1e-5

    Returns
    -------
    torch.Tensor
        Same shape and dtype as ``input``.

    Shape
    -----
    input ``(*, *normalized_shape)``; output the same.

    Raises
    ------
    TypeError
        A non-tensor input or parameter.
    ValueError
        ``normalized_shape`` not the trailing dims of ``input`` (the message lists the valid ones);
        ``weight`` / ``bias`` not of shape ``normalized_shape``; ``eps <= 0``.

    References
    ----------
    Ba, Kiros & Hinton, "Layer Normalization", arXiv:1607.06450.

    Examples
    --------
    >>> x = torch.randn(4, 6, 5)
    >>> y = layer_norm(x, (6, 5))
    >>> torch.allclose(y.mean(dim=(1, 2)), torch.zeros(4), atol=1e-5)
    True
    >>> torch.allclose(y, torch.nn.functional.layer_norm(x, (6, 5)), atol=1e-6)
    True
    """
    check_tensor(input, "input")
    normalized_shape = axes._check_normalized_shape(normalized_shape, tuple(input.shape))
    what = "normalized_shape"
    weight = _check_param(weight, "weight", normalized_shape, what)
    bias = _check_param(bias, "bias", normalized_shape, what)
    _check_eps(eps)

    dims = axes.normalized_dims(input.dim(), normalized_shape)  # the trailing len(normalized_shape) dims
    x = _as_dtype(input, _compute_dtype(input))
    centred, inv_std, _, _ = _moments(x, dims, eps)
    x_hat = centred * inv_std
    return _as_dtype(_affine(x_hat, weight, bias), input.dtype)


def layer_norm_channels_last(input, weight=None, bias=None, eps=1e-5):
    r"""Layer normalization over the channels alone, at each sample and position (ConvNeXt / transformers).

    The same as ``F.layer_norm(input.movedim(1, -1), (C,), weight, bias, eps).movedim(-1, 1)``: each
    position's C-vector is standardized on its own. Not in ``torch.nn.functional``; it is what
    ``nn.LayerNorm(C)`` does to a channels-last tensor, and differs from ``GroupNorm(1, C)``, which pools
    all channels *and* positions.

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
        Same shape and dtype as ``input``.

    Shape
    -----
    input ``(N, C, *spatial)``; output the same.

    Raises
    ------
    TypeError, ValueError
        As :func:`layer_norm`.

    Examples
    --------
    >>> x = torch.randn(2, 6, 3, 3)
    >>> expected = torch.nn.functional.layer_norm(x.permute(0, 2, 3, 1), (6,)).permute(0, 3, 1, 2)
    >>> torch.allclose(layer_norm_channels_last(x), expected, atol=1e-6)
    True
    """
    _check_input(input, "layer_norm_channels_last", 2, "(N, C, *spatial)")
    channels = input.shape[1]
    what = f"one value per channel; input has {channels} channels at dim 1"
    weight = _check_param(weight, "weight", (channels,), what)
    bias = _check_param(bias, "bias", (channels,), what)
    _check_eps(eps)

    dims = axes.reduced_dims("layer_channels_last", input.dim())  # (1,): the channels
    x = _as_dtype(input, _compute_dtype(input))
    centred, inv_std, _, _ = _moments(x, dims, eps)
    # x_hat = centred * inv_std, then weight * x_hat + bias
    y = _normalize_per_channel(centred, inv_std, weight, bias, input.dim())
    return _as_dtype(y, input.dtype)


# ------------------------------------------------------------------------------------------ group norm
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    r"""Group normalization: the channels of each sample are split into groups, normalized separately.

    .. math::

        y_{n,c,\dots} = \gamma_c \frac{x_{n,c,\dots} - \mu_{n,g}}{\sqrt{\sigma_{n,g}^2 + \epsilon}} + \beta_c,
        \qquad g = \lfloor c / (C/G) \rfloor

    with mean and biased variance over the ``C/G`` channels of group ``g`` and all positions, i.e. over
    dims ``(2, 3, ...)`` of the view ``(N, G, C/G, *spatial)``. ``G = C`` is instance norm (with per-channel
    affine), ``G = 1`` is layer norm over ``(C, *spatial)`` with a per-channel affine.

    Parameters
    ----------
    input : torch.Tensor
        ``(N, C, *spatial)``.
    num_groups : int
        ``G``; must divide ``C``.
    weight, bias : torch.Tensor or None, default=None
        Shape ``(C,)``: the affine is per channel, not per group.
    eps : float, default=1e-5

    Returns
    -------
    torch.Tensor
        Same shape and dtype as ``input``.

    Shape
    -----
    input ``(N, C, *spatial)``; output the same.

    Raises
    ------
    TypeError
        A non-tensor input or parameter; a non-int ``num_groups``.
    ValueError
        Fewer than 2 dims; ``num_groups`` not dividing ``C`` (the message lists valid counts); parameters
        not of shape ``(C,)``; a single value to normalize; ``eps <= 0``.

    References
    ----------
    Wu & He, "Group Normalization", ECCV 2018, arXiv:1803.08494.

    Examples
    --------
    >>> x = torch.randn(2, 6, 4, 4)
    >>> torch.allclose(group_norm(x, 6), instance_norm(x), atol=1e-6)
    True
    >>> torch.allclose(group_norm(x, 1), layer_norm(x, (6, 4, 4)), atol=1e-6)
    True
    """
    _check_input(input, "group_norm", 2, "(N, C, *spatial)")
    shape = tuple(input.shape)
    group_shape = axes.group_view_shape(shape, num_groups)  # (N, G, C//G, *spatial); validates num_groups
    channels = shape[1]
    what = f"one value per channel; input has {channels} channels at dim 1"
    weight = _check_param(weight, "weight", (channels,), what)
    bias = _check_param(bias, "bias", (channels,), what)
    _check_eps(eps)
    if input.numel() // group_shape[1] == 1:  # PyTorch's condition: N * C//G * positions == 1
        raise ValueError(
            "group_norm needs more than one value per group to compute a variance, got input of shape "
            f"{shape} with num_groups={num_groups}; use fewer groups or a larger input"
        )

    dims = axes.reduced_dims("group", input.dim())  # (2, 3, ...) of the group view
    x = _as_dtype(input, _compute_dtype(input)).reshape(group_shape)  # (N, G, C//G, *spatial)
    centred, inv_std, _, _ = _moments(x, dims, eps)  # inv_std: (N, G, 1, ...), one value per (sample, group)
    # the affine is per channel: view weight and bias (C,) as (1, G, C//G, 1, ...) to match the group view
    param_view = (1, *group_shape[1:3]) + (1,) * (input.dim() - 2)
    scale = inv_std if weight is None else inv_std * weight.view(param_view)  # (N, G, C//G, 1, ...)
    y = _affine(centred, scale, None if bias is None else bias.view(param_view))
    y = y.reshape(shape)  # (N, C, *spatial)
    return _as_dtype(y, input.dtype)


# -------------------------------------------------------------------------------- local response norm
def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    r"""Local response normalization (AlexNet): divide by the energy of neighbouring channels.

    .. math::

        b_{c} = a_{c} \left(k + \frac{\alpha}{n} \sum_{c' = c - \lfloor n/2 \rfloor}^{c + \lfloor (n-1)/2
        \rfloor} a_{c'}^2\right)^{-\beta}

    at each sample and position, with channels outside ``[0, C)`` counted as zeros (the sum is still
    divided by ``n``, as in PyTorch). There is no mean subtraction and nothing is learned.

    Parameters
    ----------
    input : torch.Tensor
        ``(N, C, *spatial)`` with at least one spatial dim.
    size : int
        ``n``, the number of neighbouring channels (AlexNet: 5).
    alpha : float, default=1e-4
    beta : float, default=0.75
    k : float, default=1.0

    Returns
    -------
    torch.Tensor
        Same shape and dtype as ``input``.

    Shape
    -----
    input ``(N, C, *spatial)``, at least 3-D; output the same.

    Raises
    ------
    TypeError
        A non-tensor input; non-real ``alpha``, ``beta``, ``k``; a non-int ``size``.
    ValueError
        Fewer than 3 dims; ``size < 1``.

    References
    ----------
    Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional Neural Networks",
    NeurIPS 2012, section 3.3.

    Examples
    --------
    >>> x = torch.randn(2, 8, 3, 3)
    >>> y = local_response_norm(x, size=5, alpha=1e-2, k=2.0)
    >>> torch.allclose(y, torch.nn.functional.local_response_norm(x, 5, alpha=1e-2, k=2.0), atol=1e-6)
    True
    """
    _check_input(input, "local_response_norm", 3, "(N, C, *spatial)")
    size = check_positive_int(size, "size")
    alpha, beta, k = _check_real(alpha, "alpha"), _check_real(beta, "beta"), _check_real(k, "k")
    if input.numel() == 0:
        return input

    n, channels = input.shape[:2]
    rest = tuple(input.shape[2:])
    x = _as_dtype(input, _compute_dtype(input))
    squares = x * x
    before, after = axes.lrn_padding(size)  # the window of channel c is c - before .. c + after
    padded = torch.cat(
        [squares.new_zeros((n, before, *rest)), squares, squares.new_zeros((n, after, *rest))], dim=1
    )  # (N, C + size - 1, *spatial)
    # window_sum[:, c] = sum of padded[:, c + j] for j < size = squares of channels c - before .. c + after
    window_sum = padded[:, 0:channels]
    for j in range(1, size):
        window_sum = window_sum + padded[:, j : j + channels]
    denominator = (window_sum / size).mul(alpha).add(k).pow(beta)
    return _as_dtype(x / denominator, input.dtype)


# -------------------------------------------------------------------------------------------- RMS norm
def rms_norm(input, normalized_shape, weight=None, eps=None):
    r"""Root-mean-square normalization: rescale by the RMS over the trailing dims, no mean subtraction.

    .. math::

        y = \frac{x}{\sqrt{\mathrm{mean}(x^2) + \epsilon}} \odot \gamma

    over the last ``len(normalized_shape)`` dims. ``eps=None`` uses the machine epsilon of the dtype the
    statistic is computed in (float32 for float16/bfloat16 inputs), as PyTorch does.

    Parameters
    ----------
    input : torch.Tensor
        ``(*, *normalized_shape)``.
    normalized_shape : int or tuple of int
    weight : torch.Tensor or None, default=None
        Shape ``normalized_shape``.
    eps : float or None, default=None

    Returns
    -------
    torch.Tensor
        Same shape and dtype as ``input``.

    Shape
    -----
    input ``(*, *normalized_shape)``; output the same.

    Raises
    ------
    TypeError, ValueError
        As :func:`layer_norm`.

    References
    ----------
    Zhang & Sennrich, "Root Mean Square Layer Normalization", NeurIPS 2019, arXiv:1910.07467.

    Examples
    --------
    >>> x = torch.randn(4, 8) + 3.0
    >>> y = rms_norm(x, (8,))
    >>> torch.allclose(y.pow(2).mean(dim=1), torch.ones(4), atol=1e-5)
    True
    """
    check_tensor(input, "input")
    normalized_shape = axes._check_normalized_shape(normalized_shape, tuple(input.shape))
    weight = _check_param(weight, "weight", normalized_shape, "normalized_shape")
    if eps is None:
        eps = torch.finfo(_compute_dtype(input)).eps
    _check_eps(eps)

    dims = axes.normalized_dims(input.dim(), normalized_shape)  # the trailing len(normalized_shape) dims
    x = _as_dtype(input, _compute_dtype(input))
    mean_square = (x * x).mean(dim=dims, keepdim=True)
    y = x * torch.rsqrt(mean_square + eps)
    return _as_dtype(_affine(y, weight, None), input.dtype)
