"""Exercises of notebook 02, batch normalization: the forward pass for ``(N, C)`` and ``(N, C, H, W)`` input,
the backward pass, and the running-statistics update.

Each reference below is the short version a learner writes with torch tensors (its source is what ``reveal``
prints); the package's full versions are :func:`normviz.functional.batch_norm` and
:func:`normviz.backward.batch_norm_backward`, and the tests check the references against PyTorch itself.

=================================  ========================================================================
exercise                           the learner writes
=================================  ========================================================================
``batch_norm_forward``             ``f(x, gamma, beta, eps=1e-5)`` for ``x`` of shape ``(N, C)``
``spatial_batch_norm_forward``     the same for ``x`` of shape ``(N, C, H, W)`` (``BatchNorm2d``)
``batch_norm_backward``            ``f(dout, x, gamma, eps=1e-5) -> (dx, dgamma, dbeta)`` for ``(N, C)``
``running_stats_update``           ``f(running_mean, running_var, x, momentum=0.1) -> (mean, var)``
=================================  ========================================================================

Examples
--------
>>> from normviz.exercises import check
>>> check("batch_norm_forward", batch_norm_forward).passed
True
"""

from __future__ import annotations

import torch

from normviz.exercises._core import Case, Exercise, WrongAnswer, register

__all__ = [
    "batch_norm_forward",
    "spatial_batch_norm_forward",
    "batch_norm_backward",
    "running_stats_update",
]


# ----------------------------------------------------------------------------------------------------------
# Reference solutions (what reveal() prints)
# ----------------------------------------------------------------------------------------------------------
def batch_norm_forward(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=0)  # (C,): one mean per feature, over the batch
    var = x.var(dim=0, unbiased=False)  # (C,): the biased variance, as the paper and PyTorch use
    x_hat = (x - mean) / torch.sqrt(var + eps)  # (N, C): eps keeps a constant feature finite
    return gamma * x_hat + beta


def spatial_batch_norm_forward(x, gamma, beta, eps=1e-5):
    # One mean and variance per channel, over the batch and every spatial position: dims (0, 2, 3).
    mean = x.mean(dim=(0, 2, 3), keepdim=True)  # (1, C, 1, 1)
    var = x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)  # (1, C, 1, 1)
    x_hat = (x - mean) / torch.sqrt(var + eps)  # (N, C, H, W)
    return gamma.view(1, -1, 1, 1) * x_hat + beta.view(1, -1, 1, 1)  # (C,) -> (1, C, 1, 1) to broadcast


def batch_norm_backward(dout, x, gamma, eps=1e-5):
    mean = x.mean(dim=0)
    var = x.var(dim=0, unbiased=False)
    inv_std = 1.0 / torch.sqrt(var + eps)  # (C,)
    x_hat = (x - mean) * inv_std  # (N, C)
    dbeta = dout.sum(dim=0)  # beta is added to every sample of the batch
    dgamma = (dout * x_hat).sum(dim=0)
    dx_hat = dout * gamma  # (N, C)
    # Every x enters the mean and the variance too: subtract the gradient's mean and its projection on x_hat.
    dx = inv_std * (dx_hat - dx_hat.mean(dim=0) - x_hat * (dx_hat * x_hat).mean(dim=0))
    return dx, dgamma, dbeta


def running_stats_update(running_mean, running_var, x, momentum=0.1):
    mean = x.mean(dim=0)  # (C,) statistics of this batch, x of shape (N, C)
    var = x.var(dim=0, unbiased=True)  # the running variance estimates the population's: divide by N - 1
    # PyTorch's convention: momentum is the weight of the NEW batch statistic.
    new_mean = (1 - momentum) * running_mean + momentum * mean
    new_var = (1 - momentum) * running_var + momentum * var
    return new_mean, new_var


# ----------------------------------------------------------------------------------------------------------
# Typical wrong answers (each a function with the learner's signature)
# ----------------------------------------------------------------------------------------------------------
def _affine(x_hat, gamma, beta):
    shape = (1, -1) + (1,) * (x_hat.dim() - 2)  # (C,) -> (1, C, 1, ...) to broadcast on dim 1
    return gamma.view(shape) * x_hat + beta.view(shape)


def _normalize(x, dims, eps, unbiased=False):
    mean = x.mean(dim=dims, keepdim=True)
    var = x.var(dim=dims, unbiased=unbiased, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)


def _bn_over(dims, unbiased=False):
    def wrong(x, gamma, beta, eps=1e-5):
        return _affine(_normalize(x, dims, eps, unbiased), gamma, beta)

    return wrong


def _bn_no_affine(x, gamma, beta, eps=1e-5):
    return _normalize(x, (0,) if x.dim() == 2 else (0, 2, 3), eps)


def _bn_swapped_affine(x, gamma, beta, eps=1e-5):
    return _affine(_normalize(x, (0,) if x.dim() == 2 else (0, 2, 3), eps), beta, gamma)


def _bn_eps_outside(x, gamma, beta, eps=1e-5):
    dims = (0,) if x.dim() == 2 else (0, 2, 3)
    mean = x.mean(dim=dims, keepdim=True)
    std = x.var(dim=dims, unbiased=False, keepdim=True).sqrt()
    return _affine((x - mean) / (std + eps), gamma, beta)


def _bn_no_eps(x, gamma, beta, eps=1e-5):
    return _bn_over((0,) if x.dim() == 2 else (0, 2, 3))(x, gamma, beta, eps=0.0)


def _bn_gamma_on_last_dim(x, gamma, beta, eps=1e-5):
    # gamma of shape (C,) broadcast against (N, C, H, W) lines up with W, not with C
    return gamma * _normalize(x, (0, 2, 3), eps) + beta


def _backward_no_stats_path(dout, x, gamma, eps=1e-5):
    var = x.var(dim=0, unbiased=False)
    x_hat = (x - x.mean(dim=0)) / torch.sqrt(var + eps)
    return dout * gamma / torch.sqrt(var + eps), (dout * x_hat).sum(0), dout.sum(0)


def _backward_no_var_path(dout, x, gamma, eps=1e-5):
    var = x.var(dim=0, unbiased=False)
    x_hat = (x - x.mean(dim=0)) / torch.sqrt(var + eps)
    dx_hat = dout * gamma
    return (dx_hat - dx_hat.mean(0)) / torch.sqrt(var + eps), (dout * x_hat).sum(0), dout.sum(0)


def _backward_dgamma_without_xhat(dout, x, gamma, eps=1e-5):
    dx, _, dbeta = batch_norm_backward(dout, x, gamma, eps)
    return dx, dout.sum(0), dbeta


def _backward_mean_not_sum(dout, x, gamma, eps=1e-5):
    dx, dgamma, dbeta = batch_norm_backward(dout, x, gamma, eps)
    n = x.shape[0]
    return dx, dgamma / n, dbeta / n


def _backward_unbiased(dout, x, gamma, eps=1e-5):
    n = x.shape[0]
    var = x.var(dim=0, unbiased=True)
    inv_std = 1.0 / torch.sqrt(var + eps)
    x_hat = (x - x.mean(dim=0)) * inv_std
    dx_hat = dout * gamma
    # The exact gradient of a layer that normalizes with the unbiased variance.
    dx = inv_std * (dx_hat - dx_hat.mean(0) - x_hat * (dx_hat * x_hat).sum(0) / (n - 1))
    return dx, (dout * x_hat).sum(0), dout.sum(0)


def _running_keras(running_mean, running_var, x, momentum=0.1):
    mean, var = x.mean(0), x.var(0, unbiased=True)
    return momentum * running_mean + (1 - momentum) * mean, momentum * running_var + (1 - momentum) * var


def _running_biased(running_mean, running_var, x, momentum=0.1):
    mean, var = x.mean(0), x.var(0, unbiased=False)
    return (1 - momentum) * running_mean + momentum * mean, (1 - momentum) * running_var + momentum * var


def _running_no_decay(running_mean, running_var, x, momentum=0.1):
    mean, var = x.mean(0), x.var(0, unbiased=True)
    return running_mean + momentum * mean, running_var + momentum * var


def _running_batch_only(running_mean, running_var, x, momentum=0.1):
    return x.mean(0), x.var(0, unbiased=True)


def _running_std(running_mean, running_var, x, momentum=0.1):
    mean, std = x.mean(0), x.std(0, unbiased=True)
    return (1 - momentum) * running_mean + momentum * mean, (1 - momentum) * running_var + momentum * std


# ----------------------------------------------------------------------------------------------------------
# Inputs: float64, features on different scales, a constant feature, a tiny batch, and for images W == C, so
# that gamma of shape (C,) broadcast against the last dim gives wrong numbers (diagnosed) instead of an error
# ----------------------------------------------------------------------------------------------------------
def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _params(c, gen):
    gamma = 1.0 + 0.5 * torch.randn(c, generator=gen, dtype=torch.float64)
    beta = torch.randn(c, generator=gen, dtype=torch.float64)
    return gamma, beta


def _forward_2d_cases():
    gen = _gen(0)
    scales = torch.tensor([1.0, 10.0, 0.1, 3.0], dtype=torch.float64)
    offsets = torch.tensor([0.0, 50.0, -3.0, 1.0], dtype=torch.float64)
    ordinary = torch.randn(8, 4, generator=gen, dtype=torch.float64) * scales + offsets
    constant = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    constant[:, 1] = 5.0
    pair = torch.randn(2, 5, generator=gen, dtype=torch.float64) * 2.0 + 1.0
    small_var = 1.0 + 1e-2 * torch.randn(16, 2, generator=gen, dtype=torch.float64)
    return [
        Case("8 samples of 4 features on different scales", ordinary, *_params(4, gen)),
        Case("a batch whose feature 1 is constant (all 5.0)", constant, *_params(3, gen)),
        Case("a batch of only 2 samples", pair, *_params(5, gen)),
        Case("features with a tiny spread (std 0.01), eps=0.001", small_var, *_params(2, gen), eps=1e-3),
    ]


def _forward_4d_cases():
    gen = _gen(1)
    ordinary = torch.randn(4, 3, 5, 3, generator=gen, dtype=torch.float64) * 2.0 + 1.0
    ordinary[:, 1] = ordinary[:, 1] * 10.0 - 20.0  # channel 1 on another scale, so mixed channels show
    square = torch.randn(2, 4, 3, 4, generator=gen, dtype=torch.float64)
    square[:, 2] += 3.0
    single = torch.randn(1, 2, 4, 2, generator=gen, dtype=torch.float64) * 0.5 + 2.0
    small_var = 1.0 + 1e-2 * torch.randn(3, 2, 2, 2, generator=gen, dtype=torch.float64)
    return [
        Case("a (4, 3, 5, 3) batch, channel 1 on another scale", ordinary, *_params(3, gen)),
        Case("a (2, 4, 3, 4) batch", square, *_params(4, gen)),
        Case("a single image (1, 2, 4, 2)", single, *_params(2, gen)),
        Case("channels with a tiny spread (std 0.01), eps=0.001", small_var, *_params(2, gen), eps=1e-3),
    ]


def _backward_cases():
    gen = _gen(2)
    cases = []
    for label, n, c, scale in (
        ("8 samples of 4 features", 8, 4, 2.0),
        ("a batch of only 2 samples", 2, 3, 1.0),
        ("16 samples of 5 features, offset data", 16, 5, 5.0),
    ):
        x = torch.randn(n, c, generator=gen, dtype=torch.float64) * scale + 3.0
        dout = torch.randn(n, c, generator=gen, dtype=torch.float64)
        gamma, _ = _params(c, gen)
        cases.append(Case(label, dout, x, gamma))
    return cases


def _running_cases():
    gen = _gen(3)
    cases = []
    for label, n, c, momentum in (
        ("fresh statistics (mean 0, var 1) and a batch of 8", 8, 3, 0.1),
        ("a batch of 2 samples", 2, 4, 0.1),
        ("momentum=0.3 and a batch of 5", 5, 2, 0.3),
    ):
        x = torch.randn(n, c, generator=gen, dtype=torch.float64) * 3.0 + 2.0
        if label.startswith("fresh"):
            running_mean = torch.zeros(c, dtype=torch.float64)
            running_var = torch.ones(c, dtype=torch.float64)
        else:
            running_mean = torch.randn(c, generator=gen, dtype=torch.float64)
            running_var = torch.rand(c, generator=gen, dtype=torch.float64) + 0.5
        cases.append(Case(label, running_mean, running_var, x, momentum=momentum))
    return cases


# ----------------------------------------------------------------------------------------------------------
# Registration
# ----------------------------------------------------------------------------------------------------------
register(
    Exercise(
        name="batch_norm_forward",
        reference=batch_norm_forward,
        cases=_forward_2d_cases,
        wrong_answers=[
            WrongAnswer(
                "you normalized each sample over its features (dim=1): that is layer norm. Batch norm normalizes "
                "each feature over the batch: reduce over dim=0",
                implementation=_bn_over((1,)),
            ),
            WrongAnswer(
                "you used the unbiased variance (torch.var's default, dividing by N - 1); batch norm normalizes "
                "with the biased one: x.var(dim=0, unbiased=False)",
                implementation=_bn_over((0,), unbiased=True),
            ),
            WrongAnswer(
                "you returned x_hat: scale it by gamma and shift it by beta (gamma * x_hat + beta)",
                implementation=_bn_no_affine,
            ),
            WrongAnswer(
                "gamma and beta are swapped: gamma scales x_hat, beta shifts it (gamma * x_hat + beta)",
                implementation=_bn_swapped_affine,
            ),
            WrongAnswer(
                "you added eps to the standard deviation; it goes inside the square root: sqrt(var + eps)",
                implementation=_bn_eps_outside,
            ),
            WrongAnswer(
                "you left out eps: on a constant feature the variance is 0 and 0 / 0 gives NaN. Divide by "
                "sqrt(var + eps)",
                implementation=_bn_no_eps,
            ),
        ],
        hint="mean and variance over dim=0 (the batch), one value per feature; x_hat = (x - mean) / sqrt(var + eps)",
        rtol=1e-6,
        atol=1e-8,
    )
)

register(
    Exercise(
        name="spatial_batch_norm_forward",
        reference=spatial_batch_norm_forward,
        cases=_forward_4d_cases,
        wrong_answers=[
            WrongAnswer(
                "you normalized each (channel, position) over the batch only (dim=0): for images one channel "
                "shares one mean and variance over the batch AND every position, dims (0, 2, 3)",
                implementation=_bn_over((0,)),
            ),
            WrongAnswer(
                "you normalized each image and channel over its positions (dims (2, 3)): that is instance norm. "
                "Include the batch: dims (0, 2, 3)",
                implementation=_bn_over((2, 3)),
            ),
            WrongAnswer(
                "you normalized each image over all its channels and positions (dims (1, 2, 3)): that is layer "
                "norm. Batch norm keeps channels apart and reduces over dims (0, 2, 3)",
                implementation=_bn_over((1, 2, 3)),
            ),
            WrongAnswer(
                "gamma and beta of shape (C,) broadcast against the LAST dim (W), not the channels: reshape them "
                "with gamma.view(1, -1, 1, 1)",
                implementation=_bn_gamma_on_last_dim,
            ),
            WrongAnswer(
                "you used the unbiased variance (torch.var's default, dividing by N*H*W - 1); batch norm "
                "normalizes with the biased one: unbiased=False",
                implementation=_bn_over((0, 2, 3), unbiased=True),
            ),
            WrongAnswer(
                "you returned x_hat: scale it by gamma and shift it by beta, reshaped to (1, C, 1, 1)",
                implementation=_bn_no_affine,
            ),
            WrongAnswer(
                "gamma and beta are swapped: gamma scales x_hat, beta shifts it",
                implementation=_bn_swapped_affine,
            ),
            WrongAnswer(
                "you added eps to the standard deviation; it goes inside the square root: sqrt(var + eps)",
                implementation=_bn_eps_outside,
            ),
        ],
        hint="reduce over dims (0, 2, 3) with keepdim=True, and view gamma and beta as (1, C, 1, 1)",
        rtol=1e-6,
        atol=1e-8,
    )
)

register(
    Exercise(
        name="batch_norm_backward",
        reference=batch_norm_backward,
        cases=_backward_cases,
        wrong_answers=[
            WrongAnswer(
                "dx ignores that x also enters the batch mean and variance: you returned dout * gamma / std. "
                "Subtract the mean of dx_hat and x_hat times the mean of dx_hat * x_hat",
                implementation=_backward_no_stats_path,
            ),
            WrongAnswer(
                "dx accounts for the mean but not for the variance: subtract also x_hat * mean(dx_hat * x_hat)",
                implementation=_backward_no_var_path,
            ),
            WrongAnswer(
                "dgamma is the sum over the batch of dout * x_hat, not of dout alone",
                implementation=_backward_dgamma_without_xhat,
            ),
            WrongAnswer(
                "dgamma and dbeta are sums over the batch, not means: gamma and beta act on every sample",
                implementation=_backward_mean_not_sum,
            ),
            WrongAnswer(
                "you used the unbiased variance (N - 1); the forward pass normalizes with the biased one",
                implementation=_backward_unbiased,
            ),
        ],
        hint=(
            "with x_hat = (x - mean) * inv_std and dx_hat = dout * gamma: "
            "dx = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)), means over dim 0"
        ),
        rtol=1e-6,
        atol=1e-8,
    )
)

register(
    Exercise(
        name="running_stats_update",
        reference=running_stats_update,
        cases=_running_cases,
        wrong_answers=[
            WrongAnswer(
                "you used the Keras/CS231n convention (momentum weights the OLD value); in PyTorch momentum "
                "weights the NEW batch statistic: (1 - momentum) * running + momentum * batch",
                implementation=_running_keras,
            ),
            WrongAnswer(
                "the running variance uses the unbiased batch variance (divide by N - 1, unbiased=True), although "
                "the normalization itself uses the biased one",
                implementation=_running_biased,
            ),
            WrongAnswer(
                "the old value must decay: multiply it by (1 - momentum) before adding momentum * batch",
                implementation=_running_no_decay,
            ),
            WrongAnswer(
                "you replaced the running statistics by the batch's: blend them, "
                "(1 - momentum) * running + momentum * batch",
                implementation=_running_batch_only,
            ),
            WrongAnswer(
                "you averaged the standard deviation into running_var: average the variance",
                implementation=_running_std,
            ),
        ],
        hint="new = (1 - momentum) * old + momentum * batch_statistic, with the unbiased variance of the batch",
        rtol=1e-6,
        atol=1e-8,
    )
)
