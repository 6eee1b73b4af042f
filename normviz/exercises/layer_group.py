"""Exercises of notebooks 03 and 04: layer normalization, channels-last layer norm, group and instance norm.

Each reference below is the short version a learner writes with torch tensors (its source is what ``reveal``
prints); the package's full versions are :func:`normviz.functional.layer_norm`,
:func:`normviz.functional.layer_norm_channels_last`, :func:`normviz.functional.group_norm` and
:func:`normviz.functional.instance_norm`, and the tests check the references against PyTorch itself.

================================  ==========================================================================
exercise                          the learner writes
================================  ==========================================================================
``layer_norm_forward``            ``f(x, gamma, beta, eps=1e-5)``: normalize over the last dim (``(N, D)``
                                  or ``(N, T, D)``), as ``nn.LayerNorm(D)``
``channels_last_layer_norm``      ``f(x, gamma, beta, eps=1e-5)`` for ``x`` of shape ``(N, C, H, W)``:
                                  normalize over the channels at each position, as ConvNeXt does
``group_norm_forward``            ``f(x, num_groups, gamma, beta, eps=1e-5)`` for ``(N, C, *spatial)``,
                                  as ``F.group_norm``
``instance_norm_forward``         ``f(x, eps=1e-5)`` for ``(N, C, H, W)``: ``nn.InstanceNorm2d``'s defaults
                                  (no affine), i.e. group norm with one channel per group
================================  ==========================================================================

Examples
--------
>>> from normviz.exercises import check
>>> check("group_norm_forward", group_norm_forward).passed
True
"""

from __future__ import annotations

import torch

from normviz.exercises._core import Case, Exercise, WrongAnswer, register

__all__ = [
    "layer_norm_forward",
    "channels_last_layer_norm",
    "group_norm_forward",
    "instance_norm_forward",
]


# ----------------------------------------------------------------------------------------------------------
# Reference solutions (what reveal() prints)
# ----------------------------------------------------------------------------------------------------------
def layer_norm_forward(x, gamma, beta, eps=1e-5):
    # One mean and variance per sample (and per time step for (N, T, D)), over the D features: the last dim.
    mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
    var = x.var(dim=-1, unbiased=False, keepdim=True)  # biased variance, as the paper and PyTorch use
    x_hat = (x - mean) / torch.sqrt(var + eps)  # eps keeps a constant sample finite
    return gamma * x_hat + beta  # gamma, beta of shape (D,): one per feature, broadcast on the last dim


def channels_last_layer_norm(x, gamma, beta, eps=1e-5):
    # ConvNeXt's LayerNorm: statistics over the C channels of each sample at each position (h, w).
    mean = x.mean(dim=1, keepdim=True)  # (N, 1, H, W)
    var = x.var(dim=1, unbiased=False, keepdim=True)  # (N, 1, H, W)
    x_hat = (x - mean) / torch.sqrt(var + eps)  # (N, C, H, W)
    return gamma.view(1, -1, 1, 1) * x_hat + beta.view(1, -1, 1, 1)  # (C,) -> (1, C, 1, 1)


def group_norm_forward(x, num_groups, gamma, beta, eps=1e-5):
    n, c = x.shape[:2]
    groups = x.reshape(n, num_groups, -1)  # (N, G, C//G * H * W): consecutive channels form a group
    mean = groups.mean(dim=-1, keepdim=True)  # (N, G, 1)
    var = groups.var(dim=-1, unbiased=False, keepdim=True)  # (N, G, 1), biased
    x_hat = ((groups - mean) / torch.sqrt(var + eps)).reshape(x.shape)  # back to (N, C, *spatial)
    shape = (1, c) + (1,) * (x.dim() - 2)  # (C,) -> (1, C, 1, ...): the affine is per channel, not per group
    return gamma.view(shape) * x_hat + beta.view(shape)


def instance_norm_forward(x, eps=1e-5):
    # Group norm with num_groups = C: one mean and variance per sample and channel, over the positions.
    mean = x.mean(dim=(2, 3), keepdim=True)  # (N, C, 1, 1)
    var = x.var(dim=(2, 3), unbiased=False, keepdim=True)  # (N, C, 1, 1)
    return (x - mean) / torch.sqrt(var + eps)  # InstanceNorm2d defaults to affine=False: no gamma, beta


# ----------------------------------------------------------------------------------------------------------
# Typical wrong answers (each a function with the learner's signature)
# ----------------------------------------------------------------------------------------------------------
def _normalize(x, dims, eps, unbiased=False):
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, unbiased=unbiased, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)


def _channel_affine(x_hat, gamma, beta):
    shape = (1, -1) + (1,) * (x_hat.dim() - 2)  # (C,) -> (1, C, 1, ...) to broadcast on dim 1
    return gamma.view(shape) * x_hat + beta.view(shape)


def _has_nan_where_expected_finite(got, expected, case) -> bool:
    got, expected = torch.as_tensor(got), torch.as_tensor(expected)
    return bool(torch.isnan(got).any()) and not bool(torch.isnan(expected).any())


# layer norm
def _ln_over_batch(x, gamma, beta, eps=1e-5):
    return gamma * _normalize(x, 0, eps) + beta


def _ln_over_all_but_batch(x, gamma, beta, eps=1e-5):
    return gamma * _normalize(x, tuple(range(1, x.dim())), eps) + beta


def _ln_unbiased(x, gamma, beta, eps=1e-5):
    return gamma * _normalize(x, -1, eps, unbiased=True) + beta


def _ln_eps_outside(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    std = x.var(dim=-1, unbiased=False, keepdim=True).sqrt()
    return gamma * (x - mean) / (std + eps) + beta


def _ln_no_affine(x, gamma, beta, eps=1e-5):
    return _normalize(x, -1, eps)


def _ln_swapped_affine(x, gamma, beta, eps=1e-5):
    return beta * _normalize(x, -1, eps) + gamma


def _ln_rms(x, gamma, beta, eps=1e-5):
    return gamma * x / torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) + beta


def _ln_no_eps(x, gamma, beta, eps=1e-5):
    return layer_norm_forward(x, gamma, beta, eps=0.0)


# channels-last layer norm
def _cl_no_eps(x, gamma, beta, eps=1e-5):
    return channels_last_layer_norm(x, gamma, beta, eps=0.0)


def _cl_over_chw(x, gamma, beta, eps=1e-5):  # GroupNorm(1, C)'s set of elements
    return _channel_affine(_normalize(x, (1, 2, 3), eps), gamma, beta)


def _cl_over_last_dim(x, gamma, beta, eps=1e-5):  # nn.LayerNorm(W) applied to a channels-first tensor
    return _channel_affine(_normalize(x, -1, eps), gamma, beta)


def _cl_affine_on_last_dim(x, gamma, beta, eps=1e-5):  # gamma (C,) broadcast against W instead of C
    return gamma * _normalize(x, 1, eps) + beta


def _cl_unbiased(x, gamma, beta, eps=1e-5):
    return _channel_affine(_normalize(x, 1, eps, unbiased=True), gamma, beta)


def _cl_no_affine(x, gamma, beta, eps=1e-5):
    return _normalize(x, 1, eps)


# group norm
def _gn_no_eps(x, num_groups, gamma, beta, eps=1e-5):
    return group_norm_forward(x, num_groups, gamma, beta, eps=0.0)


def _gn_strided_groups(x, num_groups, gamma, beta, eps=1e-5):
    n, c = x.shape[:2]
    # (N, C//G, G, ...): channel c lands in group c % G instead of c // (C//G)
    strided = x.reshape(n, c // num_groups, num_groups, -1).transpose(1, 2)  # (N, G, C//G, rest)
    x_hat = _normalize(strided, (2, 3), eps).transpose(1, 2).reshape(x.shape)
    return _channel_affine(x_hat, gamma, beta)


def _gn_with_batch(x, num_groups, gamma, beta, eps=1e-5):
    groups = x.reshape(x.shape[0], num_groups, -1)  # (N, G, rest)
    return _channel_affine(_normalize(groups, (0, 2), eps).reshape(x.shape), gamma, beta)


def _gn_per_channel(x, num_groups, gamma, beta, eps=1e-5):
    return _channel_affine(_normalize(x, tuple(range(2, x.dim())), eps), gamma, beta)


def _gn_whole_sample(x, num_groups, gamma, beta, eps=1e-5):
    return _channel_affine(_normalize(x, tuple(range(1, x.dim())), eps), gamma, beta)


def _gn_unbiased(x, num_groups, gamma, beta, eps=1e-5):
    groups = x.reshape(x.shape[0], num_groups, -1)
    return _channel_affine(_normalize(groups, -1, eps, unbiased=True).reshape(x.shape), gamma, beta)


def _gn_no_affine(x, num_groups, gamma, beta, eps=1e-5):
    return _normalize(x.reshape(x.shape[0], num_groups, -1), -1, eps).reshape(x.shape)


def _gn_affine_per_group(x, num_groups, gamma, beta, eps=1e-5):
    # the first G entries of gamma and beta used once per group, instead of one per channel
    groups = _normalize(x.reshape(x.shape[0], num_groups, -1), -1, eps)  # (N, G, rest)
    out = gamma[:num_groups].view(1, -1, 1) * groups + beta[:num_groups].view(1, -1, 1)
    return out.reshape(x.shape)


# instance norm
def _in_no_eps(x, eps=1e-5):
    return instance_norm_forward(x, eps=0.0)


def _in_over_batch(x, eps=1e-5):
    return _normalize(x, (0, 2, 3), eps)


def _in_whole_sample(x, eps=1e-5):
    return _normalize(x, (1, 2, 3), eps)


def _in_unbiased(x, eps=1e-5):
    return _normalize(x, (2, 3), eps, unbiased=True)


def _in_last_dim_only(x, eps=1e-5):
    return _normalize(x, -1, eps)


# ----------------------------------------------------------------------------------------------------------
# Inputs: every sample and channel on its own offset and scale, so that any mix-up of dims shows
# ----------------------------------------------------------------------------------------------------------
def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _spread(shape, generator, dims=(0, 1)):
    """Random values whose mean and scale differ along ``dims``, in float64."""
    x = torch.randn(shape, generator=generator, dtype=torch.float64)
    view = [s if d in dims else 1 for d, s in enumerate(shape)]
    offset = 3.0 * torch.randn(view, generator=generator, dtype=torch.float64)
    scale = torch.exp(torch.randn(view, generator=generator, dtype=torch.float64))
    return offset + scale * x


def _affine_params(size, generator):
    gamma = 1.0 + 0.5 * torch.randn(size, generator=generator, dtype=torch.float64)
    beta = 0.5 * torch.randn(size, generator=generator, dtype=torch.float64)
    return gamma, beta


def _layer_norm_cases() -> list[Case]:
    g = _generator(0)
    cases = [Case("a batch of 4 samples with 6 features", _spread((4, 6), g), *_affine_params(6, g))]
    cases.append(Case("a single sample (batch size 1)", _spread((1, 6), g), *_affine_params(6, g)))
    x = _spread((3, 5), g)
    x[1] = 2.5  # every feature of sample 1 equal: zero variance
    cases.append(Case("a sample whose features are all equal", x, *_affine_params(5, g)))
    cases.append(Case("a sequence batch of shape (N, T, D) = (2, 3, 4)", _spread((2, 3, 4), g, dims=(0, 1)),
                      *_affine_params(4, g)))
    return cases


def _channels_last_cases() -> list[Case]:
    g = _generator(1)
    return [
        # W == C in both, so that a gamma broadcast against W instead of C gives a wrong answer, not an error
        Case("feature maps of shape (2, 4, 3, 4)", _spread((2, 4, 3, 4), g, dims=(0, 1, 3)), *_affine_params(4, g)),
        Case("a single image of shape (1, 3, 2, 3)", _spread((1, 3, 2, 3), g, dims=(1, 2)), *_affine_params(3, g)),
    ]


def _group_norm_cases() -> list[Case]:
    g = _generator(2)
    return [
        Case("shape (2, 6, 3, 3) with 3 groups", _spread((2, 6, 3, 3), g), 3, *_affine_params(6, g)),
        Case("shape (2, 8, 2, 2) with 2 groups", _spread((2, 8, 2, 2), g), 2, *_affine_params(8, g)),
        Case("a single image (batch size 1), 4 channels in 2 groups", _spread((1, 4, 3, 3), g), 2,
             *_affine_params(4, g)),
        Case("num_groups = 1 (layer norm over (C, H, W))", _spread((2, 4, 2, 3), g), 1, *_affine_params(4, g)),
        Case("num_groups = C (instance norm)", _spread((2, 4, 2, 3), g), 4, *_affine_params(4, g)),
        Case("a sequence input of shape (N, C, L) = (2, 6, 5) with 2 groups", _spread((2, 6, 5), g), 2,
             *_affine_params(6, g)),
    ]


def _instance_norm_cases() -> list[Case]:
    g = _generator(3)
    x = _spread((2, 3, 4, 4), g)
    x[0, 1] = -1.0  # one constant channel: zero variance
    return [
        Case("feature maps of shape (3, 4, 5, 5)", _spread((3, 4, 5, 5), g)),
        Case("a single image of shape (1, 3, 4, 6)", _spread((1, 3, 4, 6), g)),
        Case("a channel that is constant", x),
    ]


# ----------------------------------------------------------------------------------------------------------
# Registration
# ----------------------------------------------------------------------------------------------------------
_NAN = WrongAnswer(
    "your output has NaN where the reference is finite: a constant sample has variance 0, so add eps inside "
    "the square root, torch.sqrt(var + eps)",
    predicate=_has_nan_where_expected_finite,
)


def _no_eps(implementation) -> WrongAnswer:
    return WrongAnswer(
        "you left out eps: add it to the variance inside the square root, torch.sqrt(var + eps); it changes "
        "every value slightly and keeps a constant input (variance 0) from giving NaN",
        implementation=implementation,
    )

register(
    Exercise(
        name="layer_norm_forward",
        reference=layer_norm_forward,
        cases=_layer_norm_cases,
        wrong_answers=[
            _no_eps(_ln_no_eps),
            WrongAnswer(
                "you normalized each feature over the batch (dim=0): that is batch norm. Layer norm uses each "
                "sample's own features: reduce over dim=-1 with keepdim=True",
                implementation=_ln_over_batch,
            ),
            WrongAnswer(
                "you reduced over every dim but the batch; on (N, T, D) input that mixes the time steps. "
                "nn.LayerNorm(D) normalizes over the last dim only: use dim=-1",
                implementation=_ln_over_all_but_batch,
            ),
            WrongAnswer(
                "you used the unbiased variance (divides by D - 1); normalization uses the biased one: "
                "x.var(dim=-1, unbiased=False, keepdim=True)",
                implementation=_ln_unbiased,
            ),
            WrongAnswer(
                "you added eps to the standard deviation; PyTorch adds it to the variance, inside the square "
                "root: torch.sqrt(var + eps)",
                implementation=_ln_eps_outside,
            ),
            WrongAnswer(
                "you divided by the root mean square without subtracting the mean: that is RMS norm. Layer "
                "norm subtracts the mean first",
                implementation=_ln_rms,
            ),
            WrongAnswer("you forgot the affine step: return gamma * x_hat + beta", implementation=_ln_no_affine),
            WrongAnswer("you swapped gamma and beta: gamma multiplies, beta is added",
                        implementation=_ln_swapped_affine),
            _NAN,
        ],
        hint="mean and var over dim=-1 with keepdim=True, so they broadcast back against x",
        rtol=1e-6,
        atol=1e-8,
    )
)

register(
    Exercise(
        name="channels_last_layer_norm",
        reference=channels_last_layer_norm,
        cases=_channels_last_cases,
        wrong_answers=[
            _no_eps(_cl_no_eps),
            WrongAnswer(
                "you normalized over (C, H, W): that is GroupNorm(1, C), one mean per image. ConvNeXt's layer "
                "norm takes one mean per position, over the channels only: reduce over dim=1",
                implementation=_cl_over_chw,
            ),
            WrongAnswer(
                "you normalized over the last dim (W), as nn.LayerNorm(W) would on a channels-first tensor; "
                "the channels are dim 1 here: reduce over dim=1 (or permute to channels-last first)",
                implementation=_cl_over_last_dim,
            ),
            WrongAnswer(
                "the statistics are right but gamma of shape (C,) broadcast against the last dim (W); reshape "
                "it to (1, C, 1, 1) so it lines up with the channels",
                implementation=_cl_affine_on_last_dim,
            ),
            WrongAnswer("you used the unbiased variance; normalization uses the biased one (unbiased=False)",
                        implementation=_cl_unbiased),
            WrongAnswer("you forgot the affine step: gamma * x_hat + beta, each reshaped to (1, C, 1, 1)",
                        implementation=_cl_no_affine),
            _NAN,
        ],
        hint="x.mean(dim=1, keepdim=True) has shape (N, 1, H, W): one mean per sample and position",
        rtol=1e-6,
        atol=1e-8,
    )
)

register(
    Exercise(
        name="group_norm_forward",
        reference=group_norm_forward,
        cases=_group_norm_cases,
        wrong_answers=[
            _no_eps(_gn_no_eps),
            WrongAnswer(
                "your groups are strided: reshaping to (N, C//G, G, ...) puts channel c in group c % G. "
                "PyTorch groups consecutive channels: reshape to (N, G, -1)",
                implementation=_gn_strided_groups,
            ),
            WrongAnswer(
                "you also averaged over the batch (dim 0): group norm's statistics belong to one sample, which "
                "is why it works at batch size 1; reduce over the group's channels and positions only",
                implementation=_gn_with_batch,
            ),
            WrongAnswer(
                "you normalized each channel on its own (instance norm) and ignored num_groups; reshape to "
                "(N, G, -1) so the channels of a group share one mean and variance",
                implementation=_gn_per_channel,
            ),
            WrongAnswer(
                "you normalized each sample over all its channels (layer norm, num_groups=1) and ignored "
                "num_groups; reshape to (N, G, -1) first",
                implementation=_gn_whole_sample,
            ),
            WrongAnswer("you used the unbiased variance; normalization uses the biased one (unbiased=False)",
                        implementation=_gn_unbiased),
            WrongAnswer(
                "the affine step uses one gamma and beta per group; group norm has one per channel: reshape "
                "x_hat back to (N, C, ...) and multiply by gamma.view(1, C, 1, 1)",
                implementation=_gn_affine_per_group,
            ),
            WrongAnswer("you forgot the affine step: gamma * x_hat + beta, each reshaped to (1, C, 1, ...)",
                        implementation=_gn_no_affine),
            _NAN,
        ],
        hint="x.reshape(N, num_groups, -1) puts each group's channels and positions in the last dim",
        rtol=1e-6,
        atol=1e-8,
    )
)

register(
    Exercise(
        name="instance_norm_forward",
        reference=instance_norm_forward,
        cases=_instance_norm_cases,
        wrong_answers=[
            _no_eps(_in_no_eps),
            WrongAnswer(
                "you averaged over the batch too (dims 0, 2, 3): that is BatchNorm2d. Instance norm keeps "
                "each sample's channels apart: reduce over dims (2, 3)",
                implementation=_in_over_batch,
            ),
            WrongAnswer(
                "you normalized each sample over all its channels (dims 1, 2, 3): that is layer norm, "
                "GroupNorm(1, C); instance norm is GroupNorm(C, C), one mean per channel: dims (2, 3)",
                implementation=_in_whole_sample,
            ),
            WrongAnswer(
                "you reduced over the last dim only (each row of an image); reduce over both spatial dims, "
                "dim=(2, 3)",
                implementation=_in_last_dim_only,
            ),
            WrongAnswer("you used the unbiased variance; normalization uses the biased one (unbiased=False)",
                        implementation=_in_unbiased),
            _NAN,
        ],
        hint="x.mean(dim=(2, 3), keepdim=True) has shape (N, C, 1, 1): one mean per sample and channel",
        rtol=1e-6,
        atol=1e-8,
    )
)
