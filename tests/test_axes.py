"""normviz.axes: the masks equal the dependency pattern that autograd finds, in normviz's functions and torch's."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import normviz.functional as F
from normviz import axes


def _ours_and_theirs(method, shape, params):
    """The normviz function and the torch function that normalize the way ``method`` does."""
    ns = params.get("normalized_shape") or shape[1:]
    channels = shape[1]
    if method == "batch":
        return (lambda x: F.batch_norm(x, None, None, training=True)), (
            lambda x: TF.batch_norm(x, None, None, training=True)
        )
    if method == "layer":
        return (lambda x: F.layer_norm(x, ns)), (lambda x: TF.layer_norm(x, ns))
    if method == "rms":
        return (lambda x: F.rms_norm(x, ns)), (lambda x: TF.rms_norm(x, ns))
    if method == "layer_channels_last":
        return F.layer_norm_channels_last, (lambda x: TF.layer_norm(x.movedim(1, -1), (channels,)).movedim(-1, 1))
    if method == "instance":
        return F.instance_norm, TF.instance_norm
    if method == "group":
        g = params["num_groups"]
        return (lambda x: F.group_norm(x, g)), (lambda x: TF.group_norm(x, g))
    size = params["size"]
    # a large alpha so the neighbours' influence is far above rounding
    return (lambda x: F.local_response_norm(x, size, alpha=0.5)), (
        lambda x: TF.local_response_norm(x, size, alpha=0.5)
    )


def _dependency(fn, shape, index, seed=0):
    """Boolean array: which inputs have a non-zero derivative of ``fn(x)[index]`` (float64, random x)."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=generator, dtype=torch.float64).requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(x)[index], x)
    return (grad != 0).numpy()


def _indices(shape):
    """First, last and a middle element: corners catch off-by-one windows and groups."""
    return sorted({tuple(0 for _ in shape), tuple(s - 1 for s in shape), tuple(s // 2 for s in shape)})


CASES = [
    ("batch", (4, 6), {}),
    ("batch", (3, 6, 5), {}),
    ("batch", (2, 6, 3, 3), {}),
    ("layer", (4, 6), {}),
    ("layer", (3, 6, 5), {"normalized_shape": (5,)}),
    ("layer", (2, 6, 3, 3), {}),
    ("layer", (2, 6, 3, 3), {"normalized_shape": (3, 3)}),
    ("rms", (4, 6), {}),
    ("rms", (2, 6, 3, 3), {"normalized_shape": (3,)}),
    ("layer_channels_last", (4, 6), {}),
    ("layer_channels_last", (2, 6, 3, 3), {}),
    ("instance", (3, 6, 5), {}),
    ("instance", (2, 6, 3, 3), {}),
    ("group", (4, 6), {"num_groups": 2}),
    ("group", (2, 6, 3, 3), {"num_groups": 3}),
    ("group", (2, 6, 3, 3), {"num_groups": 1}),
    ("group", (2, 6, 2, 2, 2), {"num_groups": 6}),
    ("local_response", (2, 6, 3), {"size": 1}),
    ("local_response", (2, 6, 3), {"size": 2}),
    ("local_response", (2, 6, 3, 3), {"size": 3}),
    ("local_response", (2, 6, 3, 3), {"size": 4}),
    ("local_response", (2, 6, 2, 2, 2), {"size": 5}),
    ("local_response", (1, 3, 2, 2), {"size": 8}),
]
IDS = [f"{m}-{s}-{p}" for m, s, p in CASES]


def test_every_method_is_covered():
    assert {m for m, _, _ in CASES} == set(axes.METHODS)


@pytest.mark.parametrize(("method", "shape", "params"), CASES, ids=IDS)
def test_mask_equals_the_autograd_dependency_of_normviz_and_torch(method, shape, params):
    ours, theirs = _ours_and_theirs(method, shape, params)
    for index in _indices(shape):
        mask = axes.stats_mask(method, shape, index, **params)
        assert mask.shape == shape and mask.dtype == bool
        assert mask[index], "an element always enters its own statistics"
        np.testing.assert_array_equal(_dependency(ours, shape, index), mask, err_msg=f"normviz at {index}")
        np.testing.assert_array_equal(_dependency(theirs, shape, index), mask, err_msg=f"torch at {index}")


MEAN_CASES = [c for c in CASES if c[0] not in ("local_response", "rms")]  # the two without a mean


@pytest.mark.parametrize(("method", "shape", "params"), MEAN_CASES, ids=[f"{m}-{s}-{p}" for m, s, p in MEAN_CASES])
def test_mask_selects_the_values_whose_mean_the_functional_uses(method, shape, params):
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(*shape, generator=generator, dtype=torch.float64) * 2 + 1
    mean, var = F.compute_stats(method, x, **params)
    for index in itertools.islice(np.ndindex(*shape), 0, None, 7):
        picked = x[torch.from_numpy(axes.stats_mask(method, shape, index, **params))]
        if method == "batch":
            position = (index[1],)
        elif method == "instance":
            position = index[:2]
        elif method == "layer_channels_last":
            position = (index[0], *index[2:])
        elif method == "group":
            position = (index[0], index[1] // (shape[1] // params["num_groups"]))
        else:  # layer: the leading indices
            lead = len(shape) - len(params.get("normalized_shape") or shape[1:])
            position = index[:lead]
        torch.testing.assert_close(picked.mean(), mean[position])
        torch.testing.assert_close(picked.var(correction=0), var[position])


@pytest.mark.parametrize("ndim", [2, 3, 4, 5])
def test_reduced_dims_describe_the_mask_for_the_axis_aligned_methods(ndim):
    shape = (2, 4, 3, 2, 2)[:ndim]
    for method in ("batch", "layer", "rms", "layer_channels_last", "instance"):
        if method == "instance" and ndim == 2:
            continue
        dims = axes.reduced_dims(method, ndim)
        index = tuple(s - 1 for s in shape)
        mask = axes.stats_mask(method, shape, index)
        # shares statistics exactly when it agrees with index on every dim that is not reduced
        expected = np.ones(shape, dtype=bool)
        for d in set(range(ndim)) - set(dims):
            agree = np.arange(shape[d]) == index[d]
            expected &= agree.reshape([-1 if k == d else 1 for k in range(ndim)])
        np.testing.assert_array_equal(mask, expected, err_msg=method)


def test_reduced_dims_values():
    assert axes.reduced_dims("batch", 2) == (0,)
    assert axes.reduced_dims("batch", 5) == (0, 2, 3, 4)
    assert axes.reduced_dims("instance", 3) == (2,)
    assert axes.reduced_dims("layer", 3) == (1, 2)
    assert axes.reduced_dims("rms", 4, normalized_shape=5) == (3,)
    assert axes.reduced_dims("group", 2) == (2,)
    assert axes.reduced_dims("group", 4) == (2, 3, 4)
    assert axes.reduced_dims("layer_channels_last", 4) == (1,)
    assert axes.reduced_dims("local_response", 4) == (1,)


def test_group_view_reduction_matches_torch_group_norm_statistics():
    x = torch.randn(2, 6, 3, 3, dtype=torch.float64)
    view = x.reshape(axes.group_view_shape(tuple(x.shape), 3))
    var, mean = torch.var_mean(view, dim=axes.reduced_dims("group", 4), correction=0, keepdim=True)
    y = ((view - mean) / torch.sqrt(var + 1e-5)).reshape(x.shape)
    torch.testing.assert_close(y, TF.group_norm(x, 3))


def test_instance_mask_on_two_dims_is_the_element_alone():
    mask = axes.stats_mask("instance", (3, 4), (1, 2))
    assert mask.sum() == 1 and mask[1, 2]


def test_negative_index_counts_from_the_end():
    np.testing.assert_array_equal(
        axes.stats_mask("group", (2, 6, 3), (-1, -1, -1), num_groups=2),
        axes.stats_mask("group", (2, 6, 3), (1, 5, 2), num_groups=2),
    )


@pytest.mark.parametrize(("size", "channels"), [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5), (6, 3)])
def test_lrn_window_matches_the_mask(size, channels):
    for c in range(channels):
        start, stop = axes.lrn_window(c, size, channels)
        mask = axes.stats_mask("local_response", (1, channels, 2), (0, c, 1), size=size)
        expected = np.zeros((1, channels, 2), dtype=bool)
        expected[0, start:stop, 1] = True
        np.testing.assert_array_equal(mask, expected)
        assert stop - start <= size


def test_valid_group_counts():
    assert axes.valid_group_counts(12) == (1, 2, 3, 4, 6, 12)
    assert axes.valid_group_counts(7) == (1, 7)


# ---------------------------------------------------------------------------------- torch_call
def _run_torch_call(text, x):
    """Evaluate a torch_call string; ``"M on x.permute(...)"`` means apply M to the permuted tensor."""
    namespace = {"nn": torch.nn, "F": TF, "x": x, "running_mean": None, "running_var": None}
    if " on " in text:
        module_text, input_text = text.split(" on ")
        moved = eval(input_text, namespace)
        return eval(module_text, namespace)(moved).movedim(-1, 1)
    value = eval(text, namespace)
    return value(x) if isinstance(value, torch.nn.Module) else value


@pytest.mark.parametrize(("method", "shape", "params"), CASES, ids=IDS)
def test_torch_call_computes_what_the_mask_describes(method, shape, params):
    x = torch.randn(*shape, dtype=torch.float64)
    text = axes.torch_call(method, shape, **params)
    assert text.startswith(("nn.", "F."))
    ours, _ = _ours_and_theirs(method, shape, params)
    with torch.no_grad():
        expected = ours(x)
        got = _run_torch_call(text, x.float()).double() if "nn." in text else _run_torch_call(text, x)
    if method == "local_response":
        expected = F.local_response_norm(x, params["size"])  # the module text uses torch's default alpha
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_torch_call_picks_the_rank_appropriate_class():
    assert axes.torch_call("batch", (8, 6)) == "nn.BatchNorm1d(6)"
    assert axes.torch_call("batch", (8, 6, 5)) == "nn.BatchNorm1d(6)"
    assert axes.torch_call("batch", (8, 6, 2, 2, 2)) == "nn.BatchNorm3d(6)"
    assert axes.torch_call("instance", (8, 6, 5)) == "nn.InstanceNorm1d(6)"
    assert axes.torch_call("instance", (8, 6, 5, 5)) == "nn.InstanceNorm2d(6)"
    assert axes.torch_call("layer_channels_last", (8, 6, 5)) == "nn.LayerNorm(6) on x.permute(0, 2, 1)"
    assert axes.torch_call("local_response", (8, 6, 5), size=5) == "nn.LocalResponseNorm(size=5)"
    assert axes.torch_call("rms", (8, 6)) == "F.rms_norm(x, normalized_shape=(6,))"
