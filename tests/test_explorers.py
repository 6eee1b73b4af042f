"""The explorers: set each control, then check the artists against normviz.axes, normviz.functional and torch."""

from __future__ import annotations

import contextlib
import io
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from PIL import Image  # noqa: E402

from normviz import axes, cube, explorers  # noqa: E402
from normviz import functional as NF  # noqa: E402


@pytest.fixture(autouse=True)
def _quiet_display():
    # Outside a kernel, each redraw's display() prints a repr; keep the test log readable.
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def _data_only(explorer):
    """Skip rendering PNGs in the data tests (the fast-path test below renders and compares pictures)."""
    explorer.draw = lambda: None
    return explorer


def _assert_no_callback_error(explorer):
    assert explorer.error is None, explorer.error
    assert math.isfinite(explorer.last_latency)


def _shaded(explorer) -> np.ndarray:
    """The (N, C, HW) cells painted shared/selected in the explorer's cube, read from the collection."""
    drawn = explorer.cube
    front = drawn.faces.kind[drawn.drawn] == 0
    rgba = explorer.artists["cells"].get_facecolors()[front]
    painted = np.zeros(rgba.shape[0], dtype=bool)
    for colour in (cube.SHARED_COLOR, cube.SELECTED_COLOR):
        painted |= np.all(np.isclose(rgba, to_rgba(colour)), axis=1)
    mask = np.zeros(math.prod(drawn.faces.shape), dtype=bool)
    mask[drawn.faces.cell[drawn.drawn][front][painted]] = True
    return mask.reshape(drawn.faces.shape)


# ================================================================================================ cube
@pytest.fixture(scope="module")
def cube_explorer():
    with contextlib.redirect_stdout(io.StringIO()):
        return _data_only(explorers.make_cube_explorer())


@pytest.mark.parametrize("method", axes.METHODS)
@pytest.mark.parametrize("shape, index", [((4, 6, 9), (1, 2, 4)), ((2, 12, 4), (1, 11, 3)),
                                          ((8, 5, 7), (7, 0, 6)), ((1, 1, 1), (0, 0, 0))])
def test_cube_explorer_shades_stats_mask(cube_explorer, method, shape, index):
    e = cube_explorer
    c = e.controls
    c["method"].value = method
    c["N"].value, c["C"].value, c["HW"].value = shape
    groups = axes.valid_group_counts(shape[1])
    c["groups"].value = groups[-1]
    c["size"].value = 5
    c["n"].value, c["c"].value, c["position"].value = index
    _assert_no_callback_error(e)
    options = {"num_groups": groups[-1] if method == "group" else None,
               "size": 5 if method == "local_response" else None}
    np.testing.assert_array_equal(_shaded(e), axes.stats_mask(method, shape, index, **options))
    # the printed call is axes.torch_call of the 4-D input the cube stands for
    h, w = explorers.spatial_factors(shape[2])
    call = axes.torch_call(method, (shape[0], shape[1], h, w), **options)
    assert e.artists["caption"].get_text() == call
    assert f"<code style='font-size:15px'>{call}</code>" in e.readouts["call"].value
    assert f"{int(_shaded(e).sum())} element" in e.readouts["call"].value


def test_cube_explorer_groups_offer_only_divisors(cube_explorer):
    c = cube_explorer.controls
    c["method"].value = "group"
    c["C"].value = 12
    c["groups"].value = 4
    c["C"].value = 9  # 4 no longer divides C: the nearest divisor is kept
    assert [v for _, v in c["groups"].options] == [1, 3, 9]
    assert c["groups"].value == 3
    assert not c["groups"].disabled and c["size"].disabled
    c["C"].value = 7
    assert [v for _, v in c["groups"].options] == [1, 7]
    _assert_no_callback_error(cube_explorer)


def test_cube_explorer_selectors_follow_the_shape(cube_explorer):
    c = cube_explorer.controls
    c["N"].value, c["C"].value, c["HW"].value = 8, 12, 9
    c["n"].value, c["c"].value, c["position"].value = 7, 11, 8
    c["N"].value, c["C"].value, c["HW"].value = 3, 2, 4
    assert (c["n"].max, c["c"].max, c["position"].max) == (2, 1, 3)
    assert (c["n"].value, c["c"].value, c["position"].value) == (2, 1, 3)
    assert cube_explorer.cube.faces.shape == (3, 2, 4)
    _assert_no_callback_error(cube_explorer)


def test_cube_explorer_rejects_a_shape_beyond_the_sliders():
    with pytest.raises(ValueError, match=r"shape must fit the sliders \(N <= 8, C <= 12, HW <= 9\)"):
        explorers.make_cube_explorer(shape=(9, 4, 4))
    with pytest.raises(ValueError, match="method must be one of"):
        explorers.make_cube_explorer("weight")


@pytest.mark.parametrize("positions, expected", [(1, (1, 1)), (4, (2, 2)), (6, (2, 3)), (7, (1, 7)), (8, (2, 4))])
def test_spatial_factors(positions, expected):
    assert explorers.spatial_factors(positions) == expected


def test_spatial_factors_rejects_zero():
    with pytest.raises(ValueError, match="positions must be a positive int"):
        explorers.spatial_factors(0)


# ======================================================================================== statistics
@pytest.fixture(scope="module")
def stats_explorer():
    with contextlib.redirect_stdout(io.StringIO()):
        return _data_only(explorers.make_statistics_explorer(num_images=6))


def _direct_sets(method, x, groups):
    """Each statistics set as a row, written out independently of the package, from stats_mask's rules."""
    N, C, H, W = x.shape
    if method == "batch":
        return [x[:, c].reshape(-1) for c in range(C)]
    if method in ("layer", "rms"):
        return [x[n].reshape(-1) for n in range(N)]
    if method == "layer_channels_last":
        return [x[n, :, h, w] for n in range(N) for h in range(H) for w in range(W)]
    if method == "instance":
        return [x[n, c].reshape(-1) for n in range(N) for c in range(C)]
    per = C // groups
    return [x[n, g * per:(g + 1) * per].reshape(-1) for n in range(N) for g in range(groups)]


def _torch_oracle(method, x, groups, eps, gamma, beta):
    C = x.shape[1]
    w, b = torch.full((C,), gamma), torch.full((C,), beta)
    F = torch.nn.functional
    if method == "batch":
        return F.batch_norm(x, None, None, w, b, training=True, eps=eps)
    if method == "layer":
        shape = x.shape[1:]
        return F.layer_norm(x, shape, torch.full(shape, gamma), torch.full(shape, beta), eps)
    if method == "layer_channels_last":
        return F.layer_norm(x.permute(0, 2, 3, 1), (C,), w, b, eps).permute(0, 3, 1, 2)
    if method == "instance":
        return F.instance_norm(x, weight=w, bias=b, eps=eps)
    if method == "group":
        return F.group_norm(x, groups, w, b, eps)
    return F.rms_norm(x, x.shape[1:], torch.full(x.shape[1:], gamma), eps)


@pytest.mark.parametrize("method", ["batch", "layer", "layer_channels_last", "instance", "group", "rms"])
def test_statistics_explorer_numbers(stats_explorer, method):
    e = stats_explorer
    c = e.controls
    c["method"].value = method
    c["groups"].value = 4
    c["eps"].value = 1e-3
    c["gamma"].value = 1.5
    c["beta"].value = 0.5
    _assert_no_callback_error(e)
    gamma, eps, beta = 1.5, c["eps"].value, (0.0 if method == "rms" else 0.5)
    x = e.input.double()
    expected = _torch_oracle(method, e.input, 4, eps, gamma, beta)
    torch.testing.assert_close(e.output, expected, atol=1e-5, rtol=1e-5)
    before = _direct_sets(method, x, 4)
    after = _direct_sets(method, e.output.double(), 4)
    spread = (lambda r: r.pow(2).mean().sqrt()) if method == "rms" else (lambda r: r.var(unbiased=False).sqrt())
    np.testing.assert_allclose(e.stats["mean_before"], [float(r.mean()) for r in before], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(e.stats["std_before"], [float(spread(r)) for r in before], rtol=1e-9)
    np.testing.assert_allclose(e.stats["mean_after"], [float(r.mean()) for r in after], atol=1e-5)
    np.testing.assert_allclose(e.stats["std_after"], [float(spread(r)) for r in after], rtol=1e-5)
    # what normalization promises: std (or RMS) gamma * sqrt(s / (s + eps)), mean beta except for RMS norm
    s = np.array([float(r.var(unbiased=False) if method != "rms" else r.pow(2).mean()) for r in before])
    np.testing.assert_allclose(e.stats["std_after"], gamma * np.sqrt(s / (s + eps)), rtol=1e-4)
    if method != "rms":
        np.testing.assert_allclose(e.stats["mean_after"], beta, atol=1e-5)
    # the artists show these numbers
    np.testing.assert_allclose(e.artists["mean_after"].get_ydata(), e.stats["mean_after"])
    np.testing.assert_allclose(e.artists["std_before"].get_ydata(), e.stats["std_before"])
    assert e.artists["gamma_line"].get_ydata()[0] == pytest.approx(gamma)
    counts, _ = np.histogram((e.output.numpy().ravel() - beta) / gamma, bins=np.linspace(-4, 4, 41))
    np.testing.assert_array_equal(e.artists["hist_after"].get_data().values, counts)


def test_statistics_explorer_eps_matters_for_the_faint_image(stats_explorer):
    c = stats_explorer.controls
    c["method"].value, c["gamma"].value, c["beta"].value = "instance", 1.0, 0.0
    c["eps"].value = 1e-8
    faint = stats_explorer.artists["std_faint"].get_ydata()
    assert len(faint) == 8 and np.all(faint > 0.99)  # eps negligible: std 1
    c["eps"].value = 1e-3
    faint = stats_explorer.artists["std_faint"].get_ydata()
    normal = stats_explorer.stats["std_after"][:8]
    assert np.all(faint < 0.5) and np.all(normal > 0.9)  # eps now dominates the faint image's variance


def test_statistics_explorer_rejects_lrn():
    with pytest.raises(ValueError, match="method must be one of"):
        explorers.make_statistics_explorer("local_response", num_images=4)
    with pytest.raises(ValueError, match="has no per-set mean or variance"):
        explorers.normalize("local_response", torch.zeros(2, 2, 2, 2))
    with pytest.raises(ValueError, match="bias must be 0 for RMS norm"):
        explorers.normalize("rms", torch.zeros(2, 2, 2, 2), bias=1.0)
    with pytest.raises(ValueError, match="method must be one of"):
        explorers.set_statistics("weight", torch.zeros(2, 2, 2, 2))


def test_digits_activations_are_seeded_copies():
    x1, picks1 = explorers.digits_activations(5, seed=3)
    x1.zero_()
    x2, picks2 = explorers.digits_activations(5, seed=3)
    assert x2.abs().sum() > 0 and np.array_equal(picks1, picks2)
    with pytest.raises(ValueError, match="num_images must be a positive int"):
        explorers.digits_activations(0)


# ===================================================================================== batch coupling
@pytest.fixture(scope="module")
def coupling_explorer():
    with contextlib.redirect_stdout(io.StringIO()):
        return _data_only(explorers.make_batch_coupling_explorer(batch_size=6))


def _functional(method, x, training, explorer):
    if method == "batch":
        return NF.batch_norm(x, explorer.running_mean, explorer.running_var, training=training)
    if method == "layer":
        return NF.layer_norm(x, x.shape[1:], torch.ones(x.shape[1:]), torch.zeros(x.shape[1:]))
    if method == "layer_channels_last":
        return NF.layer_norm_channels_last(x)
    if method == "instance":
        return NF.instance_norm(x)
    return NF.group_norm(x, 2)


@pytest.mark.parametrize("method", ["batch", "layer", "layer_channels_last", "instance", "group"])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_batch_coupling_outputs_equal_functional(coupling_explorer, method, mode):
    e = coupling_explorer
    c = e.controls
    c["method"].value, c["mode"].value = method, mode
    c["sample"].value, c["channel"].value = 2, 5
    c["shift"].value, c["scale"].value, c["noise"].value = 1.5, 2.0, 0.3
    _assert_no_callback_error(e)
    # the displayed tensor is the base batch with sample 2 moved
    expected_input = e.base_input.clone()
    expected_input[2] = 2.0 * expected_input[2] + 1.5 + 0.3 * e.pattern
    torch.testing.assert_close(e.input, expected_input)
    output = _functional(method, e.input, mode == "train", e)
    base = _functional(method, e.base_input, mode == "train", e)
    torch.testing.assert_close(e.output, output, atol=1e-6, rtol=1e-6)
    B = e.input.shape[0]
    others = [i for i in range(B) if i != 2]
    np.testing.assert_allclose(e.artists["after"].get_ydata(), output[others, 5].reshape(-1).numpy(), atol=1e-6)
    np.testing.assert_allclose(e.artists["moved"].get_ydata(), output[2, 5].reshape(-1).numpy(), atol=1e-6)
    np.testing.assert_allclose(e.artists["before"].get_ydata(), base[:, 5].reshape(-1).numpy(), atol=1e-6)
    change = (output - base).abs().reshape(B, -1).amax(dim=1).numpy()
    np.testing.assert_allclose([bar.get_height() for bar in e.artists["bars"]], change, atol=1e-6)
    coupled = method == "batch" and mode == "train"
    if coupled:
        assert change[others].min() > 1e-2  # every other sample moved
    else:
        assert change[others].max() == 0.0  # exactly untouched
    assert change[2] > 1e-2


def test_batch_coupling_eval_uses_running_stats_like_torch(coupling_explorer):
    e = coupling_explorer
    e.controls["method"].value, e.controls["mode"].value = "batch", "eval"
    expected = torch.nn.functional.batch_norm(e.input, e.running_mean, e.running_var, training=False)
    torch.testing.assert_close(e.output, expected, atol=1e-5, rtol=1e-5)


def test_layer_group_instance_norm_undo_a_shift_and_scale_of_the_sample(coupling_explorer):
    e = coupling_explorer
    c = e.controls
    c["mode"].value, c["noise"].value, c["shift"].value, c["scale"].value = "train", 0.0, 2.0, 2.0
    for method in ("layer", "instance", "group"):
        c["method"].value = method
        assert e.change.max() < 1e-3, method


def test_batch_coupling_rejects_unknown_method():
    with pytest.raises(ValueError, match="method must be one of"):
        explorers.make_batch_coupling_explorer("rms")


# ====================================================================================== running stats
@pytest.fixture(scope="module")
def running_explorer():
    with contextlib.redirect_stdout(io.StringIO()):
        return _data_only(explorers.make_running_stats_explorer(max_steps=60))


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("batch_size", [2, 16])
def test_running_curves_equal_torch_buffers(running_explorer, momentum, batch_size):
    e = running_explorer
    c = e.controls
    c["cumulative"].value = momentum is None
    if momentum is not None:
        c["momentum"].value = momentum
    c["batch_size"].value, c["steps"].value = batch_size, 40
    _assert_no_callback_error(e)
    bn = torch.nn.BatchNorm1d(1, momentum=momentum, affine=False)
    means, variances = [0.0], [1.0]
    for t in range(40):
        bn(e.samples[t, :batch_size].reshape(-1, 1))
        means.append(float(bn.running_mean[0]))
        variances.append(float(bn.running_var[0]))
    np.testing.assert_allclose(e.artists["running_mean"].get_ydata(), means, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(e.artists["running_var"].get_ydata(), variances, rtol=1e-5, atol=1e-6)
    # biased (used to normalize) vs unbiased (stored): the ratio is b / (b - 1)
    r = e.result
    np.testing.assert_allclose(r["batch_var_unbiased"] / r["batch_var_biased"], batch_size / (batch_size - 1))
    batches = e.samples[:40, :batch_size].double()
    heights = [bar.get_height() for bar in e.artists["bias_bars"]]
    np.testing.assert_allclose(heights, [float(batches.var(1, unbiased=False).mean()),
                                         float(batches.var(1, unbiased=True).mean())], rtol=1e-9)
    expected = "momentum=None" if momentum is None else f"PyTorch m = {momentum:.2f} ≡ Keras {1 - momentum:.2f}"
    assert expected in e.artists["rule"].get_text()


def test_running_gap_point_is_train_minus_eval(running_explorer):
    e = running_explorer
    c = e.controls
    c["cumulative"].value, c["momentum"].value, c["batch_size"].value, c["steps"].value = False, 0.1, 8, 60
    x = e._eval_batches[:, :8].T.reshape(8, -1)  # (b, batches): one column per batch
    mean, var = e.result["running_mean"][-1], e.result["running_var"][-1]
    train = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-5)
    eval_ = (x - mean) / math.sqrt(var + 1e-5)
    assert e.artists["gap_point"].get_ydata()[0] == pytest.approx(float((train - eval_).abs().mean()), rel=1e-4)
    assert list(e.gap_curve) == sorted(e.gap_curve, reverse=True)  # the gap shrinks as batches grow


def test_simulate_running_stats_cumulative_average():
    batches = torch.arange(12.0).reshape(4, 3)
    out = explorers.simulate_running_stats(batches, momentum=None)
    np.testing.assert_allclose(out["running_mean"][1:], np.cumsum(batches.mean(1).numpy()) / np.arange(1, 5))


# ================================================================================= fast redraw path
@pytest.mark.parametrize("builder, changes", [
    ("make_cube_explorer", [("method", "batch"), ("n", 2), ("C", 5)]),
    ("make_statistics_explorer", [("gamma", 1.5), ("eps", 1e-3), ("method", "group")]),
    ("make_batch_coupling_explorer", [("shift", 2.0), ("noise", 0.3), ("mode", "eval")]),
    ("make_running_stats_explorer", [("momentum", 0.3), ("batch_size", 32)]),
])
def test_cached_background_gives_the_full_picture(builder, changes):
    """The blitted PNG matches a from-scratch render (up to the stacking order where artists overlap)."""
    kwargs = {"num_images": 6} if builder == "make_statistics_explorer" else {}
    e = getattr(explorers, builder)(**kwargs)
    e.draw()
    for name, value in changes:
        e.controls[name].value = value
        _assert_no_callback_error(e)

    def pixels(png):
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)

    fast, full = pixels(e.png()), pixels(e.full_png())
    assert fast.shape == full.shape
    differs = np.abs(fast - full).max(axis=2) > 40
    assert differs.mean() < 2e-3
