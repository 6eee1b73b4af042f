"""Parity of normviz.functional and normviz.backward with torch.nn.functional, computed at test time."""

from __future__ import annotations

import inspect

import pytest
import torch
import torch.nn.functional as TF

import normviz.functional as F
from normviz.backward import batch_norm_backward, batch_norm_with_manual_backward, time_backward

TOL = {
    torch.float32: {"rtol": 1e-5, "atol": 1e-5},
    torch.float64: {"rtol": 1e-10, "atol": 1e-10},
    # half precision: within a couple of units in the last place of the format
    torch.float16: {"rtol": 2e-3, "atol": 2e-3},
    torch.bfloat16: {"rtol": 1.6e-2, "atol": 1.6e-2},
}
DTYPES = [torch.float32, torch.float64]


def _randn(*shape, dtype=torch.float64, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=generator, dtype=torch.float64) * 2 + 0.5).to(dtype)


def _params(shape, dtype, affine, seed=1):
    """Random weight and bias (not ones/zeros, so a transposed or ignored parameter would show)."""
    if not affine:
        return None, None
    weight = _randn(*shape, dtype=dtype, seed=seed).abs() + 0.5
    bias = _randn(*shape, dtype=dtype, seed=seed + 1)
    return weight, bias


def _check_parity(ours, theirs, tensors, dtype, grad_seed=7):
    """Same outputs from ``ours(*tensors)`` and ``theirs(*tensors)``, and same gradients to every tensor."""
    mine = [None if t is None else t.detach().clone().requires_grad_(True) for t in tensors]
    ref = [None if t is None else t.detach().clone().requires_grad_(True) for t in tensors]
    y_ours, y_ref = ours(*mine), theirs(*ref)
    assert y_ours.dtype == y_ref.dtype
    torch.testing.assert_close(y_ours, y_ref, **TOL[dtype])
    grad = _randn(*y_ref.shape, dtype=dtype, seed=grad_seed)
    y_ours.backward(grad)
    y_ref.backward(grad)
    for a, b in zip(mine, ref, strict=True):
        if a is not None:
            torch.testing.assert_close(a.grad, b.grad, **TOL[dtype])


# ----------------------------------------------------------------------------------------- batch norm
BN_SHAPES = [(8, 3), (4, 3, 5), (4, 3, 4, 4), (2, 3, 3, 3, 3)]


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_matches_torch(shape, dtype, affine):
    x = _randn(*shape, dtype=dtype)
    weight, bias = _params((shape[1],), dtype, affine)
    _check_parity(
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        lambda x, w, b: TF.batch_norm(x, None, None, w, b, training=True),
        (x, weight, bias),
        dtype,
    )


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_batch_norm_running_buffers_and_eval_match_torch(shape, dtype, momentum):
    channels = shape[1]
    ours = [torch.zeros(channels, dtype=dtype), torch.ones(channels, dtype=dtype)]
    theirs = [torch.zeros(channels, dtype=dtype), torch.ones(channels, dtype=dtype)]
    weight, bias = _params((channels,), dtype, True)
    for step in range(3):
        x = _randn(*shape, dtype=dtype, seed=10 + step) * (step + 1)
        y = F.batch_norm(x, *ours, weight, bias, training=True, momentum=momentum)
        y_ref = TF.batch_norm(x, *theirs, weight, bias, training=True, momentum=momentum)
        torch.testing.assert_close(y, y_ref, **TOL[dtype])
        torch.testing.assert_close(ours[0], theirs[0], **TOL[dtype])
        torch.testing.assert_close(ours[1], theirs[1], **TOL[dtype])
    # the buffers moved away from their initial values, so the comparison above could fail
    assert not torch.allclose(ours[1], torch.ones(channels, dtype=dtype))
    x = _randn(*shape, dtype=dtype, seed=99)
    _check_parity(
        lambda x, w, b: F.batch_norm(x, ours[0], ours[1], w, b, training=False),
        lambda x, w, b: TF.batch_norm(x, theirs[0], theirs[1], w, b, training=False),
        (x, weight, bias),
        dtype,
    )


def test_batch_norm_compute_stats_match_torch_var_mean():
    x = _randn(6, 4, 3, 3)
    mean, var = F.batch_norm_stats(x)
    ref_var, ref_mean = torch.var_mean(x, dim=(0, 2, 3), correction=0)
    torch.testing.assert_close(mean, ref_mean)
    torch.testing.assert_close(var, ref_var)
    mean, var = F.compute_stats("group", x, num_groups=2)
    ref_var, ref_mean = torch.var_mean(x.reshape(6, 2, -1), dim=2, correction=0)
    torch.testing.assert_close(mean, ref_mean)
    torch.testing.assert_close(var, ref_var)
    mean, var = F.compute_stats("layer", x, normalized_shape=(3, 3))
    ref_var, ref_mean = torch.var_mean(x, dim=(2, 3), correction=0)
    torch.testing.assert_close(mean, ref_mean)
    torch.testing.assert_close(var, ref_var)
    mean, var = F.compute_stats("layer_channels_last", x)
    ref_var, ref_mean = torch.var_mean(x, dim=1, correction=0)
    torch.testing.assert_close(mean, ref_mean)
    torch.testing.assert_close(var, ref_var)
    mean, var = F.compute_stats("instance", x)
    ref_var, ref_mean = torch.var_mean(x, dim=(2, 3), correction=0)
    torch.testing.assert_close(mean, ref_mean)
    torch.testing.assert_close(var, ref_var)


# --------------------------------------------------------------------------------------- instance norm
IN_SHAPES = [(2, 3, 5), (2, 3, 4, 4), (2, 3, 2, 3, 3)]


@pytest.mark.parametrize("shape", IN_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", [True, False])
def test_instance_norm_matches_torch(shape, dtype, affine):
    x = _randn(*shape, dtype=dtype)
    weight, bias = _params((shape[1],), dtype, affine)
    _check_parity(
        lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
        lambda x, w, b: TF.instance_norm(x, weight=w, bias=b),
        (x, weight, bias),
        dtype,
    )


@pytest.mark.parametrize("shape", IN_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_instance_norm_running_stats_match_torch(shape, dtype):
    channels = shape[1]
    ours = [torch.zeros(channels, dtype=dtype), torch.ones(channels, dtype=dtype)]
    theirs = [torch.zeros(channels, dtype=dtype), torch.ones(channels, dtype=dtype)]
    for step in range(3):
        x = _randn(*shape, dtype=dtype, seed=step) * (step + 2)
        y = F.instance_norm(x, *ours, momentum=0.3)
        y_ref = TF.instance_norm(x, *theirs, momentum=0.3)
        torch.testing.assert_close(y, y_ref, **TOL[dtype])
        torch.testing.assert_close(ours, theirs, **TOL[dtype])
    assert not torch.allclose(ours[1], torch.ones(channels, dtype=dtype))
    x = _randn(*shape, dtype=dtype, seed=50)
    weight, bias = _params((channels,), dtype, True)
    _check_parity(
        lambda x, w, b: F.instance_norm(x, ours[0], ours[1], w, b, use_input_stats=False),
        lambda x, w, b: TF.instance_norm(x, theirs[0], theirs[1], w, b, use_input_stats=False),
        (x, weight, bias),
        dtype,
    )


# ------------------------------------------------------------------------------------------ layer norm
LN_CASES = [((8, 6), (6,)), ((4, 6, 5), (5,)), ((4, 6, 5), (6, 5)), ((2, 3, 4, 4), (3, 4, 4)), ((7,), (7,))]


@pytest.mark.parametrize(("shape", "normalized_shape"), LN_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", ["both", "weight only", "none"])
def test_layer_norm_matches_torch(shape, normalized_shape, dtype, affine):
    x = _randn(*shape, dtype=dtype)
    weight, bias = _params(normalized_shape, dtype, affine != "none")
    if affine == "weight only":
        bias = None
    _check_parity(
        lambda x, w, b: F.layer_norm(x, normalized_shape, w, b, eps=1e-4),
        lambda x, w, b: TF.layer_norm(x, normalized_shape, w, b, eps=1e-4),
        (x, weight, bias),
        dtype,
    )


def test_layer_norm_accepts_an_int_normalized_shape():
    x = _randn(3, 5)
    torch.testing.assert_close(F.layer_norm(x, 5), TF.layer_norm(x, (5,)))


@pytest.mark.parametrize("shape", [(4, 6), (2, 6, 5), (2, 6, 3, 3)])
@pytest.mark.parametrize("dtype", DTYPES)
def test_layer_norm_channels_last_matches_torch_on_permuted_input(shape, dtype):
    x = _randn(*shape, dtype=dtype)
    weight, bias = _params((shape[1],), dtype, True)
    _check_parity(
        lambda x, w, b: F.layer_norm_channels_last(x, w, b),
        lambda x, w, b: TF.layer_norm(x.movedim(1, -1), (shape[1],), w, b).movedim(-1, 1),
        (x, weight, bias),
        dtype,
    )


# ------------------------------------------------------------------------------------------ group norm
@pytest.mark.parametrize("shape", [(3, 6), (2, 6, 5), (2, 6, 3, 3), (2, 6, 2, 2, 2)])
@pytest.mark.parametrize("num_groups", [1, 2, 3, 6])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_matches_torch(shape, num_groups, dtype, affine):
    if shape == (3, 6) and num_groups == 6:
        pytest.skip("one value per group: torch's fused kernel returns rounding noise, see the test below")
    x = _randn(*shape, dtype=dtype)
    weight, bias = _params((shape[1],), dtype, affine)
    _check_parity(
        lambda x, w, b: F.group_norm(x, num_groups, w, b),
        lambda x, w, b: TF.group_norm(x, num_groups, w, b),
        (x, weight, bias),
        dtype,
    )


def test_group_norm_with_one_value_per_group_returns_the_bias_exactly():
    # each value is its own mean, so x_hat is exactly 0; torch's fused float32 kernel returns noise
    # of order 1e-5 here (its one-pass variance is not exactly 0), which is why parity skips this case
    x = _randn(3, 6, dtype=torch.float32)
    weight, bias = _params((6,), torch.float32, True)
    y = F.group_norm(x, 6, weight, bias)
    assert torch.equal(y, bias.expand(3, 6))
    torch.testing.assert_close(y, TF.group_norm(x, 6, weight, bias), rtol=0, atol=1e-3)


# ---------------------------------------------------------------------------------- local response norm
@pytest.mark.parametrize("shape", [(2, 7, 5), (2, 7, 3, 3), (2, 3, 2, 2, 2)])
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 8])
@pytest.mark.parametrize("dtype", DTYPES)
def test_local_response_norm_matches_torch(shape, size, dtype):
    x = _randn(*shape, dtype=dtype)
    # a large alpha makes the neighbours' contribution big enough for a wrong window to show
    kwargs = {"alpha": 0.5, "beta": 0.75, "k": 2.0}
    _check_parity(
        lambda x: F.local_response_norm(x, size, **kwargs),
        lambda x: TF.local_response_norm(x, size, **kwargs),
        (x,),
        dtype,
    )


def test_local_response_norm_defaults_match_torch():
    x = _randn(2, 6, 4, 4, dtype=torch.float32)
    torch.testing.assert_close(F.local_response_norm(x, 5), TF.local_response_norm(x, 5), rtol=1e-6, atol=1e-6)


# -------------------------------------------------------------------------------------------- RMS norm
@pytest.mark.parametrize(("shape", "normalized_shape"), LN_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("eps", [None, 1e-3])
@pytest.mark.parametrize("affine", [True, False])
def test_rms_norm_matches_torch(shape, normalized_shape, dtype, eps, affine):
    x = _randn(*shape, dtype=dtype)
    weight, _ = _params(normalized_shape, dtype, affine)
    _check_parity(
        lambda x, w: F.rms_norm(x, normalized_shape, w, eps),
        lambda x, w: TF.rms_norm(x, normalized_shape, w, eps),
        (x, weight),
        dtype,
    )


# ------------------------------------------------------------------------------------ half precision
HALF_CASES = {
    "batch": (lambda x, w, b: F.batch_norm(x, None, None, w, b, True), lambda x, w, b: TF.batch_norm(x, None, None, w, b, True)),
    "instance": (lambda x, w, b: F.instance_norm(x, weight=w, bias=b), lambda x, w, b: TF.instance_norm(x, weight=w, bias=b)),
    "layer": (lambda x, w, b: F.layer_norm(x, (4, 4)), lambda x, w, b: TF.layer_norm(x, (4, 4))),
    "group": (lambda x, w, b: F.group_norm(x, 3, w, b), lambda x, w, b: TF.group_norm(x, 3, w, b)),
    # torch has no CPU float16/bfloat16 kernel for 4-D LRN (avg_pool3d): compare with its float32 result
    "lrn": (
        lambda x, w, b: F.local_response_norm(x, 3, alpha=0.5),
        lambda x, w, b: TF.local_response_norm(x.float(), 3, alpha=0.5).to(x.dtype),
    ),
    "rms": (lambda x, w, b: F.rms_norm(x, (6, 4, 4)), lambda x, w, b: TF.rms_norm(x, (6, 4, 4))),
}


@pytest.mark.parametrize("method", sorted(HALF_CASES))
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_matches_torch_within_its_precision(method, dtype):
    ours, theirs = HALF_CASES[method]
    x = _randn(4, 6, 4, 4, dtype=dtype) + 3.0
    weight, bias = _params((6,), torch.float32, True)  # torch's mixed-precision layout: float32 parameters
    y, y_ref = ours(x, weight, bias), theirs(x, weight, bias)
    assert y.dtype == dtype
    torch.testing.assert_close(y, y_ref, **TOL[dtype])


# --------------------------------------------------------------------------------- numerical care
def test_large_offset_survives_where_the_naive_variance_fails():
    generator = torch.Generator().manual_seed(0)
    x = 1e4 + torch.randn(64, 4, generator=generator)  # float32; true variance about 1
    x64 = x.double()  # the float32 values themselves, but exact arithmetic from here on
    truth = (x64 - x64.mean(dim=0)) / torch.sqrt(x64.var(dim=0, correction=0) + 1e-5)
    ours = F.batch_norm(x, None, None, training=True)
    theirs = TF.batch_norm(x, None, None, training=True)
    # float32 spaces numbers near 1e4 by 1e-3, so the centred values carry errors of that size whatever
    # the formula: ours stays within 1e-3 of exact arithmetic, and within 2e-3 of torch (whose fused
    # x * invstd - mean * invstd form is itself off by up to 2e-3 here)
    torch.testing.assert_close(ours.double(), truth, rtol=0, atol=1e-3)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=2e-3)
    torch.testing.assert_close(F.layer_norm(x.T, (64,)), TF.layer_norm(x.T, (64,)), rtol=0, atol=2e-3)
    # the one-pass formula E[x^2] - E[x]^2 subtracts two numbers near 1e8 in float32 (spacing 8)
    mean = x.mean(dim=0)
    naive_var = (x * x).mean(dim=0) - mean * mean
    naive = (x - mean) / torch.sqrt(naive_var.clamp_min(0) + 1e-5)
    assert (naive.double() - truth).abs().max() > 0.1


@pytest.mark.parametrize(
    "normalize",
    [
        lambda x: F.batch_norm(x, None, None, training=True),
        lambda x: F.instance_norm(x),
        lambda x: F.layer_norm(x, x.shape[1:]),
        lambda x: F.layer_norm_channels_last(x),
        lambda x: F.group_norm(x, 2),
    ],
    ids=["batch", "instance", "layer", "layer_channels_last", "group"],
)
@pytest.mark.parametrize("value", [0.0, 3.0, -7.5])
def test_constant_input_gives_zeros_not_nan(normalize, value):
    y = normalize(torch.full((4, 6, 3, 3), value))
    assert torch.equal(y, torch.zeros_like(y))


def test_constant_input_rms_and_lrn_are_finite():
    x = torch.zeros(2, 4, 3, 3)
    assert torch.equal(F.rms_norm(x, (4, 3, 3)), x)
    assert torch.equal(F.local_response_norm(x, 3), x)


# ------------------------------------------------------------------------------------ backward pass
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5), (4, 3, 3, 3)])
@pytest.mark.parametrize("affine", [True, False])
def test_closed_form_backward_matches_autograd(shape, affine):
    x = _randn(*shape).requires_grad_(True)
    weight, bias = _params((shape[1],), torch.float64, True)
    if not affine:
        weight = bias = None
    params = [p.requires_grad_(True) for p in (weight, bias) if p is not None]
    y = TF.batch_norm(x, None, None, weight, bias, training=True, eps=1e-3)
    grad_output = _randn(*shape, seed=3)
    auto = torch.autograd.grad(y, [x, *params], grad_output)
    grad_input, grad_weight, grad_bias = batch_norm_backward(
        grad_output, x.detach(), None if weight is None else weight.detach(), eps=1e-3
    )
    torch.testing.assert_close(grad_input, auto[0], **TOL[torch.float64])
    if affine:
        torch.testing.assert_close(grad_weight, auto[1], **TOL[torch.float64])
        torch.testing.assert_close(grad_bias, auto[2], **TOL[torch.float64])
    else:
        # what a weight of ones and a bias of zeros would have received
        ones = torch.ones(shape[1], dtype=torch.float64, requires_grad=True)
        zeros = torch.zeros(shape[1], dtype=torch.float64, requires_grad=True)
        y = TF.batch_norm(x, None, None, ones, zeros, training=True, eps=1e-3)
        ref = torch.autograd.grad(y, [ones, zeros], grad_output)
        torch.testing.assert_close(grad_weight, ref[0], **TOL[torch.float64])
        torch.testing.assert_close(grad_bias, ref[1], **TOL[torch.float64])


def test_closed_form_backward_matches_autograd_in_float32():
    x = _randn(16, 4, 5, 5, dtype=torch.float32).requires_grad_(True)
    weight = _randn(4, dtype=torch.float32, seed=5).requires_grad_(True)
    y = TF.batch_norm(x, None, None, weight, None, training=True)
    grad_output = _randn(16, 4, 5, 5, dtype=torch.float32, seed=6)
    auto = torch.autograd.grad(y, [x, weight], grad_output)
    grad_input, grad_weight, _ = batch_norm_backward(grad_output, x.detach(), weight.detach())
    torch.testing.assert_close(grad_input, auto[0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(grad_weight, auto[1], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(6, 3), (4, 2, 3, 2)])
def test_closed_form_backward_passes_gradcheck(shape):
    x = _randn(*shape).requires_grad_(True)
    weight = _randn(shape[1], seed=2).requires_grad_(True)
    bias = _randn(shape[1], seed=3).requires_grad_(True)
    assert torch.autograd.gradcheck(batch_norm_with_manual_backward, (x, weight, bias), eps=1e-6, atol=1e-6)
    # the custom Function really uses the closed form: its forward agrees with the functional
    torch.testing.assert_close(
        batch_norm_with_manual_backward(x, weight, bias), F.batch_norm(x, None, None, weight, bias, True)
    )


def test_time_backward_times_three_ways_and_restores_the_thread_count():
    before = torch.get_num_threads()
    times = time_backward((6, 4, 3), number=2, repeats=2, threads=1)
    assert list(times) == ["autograd", "closed form", "torch (fused)"]
    assert all(value > 0 for value in times.values())
    assert torch.get_num_threads() == before


def test_time_backward_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"shape must be a tuple \(N, C, \*spatial\) of at least 2 ints, got \(8,\)"):
        time_backward((8,))
    with pytest.raises(ValueError, match=r"shape must be a positive int, got 0"):
        time_backward((8, 0))
    with pytest.raises(ValueError, match=r"number must be a positive int, got 0"):
        time_backward(number=0)
    with pytest.raises(TypeError, match=r"threads must be .*got float"):
        time_backward(threads=1.5)


def test_gradcheck_of_the_functional_itself():
    x = _randn(5, 3, 2).requires_grad_(True)
    weight = _randn(3, seed=4).requires_grad_(True)
    for fn in (
        lambda x, w: F.batch_norm(x, None, None, w, None, True),
        lambda x, w: F.group_norm(x, 3, w),
        lambda x, w: F.local_response_norm(x * w.view(1, 3, 1), 2, alpha=0.3),
    ):
        assert torch.autograd.gradcheck(fn, (x, weight))


@pytest.mark.parametrize(
    "name", ["batch_norm", "instance_norm", "layer_norm", "group_norm", "local_response_norm", "rms_norm"]
)
def test_signature_is_torchs(name):
    ours = inspect.signature(getattr(F, name)).parameters
    theirs = inspect.signature(getattr(TF, name)).parameters
    assert [(p.name, p.default, p.kind) for p in ours.values()] == [
        (p.name, p.default, p.kind) for p in theirs.values()
    ]
