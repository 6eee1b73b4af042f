"""Hypothesis property tests: statistics over exactly the reduced set, invariances, equivalences, dependencies."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import normviz.functional as F
from normviz import axes

settings.register_profile("normviz", max_examples=40, deadline=None, derandomize=True)
settings.load_profile("normviz")

EPS = 1e-30  # float64 allows an eps far below any variance drawn here, so normalized variances are 1 to rounding


@st.composite
def _inputs(draw, min_ndim=2, max_ndim=4):
    """A float64 tensor (N, C, *spatial) of random shape, offset and scale, plus a divisor G of C."""
    ndim = draw(st.integers(min_ndim, max_ndim))
    shape = (draw(st.integers(2, 4)), draw(st.sampled_from([2, 3, 4, 6]))) + tuple(
        draw(st.integers(2, 3)) for _ in range(ndim - 2)
    )
    seed = draw(st.integers(0, 2**16))
    offset = draw(st.floats(-100, 100))
    scale = draw(st.floats(0.1, 10))
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=generator, dtype=torch.float64) * scale + offset
    num_groups = draw(st.sampled_from(axes.valid_group_counts(shape[1])))
    index = tuple(draw(st.integers(0, s - 1)) for s in shape)
    return x, num_groups, index


def _normalize(method, x, num_groups=1, eps=EPS):
    if method == "batch":
        return F.batch_norm(x, None, None, training=True, eps=eps)
    if method == "layer":
        return F.layer_norm(x, x.shape[1:], eps=eps)
    if method == "layer_channels_last":
        return F.layer_norm_channels_last(x, eps=eps)
    if method == "instance":
        return F.instance_norm(x, eps=eps)
    if method == "group":
        return F.group_norm(x, num_groups, eps=eps)
    if method == "rms":
        return F.rms_norm(x, x.shape[1:], eps=eps)
    return F.local_response_norm(x, 3, alpha=0.5)


MEAN_METHODS = ["batch", "layer", "layer_channels_last", "instance", "group"]


@given(_inputs(min_ndim=3), st.sampled_from(MEAN_METHODS))
def test_mean_zero_and_variance_one_over_exactly_the_mask(data, method):
    x, num_groups, index = data
    y = _normalize(method, x, num_groups)
    mask = torch.from_numpy(axes.stats_mask(method, tuple(x.shape), index, num_groups=num_groups))
    inside = y[mask]
    assert abs(inside.mean().item()) < 1e-9
    assert abs(inside.var(correction=0).item() - 1) < 1e-9
    # "exactly": adding any one element from outside the mask breaks mean 0 / variance 1 (generic data)
    outside = y[~mask]
    if outside.numel():
        widened = torch.cat([inside, outside[:1]])
        assert abs(widened.mean().item()) > 1e-9 or abs(widened.var(correction=0).item() - 1) > 1e-9


@given(_inputs(min_ndim=2))
def test_rms_norm_mean_square_is_one_over_the_mask(data):
    x, _, index = data
    y = F.rms_norm(x, x.shape[1:], eps=EPS)
    mask = torch.from_numpy(axes.stats_mask("rms", tuple(x.shape), index))
    assert abs(y[mask].pow(2).mean().item() - 1) < 1e-9


@given(_inputs(min_ndim=3), st.sampled_from(["layer", "group", "instance", "rms", "layer_channels_last"]),
       st.floats(0.01, 100))
def test_per_sample_methods_ignore_scaling_one_sample(data, method, a):
    x, num_groups, _ = data
    scaled = x.clone()
    scaled[0] *= a
    torch.testing.assert_close(_normalize(method, scaled, num_groups), _normalize(method, x, num_groups))


@given(_inputs(min_ndim=2), st.floats(0.01, 100))
def test_batch_norm_in_training_ignores_per_channel_scaling(data, a):
    x, _, _ = data
    factors = a ** torch.linspace(-1, 1, x.shape[1], dtype=torch.float64)  # a different a > 0 per channel
    scaled = x * factors.view(1, -1, *([1] * (x.dim() - 2)))
    torch.testing.assert_close(_normalize("batch", scaled), _normalize("batch", x))


@given(_inputs(min_ndim=3), st.sampled_from(MEAN_METHODS), st.floats(-1e3, 1e3))
def test_mean_methods_ignore_a_shift_of_each_statistics_set(data, method, b):
    x, num_groups, index = data
    # shift exactly the set that shares statistics with `index` (and nothing else)
    mask = torch.from_numpy(axes.stats_mask(method, tuple(x.shape), index, num_groups=num_groups))
    shifted = x + b * mask
    y, y_shifted = _normalize(method, x, num_groups), _normalize(method, shifted, num_groups)
    torch.testing.assert_close(y_shifted[mask], y[mask], rtol=1e-6, atol=1e-6)


@given(_inputs(min_ndim=3), st.floats(1.0, 1e3))
def test_rms_norm_is_not_shift_invariant(data, b):
    x, _, _ = data
    assert not torch.allclose(_normalize("rms", x + b), _normalize("rms", x))


@given(_inputs(min_ndim=3))
def test_group_norm_extremes_are_instance_and_layer_norm(data):
    x, _, _ = data
    channels = x.shape[1]
    weight = torch.linspace(0.5, 2, channels, dtype=torch.float64)
    bias = torch.linspace(-1, 1, channels, dtype=torch.float64)
    torch.testing.assert_close(F.group_norm(x, channels, weight, bias), F.instance_norm(x, weight=weight, bias=bias))
    view = (1, -1) + (1,) * (x.dim() - 2)
    layer = F.layer_norm(x, x.shape[1:]) * weight.view(view) + bias.view(view)  # G=1 has a per-channel affine
    torch.testing.assert_close(F.group_norm(x, 1, weight, bias), layer)


@settings(max_examples=20)
@given(_inputs(min_ndim=2, max_ndim=4), st.sampled_from(axes.METHODS), st.integers(1, 6))
def test_mask_equals_the_autograd_dependency(data, method, size):
    x, num_groups, index = data
    if method in ("instance", "local_response") and x.dim() < 3:
        x, index = x.unsqueeze(-1).repeat(1, 1, 2), (*index, 1)  # these need a spatial dim
    params = {"num_groups": num_groups, "size": size}
    mask = axes.stats_mask(method, tuple(x.shape), index, **params)
    if method in MEAN_METHODS:
        # a set of one value normalizes to a constant 0, which depends on nothing; the mask still shows it
        assume(mask.sum() > 1)
    x = x.clone().requires_grad_(True)
    if method == "local_response":
        y = F.local_response_norm(x, size, alpha=0.5)
    else:
        y = _normalize(method, x, num_groups, eps=1e-5)
    (grad,) = torch.autograd.grad(y[index], x)
    np.testing.assert_array_equal((grad != 0).numpy(), mask)
