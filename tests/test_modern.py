"""Weight norm, batch renorm and noisy batch norm against PyTorch oracles; the small training helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from normviz import modern as M


# -------------------------------------------------------------------------------------- weight norm
@pytest.mark.parametrize("shape,dim", [((4, 3), 0), ((5, 3, 3, 3), 0), ((5, 3, 3, 3), 1), ((6, 2, 4), -1)])
def test_weight_norm_equals_torch_kernel(shape, dim):
    torch.manual_seed(0)
    v = torch.randn(shape, dtype=torch.float64)
    keep = tuple(shape[d] if d == dim % len(shape) else 1 for d in range(len(shape)))
    g = torch.rand(keep, dtype=torch.float64) + 0.1
    torch.testing.assert_close(M.weight_norm(v, g, dim), torch._weight_norm(v, g, dim % len(shape)))
    torch.testing.assert_close(M.weight_norm(v, g.flatten(), dim), torch._weight_norm(v, g, dim % len(shape)))


@settings(max_examples=30, deadline=None)
@given(rows=st.integers(1, 6), cols=st.integers(1, 6), scale=st.floats(1e-3, 1e3), seed=st.integers(0, 99))
def test_property_row_lengths_are_abs_g_whatever_v(rows, cols, scale, seed):
    g_ = torch.Generator().manual_seed(seed)
    v = torch.randn(rows, cols, generator=g_, dtype=torch.float64) * scale
    g = torch.randn(rows, generator=g_, dtype=torch.float64)
    w = M.weight_norm(v, g)
    torch.testing.assert_close(w.norm(dim=1), g.abs())
    torch.testing.assert_close(M.weight_norm(v * 7.0, g), w)  # invariant to rescaling v


def test_weight_norm_linear_matches_torch_parametrization_values_and_gradients():
    torch.manual_seed(0)
    theirs = nn.utils.parametrizations.weight_norm(nn.Linear(5, 3))
    ours = M.WeightNormLinear(5, 3)
    p = theirs.parametrizations.weight
    with torch.no_grad():
        ours.weight_g.copy_(p.original0)
        ours.weight_v.copy_(p.original1)
        ours.bias.copy_(theirs.bias)
    x = torch.randn(8, 5)
    ours(x).pow(2).sum().backward()
    theirs(x).pow(2).sum().backward()
    torch.testing.assert_close(ours.weight, theirs.weight)
    torch.testing.assert_close(ours.weight_g.grad, p.original0.grad)
    torch.testing.assert_close(ours.weight_v.grad, p.original1.grad)
    torch.testing.assert_close(ours.bias.grad, theirs.bias.grad)
    # the gradient with respect to v is orthogonal to v
    assert (ours.weight_v * ours.weight_v.grad).sum(dim=1).abs().max() < 1e-4


def test_from_linear_and_fresh_init_compute_a_linear_layers_function():
    torch.manual_seed(0)
    linear = nn.Linear(4, 3, bias=False)
    layer = M.WeightNormLinear.from_linear(linear)
    x = torch.randn(2, 4)
    torch.testing.assert_close(layer(x), linear(x))
    assert layer.bias is None
    torch.manual_seed(1)
    reference = nn.Linear(4, 3)
    torch.manual_seed(1)
    torch.testing.assert_close(M.WeightNormLinear(4, 3).weight, reference.weight)


# ------------------------------------------------------------------------------------ batch renorm
def _renorm_oracle(x, running_mean, running_var, weight, bias, eps, rmax, dmax):
    """gamma * (BN_train(x) * r + d) + beta, with torch's batch norm and r, d computed independently."""
    dims = (0, *range(2, x.dim()))
    mean, var = x.detach().mean(dims), x.detach().var(dims, unbiased=False)
    sigma = (running_var + eps).sqrt()
    r = ((var + eps).sqrt() / sigma).clamp(1 / rmax, rmax)
    d = ((mean - running_mean) / sigma).clamp(-dmax, dmax)
    view = (1, -1) + (1,) * (x.dim() - 2)
    x_hat = F.batch_norm(x, None, None, training=True, eps=eps) * r.view(view) + d.view(view)
    return x_hat * weight.view(view) + bias.view(view)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (3, 3, 4, 4)])
@pytest.mark.parametrize("rmax,dmax", [(3.0, 5.0), (1.2, 0.1), (1.0, 0.0)])
def test_batch_renorm_values_gradients_and_running_stats(shape, rmax, dmax):
    torch.manual_seed(0)
    x = (torch.randn(shape, dtype=torch.float64) * 2 + 1).requires_grad_()
    w = (torch.rand(3, dtype=torch.float64) + 0.5).requires_grad_()
    b = torch.randn(3, dtype=torch.float64).requires_grad_()
    rm, rv = torch.tensor([0.2, -1.0, 3.0], dtype=torch.float64), torch.tensor([0.5, 2.0, 9.0], dtype=torch.float64)
    xr, wr, br = (t.detach().clone().requires_grad_() for t in (x, w, b))
    rm_ours, rv_ours = rm.clone(), rv.clone()
    y = M.batch_renorm(x, rm_ours, rv_ours, w, b, training=True, momentum=0.2, eps=1e-5, rmax=rmax, dmax=dmax)
    ref = _renorm_oracle(xr, rm, rv, wr, br, 1e-5, rmax, dmax)
    grad = torch.randn(shape, dtype=torch.float64)
    y.backward(grad)
    ref.backward(grad)
    for ours, theirs in ((y, ref), (x.grad, xr.grad), (w.grad, wr.grad), (b.grad, br.grad)):
        torch.testing.assert_close(ours, theirs)
    # running statistics move exactly as torch's batch norm moves them
    rm_t, rv_t = rm.clone(), rv.clone()
    F.batch_norm(x.detach(), rm_t, rv_t, training=True, momentum=0.2)
    torch.testing.assert_close(rm_ours, rm_t)
    torch.testing.assert_close(rv_ours, rv_t)


def test_rmax_1_dmax_0_is_batch_norm_and_unclipped_training_output_is_the_inference_output():
    torch.manual_seed(0)
    x = torch.randn(16, 3, dtype=torch.float64) * 2 + 1
    rm, rv = torch.tensor([0.5, 1.0, 1.5], dtype=torch.float64), torch.tensor([4.0, 3.0, 5.0], dtype=torch.float64)
    torch.testing.assert_close(M.batch_renorm(x, rm.clone(), rv.clone(), training=True, rmax=1.0, dmax=0.0),
                               F.batch_norm(x, None, None, training=True))
    unclipped = M.batch_renorm(x, rm.clone(), rv.clone(), training=True, rmax=1e6, dmax=1e6)
    torch.testing.assert_close(unclipped, F.batch_norm(x, rm, rv, training=False))
    torch.testing.assert_close(M.batch_renorm(x, rm, rv, training=False), F.batch_norm(x, rm, rv, training=False))


def test_renorm_correction_clips():
    r, d = M.renorm_correction(torch.tensor([10.0, 0.0]), torch.tensor([100.0, 0.01]), torch.zeros(2),
                               torch.ones(2), eps=0.0, rmax=3.0, dmax=5.0)
    torch.testing.assert_close(r, torch.tensor([3.0, 1 / 3]))
    torch.testing.assert_close(d, torch.tensor([5.0, 0.0]))
    assert not r.requires_grad


def test_batch_renorm_module_warmup_ramps_limits_and_matches_function():
    torch.manual_seed(0)
    m = M.BatchRenorm1d(3, warmup_steps=4)
    assert m.current_limits() == (1.0, 0.0)
    x = torch.randn(8, 3)
    expected_rm, expected_rv = m.running_mean.clone(), m.running_var.clone()
    expected = M.batch_renorm(x, expected_rm, expected_rv, m.weight, m.bias, True, m.momentum, m.eps, 1.0, 0.0)
    torch.testing.assert_close(m(x), expected)
    torch.testing.assert_close(m.running_mean, expected_rm)
    assert m.current_limits() == (1.5, 1.25)
    for _ in range(5):
        m(x)
    assert m.current_limits() == (3.0, 5.0)
    m.eval()
    torch.testing.assert_close(m(x), F.batch_norm(x, m.running_mean, m.running_var, m.weight, m.bias))
    assert M.BatchRenorm2d(3)(torch.randn(2, 3, 4, 4)).shape == (2, 3, 4, 4)


# -------------------------------------------------------------------------------------- noisy BN
def test_noisy_batch_norm_eval_is_batch_norm_and_training_adds_step_varying_noise():
    torch.manual_seed(0)
    m = M.NoisyBatchNorm1d(4)
    x = torch.randn(512, 4) * 3 + 2
    outs = [m(x) for _ in range(2)]
    means = [o.mean(0) for o in outs]
    stds = [o.std(0, unbiased=False) for o in outs]
    assert (means[0] - means[1]).abs().max() > 0.05  # the noise mean changes from step to step
    assert (stds[0] - 1).abs().max() > 0.05  # and the variance is not 1
    assert means[0].abs().max() <= 1.0 + 0.2  # means drawn from U(-1, 1), plus sampling noise
    m.eval()
    torch.testing.assert_close(m(x), F.batch_norm(x, m.running_mean, m.running_var, m.weight, m.bias))


def test_noise_does_not_change_gradients_and_is_reproducible():
    x = torch.randn(32, 3, dtype=torch.float64, requires_grad=True)
    xr = x.detach().clone().requires_grad_()
    grad = torch.randn(32, 3, dtype=torch.float64)
    y = M.noisy_batch_norm(x, None, None, training=True, generator=torch.Generator().manual_seed(0))
    y.backward(grad)
    F.batch_norm(xr, None, None, training=True).backward(grad)
    torch.testing.assert_close(x.grad, xr.grad)
    y2 = M.noisy_batch_norm(x, None, None, training=True, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(y, y2)
    plain = M.noisy_batch_norm(x, None, None, training=True, max_shift=0.0, max_std=0.0)
    torch.testing.assert_close(plain, F.batch_norm(x, None, None, training=True))


# ------------------------------------------------------------------------------ training helpers
def test_make_modern_mlp_layers():
    names = {norm: [type(m).__name__ for m in M.make_modern_mlp(norm, depth=1, width=8)] for norm in M.MODERN_NORMS}
    assert names["weight_norm"] == ["WeightNormLinear", "ReLU", "WeightNormLinear"]
    assert names["noisy_batch"][1] == "NoisyBatchNorm1d" and names["batch"][1] == "BatchNorm1d"
    assert names["none"] == ["Linear", "ReLU", "Linear"]


def test_train_mlp_is_deterministic_and_learns():
    a = M.train_mlp("batch_renorm", batch_size=64, epochs=1, width=32)
    b = M.train_mlp("batch_renorm", batch_size=64, epochs=1, width=32)
    assert a["val_error"] == b["val_error"] and a["train_loss"] == b["train_loss"]
    assert a["val_error"] < 0.3 and a["steps"] == 1347 // 64
    assert a["val_error_train_mode"] is not None
    assert M.train_mlp("weight_norm", batch_size=64, epochs=1, width=16)["val_error_train_mode"] is None


def test_measure_norm_cost_rows():
    rows = M.measure_norm_cost((4, 8), repeats=1, backward=True)
    assert {(r["norm"], r["impl"]) for r in rows} == {("rms", "normviz"), ("rms", "torch"), ("layer", "normviz"),
                                                      ("layer", "torch")}
    assert all(r["ms"] > 0 and r["backward"] for r in rows)


def test_measure_norm_cost_both_passes_in_a_fresh_process(monkeypatch):
    import os
    import subprocess

    children, real_run = [], subprocess.run

    def recording_run(cmd, *args, **kwargs):
        children.append(kwargs.get("env"))
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", recording_run)
    rows = M.measure_norm_cost((4, 8), repeats=1, backward=(False, True), fresh_process=True)
    assert len(children) == 1  # one child process, which timed both passes
    env = children[0]
    assert env["MALLOC_MMAP_THRESHOLD_"] == str(32 << 20) and env["MALLOC_TRIM_THRESHOLD_"] == str(256 << 20)
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(Path(M.__file__).resolve().parent.parent)
    assert [(r["norm"], r["impl"], r["backward"]) for r in rows] == [
        (norm, impl, backward) for backward in (False, True)
        for norm, impl in (("rms", "normviz"), ("rms", "torch"), ("layer", "normviz"), ("layer", "torch"))
    ]
    assert all(r["shape"] == (4, 8) and r["ms"] > 0 for r in rows)


def test_time_round_robin_takes_turns():
    calls = []
    best = M._time_round_robin({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1)
    assert calls == ["a", "b"] * 4 and set(best) == {"a", "b"}


@pytest.mark.parametrize("backward", ["yes", (), (True, 1)])
def test_measure_norm_cost_rejects_bad_backward(backward):
    with pytest.raises(TypeError, match=r"backward must be a bool or a tuple of bools, got .*; try \(False, True\)"):
        M.measure_norm_cost((4, 8), repeats=1, backward=backward)


def test_plot_small_batch_comparison_draws_the_numbers():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = {"batch": {2: {"val_error": 0.4}, 32: {"val_error": 0.05}},
               "weight_norm": {2: {"val_error": 0.1}, 32: {"val_error": 0.06}}}
    fig, ax = plt.subplots()
    lines = M.plot_small_batch_comparison(results, ax=ax)
    assert lines[0].get_xdata().tolist() == [2, 32]
    assert lines[1].get_ydata().tolist() == pytest.approx([10.0, 6.0])
    plt.close(fig)


# ------------------------------------------------------------------------------------------- errors
def test_errors_name_the_parameter_and_a_fix():
    with pytest.raises(ValueError, match=r"g must have v.shape\[dim\] = 3 values, as a vector or of shape \(3, 1\)"):
        M.weight_norm(torch.ones(3, 2), torch.ones(2))
    with pytest.raises(ValueError, match=r"dim must be in \[-2, 1\] for v of shape \(3, 2\), got 2"):
        M.weight_norm(torch.ones(3, 2), torch.ones(3), dim=2)
    with pytest.raises(TypeError, match=r"v must be a torch.Tensor, got list"):
        M.weight_norm([1.0], torch.ones(1))
    with pytest.raises(TypeError, match=r"linear must be a torch.nn.Linear, got .*Conv2d"):
        M.WeightNormLinear.from_linear(nn.Conv2d(1, 1, 1))
    with pytest.raises(ValueError, match=r"rmax must be >= 1 .* got 0.5; try rmax=3.0"):
        M.renorm_correction(torch.zeros(1), torch.ones(1), torch.zeros(1), torch.ones(1), rmax=0.5)
    with pytest.raises(ValueError, match=r"running_mean must be a tensor of shape \(3,\), got None"):
        M.batch_renorm(torch.randn(4, 3), None, torch.ones(3), training=True)
    with pytest.raises(ValueError, match=r"batch_renorm in training needs more than one value per channel"):
        M.batch_renorm(torch.randn(1, 3), torch.zeros(3), torch.ones(3), training=True)
    with pytest.raises(ValueError, match=r"input must have 3 channels at dim 1, got shape \(4, 5\)"):
        M.BatchRenorm1d(3)(torch.randn(4, 5))
    with pytest.raises(ValueError, match=r"input must be 2-D or 3-D \(\(N, C\) or \(N, C, L\)\), got a 4-D tensor"):
        M.BatchRenorm1d(3)(torch.randn(4, 3, 2, 2))
    with pytest.raises(ValueError, match=r"warmup_steps must be an int >= 0, got -1"):
        M.BatchRenorm1d(3, warmup_steps=-1)
    with pytest.raises(ValueError, match=r"max_std must be >= 0, got -1"):
        M.noisy_batch_norm(torch.randn(4, 3), None, None, training=True, max_std=-1)
    with pytest.raises(TypeError, match=r"dim must be an int, got float \(0.5\)"):
        M.weight_norm(torch.ones(3, 2), torch.ones(3), dim=0.5)
    with pytest.raises(TypeError, match=r"g must have a floating-point dtype, got torch.int64; convert it with g.float\(\)"):
        M.weight_norm(torch.ones(3, 2), torch.ones(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\), got \(2,\)"):
        M.batch_renorm(torch.randn(4, 3), torch.zeros(3), torch.ones(3), weight=torch.ones(2), training=True)
    with pytest.raises(ValueError, match=r"rmax must be >= 1, got 0.5; try rmax=3.0"):
        M.BatchRenorm2d(3, rmax=0.5)
    with pytest.raises(ValueError, match=r"input must be 4-D \(\(N, C, H, W\)\), got a 2-D tensor"):
        M.NoisyBatchNorm2d(3)(torch.randn(4, 3))
    with pytest.raises(ValueError, match=r"activation must be one of \('relu', 'tanh', 'sigmoid'\), got 'gelu'"):
        M.make_modern_mlp("batch", activation="gelu")
    with pytest.raises(ValueError, match=r"shape must be a positive int, got 0"):
        M.measure_norm_cost((0, 8))
    with pytest.raises(ValueError, match=r"norm must be one of .*'weight_norm'.* got 'foo'"):
        M.make_modern_mlp("foo")
    with pytest.raises(ValueError, match=r"batch_size must be >= 2 for norm='batch' .* got 1"):
        M.train_mlp("batch", batch_size=1)
    with pytest.raises(ValueError, match=r"norms must contain names from .* got 'group'"):
        M.compare_small_batches(("group",))


# ------------------------------------------------------------------------------------ shipped cache
def test_shipped_sweep_is_complete_and_a_rerun_reproduces_it():
    if not M.SMALL_BATCH_RESULTS.exists():
        pytest.skip("no shipped sweep yet: python -m normviz.modern regenerate")
    sweep = M.load_small_batch_sweep()
    assert list(sweep) == list(M.SMALL_BATCH_SWEEP["norms"])
    for by_batch in sweep.values():
        assert sorted(by_batch) == list(M.SMALL_BATCH_SWEEP["batch_sizes"])
        assert all(len(runs) == len(M.SMALL_BATCH_SWEEP["seeds"]) for runs in by_batch.values())
    fresh = M.run_small_batch_sweep(("weight_norm", "batch_renorm"), (64,), (0,))["runs"]
    for norm in ("weight_norm", "batch_renorm"):
        stored, rerun = sweep[norm][64][0], fresh[norm]["64"][0]
        assert abs(stored["val_error"] - rerun["val_error"]) <= 1 / 450  # one image, for another CPU's rounding
        assert stored["train_loss"] == pytest.approx(rerun["train_loss"], rel=1e-4)


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no cached runs at .*python -m normviz.modern regenerate"):
        M.load_small_batch_sweep(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other", "runs": {}}')
    with pytest.raises(ValueError, match=r"has format 'other', expected 'normviz-modern-sweep-1'; regenerate it"):
        M.load_small_batch_sweep(bad)
