"""Folding batch norm into the preceding convolution or linear layer, for inference.

In eval mode, batch norm is a fixed per-channel affine map of its input,
``y = gamma * (z - running_mean) / sqrt(running_var + eps) + beta``, and the layer before it is affine too,
``z = W x + b``. Two affine maps compose into one, so the pair can be replaced by a single layer with

.. math::
    s = \\frac{\\gamma}{\\sqrt{\\sigma^2_{\\text{running}} + \\epsilon}}, \\qquad
    W' = s \\, W \\ \\text{(output channel } c \\text{ scaled by } s_c), \\qquad
    b' = s \\, (b - \\mu_{\\text{running}}) + \\beta

which saves one pass over the activations at inference. Forgetting the conv's own bias ``b`` (learners often
do, because a conv followed by batch norm usually has ``bias=False``) shifts every output by ``s * b``.

The fold is exact only in **eval** mode: in training mode batch norm divides by the statistics of the current
batch, which a fixed layer cannot know.

PyTorch's own version is ``torch.nn.utils.fusion.fuse_conv_bn_eval``; the tests check this one against it.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from normviz._validation import _type_name, check_optional_tensor, check_positive_number, check_tensor

__all__ = ["fold_batch_norm_params", "fold_batch_norm", "fold_batch_norms"]

_FOLDABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def fold_batch_norm_params(
    weight,
    bias,
    running_mean,
    running_var,
    bn_weight=None,
    bn_bias=None,
    eps=1e-5,
):
    r"""The weight and bias of one layer equal to ``layer`` followed by batch norm in eval mode.

    .. math::
        s = \gamma / \sqrt{\text{running\_var} + \epsilon}, \quad
        W'_{c} = s_c W_{c}, \quad b'_c = s_c (b_c - \text{running\_mean}_c) + \beta_c

    Parameters
    ----------
    weight : torch.Tensor
        The layer's weight, output channels first: ``(C_out, C_in)`` for a linear layer,
        ``(C_out, C_in / groups, *kernel)`` for a convolution.
    bias : torch.Tensor or None
        The layer's bias ``(C_out,)``; ``None`` for a layer built with ``bias=False`` (treated as zeros).
    running_mean, running_var : torch.Tensor
        Batch norm's running statistics, ``(C_out,)``.
    bn_weight, bn_bias : torch.Tensor or None, default=None
        Batch norm's gamma and beta, ``(C_out,)``; ``None`` for ``affine=False`` (gamma 1, beta 0).
    eps : float, default=1e-5
        Batch norm's ``eps``.

    Returns
    -------
    weight, bias : torch.Tensor
        The folded weight (same shape as ``weight``) and bias ``(C_out,)`` (always present).

    Raises
    ------
    TypeError
        If a tensor argument is not a floating-point tensor.
    ValueError
        If the per-channel tensors do not have shape ``(C_out,)``.

    Examples
    --------
    >>> conv, bn = nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3).eval()
    >>> w, b = fold_batch_norm_params(conv.weight, conv.bias, bn.running_mean, bn.running_var,
    ...                               bn.weight, bn.bias, bn.eps)
    >>> x = torch.randn(1, 2, 5, 5)
    >>> torch.allclose(torch.nn.functional.conv2d(x, w, b), bn(conv(x)), atol=1e-6)
    True
    """
    check_tensor(weight, "weight")
    check_positive_number(eps, "eps")
    if weight.dim() < 2:
        raise ValueError(
            f"weight must have output channels first and at least 2 dims, got shape {tuple(weight.shape)}"
        )
    C = weight.shape[0]
    for name, value in (("running_mean", running_mean), ("running_var", running_var)):
        if value is None:
            raise ValueError(
                f"{name} must be a tensor of shape ({C},), got None; folding needs the running statistics "
                "of a batch norm built with track_running_stats=True"
            )
        check_tensor(value, name)
        check_optional_tensor(value, name, (C,))
    check_optional_tensor(bias, "bias", (C,))
    check_optional_tensor(bn_weight, "bn_weight", (C,))
    check_optional_tensor(bn_bias, "bn_bias", (C,))
    with torch.no_grad():
        scale = torch.rsqrt(running_var + eps)  # (C,)
        if bn_weight is not None:
            scale = scale * bn_weight
        shift = -running_mean * scale if bias is None else (bias - running_mean) * scale
        if bn_bias is not None:
            shift = shift + bn_bias
        new_weight = weight * scale.reshape((C,) + (1,) * (weight.dim() - 1))  # scale each output channel
    return new_weight.to(weight.dtype), shift.to(weight.dtype)


def _is_batch_norm(module) -> bool:
    return isinstance(module, nn.modules.batchnorm._BatchNorm) or (
        type(module).__name__.startswith("BatchNorm") and hasattr(module, "running_mean")
    )


def fold_batch_norm(layer: nn.Module, bn: nn.Module) -> nn.Module:
    """A new layer equal to ``bn(layer(x))`` with ``bn`` in eval mode; ``layer`` and ``bn`` are left unchanged.

    Parameters
    ----------
    layer : torch.nn.Linear or torch.nn.Conv1d/2d/3d
        The layer before batch norm, with or without a bias (any ``groups``, ``stride``, ``padding``...).
    bn : torch.nn.BatchNorm1d/2d/3d (or a ``normviz.nn`` batch norm)
        Must track running statistics and have ``num_features == out_features / out_channels``.

    Returns
    -------
    torch.nn.Module
        A copy of ``layer`` (same class and hyper-parameters) with the folded weight and a bias, in eval mode.

    Raises
    ------
    TypeError
        If ``layer`` is not a linear or (non-transposed) convolution, or ``bn`` not a batch norm.
    ValueError
        If ``bn`` has no running statistics, or the channel counts differ.

    Notes
    -----
    Only eval mode is reproduced. In training mode, ``bn`` normalizes with the current batch's statistics, so
    ``bn(layer(x))`` and the folded layer differ (the notebook 07_beyond prints by how much).

    Examples
    --------
    >>> conv, bn = nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4)
    >>> _ = bn.train()(conv(torch.randn(8, 3, 6, 6)))  # give bn non-trivial running statistics
    >>> folded = fold_batch_norm(conv, bn.eval())
    >>> x = torch.randn(2, 3, 6, 6)
    >>> (folded(x) - bn(conv(x))).abs().max().item() < 1e-5
    True
    """
    if not isinstance(layer, _FOLDABLE):
        raise TypeError(
            f"layer must be torch.nn.Linear or Conv1d/Conv2d/Conv3d, got {_type_name(layer)}; transposed "
            "convolutions keep output channels in dim 1 of their weight and are not supported"
        )
    if not _is_batch_norm(bn):
        raise TypeError(f"bn must be a batch-norm module such as torch.nn.BatchNorm2d, got {_type_name(bn)}")
    out = layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels
    if bn.num_features != out:
        raise ValueError(
            f"bn.num_features ({bn.num_features}) must equal the layer's output channels ({out}); "
            "is bn the layer that directly follows this one?"
        )
    if getattr(bn, "running_mean", None) is None:
        raise ValueError(
            "bn has no running statistics (track_running_stats=False): in eval mode it still normalizes with "
            "the batch's statistics, which no fixed layer can reproduce"
        )
    weight, bias = fold_batch_norm_params(
        layer.weight, layer.bias, bn.running_mean, bn.running_var, bn.weight, bn.bias, bn.eps
    )
    folded = copy.deepcopy(layer)
    if folded.bias is None:
        # A layer built with bias=False gets one: the fold always produces a shift.
        folded.bias = nn.Parameter(torch.empty(out, dtype=weight.dtype, device=weight.device))
    with torch.no_grad():
        folded.weight.copy_(weight)
        folded.bias.copy_(bias)
    return folded.eval()


def fold_batch_norms(model: nn.Module) -> nn.Module:
    """A copy of ``model`` for inference in which every batch norm that directly follows a linear or conv
    layer inside an ``nn.Sequential`` is folded into it (and replaced by ``nn.Identity``).

    Batch norms that do not follow a foldable layer (for example, after an activation) are kept. The copy is in
    eval mode; ``model`` is not changed.

    Parameters
    ----------
    model : torch.nn.Module

    Returns
    -------
    torch.nn.Module

    Examples
    --------
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(144, 10))
    >>> folded = fold_batch_norms(net)
    >>> [type(m).__name__ for m in folded]
    ['Conv2d', 'Identity', 'ReLU', 'Flatten', 'Linear']
    >>> x = torch.randn(2, 1, 8, 8)
    >>> torch.allclose(folded(x), net.eval()(x), atol=1e-5)
    True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {_type_name(model)}")
    model = copy.deepcopy(model).eval()
    _fold_in_place(model)
    return model


def _fold_in_place(module: nn.Module) -> None:
    if isinstance(module, nn.Sequential):
        names = list(module._modules)
        for first, second in zip(names[:-1], names[1:], strict=True):
            layer, bn = module._modules[first], module._modules[second]
            if (
                isinstance(layer, _FOLDABLE)
                and _is_batch_norm(bn)
                and getattr(bn, "running_mean", None) is not None
            ):
                module._modules[first] = fold_batch_norm(layer, bn)
                module._modules[second] = nn.Identity()
    for child in module.children():
        _fold_in_place(child)
