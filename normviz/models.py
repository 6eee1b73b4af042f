"""Small networks with a pluggable normalization layer, built from the from-scratch layers of ``normviz.nn``.

Two models for the 8x8 digits:

* :func:`make_mlp`: ``depth`` hidden blocks ``Linear -> norm -> activation``, then a ``Linear`` classifier.
  Normalizing the pre-activation (before the non-linearity) follows Ioffe & Szegedy (2015), Section 3.2.
* :func:`make_cnn`: two blocks ``Conv3x3 -> norm -> activation -> MaxPool2``, then a ``Linear`` classifier.

:func:`make_norm` maps a name of :data:`NORMS` to a layer. The layers come from :data:`LAYERS_MODULE`
(``normviz.nn``, whose classes have ``torch.nn``'s names and signatures), so the from-scratch layers are what
trains in every experiment. Blocks are named ``fc1``/``conv1``, ``norm1``, ``act1``, ... so that
:mod:`normviz.training` can find each activation by name.

Which normalization means what here
-----------------------------------
=================  ===========================================  =============================================
norm               MLP features ``(N, C)``                      CNN feature maps ``(N, C, H, W)``
=================  ===========================================  =============================================
``"none"``         identity                                     identity
``"batch"``        ``BatchNorm1d(C)``: per feature over N       ``BatchNorm2d(C)``: per channel over (N, H, W)
``"layer"``        ``LayerNorm(C)``: per sample over C          ``GroupNorm(1, C)``: per sample over (C, H, W),
                                                                 the "LN" of the GN paper (per-channel affine)
``"group"``        ``GroupNorm(G, C)``: per sample, per group   ``GroupNorm(G, C)``: per sample over
                   of C/G features                              (C/G, H, W)
``"instance"``     ValueError: a sample's single feature value  ``InstanceNorm2d(C, affine=True)``: per sample
                   has no spread to normalize                   and channel over (H, W)
``"rms"``          ``RMSNorm(C)``: per sample, no centring      ``RMSNorm(C)`` over channels at each position
                                                                 (channels-last, as in modern convnets)
``"local_response"`` ``LocalResponseNorm`` across neighbouring  ``LocalResponseNorm`` across neighbouring
                   features, each treated as a channel of        channels at the same position
                   length 1
=================  ===========================================  =============================================

Local response normalization uses AlexNet's constants in PyTorch's convention (which divides alpha by the
window size): ``LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0)``.
"""

from __future__ import annotations

import importlib
import math
from collections import OrderedDict

import torch
from torch import nn

from normviz._validation import check_positive_int, check_positive_number

__all__ = [
    "NORMS",
    "ACTIVATIONS",
    "LAYERS_MODULE",
    "LRN_ALEXNET",
    "default_num_groups",
    "make_norm",
    "make_mlp",
    "make_cnn",
    "hidden_activations",
]

#: Names accepted by :func:`make_norm`, :func:`make_mlp` and :func:`make_cnn`.
NORMS = ("none", "batch", "layer", "group", "instance", "rms", "local_response")

#: Non-linearities accepted by :func:`make_mlp` and :func:`make_cnn`.
ACTIVATIONS = ("relu", "tanh", "sigmoid")

#: The module the normalization layers come from: the from-scratch layers. Changing this one name switches
#: every experiment (and invalidates the shipped cache, which records it).
LAYERS_MODULE = "normviz.nn"

#: AlexNet's local response normalization constants in PyTorch's convention (alpha is divided by ``size``).
LRN_ALEXNET = {"size": 5, "alpha": 5e-4, "beta": 0.75, "k": 2.0}


def _layers():
    """The module that provides BatchNorm1d/2d, LayerNorm, GroupNorm, InstanceNorm2d, LocalResponseNorm, RMSNorm."""
    return importlib.import_module(LAYERS_MODULE)


class _ChannelsLast(nn.Module):
    """Apply a last-dimension layer to ``(N, C, H, W)`` by moving channels last and back."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
        return self.layer(x).permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)


class _FeaturesAsChannels(nn.Module):
    """Apply a channel-wise layer that needs ``(N, C, L)`` to MLP features ``(N, C)`` (one position)."""

    def __init__(self, layer: nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x.unsqueeze(-1)).squeeze(-1)  # (N, C) -> (N, C, 1) -> (N, C)


def _divisors(n: int) -> tuple[int, ...]:
    return tuple(d for d in range(1, n + 1) if n % d == 0)


def default_num_groups(num_features: int) -> int:
    """The number of groups used when ``num_groups`` is None: the largest divisor of C that is <= 8.

    The GN paper's default is 32 groups for ResNets of 64 to 2,048 channels; our layers have 16 to 128, and
    8 groups keep 2 to 16 channels per group.

    Examples
    --------
    >>> default_num_groups(128), default_num_groups(32), default_num_groups(12), default_num_groups(7)
    (8, 8, 6, 7)
    """
    num_features = check_positive_int(num_features, "num_features")
    return max(d for d in _divisors(num_features) if d <= 8)


def _check_choice(value, name: str, choices) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, one of {choices}, got {type(value).__name__} ({value!r})")
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def make_norm(norm: str, num_features: int, *, spatial: bool, num_groups: int | None = None) -> nn.Module:
    """The normalization layer called ``norm`` for ``num_features`` channels (see the module's table).

    Parameters
    ----------
    norm : str
        One of :data:`NORMS`.
    num_features : int
        C, the number of features (MLP) or channels (CNN).
    spatial : bool
        True for ``(N, C, H, W)`` feature maps, False for ``(N, C)`` feature vectors.
    num_groups : int, optional
        G for ``norm="group"``; must divide ``num_features``. Default: :func:`default_num_groups`.
        Ignored by the other norms.

    Returns
    -------
    torch.nn.Module
        A layer from :data:`LAYERS_MODULE` (``nn.Identity`` for ``"none"``), with learnable affine
        parameters (also for instance norm, whose ``torch.nn`` default is ``affine=False``), so that every norm
        has the same freedom to undo its normalization.

    Raises
    ------
    ValueError
        For an unknown ``norm``, a ``num_groups`` that does not divide ``num_features``, or
        ``norm="instance"`` with ``spatial=False``.

    Examples
    --------
    >>> layer = make_norm("group", 32, spatial=True, num_groups=4)
    >>> type(layer).__module__, type(layer).__name__, layer.num_groups
    ('normviz.nn', 'GroupNorm', 4)
    >>> type(make_norm("layer", 32, spatial=True)).__name__  # LN over (C, H, W) = GroupNorm with one group
    'GroupNorm'
    """
    _check_choice(norm, "norm", NORMS)
    num_features = check_positive_int(num_features, "num_features")
    if not isinstance(spatial, bool):
        raise TypeError(f"spatial must be a bool, got {type(spatial).__name__}; pass spatial=True for (N, C, H, W)")
    L = _layers()
    if norm == "none":
        return nn.Identity()
    if norm == "batch":
        return L.BatchNorm2d(num_features) if spatial else L.BatchNorm1d(num_features)
    if norm == "layer":
        return L.GroupNorm(1, num_features) if spatial else L.LayerNorm(num_features)
    if norm == "group":
        groups = default_num_groups(num_features) if num_groups is None else check_positive_int(
            num_groups, "num_groups"
        )
        if num_features % groups:
            raise ValueError(
                f"num_features ({num_features}) must be divisible by num_groups ({groups}); "
                f"try num_groups in {_divisors(num_features)}"
            )
        return L.GroupNorm(groups, num_features)
    if norm == "instance":
        if not spatial:
            raise ValueError(
                "norm='instance' needs spatial feature maps (N, C, H, W): instance norm normalizes each channel "
                "of each sample over its positions, and an MLP feature (N, C) has one value per sample, so "
                "there is nothing to normalize over; use make_cnn(norm='instance'), or norm='layer' for an MLP"
            )
        return L.InstanceNorm2d(num_features, affine=True)
    if norm == "rms":
        return _ChannelsLast(L.RMSNorm(num_features)) if spatial else L.RMSNorm(num_features)
    # local_response
    lrn = L.LocalResponseNorm(**LRN_ALEXNET)
    return lrn if spatial else _FeaturesAsChannels(lrn)


def _make_activation(activation: str) -> nn.Module:
    return {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[activation]()


def _init_weights(model: nn.Module, init_scale: float | None) -> None:
    """With ``init_scale``, every Linear/Conv weight ~ N(0, init_scale^2) and biases 0 (the CS231n setup)."""
    if init_scale is None:
        return  # torch's default (Kaiming-uniform with a = sqrt(5))
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            with torch.no_grad():
                module.weight.normal_(0.0, init_scale)
                if module.bias is not None:
                    module.bias.zero_()


def _check_model_args(norm, activation, init_scale):
    _check_choice(norm, "norm", NORMS)
    _check_choice(activation, "activation", ACTIVATIONS)
    if init_scale is not None:
        check_positive_number(init_scale, "init_scale")
        if not math.isfinite(init_scale):
            raise ValueError(f"init_scale must be finite, got {init_scale!r}; try init_scale=0.1")


def make_mlp(
    norm: str = "none",
    *,
    depth: int = 2,
    width: int = 128,
    activation: str = "relu",
    num_groups: int | None = None,
    init_scale: float | None = None,
    in_features: int = 64,
    num_classes: int = 10,
) -> nn.Sequential:
    """A multilayer perceptron with ``depth`` hidden blocks ``Linear -> norm -> activation``.

    Parameters
    ----------
    norm : str, default="none"
        One of :data:`NORMS` except ``"instance"`` (see :func:`make_norm`).
    depth : int, default=2
        Number of hidden blocks. ``depth=2, width=128`` is the 64-128-128-10 network of the batch-size sweep.
    width : int, default=128
        Features per hidden layer.
    activation : {"relu", "tanh", "sigmoid"}, default="relu"
    num_groups : int, optional
        Groups for ``norm="group"``.
    init_scale : float, optional
        Standard deviation of every weight at initialization (biases start at 0), as in CS231n's
        weight-scale experiment. Default: torch's initialization.
    in_features : int, default=64
    num_classes : int, default=10

    Returns
    -------
    torch.nn.Sequential
        Modules named ``fc1, norm1, act1, ..., fc{depth}, norm{depth}, act{depth}, out``. Initialization draws
        from torch's global generator: seed it (``torch.manual_seed``) for a reproducible network.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> model = make_mlp("batch", depth=2, width=16)
    >>> list(dict(model.named_children()))
    ['fc1', 'norm1', 'act1', 'fc2', 'norm2', 'act2', 'out']
    >>> tuple(model(torch.randn(5, 64)).shape)
    (5, 10)
    """
    _check_model_args(norm, activation, init_scale)
    depth = check_positive_int(depth, "depth")
    width = check_positive_int(width, "width")
    in_features = check_positive_int(in_features, "in_features")
    num_classes = check_positive_int(num_classes, "num_classes")
    blocks: OrderedDict[str, nn.Module] = OrderedDict()
    features = in_features
    for i in range(1, depth + 1):
        blocks[f"fc{i}"] = nn.Linear(features, width)
        blocks[f"norm{i}"] = make_norm(norm, width, spatial=False, num_groups=num_groups)
        blocks[f"act{i}"] = _make_activation(activation)
        features = width
    blocks["out"] = nn.Linear(features, num_classes)
    model = nn.Sequential(blocks)
    _init_weights(model, init_scale)
    return model


def make_cnn(
    norm: str = "none",
    *,
    channels: tuple[int, ...] = (32, 32),
    activation: str = "relu",
    num_groups: int | None = None,
    init_scale: float | None = None,
    in_channels: int = 1,
    image_size: int = 8,
    num_classes: int = 10,
) -> nn.Sequential:
    """A small CNN for 8x8 digits: blocks ``Conv3x3 -> norm -> activation -> MaxPool2``, then ``Linear``.

    Parameters
    ----------
    norm : str, default="none"
        One of :data:`NORMS` (see :func:`make_norm` for what each means on feature maps).
    channels : tuple of int, default=(32, 32)
        Output channels of each block. Equal widths let ``num_groups`` run over all divisors of C, from 1
        (layer-norm-like) to C (instance-norm-like), in every layer.
    activation : {"relu", "tanh", "sigmoid"}, default="relu"
    num_groups : int, optional
        Groups for ``norm="group"``; must divide every entry of ``channels``.
    init_scale : float, optional
        Standard deviation of every weight at initialization (biases start at 0).
    in_channels : int, default=1
    image_size : int, default=8
        Height and width of the input; halved by each block's pooling, so it must be divisible by
        ``2 ** len(channels)``.
    num_classes : int, default=10

    Returns
    -------
    torch.nn.Sequential
        Modules named ``conv1, norm1, act1, pool1, ..., flatten, out``.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> model = make_cnn("group", channels=(8, 8), num_groups=2)
    >>> tuple(model(torch.randn(3, 1, 8, 8)).shape)
    (3, 10)
    """
    _check_model_args(norm, activation, init_scale)
    if isinstance(channels, int) or not all(isinstance(c, int) and c > 0 for c in channels) or not channels:
        raise TypeError(f"channels must be a non-empty tuple of positive ints, got {channels!r}; try (32, 32)")
    in_channels = check_positive_int(in_channels, "in_channels")
    image_size = check_positive_int(image_size, "image_size")
    num_classes = check_positive_int(num_classes, "num_classes")
    if image_size % (2 ** len(channels)):
        raise ValueError(
            f"image_size ({image_size}) must be divisible by 2 ** len(channels) = {2 ** len(channels)} "
            f"(each block halves it); use fewer blocks"
        )
    blocks: OrderedDict[str, nn.Module] = OrderedDict()
    previous = in_channels
    for i, out_channels in enumerate(channels, start=1):
        blocks[f"conv{i}"] = nn.Conv2d(previous, out_channels, kernel_size=3, padding=1)
        blocks[f"norm{i}"] = make_norm(norm, out_channels, spatial=True, num_groups=num_groups)
        blocks[f"act{i}"] = _make_activation(activation)
        blocks[f"pool{i}"] = nn.MaxPool2d(2)
        previous = out_channels
    side = image_size // 2 ** len(channels)
    blocks["flatten"] = nn.Flatten()  # (N, C, side, side) -> (N, C * side * side)
    blocks["out"] = nn.Linear(previous * side * side, num_classes)
    model = nn.Sequential(blocks)
    _init_weights(model, init_scale)
    return model


def hidden_activations(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The ``(name, module)`` of every activation block ``act1, act2, ...`` of a model built here, in order.

    Examples
    --------
    >>> [name for name, _ in hidden_activations(make_mlp(depth=3, width=8))]
    ['act1', 'act2', 'act3']
    """
    return [(name, module) for name, module in model.named_children() if name.startswith("act")]
