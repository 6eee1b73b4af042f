"""normviz.lrn: AlexNet's constants in PyTorch's convention, the LRN divisor and the lateral-inhibition explorer."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from normviz import axes, lrn

matplotlib.use("Agg")


# ----------------------------------------------------------------------------------------------------------
# Conventions: the paper's sum form and PyTorch's mean form
# ----------------------------------------------------------------------------------------------------------
def _paper_lrn(x: torch.Tensor, k: float, n: int, alpha: float, beta: float) -> torch.Tensor:
    """Section 3.3 of the AlexNet paper written literally: alpha times the SUM over j = i - n/2 .. i + n/2."""
    C = x.shape[1]
    out = torch.empty_like(x)
    for i in range(C):
        lo, hi = max(0, i - n // 2), min(C - 1, i + n // 2)
        out[:, i] = x[:, i] / (k + alpha * (x[:, lo : hi + 1] ** 2).sum(1)) ** beta
    return out


def test_alexnet_lrn_reproduces_the_papers_formula():
    x = torch.relu(torch.randn(2, 12, 4, 4, dtype=torch.float64) * 80)  # pixel-scale activations
    module = lrn.alexnet_lrn()
    assert isinstance(module, torch.nn.LocalResponseNorm)
    assert (module.size, module.alpha, module.beta, module.k) == (5, 5e-4, 0.75, 2.0)
    expected = _paper_lrn(x, **lrn.PAPER_CONSTANTS)
    torch.testing.assert_close(module(x), expected, rtol=1e-12, atol=1e-12)
    # PyTorch's defaults are not the paper's: the output is clearly different at this scale
    assert not torch.allclose(torch.nn.LocalResponseNorm(5)(x), expected, rtol=1e-3)


@pytest.mark.parametrize("n", [1, 3, 5, 7])
def test_conversion_matches_the_papers_formula_for_odd_windows(n):
    x = torch.randn(3, 9, 5, dtype=torch.float64) * 5
    args = lrn.torch_lrn_arguments(k=1.5, n=n, alpha=3e-3, beta=0.6)
    torch.testing.assert_close(F.local_response_norm(x, **args), _paper_lrn(x, 1.5, n, 3e-3, 0.6))


@given(
    size=st.integers(1, 12),
    alpha=st.floats(0.0, 10.0),
    beta=st.floats(0.0, 2.0),
    k=st.floats(0.0, 5.0),
)
@settings(max_examples=50, deadline=None)
def test_paper_constants_invert_torch_arguments(size, alpha, beta, k):
    paper = lrn.paper_lrn_constants(size, alpha, beta, k)
    back = lrn.torch_lrn_arguments(**paper)
    assert back["size"] == size and back["beta"] == beta and back["k"] == k
    assert back["alpha"] == pytest.approx(alpha, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: lrn.torch_lrn_arguments(n=0), "n must be a positive int, got 0"),
        (lambda: lrn.torch_lrn_arguments(n=2.5), "n must be an int, got float"),
        (lambda: lrn.torch_lrn_arguments(alpha=-1e-4), "alpha must be >= 0, got -0.0001"),
        (lambda: lrn.paper_lrn_constants(size=0), "size must be a positive int, got 0"),
        (lambda: lrn.paper_lrn_constants(5, alpha="big"), "alpha must be a real number, got str"),
    ],
)
def test_conversion_errors(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()


# ----------------------------------------------------------------------------------------------------------
# The window and the divisor
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 6, 9])
@pytest.mark.parametrize("num_channels", [1, 4, 7])
def test_channel_window_is_the_set_torch_sums_over(size, num_channels):
    # Raising channel j changes the output of another channel c exactly when c's window contains j.
    plain = torch.ones(1, num_channels, 1, dtype=torch.float64)
    plain_out = F.local_response_norm(plain, size, alpha=1.0, beta=1.0, k=1.0)
    for j in range(num_channels):
        raised = plain.clone()
        raised[0, j] = 3.0
        out = F.local_response_norm(raised, size, alpha=1.0, beta=1.0, k=1.0)
        changed = {c for c in range(num_channels) if c != j and not torch.isclose(out[0, c], plain_out[0, c])}
        in_window = {c for c in range(num_channels) if c != j and j in lrn.channel_window(c, num_channels, size)}
        assert changed == in_window
        assert lrn.channel_window(j, num_channels, size) == range(*axes.lrn_window(j, size, num_channels))


@pytest.mark.parametrize("shape", [(2, 6, 5), (3, 7, 4, 4), (1, 3, 2, 2, 2)])
@pytest.mark.parametrize("size", [1, 2, 5, 8])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_divisor_reproduces_torch(shape, size, dtype):
    x = torch.randn(*shape, dtype=dtype) * 4
    for alpha, beta, k in [(1e-4, 0.75, 1.0), (5e-4, 0.75, 2.0), (2.0, 0.5, 0.3)]:
        got = x / lrn.lrn_divisor(x, size, alpha, beta, k)
        tol = 1e-5 if dtype == torch.float32 else 1e-12
        torch.testing.assert_close(got, F.local_response_norm(x, size, alpha, beta, k), rtol=tol, atol=tol)


@given(scale=st.floats(0.1, 100.0), size=st.integers(1, 7))
@settings(max_examples=30, deadline=None)
def test_divisor_is_at_least_k_to_the_beta_and_lrn_is_not_scale_invariant(scale, size):
    x = torch.randn(2, 6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    divisor = lrn.lrn_divisor(x * scale, size, alpha=0.1, beta=0.75, k=2.0)
    assert bool((divisor >= 2.0**0.75 - 1e-12).all())
    # Unlike batch or layer norm, scaling the input changes the output by a different factor per element.
    ratio = F.local_response_norm(x * scale, size, 0.1, 0.75, 2.0) / F.local_response_norm(x, size, 0.1, 0.75, 2.0)
    if scale > 1.5:
        assert float(ratio.max() - ratio.min()) > 1e-6


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: lrn.lrn_divisor(torch.ones(4, 5), 3), ValueError, r"at least 3-D \(N, C, \*\).*got shape \(4, 5\)"),
        (lambda: lrn.lrn_divisor(np.ones((1, 4, 5)), 3), TypeError, "input must be a torch.Tensor"),
        (lambda: lrn.lrn_divisor(torch.ones(1, 4, 5, dtype=torch.int64), 3), TypeError,
         r"input must have a floating-point dtype, got torch.int64; convert it with input.float\(\)"),
        (lambda: lrn.lrn_divisor(torch.ones(1, 4, 5), 0), ValueError, "size must be a positive int"),
        (lambda: lrn.lrn_divisor(torch.ones(1, 4, 5), 3, k=-1.0), ValueError, "k must be >= 0"),
        (lambda: lrn.channel_window(5, 4, 3), ValueError, r"channel must be in \[0, 3\].*got 5"),
        (lambda: lrn.channel_window(1.0, 4, 3), TypeError, "channel must be an int, got float"),
        (lambda: lrn.make_activation_map(5000), ValueError, r"digit_index must be in \[0, 1796\], got 5000"),
        (lambda: lrn.make_lateral_inhibition_explorer(position=(9, 0)), ValueError, "inside the 8x8 map"),
    ],
)
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ----------------------------------------------------------------------------------------------------------
# Lateral inhibition
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
def test_suppression_profile_drops_exactly_the_channels_whose_window_holds_the_strong_one(size):
    C, strong = 11, 5
    gains = lrn.suppression_profile(C, strong, 8.0, size=size, alpha=1.0, beta=0.75, k=1.0, baseline=2.0)
    # oracle: torch on the same flat-plus-one-strong input
    flat = torch.full((1, C, 1), 2.0, dtype=torch.float64)
    boosted = flat.clone()
    boosted[0, strong] = 16.0
    expected = (F.local_response_norm(boosted, size, 1.0, 0.75, 1.0) / F.local_response_norm(flat, size, 1.0, 0.75, 1.0))
    np.testing.assert_allclose(gains, expected[0, :, 0].numpy(), rtol=1e-12)
    for c in range(C):
        if c == strong:
            continue
        inhibited = strong in lrn.channel_window(c, C, size)
        assert (gains[c] < 1.0) == inhibited
        if not inhibited:
            assert gains[c] == pytest.approx(1.0)


def test_activation_map_is_seeded_and_in_pixel_units():
    a1, image = lrn.make_activation_map(3, 8, seed=1)
    a2, _ = lrn.make_activation_map(3, 8, seed=1)
    a3, _ = lrn.make_activation_map(3, 8, seed=2)
    torch.testing.assert_close(a1, a2)
    assert not torch.equal(a1, a3)
    assert image.min() >= 0 and image.max() <= 255.0 and image.max() > 200.0
    assert a1.shape == (1, 8, 8, 8) and bool((a1 >= 0).all())
    # at the paper's constants LRN changes these activations by far more than the constant k**-beta
    gain = F.local_response_norm(a1, 5, 5e-4, 0.75, 2.0)[a1 > 0] / a1[a1 > 0]
    assert float(gain.min()) < 0.5 * 2.0**-0.75


def test_plot_channel_window_draws_the_windows():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    image = lrn.plot_channel_window(7, 4, ax=ax)
    grid = np.asarray(image.get_array())
    for c in range(7):
        np.testing.assert_array_equal(np.flatnonzero(grid[c]), list(lrn.channel_window(c, 7, 4)))
    assert ax.get_xlabel() and ax.get_ylabel()
    plt.close(fig)


# ----------------------------------------------------------------------------------------------------------
# The explorer: artists follow the sliders, computed from the pure functions
# ----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def explorer():
    e = lrn.make_lateral_inhibition_explorer()
    yield e
    import matplotlib.pyplot as plt

    plt.close(e.fig)


def _heights(bars):
    return np.array([bar.get_height() for bar in bars])


@pytest.mark.parametrize(
    "setting",
    [
        {"size": 5, "k": 2.0, "alpha": 5e-4, "beta": 0.75, "strength": 5.0},
        {"size": 2, "k": 1.0, "alpha": 1e-2, "beta": 1.0, "strength": 12.0},
        {"size": 9, "k": 0.5, "alpha": 1e-5, "beta": 0.3, "strength": 1.0},
    ],
)
def test_explorer_artists_follow_the_controls(explorer, setting):
    for name, value in setting.items():
        explorer.controls[name].value = value
    assert explorer.error is None
    v = explorer.values()  # the sliders round to their step
    row, col = explorer.position
    expected = F.local_response_norm(explorer.activations, v["size"], v["alpha"], v["beta"], v["k"])[0, :, row, col]
    np.testing.assert_allclose(_heights(explorer.artists["after_bars"]), expected.numpy(), rtol=1e-9)
    gains = lrn.suppression_profile(
        16, explorer.strong_channel, v["strength"], size=v["size"], alpha=v["alpha"], beta=v["beta"], k=v["k"],
        baseline=explorer.baseline,
    )
    heights = _heights(explorer.artists["gain_bars"])
    others = np.arange(16) != explorer.strong_channel
    np.testing.assert_allclose(heights[others], gains[others], rtol=1e-9)
    assert heights[explorer.strong_channel] == pytest.approx(min(gains[explorer.strong_channel], 1.1))
    window = explorer.artists["window"]
    inhibited = [c for c in range(16) if explorer.strong_channel in lrn.channel_window(c, 16, v["size"])]
    assert window.get_x() == pytest.approx(min(inhibited) - 0.5)
    assert window.get_width() == pytest.approx(len(inhibited))
    assert f"×{gains[explorer.strong_channel]:.2f}" in explorer.artists["strong_text"].get_text()
    assert f"n={v['size']}" in explorer.readouts["readout"].value
    # The right axis holds the after-LRN bars with room above them, in round steps (sticky limits).
    low, top = explorer.artists["after_axis"].get_ylim()
    assert low == 0.0 and 0.4 * top <= expected.max().item() <= 0.75 * top


def _pixels(png: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def test_explorer_blitted_frames_equal_a_full_redraw():
    # The fast path (cached background, only the bars, window and texts redrawn) must show what a full
    # redraw shows, both when the cached background is reused and when a new one is rendered.
    import matplotlib.pyplot as plt

    e = lrn.make_lateral_inhibition_explorer()
    assert e.widget is e.widget  # built once; draws the first frame
    backgrounds = set()
    for name, value in [("size", 3), ("strength", 12.0), ("k", 0.5), ("alpha", 1e-2), ("beta", 1.5), ("size", 9)]:
        e.controls[name].value = value
        assert e.error is None
        backgrounds.add(e._background_key)
        fast, full = _pixels(e.png()), _pixels(e.full_png())
        assert fast.shape == full.shape
        assert np.mean(np.any(fast != full, axis=-1)) < 0.0005  # a few anti-aliased edge pixels at most
        e.png()  # full_png emptied the cache: keep only this frame's background, which the next change must
        # replace if (and only if) its key changed; a key that missed a change would show stale ticks
    assert len(backgrounds) > 1  # the sequence moved the right axis' limits, so both paths were compared
    plt.close(e.fig)


def test_explorer_redraws_for_every_window_size(explorer):
    # each slider move redraws and records its latency (make bench measures the latency itself)
    for size in [3, 4, 5, 6, 7, 3, 5]:
        explorer.last_latency = None
        explorer.controls["size"].value = size
        assert explorer.error is None and explorer.last_latency is not None
        assert f"n={size}" in explorer.readouts["readout"].value


# ----------------------------------------------------------------------------------------------------------
# The experiment of "why it fell out of use"
# ----------------------------------------------------------------------------------------------------------
def test_lrn_experiment_configs_differ_only_in_the_norm():
    configs = lrn.lrn_experiment_configs(seeds=(0, 1))
    assert [(c.norm, c.seed) for c in configs] == [(n, s) for n in lrn.LRN_EXPERIMENT_NORMS for s in (0, 1)]
    base = configs[0].to_dict()
    for config in configs:
        fields = config.to_dict()
        assert {k for k in fields if fields[k] != base[k]} <= {"norm", "seed"}
    from normviz import experiments

    # the batch-norm runs are those of the groups sweep, so the shipped cache answers them
    assert all(c in experiments.SWEEPS["groups"] for c in configs if c.norm == "batch")
    with pytest.raises(ValueError, match="seeds must be a non-empty sequence of non-negative ints"):
        lrn.lrn_experiment_configs(seeds=())


def test_run_and_plot_lrn_experiment_from_histories(monkeypatch):
    from normviz import experiments

    def fake_get_run(config, allow_train=False, **kwargs):
        if config.norm == "none" and config.seed == 1:  # a diverged run: shorter lists, no final error
            return {"epoch": [0, 1, 2, 3, 4, 5], "val_error": [0.9, 0.9], "final_val_error": None}
        errors = [0.9, 0.5, 0.2, 0.1, 0.05, 0.01 * (1 + config.seed)]
        return {"epoch": [0, 1, 2, 3, 4, 5], "val_error": errors, "final_val_error": errors[-1]}

    monkeypatch.setattr(experiments, "get_run", fake_get_run)
    results = lrn.run_lrn_experiment(seeds=(0, 1))
    assert set(results) == set(lrn.LRN_EXPERIMENT_NORMS)
    assert results["batch"]["val_error"].shape == (2, 6)
    np.testing.assert_allclose(results["batch"]["final"], [0.01, 0.02])
    assert np.isnan(results["none"]["val_error"][1, 2:]).all() and np.isnan(results["none"]["final"][1])
    lines = lrn.plot_lrn_experiment(results)
    np.testing.assert_allclose(lines["batch"].get_ydata(), 100 * results["batch"]["val_error"].mean(axis=0))
    np.testing.assert_allclose(lines["none"].get_ydata()[2:], 100 * results["none"]["val_error"][0, 2:])
    assert "mean of 2 seeds" in lines["batch"].get_label()
    import matplotlib.pyplot as plt

    plt.close("all")


# ------------------------------------------------------------------------------ LRN as a fixed factor


def test_fixed_factor_cnn_swaps_every_lrn_layer(monkeypatch):
    from normviz import models, training

    seen = {}

    def fake_train(config, *, transform_model):
        seen["config"] = config
        seen["model"] = transform_model(models.make_cnn("local_response"))
        return {"config": config.to_dict()}

    monkeypatch.setattr(training, "train", fake_train)
    lrn.train_fixed_factor_cnn(batch_size=8, seed=2, epochs=3)
    kinds = [type(m) for m in seen["model"].modules()]
    from normviz import nn as normviz_nn

    assert kinds.count(lrn.FixedFactor) == 2
    assert not {torch.nn.LocalResponseNorm, normviz_nn.LocalResponseNorm} & set(kinds)
    factors = [m.factor for m in seen["model"].modules() if isinstance(m, lrn.FixedFactor)]
    assert factors == pytest.approx([2.0**-0.75] * 2)
    assert (seen["config"].batch_size, seen["config"].seed, seen["config"].epochs) == (8, 2, 3)


def test_lrn_on_standardized_digits_trains_like_a_fixed_factor():
    """Notebook 05's claim, on one epoch: the LRN CNN and its fixed-factor twin end within one image."""
    from normviz import experiments, training

    fixed = lrn.train_fixed_factor_cnn(epochs=1)
    real = training.train(experiments.cnn_config("local_response", epochs=1))
    n_val = len(training._load_data(experiments.cnn_config("none"))[3])
    assert abs(fixed["final_val_error"] - real["final_val_error"]) <= 1 / n_val
    assert fixed["train_loss"] != real["train_loss"]  # a different network, not the same run twice


def test_transform_model_is_checked():
    from normviz import training

    config = training.TrainConfig(epochs=1, width=8)
    with pytest.raises(TypeError, match="transform_model must be a callable taking and returning a model, got int"):
        training.train(config, transform_model=3)
    with pytest.raises(TypeError, match="transform_model must return a torch.nn.Module, got NoneType"):
        training.train(config, transform_model=lambda model: None)
    with pytest.raises(ValueError, match=r"factor must be > 0, got 0.0"):
        lrn.FixedFactor(0.0)
