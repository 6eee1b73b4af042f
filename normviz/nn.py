"""Drop-in ``torch.nn`` normalization modules built on :mod:`normviz.functional`.

Same constructor arguments and defaults, parameter and buffer names, ``state_dict`` keys (including
``num_batches_tracked``), ``extra_repr``, ``reset_parameters`` and ``reset_running_stats`` as PyTorch's, and
the same class structure (``_NormBase`` -> ``_BatchNorm`` / ``_InstanceNorm``). A PyTorch module's state
dict loads strictly into the normviz module of the same configuration, and both then compute the same
outputs. The modules only hold parameters, buffers and checks; the math is in :mod:`normviz.functional`.

Deviations from PyTorch: bad input raises ``ValueError``/``TypeError`` with a message naming what was
expected, what was received and a fix (PyTorch often raises ``RuntimeError``), including at construction
(non-positive ``eps`` or ``num_features``, ``num_groups`` not dividing ``num_channels``).

Examples
--------
>>> import torch
>>> theirs = torch.nn.BatchNorm2d(3)
>>> ours = BatchNorm2d(3)
>>> _ = theirs(torch.randn(4, 3, 5, 5))   # one training step moves theirs' running statistics
>>> ours.load_state_dict(theirs.state_dict())
<All keys matched successfully>
>>> x = torch.randn(2, 3, 5, 5)
>>> torch.allclose(ours.eval()(x), theirs.eval()(x), atol=1e-6)
True
"""

from __future__ import annotations

import warnings

import torch
from torch.nn import Module, Parameter, init

from normviz import axes
from normviz import functional as F
from normviz._validation import check_positive_int, check_positive_number, check_tensor

__all__ = [
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "InstanceNorm3d",
    "LayerNorm",
    "LocalResponseNorm",
    "RMSNorm",
]


def _check_momentum(momentum):
    if momentum is None:
        return None
    return F._check_momentum(momentum)


def _check_shape_arg(normalized_shape, name: str = "normalized_shape") -> tuple[int, ...]:
    shape = axes._as_shape_tuple(normalized_shape)
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"{name} must be a non-empty tuple of positive ints, got {normalized_shape!r}")
    return shape


def _check_rank(module: Module, input, allowed: tuple[int, ...], layouts: tuple[str, ...]) -> None:
    """ValueError unless ``input.dim()`` is allowed; the message names the layout and the module."""
    check_tensor(input, "input")
    if input.dim() in allowed:
        return
    expected = " or ".join(f"{d}-D input {layout}" for d, layout in zip(allowed, layouts, strict=True))
    hint = ""
    if input.dim() == min(allowed) - 1:
        hint = "; if this is a single sample, add the batch dimension with input.unsqueeze(0)"
    raise ValueError(
        f"expected {expected} for {type(module).__name__}, got {input.dim()}-D input of shape "
        f"{tuple(input.shape)}{hint}"
    )


# ------------------------------------------------------------------------------ batch and instance norm
class _NormBase(Module):
    """Common base of :class:`_BatchNorm` and :class:`_InstanceNorm`: parameters, buffers and resets."""

    _version = 2
    __constants__ = ["track_running_stats", "momentum", "eps", "num_features", "affine"]

    def __init__(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=True,
        track_running_stats=True,
        device=None,
        dtype=None,
        *,
        bias=True,
    ):
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__()
        self.num_features = check_positive_int(num_features, "num_features")
        self.eps = check_positive_number(eps, "eps")
        self.momentum = _check_momentum(momentum)
        self.affine = affine
        self.track_running_stats = track_running_stats
        if self.affine:
            self.weight = Parameter(torch.empty(num_features, **factory_kwargs))
            if bias:
                self.bias = Parameter(torch.empty(num_features, **factory_kwargs))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features, **factory_kwargs))
            self.register_buffer("running_var", torch.ones(num_features, **factory_kwargs))
            # an integer count, on the same device but never in the parameters' dtype
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, batch count 0."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Reset the running statistics, and the affine parameters to weight 1, bias 0."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input):
        raise NotImplementedError

    def extra_repr(self):
        return (
            "{num_features}, eps={eps}, momentum={momentum}, affine={affine}, "
            "bias={use_bias}, track_running_stats={track_running_stats}".format(
                **self.__dict__, use_bias=self.bias is not None
            )
        )

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        version = local_metadata.get("version", None)
        if (version is None or version < 2) and self.track_running_stats:
            # state dicts from before version 2 have no num_batches_tracked: start the count at 0
            key = prefix + "num_batches_tracked"
            if key not in state_dict:
                state_dict[key] = (
                    self.num_batches_tracked
                    if self.num_batches_tracked is not None
                    and self.num_batches_tracked.device != torch.device("meta")
                    else torch.tensor(0, dtype=torch.long)
                )
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )


class _BatchNorm(_NormBase):
    """Batch norm over dim 1 of ``(N, C, *spatial)``; subclasses fix the rank in :meth:`_check_input_dim`."""

    def forward(self, input):
        self._check_input_dim(input)
        if (self.weight is not None or self.running_mean is not None) and input.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}) expects {self.num_features} channels at dim 1, "
                f"got input of shape {tuple(input.shape)}; build it with num_features={input.shape[1]} "
                "or check the channels of the layer before it"
            )
        # momentum=None means a cumulative average: batch k gets weight 1/k
        exponential_average_factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                exponential_average_factor = 1.0 / float(self.num_batches_tracked)

        # batch statistics in training, and in eval when there are no running buffers to use
        if self.training:
            bn_training = True
        else:
            bn_training = self.running_mean is None and self.running_var is None
        # buffers are passed only where they are read (eval) or updated (training with tracking)
        use_buffers = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if use_buffers else None,
            self.running_var if use_buffers else None,
            self.weight,
            self.bias,
            bn_training,
            exponential_average_factor,
            self.eps,
        )


class BatchNorm1d(_BatchNorm):
    r"""Batch normalization over a 2-D ``(N, C)`` or 3-D ``(N, C, L)`` input.

    .. math::

        y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} \gamma + \beta

    Mean and biased variance per channel over dims ``(0,)`` or ``(0, 2)``; in training the running
    buffers get ``(1 - momentum) * running + momentum * batch`` with the unbiased variance (or a cumulative
    average when ``momentum=None``); in eval they replace the batch statistics.

    Parameters
    ----------
    num_features : int
        ``C``.
    eps : float, default=1e-5
    momentum : float or None, default=0.1
    affine : bool, default=True
        Learnable ``weight`` (ones) and ``bias`` (zeros) of shape ``(C,)``.
    track_running_stats : bool, default=True
        Keep ``running_mean``, ``running_var`` and ``num_batches_tracked`` buffers.
    device, dtype : optional
    bias : bool, default=True
        Keyword-only; ``False`` drops the bias.

    Shape
    -----
    input ``(N, C)`` or ``(N, C, L)``; output the same.

    Raises
    ------
    ValueError
        A different rank, a wrong channel count, or one value per channel in training.

    Examples
    --------
    >>> m = BatchNorm1d(4)
    >>> m
    BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    >>> m(torch.randn(8, 4)).shape
    torch.Size([8, 4])
    """

    def _check_input_dim(self, input):
        _check_rank(self, input, (2, 3), ("(N, C)", "(N, C, L)"))


class BatchNorm2d(_BatchNorm):
    r"""Batch normalization over a 4-D ``(N, C, H, W)`` input; each channel over dims ``(0, 2, 3)``.

    Parameters, buffers and behaviour as :class:`BatchNorm1d`.

    Shape
    -----
    input ``(N, C, H, W)``; output the same.

    Raises
    ------
    ValueError
        A different rank, a wrong channel count, or one value per channel in training.

    Examples
    --------
    >>> m = BatchNorm2d(3, momentum=None)
    >>> y = m(torch.randn(4, 3, 5, 5))
    >>> int(m.num_batches_tracked)
    1
    """

    def _check_input_dim(self, input):
        _check_rank(self, input, (4,), ("(N, C, H, W)",))


class BatchNorm3d(_BatchNorm):
    r"""Batch normalization over a 5-D ``(N, C, D, H, W)`` input; each channel over dims ``(0, 2, 3, 4)``.

    Parameters, buffers and behaviour as :class:`BatchNorm1d`.

    Shape
    -----
    input ``(N, C, D, H, W)``; output the same.

    Raises
    ------
    ValueError
        A different rank, a wrong channel count, or one value per channel in training.

    Examples
    --------
    >>> BatchNorm3d(2)(torch.randn(2, 2, 3, 3, 3)).shape
    torch.Size([2, 2, 3, 3, 3])
    """

    def _check_input_dim(self, input):
        _check_rank(self, input, (5,), ("(N, C, D, H, W)",))


class _InstanceNorm(_NormBase):
    """Instance norm; accepts an unbatched input (one dim fewer), as PyTorch does."""

    def __init__(
        self,
        num_features,
        eps=1e-5,
        momentum=0.1,
        affine=False,
        track_running_stats=False,
        device=None,
        dtype=None,
        *,
        bias=True,
    ):
        super().__init__(
            num_features, eps, momentum, affine, track_running_stats, device=device, dtype=dtype, bias=bias
        )

    def _check_input_dim(self, input):
        raise NotImplementedError

    def _get_no_batch_dim(self):
        raise NotImplementedError

    def _handle_no_batch_input(self, input):
        return self._apply_instance_norm(input.unsqueeze(0)).squeeze(0)

    def _apply_instance_norm(self, input):
        return F.instance_norm(
            input,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            self.momentum if self.momentum is not None else 0.0,
            self.eps,
        )

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ):
        version = local_metadata.get("version", None)
        # version 1 removed the running buffers when track_running_stats=False (the default since 0.4)
        if version is None and not self.track_running_stats:
            keys = [prefix + name for name in ("running_mean", "running_var") if prefix + name in state_dict]
            if keys:
                error_msgs.append(
                    f"Unexpected running stats buffer(s) {' and '.join(keys)} for "
                    f"{type(self).__name__} with track_running_stats=False; remove them from the state "
                    "dict, or build the module with track_running_stats=True"
                )
                for key in keys:
                    state_dict.pop(key)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def forward(self, input):
        self._check_input_dim(input)
        feature_dim = input.dim() - self._get_no_batch_dim()
        if input.size(feature_dim) != self.num_features:
            if self.affine:
                raise ValueError(
                    f"{type(self).__name__}({self.num_features}, affine=True) expects "
                    f"{self.num_features} channels at dim {feature_dim}, got input of shape "
                    f"{tuple(input.shape)}; build it with num_features={input.size(feature_dim)}"
                )
            warnings.warn(
                f"input's size at dim={feature_dim} does not match num_features. "
                "You can silence this warning by not passing in num_features, "
                "which is not used because affine=False",
                stacklevel=2,
            )
        if input.dim() == self._get_no_batch_dim():
            return self._handle_no_batch_input(input)
        return self._apply_instance_norm(input)


class InstanceNorm1d(_InstanceNorm):
    r"""Instance normalization of ``(N, C, L)`` (or unbatched ``(C, L)``): each (n, c) over its ``L`` positions.

    .. math::

        y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} \gamma + \beta

    Parameters
    ----------
    num_features : int
        ``C``.
    eps : float, default=1e-5
    momentum : float or None, default=0.1
    affine : bool, default=False
        Note the default differs from batch norm's.
    track_running_stats : bool, default=False
    device, dtype : optional
    bias : bool, default=True

    Shape
    -----
    input ``(N, C, L)`` or ``(C, L)``; output the same.

    Raises
    ------
    ValueError
        A different rank, or a wrong channel count with ``affine=True``.

    Examples
    --------
    >>> InstanceNorm1d(3)
    InstanceNorm1d(3, eps=1e-05, momentum=0.1, affine=False, bias=False, track_running_stats=False)
    """

    def _get_no_batch_dim(self):
        return 2

    def _check_input_dim(self, input):
        _check_rank(self, input, (2, 3), ("(C, L)", "(N, C, L)"))


class InstanceNorm2d(_InstanceNorm):
    r"""Instance normalization of ``(N, C, H, W)`` (or unbatched ``(C, H, W)``) over dims ``(2, 3)``.

    Parameters as :class:`InstanceNorm1d`.

    Shape
    -----
    input ``(N, C, H, W)`` or ``(C, H, W)``; output the same.

    Raises
    ------
    ValueError
        A different rank, or a wrong channel count with ``affine=True``.

    Examples
    --------
    >>> y = InstanceNorm2d(3)(torch.randn(2, 3, 4, 4))
    >>> torch.allclose(y.mean(dim=(2, 3)), torch.zeros(2, 3), atol=1e-5)
    True
    """

    def _get_no_batch_dim(self):
        return 3

    def _check_input_dim(self, input):
        _check_rank(self, input, (3, 4), ("(C, H, W)", "(N, C, H, W)"))


class InstanceNorm3d(_InstanceNorm):
    r"""Instance normalization of ``(N, C, D, H, W)`` (or ``(C, D, H, W)``) over dims ``(2, 3, 4)``.

    Parameters as :class:`InstanceNorm1d`.

    Shape
    -----
    input ``(N, C, D, H, W)`` or ``(C, D, H, W)``; output the same.

    Raises
    ------
    ValueError
        A different rank, or a wrong channel count with ``affine=True``.

    Examples
    --------
    >>> InstanceNorm3d(2)(torch.randn(2, 2, 3, 3, 3)).shape
    torch.Size([2, 2, 3, 3, 3])
    """

    def _get_no_batch_dim(self):
        return 4

    def _check_input_dim(self, input):
        _check_rank(self, input, (4, 5), ("(C, D, H, W)", "(N, C, D, H, W)"))


# ----------------------------------------------------------------------------- layer, group, LRN, RMS
class LayerNorm(Module):
    r"""Layer normalization over the trailing ``normalized_shape`` dims, with elementwise affine.

    .. math::

        y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} \odot \gamma + \beta

    Parameters
    ----------
    normalized_shape : int or tuple of int
    eps : float, default=1e-5
    elementwise_affine : bool, default=True
        Learnable ``weight`` (ones) and ``bias`` (zeros) of shape ``normalized_shape``.
    bias : bool, default=True
    device, dtype : optional

    Shape
    -----
    input ``(*, *normalized_shape)``; output the same.

    Raises
    ------
    ValueError
        Input whose trailing dims are not ``normalized_shape``.

    Examples
    --------
    >>> LayerNorm((6, 4))
    LayerNorm((6, 4), eps=1e-05, elementwise_affine=True, bias=True)
    """

    __constants__ = ["normalized_shape", "eps", "elementwise_affine"]

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__()
        self.normalized_shape = _check_shape_arg(normalized_shape)
        self.eps = check_positive_number(eps, "eps")
        self.elementwise_affine = elementwise_affine
        if self.elementwise_affine:
            self.weight = Parameter(torch.empty(self.normalized_shape, **factory_kwargs))
            if bias:
                self.bias = Parameter(torch.empty(self.normalized_shape, **factory_kwargs))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weight 1, bias 0."""
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            "{normalized_shape}, eps={eps}, elementwise_affine={elementwise_affine}, "
            "bias={use_bias}".format(**self.__dict__, use_bias=self.bias is not None)
        )


class GroupNorm(Module):
    r"""Group normalization: ``num_groups`` groups of channels, each normalized per sample.

    .. math::

        y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} \gamma + \beta

    with statistics over the group's channels and all positions, and a per-channel affine.

    Parameters
    ----------
    num_groups : int
        Must divide ``num_channels``.
    num_channels : int
    eps : float, default=1e-5
    affine : bool, default=True
    device, dtype : optional
    bias : bool, default=True

    Shape
    -----
    input ``(N, C, *)``; output the same.

    Raises
    ------
    ValueError
        ``num_groups`` not dividing ``num_channels`` (listing the valid counts); a wrong channel count.

    Examples
    --------
    >>> GroupNorm(2, 6)
    GroupNorm(2, 6, eps=1e-05, affine=True, bias=True)
    >>> GroupNorm(4, 6)
    Traceback (most recent call last):
    ...
    ValueError: num_channels (6) must be divisible by num_groups (4); try num_groups in (1, 2, 3, 6)
    """

    __constants__ = ["num_groups", "num_channels", "eps", "affine"]

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None, dtype=None, *, bias=True):
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__()
        num_channels = check_positive_int(num_channels, "num_channels")
        axes._check_num_groups(num_groups, num_channels)
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = check_positive_number(eps, "eps")
        self.affine = affine
        if self.affine:
            self.weight = Parameter(torch.empty(num_channels, **factory_kwargs))
            if bias:
                self.bias = Parameter(torch.empty(num_channels, **factory_kwargs))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weight 1, bias 0."""
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        check_tensor(input, "input")
        if self.affine and input.dim() >= 2 and input.shape[1] != self.num_channels:
            raise ValueError(
                f"GroupNorm({self.num_groups}, {self.num_channels}) expects {self.num_channels} channels at "
                f"dim 1, got input of shape {tuple(input.shape)}; build it with num_channels={input.shape[1]}"
            )
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return "{num_groups}, {num_channels}, eps={eps}, affine={affine}, bias={use_bias}".format(
            **self.__dict__, use_bias=self.bias is not None
        )


class LocalResponseNorm(Module):
    r"""Local response normalization across ``size`` neighbouring channels (AlexNet used size 5).

    .. math::

        b_c = a_c \left(k + \frac{\alpha}{n} \sum_{c'} a_{c'}^2\right)^{-\beta}

    Parameters
    ----------
    size : int
    alpha : float, default=1e-4
    beta : float, default=0.75
    k : float, default=1.0

    Shape
    -----
    input ``(N, C, *)`` with at least 3 dims; output the same.

    Raises
    ------
    ValueError
        ``size < 1``; input with fewer than 3 dims.

    Examples
    --------
    >>> LocalResponseNorm(5, k=2.0)
    LocalResponseNorm(5, alpha=0.0001, beta=0.75, k=2.0)
    """

    __constants__ = ["size", "alpha", "beta", "k"]

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size = check_positive_int(size, "size")
        for name, value in (("alpha", alpha), ("beta", beta), ("k", k)):
            F._check_real(value, name)
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return "{size}, alpha={alpha}, beta={beta}, k={k}".format(**self.__dict__)


class RMSNorm(Module):
    r"""Root-mean-square normalization over the trailing ``normalized_shape`` dims.

    .. math::

        y = \frac{x}{\sqrt{\mathrm{mean}(x^2) + \epsilon}} \odot \gamma

    Parameters
    ----------
    normalized_shape : int or tuple of int
    eps : float or None, default=None
        ``None`` uses ``torch.finfo`` epsilon of the computation dtype.
    elementwise_affine : bool, default=True
        Learnable ``weight`` (ones); RMS norm has no bias.
    device, dtype : optional

    Shape
    -----
    input ``(*, *normalized_shape)``; output the same.

    Raises
    ------
    ValueError
        Input whose trailing dims are not ``normalized_shape``; ``eps <= 0``.

    Examples
    --------
    >>> RMSNorm(8)
    RMSNorm((8,), eps=None, elementwise_affine=True)
    """

    __constants__ = ["normalized_shape", "eps", "elementwise_affine"]

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None):
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__()
        self.normalized_shape = _check_shape_arg(normalized_shape)
        self.eps = None if eps is None else check_positive_number(eps, "eps")
        self.elementwise_affine = elementwise_affine
        if self.elementwise_affine:
            self.weight = Parameter(torch.empty(self.normalized_shape, **factory_kwargs))
        else:
            self.register_parameter("weight", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weight 1."""
        if self.elementwise_affine:
            init.ones_(self.weight)

    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return "{normalized_shape}, eps={eps}, elementwise_affine={elementwise_affine}".format(**self.__dict__)
