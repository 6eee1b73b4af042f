"""normviz.comparison: the table's facts against torch.nn, the sweep summary and figure, the decision guide."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

from normviz import axes, comparison

matplotlib.use("Agg")

SHAPE = (4, 6, 3, 3)


class _ChannelsLast(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x):
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


def _torch_module(method: str) -> nn.Module:
    return {
        "batch": lambda: nn.BatchNorm2d(6),
        "layer": lambda: nn.LayerNorm(SHAPE[1:]),
        "layer_channels_last": lambda: _ChannelsLast(6),
        "instance": lambda: nn.InstanceNorm2d(6),
        "group": lambda: nn.GroupNorm(2, 6),
        "local_response": lambda: nn.LocalResponseNorm(3),
        "rms": lambda: nn.RMSNorm(SHAPE[1:]),
    }[method]()


# ----------------------------------------------------------------------------------------------------------
# The table's columns against what torch's modules do
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", axes.METHODS)
def test_batch_dependence_matches_torch(method):
    torch.manual_seed(0)
    module = _torch_module(method).train()
    x = torch.randn(*SHAPE)
    other = x.clone()
    other[1:] = torch.randn(SHAPE[0] - 1, *SHAPE[1:]) * 3 + 2  # change every sample but the first
    changed = not torch.allclose(module(x)[0], module(other)[0], atol=1e-6)
    assert comparison.depends_on_batch(method) == changed


@pytest.mark.parametrize("method", axes.METHODS)
def test_train_eval_difference_matches_torch(method):
    torch.manual_seed(0)
    module = _torch_module(method)
    x = torch.randn(*SHAPE) * 2 + 1
    module.train()
    train_out = module(x)
    module.eval()
    differ = not torch.allclose(module(x), train_out, atol=1e-6)
    assert comparison.METHOD_FACTS[method].train_eval_differ == differ


@pytest.mark.parametrize("method", ["batch", "layer", "layer_channels_last", "instance", "rms"])
def test_normalizes_over_names_the_dims_the_mask_spans(method):
    mask = axes.stats_mask(method, SHAPE, (1, 2, 1, 1))
    spans = [name for d, name in enumerate("NCHW") if mask.any(axis=tuple(i for i in range(4) if i != d)).sum() > 1]
    text = comparison.normalizes_over(method)
    named = text[text.index("(") + 1 : text.index(")")].split(", ")
    assert named == spans


def test_normalizes_over_group_and_local_response():
    assert comparison.normalizes_over("group").startswith("(C/G, H, W)")
    assert comparison.normalizes_over("local_response", size=3).startswith("3 neighbouring channels")
    with pytest.raises(ValueError, match="method must be one of .* got 'batchnorm'"):
        comparison.normalizes_over("batchnorm")


def test_every_method_has_facts_and_a_guide_row_where_it_has_a_use():
    assert set(comparison.METHOD_FACTS) == set(axes.METHODS)
    guided = {row.method for row in comparison.DECISION_GUIDE}
    assert set(axes.METHODS) <= guided


def test_comparison_table_rows_and_costs():
    costs = {m: 1e-3 * (i + 1) for i, m in enumerate(axes.METHODS)}
    rows = comparison.comparison_table(costs)
    assert [r["key"] for r in rows] == list(axes.METHODS)
    for row in rows:
        assert set(comparison.TABLE_COLUMNS) <= set(row)
        expected = costs[row["key"]] / costs["layer"]
        assert row["cost"] == f"{expected:.1f}x layer norm"
        assert row["PyTorch"] == axes.torch_call(
            row["key"], (8, 6, 4, 4), num_groups=2 if row["key"] == "group" else None,
            size=5 if row["key"] == "local_response" else None,
        )
    assert all(r["cost"] == "not measured" for r in comparison.comparison_table())


def test_render_table_markdown_and_html():
    rows = comparison.comparison_table()
    text = comparison.render_table(rows)
    lines = text.splitlines()
    assert len(lines) == 2 + len(rows)
    assert all(line.count(" | ") == len(comparison.TABLE_COLUMNS) - 1 for line in lines[2:])
    page = comparison.render_table([{"a": "<b>", "b": 1}], columns=("a", "b"), fmt="html")
    assert "&lt;b&gt;" in page and page.startswith("<table>")
    with pytest.raises(ValueError, match="fmt must be 'markdown' or 'html', got 'latex'"):
        comparison.render_table(rows, fmt="latex")
    with pytest.raises(ValueError, match=r"columns \['nope'\] are missing"):
        comparison.render_table(rows, columns=("method", "nope"))


def test_measure_costs_times_every_method_and_restores_threads():
    threads = torch.get_num_threads()
    costs = comparison.measure_costs((2, 8, 4, 4), repeats=2)
    assert set(costs) == set(axes.METHODS) and all(t > 0 for t in costs.values())
    assert torch.get_num_threads() == threads
    with pytest.raises(ValueError, match=r"shape must be 4 positive ints \(N, C, H, W\), got \(2, 8\)"):
        comparison.measure_costs((2, 8))
    with pytest.raises(ValueError, match="repeats must be a positive int, got 0"):
        comparison.measure_costs(repeats=0)


# ----------------------------------------------------------------------------------------------------------
# The sweeps
# ----------------------------------------------------------------------------------------------------------
def _fake_runs(rng):
    runs = []
    for norm in ("batch", "layer"):
        for bs in (2, 8, 32):
            for seed in range(3):
                error = float(rng.uniform(0.01, 0.5))
                runs.append({"config": {"norm": norm, "batch_size": bs, "seed": seed}, "final_val_error": error})
    runs.append({"config": {"norm": "none", "batch_size": 2, "seed": 0}, "final_val_error": None})  # diverged
    return runs


def test_summarize_sweep_against_numpy():
    runs = _fake_runs(np.random.default_rng(0))
    summary = comparison.summarize_sweep(runs, "batch_size")
    for norm in ("batch", "layer"):
        for i, bs in enumerate((2, 8, 32)):
            errors = [r["final_val_error"] for r in runs if r["config"]["norm"] == norm and r["config"]["batch_size"] == bs]
            assert summary[norm]["mean"][i] == pytest.approx(np.mean(errors))
            assert summary[norm]["min"][i] == min(errors) and summary[norm]["max"][i] == max(errors)
    assert summary["none"]["mean"].tolist() == [0.9]  # a diverged run counts as chance
    with pytest.raises(ValueError, match="runs must have config fields 'num_groups' and 'norm'"):
        comparison.summarize_sweep(runs, "num_groups")


def test_plot_sweeps_overview_draws_the_summaries():
    rng = np.random.default_rng(1)
    runs = _fake_runs(rng)
    groups = [
        {"config": {"norm": "group", "num_groups": g, "width": 32, "seed": s, "batch_size": 32},
         "final_val_error": float(rng.uniform(0.02, 0.1))}
        for g in (1, 4, 32) for s in range(2)
    ] + [{"config": {"norm": "batch", "num_groups": None, "width": 32, "seed": 0, "batch_size": 32},
          "final_val_error": 0.03}]
    extra = [{"config": {"norm": "rms", "batch_size": b, "seed": 0}, "final_val_error": 0.05} for b in (2, 32)]
    fig, lines = comparison.plot_sweeps_overview(runs, groups, extra)
    summary = comparison.summarize_sweep(runs, "batch_size")
    np.testing.assert_allclose(lines["batch_size", "batch"].get_ydata(), 100 * summary["batch"]["mean"])
    assert lines["batch_size", "rms"].get_linestyle() == "--"
    g = comparison.summarize_sweep(groups[:-1], "num_groups")["group"]
    np.testing.assert_allclose(lines["groups", "group"].get_ydata(), 100 * g["mean"])
    np.testing.assert_allclose(lines["groups", "batch"].get_ydata(), [3.0, 3.0])
    for ax in fig.axes:
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() is not None
    import matplotlib.pyplot as plt

    plt.close(fig)


# ----------------------------------------------------------------------------------------------------------
# The decision guide
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "method"),
    [
        ({"architecture": "cnn", "batch_per_device": 64}, "batch"),
        ({"architecture": "cnn", "batch_per_device": comparison.SMALL_BATCH}, "batch"),
        ({"architecture": "cnn", "batch_per_device": comparison.SMALL_BATCH - 1}, "group"),
        ({"architecture": "cnn", "batch_per_device": 64, "task": "segmentation"}, "batch"),
        ({"architecture": "cnn", "batch_per_device": comparison.SMALL_BATCH, "task": "detection"}, "batch"),
        ({"architecture": "cnn", "batch_per_device": comparison.SMALL_BATCH - 1, "task": "detection"}, "group"),
        ({"architecture": "cnn", "batch_per_device": 2, "task": "segmentation"}, "group"),
        ({"architecture": "cnn", "batch_per_device": 64, "task": "video"}, "batch"),
        ({"architecture": "cnn", "task": "style_transfer"}, "instance"),
        ({"architecture": "cnn", "batch_per_device": 2, "task": "style_transfer"}, "instance"),
        ({"architecture": "cnn", "task": "generation"}, "group"),
        ({"architecture": "cnn", "batch_per_device": 128, "task": "generation"}, "group"),
        ({"architecture": "mlp", "batch_per_device": 1}, "layer"),
        ({"architecture": "mlp", "batch_per_device": 64}, "batch"),
        ({"architecture": "rnn", "batch_per_device": 64}, "layer"),
        ({"architecture": "rnn", "task": "language_model"}, "layer"),
        ({"architecture": "transformer"}, "layer"),
        ({"architecture": "transformer", "task": "language_model"}, "rms"),
        ({"architecture": "convnext", "batch_per_device": 2}, "layer_channels_last"),
    ],
)
def test_recommend_normalization(kwargs, method):
    row = comparison.recommend_normalization(**kwargs)
    assert row in comparison.DECISION_GUIDE
    assert row.method == method


def test_generation_is_not_sent_to_instance_norm():
    # DDPM and latent diffusion use group norm; StyleGAN2 dropped instance norm (AdaIN). Instance norm's
    # row and table entry may name style transfer and StyleGAN, but must not offer it for image generation.
    generation = comparison.recommend_normalization("cnn", task="generation")
    assert "diffusion" in generation.situation and "GroupNorm(32, C)" in generation.why
    instance = comparison.recommend_normalization("cnn", task="style_transfer")
    assert "generation" not in instance.situation
    assert "StyleGAN2" in instance.watch_out
    assert "image generation" not in comparison.METHOD_FACTS["instance"].typical_use
    assert "diffusion" in comparison.METHOD_FACTS["group"].typical_use


@pytest.mark.parametrize("architecture", ["cnn", "mlp"])
@pytest.mark.parametrize("task", ["classification", "detection", "segmentation", "video"])
@pytest.mark.parametrize("batch_per_device", [1, 2, 8, 15, 16, 17, 32, 256])
def test_per_device_batch_decides_between_batch_norm_and_a_per_sample_method(architecture, task, batch_per_device):
    # What notebook 06 says after the guide: for these tasks the per-device batch alone picks batch norm
    # (from SMALL_BATCH on) or group/layer norm, and the row's own situation states the same threshold.
    row = comparison.recommend_normalization(architecture, batch_per_device=batch_per_device, task=task)
    if batch_per_device >= comparison.SMALL_BATCH:
        assert row.method == "batch"
        assert f">= {comparison.SMALL_BATCH} samples per device" in row.situation
    else:
        assert row.method == ("group" if architecture == "cnn" else "layer")
        assert f"< {comparison.SMALL_BATCH} " in row.situation


def test_small_batch_threshold_is_the_group_norm_papers():
    # The threshold is where batch norm stops beating group norm in Wu & He (2018), Fig. 1 (not our runs).
    from normviz.lngn_demos import GN_PAPER_BATCH_SIZE as paper

    rows = list(zip(paper["images_per_gpu"], paper["batch"], paper["group"], strict=True))
    batch_ahead = [b for b, bn, gn in rows if bn < gn]
    group_ahead = [b for b, bn, gn in rows if bn >= gn]
    assert min(batch_ahead) == comparison.SMALL_BATCH
    assert max(group_ahead) < comparison.SMALL_BATCH


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"architecture": "resnet"}, ValueError, "architecture must be one of .* got 'resnet'"),
        ({"architecture": "cnn", "task": "ocr"}, ValueError, "task must be one of .* got 'ocr'"),
        ({"architecture": "cnn", "batch_per_device": 0}, ValueError, "batch_per_device must be a positive int"),
        ({"architecture": "cnn", "batch_per_device": 2.0}, TypeError, "batch_per_device must be an int"),
    ],
)
def test_recommend_normalization_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        comparison.recommend_normalization(**kwargs)


def test_decision_guide_renders_every_row():
    text = comparison.render_decision_guide()
    assert len(text.splitlines()) == 2 + len(comparison.DECISION_GUIDE)
    for row in comparison.DECISION_GUIDE:
        assert row.situation in text
    assert comparison.render_decision_guide("html").count("<tr>") == 1 + len(comparison.DECISION_GUIDE)


# ----------------------------------------------------------------------------------------------------------
# normalize / measure_batch_dependence: the package's formulas against torch
# ----------------------------------------------------------------------------------------------------------
def _torch_normalize(method, x):
    F = torch.nn.functional
    return {
        "batch": lambda: F.batch_norm(x, None, None, training=True),
        "layer": lambda: F.layer_norm(x, x.shape[1:]),
        "layer_channels_last": lambda: F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],)).permute(0, 3, 1, 2),
        "instance": lambda: F.instance_norm(x),
        "group": lambda: F.group_norm(x, 2),
        "local_response": lambda: F.local_response_norm(x, 5, 5e-4, 0.75, 2.0),
        "rms": lambda: F.rms_norm(x, x.shape[1:]),
    }[method]()


@pytest.mark.parametrize("method", axes.METHODS)
def test_normalize_matches_torch(method):
    x = torch.randn(*SHAPE, dtype=torch.float64) * 2 + 0.5
    torch.testing.assert_close(comparison.normalize(method, x), _torch_normalize(method, x), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("method", axes.METHODS)
def test_measured_batch_dependence_agrees_with_the_table(method):
    change = comparison.measure_batch_dependence(method)
    if comparison.depends_on_batch(method):
        assert change > 0.1
    else:
        assert change < 1e-9


def test_normalize_rejects_an_unknown_method():
    with pytest.raises(ValueError, match="method must be one of"):
        comparison.normalize("weight", torch.zeros(SHAPE))


@pytest.mark.parametrize("method", axes.METHODS)
def test_learned_column_matches_torch_parameters(method):
    names = {name.split(".")[-1] for name, _ in _torch_module(method).named_parameters()}
    text = comparison.METHOD_FACTS[method].learnable
    assert (not names) == text.startswith("none")
    assert ("weight" in names) == ("weight" in text)
    assert ("bias" in names) == ("bias" in text)
