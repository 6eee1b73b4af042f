"""The batch-norm notebook's demonstrations: each claim they print is checked here against torch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from normviz import batchnorm_demos as demos


def test_bias_before_batch_norm_is_redundant():
    result = demos.bias_redundancy(seed=1)
    assert result["linear_bias_max"] > 1.0  # large biases were used, so a real difference would show
    assert result["linear_output_max_diff"] < 1e-12 and result["conv_output_max_diff"] < 1e-12
    assert result["linear_bias_grad_max"] < 1e-10 and result["conv_bias_grad_max"] < 1e-10


def test_demos_leave_random_state_threads_and_dtype_alone():
    state, threads = torch.random.get_rng_state(), torch.get_num_threads()
    demos.bias_redundancy()
    demos.gradient_scale_by_layer("batch", depth=3)
    assert torch.equal(state, torch.random.get_rng_state())
    assert torch.get_num_threads() == threads
    assert torch.get_default_dtype() == torch.float32


def test_batch_norm_each_equals_one_call_per_batch():
    batches = torch.randn(6, 5, 4)  # (D, B, F)
    expected = torch.stack([nn.functional.batch_norm(b, None, None, training=True) for b in batches])
    torch.testing.assert_close(demos._batch_norm_each(batches), expected)


def test_batch_noise_shrinks_with_batch_size_and_vanishes_in_eval():
    result = demos.batch_noise(batch_sizes=(4, 512), draws=60)
    assert result["batch_sizes"] == [4, 512]
    assert result["noise_std"][0] > 1.5 * result["noise_std"][1] > 0
    assert result["eval_noise_std"] == 0.0


def test_batch_noise_falls_like_one_over_sqrt_batch_size():
    # the notebook's claim: about half the noise for a four times larger batch, at every step of the sweep
    noise = demos.batch_noise(batch_sizes=(2, 8, 32, 128), draws=60, samples=20)["noise_std"]
    ratios = [noise[i] / noise[i + 1] for i in range(3)]
    assert all(1.6 < r < 2.4 for r in ratios), ratios


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"samples": 0}, ValueError, r"samples must be a positive"),
    ({"samples": 5000}, ValueError, r"samples must be at most the 1347 training images, got 5000"),
    ({"batch_sizes": (2, 2000)}, ValueError, r"batch_sizes must be at most the 1347 training images, got 2000"),
])
def test_batch_noise_rejects_bad_samples(kwargs, error, match):
    with pytest.raises(error, match=match):
        demos.batch_noise(**kwargs)


@pytest.mark.parametrize(("sizes", "error", "match"), [
    ((1, 8), ValueError, r"batch_sizes must all be >= 2 .* got \[1, 8\]; try"),
    ("ab", TypeError, r"batch_sizes must be a sequence of ints, got 'ab'; try"),
])
def test_batch_noise_rejects_bad_sizes(sizes, error, match):
    with pytest.raises(error, match=match):
        demos.batch_noise(batch_sizes=sizes)


def test_placement_reports_what_the_next_layer_receives():
    result = demos.placement_experiment(seeds=(0,), epochs=1)
    before, after = result["before"], result["after"]
    assert 0.3 < before["zero_fraction"] < 0.7 and before["output_mean"] > 0.1
    assert after["zero_fraction"] == 0.0
    assert after["output_mean"] == pytest.approx(0.0, abs=1e-5)
    assert after["output_std"] == pytest.approx(1.0, abs=1e-3)
    assert 0.0 <= before["mean"] < 0.2 and 0.0 <= after["mean"] < 0.2  # both train


@pytest.mark.parametrize(("seeds", "error", "match"), [
    ((), ValueError, r"seeds must be a non-empty sequence of non-negative ints, got \(\); try"),
    (3, TypeError, r"seeds must be a sequence of ints, got int; try seeds=\(0, 1, 2\)"),
    ((0, -1), ValueError, r"seeds must be a non-empty sequence"),
])
def test_experiments_reject_bad_seeds(seeds, error, match):
    with pytest.raises(error, match=match):
        demos.placement_experiment(seeds=seeds)


def test_noisy_bn_shifts_inputs_more_but_still_trains():
    result = demos.noisy_bn_experiment(seeds=(0,), epochs=2)
    assert result["noisy"]["input_shift"] > 10 * result["batch"]["input_shift"]
    # step to step, noisy BN's layer input moves far more than even the plain network's (a slow drift)
    assert result["noisy"]["step_shift"] > 10 * result["none"]["step_shift"]
    assert result["none"]["step_shift"] < result["none"]["input_shift"]
    assert result["none"]["mean"] > 0.8  # the plain sigmoid network stays near chance (90% error)
    assert result["batch"]["mean"] < 0.5 and result["noisy"]["mean"] < 0.5


def test_noisy_bn_probe_does_not_change_the_model():
    # Only the first seed is probed. Plain BN draws no random numbers, so if probing left the running statistics
    # alone, seed 0 must reach the same validation error whether it is probed (first) or not (second).
    probed = demos.noisy_bn_experiment(seeds=(0, 1), epochs=1)["batch"]["val_errors"][0]
    unprobed = demos.noisy_bn_experiment(seeds=(1, 0), epochs=1)["batch"]["val_errors"][1]
    assert probed == unprobed


def test_gradient_scale_matches_autograd():
    # Recompute the first layer's gradient std directly, with the same seeded network.
    from normviz.data import load_digits_split
    from normviz.models import make_mlp

    scales = demos.gradient_scale_by_layer("none", activation="tanh", depth=3, width=16, init_scale=0.3, seed=4)
    x, y = load_digits_split(flat=True)[:2]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(4)
        model = make_mlp("none", depth=3, width=16, activation="tanh", init_scale=0.3)
    h = model.act1(model.norm1(model.fc1(x[:256])))
    h.retain_grad()
    rest = nn.Sequential(*list(model.children())[3:])
    nn.functional.cross_entropy(rest(h), y[:256]).backward()
    assert scales[0] == pytest.approx(h.grad.std().item(), rel=1e-4)


def test_gradient_scale_explodes_without_batch_norm_only():
    plain = demos.gradient_scale_by_layer("none", depth=8, init_scale=0.5)
    normalized = demos.gradient_scale_by_layer("batch", depth=8, init_scale=0.5)
    assert plain[0] / plain[-1] > 100
    assert normalized[0] / normalized[-1] < 10
