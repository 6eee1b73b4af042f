"""normviz.lngn_demos: Ba et al.'s invariance table as live checks, the matrix picture, the GN paper's numbers."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from normviz import axes
from normviz import lngn_demos as demos

matplotlib.use("Agg")

T, F = True, False
# Derived by hand from the formulas (group and RMS norm are not in the paper's table): group norm's groups
# are small layers; RMS norm keeps the scale invariances but never subtracts a mean.
EXPECTED = {
    "group": dict(zip(demos.TRANSFORMS, (T, T, F, T, F, T), strict=True)),
    "rms": dict(zip(demos.TRANSFORMS, (T, F, F, T, F, T), strict=True)),
    **demos.PAPER_INVARIANCES,
}


@pytest.fixture(scope="module")
def table():
    return demos.invariance_table()


@pytest.mark.parametrize("method", demos.INVARIANCE_METHODS)
def test_measured_invariances_match_the_paper_and_the_derivation(table, method):
    for transform, invariant in EXPECTED[method].items():
        change = table[method][transform]
        if invariant:
            assert change < 1e-9, (method, transform, change)
        else:
            assert change > 1e-2, (method, transform, change)  # a real change, far above rounding


def test_layer_norm_check_agrees_with_a_direct_torch_computation():
    # oracle: scale each sample of a batch by its own factor and compare torch's layer norm outputs directly
    g = torch.Generator().manual_seed(5)
    x = torch.randn(8, 6, dtype=torch.float64, generator=g)
    w = torch.randn(10, 6, dtype=torch.float64, generator=g)
    scale = torch.rand(8, 1, dtype=torch.float64, generator=g) * 4 + 0.2
    ln = torch.nn.functional.layer_norm
    bn = torch.nn.functional.batch_norm
    assert (ln((scale * x) @ w.T, (10,), eps=1e-12) - ln(x @ w.T, (10,), eps=1e-12)).abs().max() < 1e-9
    assert (bn((scale * x) @ w.T, None, None, training=True, eps=1e-12)
            - bn(x @ w.T, None, None, training=True, eps=1e-12)).abs().max() > 1e-2
    assert demos.check_invariance("layer", "single_case_rescaling", seed=5) < 1e-9
    assert demos.check_invariance("batch", "single_case_rescaling", seed=5) > 1e-2


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    num_samples=st.integers(2, 12),
    in_features=st.integers(1, 9),
    groups_and_size=st.sampled_from([(1, 4), (2, 6), (3, 9), (4, 8)]),
)
def test_invariances_hold_for_any_draw_and_size(seed, num_samples, in_features, groups_and_size):
    num_groups, out_features = groups_and_size
    # eps=1e-30: with two samples a variance can be tiny, and any eps it is compared with breaks exactness
    sizes = {"num_samples": num_samples, "in_features": in_features, "out_features": out_features,
             "num_groups": num_groups, "seed": seed, "eps": 1e-30}
    for method, transform in [("layer", "weight_matrix_recentering"), ("layer", "single_case_rescaling"),
                              ("group", "single_case_rescaling"), ("batch", "weight_vector_rescaling"),
                              ("batch", "dataset_recentering"), ("rms", "dataset_rescaling")]:
        assert demos.check_invariance(method, transform, **sizes) < 1e-7, (method, transform)


def test_format_marks_a_disagreement_with_the_paper(table):
    text = demos.format_invariance_table(table)
    assert "!" not in text
    assert text.count("(paper)") == 3
    tampered = {"layer": dict(table["layer"], weight_vector_rescaling=0.0)}
    assert "yes !" in demos.format_invariance_table(tampered)


def test_matrix_picture_shades_the_stats_mask():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    for method, index in (("batch", (1, 2)), ("layer", (3, 0)), ("group", (2, 5))):
        kwargs = {"num_groups": 2} if method == "group" else {}
        drawn = demos.plot_shared_statistics_matrix(method, (4, 6), index, ax=ax, values=np.zeros((4, 6)),
                                                    **kwargs)
        expected = axes.stats_mask(method, (4, 6), index, **kwargs)
        np.testing.assert_array_equal(drawn["mask"], expected)
        np.testing.assert_array_equal(np.asarray(drawn["cells"].get_array()).reshape(4, 6), expected.astype(float))
        assert drawn["target"].get_xy() == (index[1] - 0.5, index[0] - 0.5)
        assert len(drawn["texts"]) == 24
    plt.close(fig)


def test_paper_plots_draw_the_published_numbers():
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2)
    drawn = demos.plot_gn_paper_batch_size(ax=a)
    assert drawn["batch"].get_ydata().tolist() == list(demos.GN_PAPER_BATCH_SIZE["batch"])
    assert drawn["group"].get_xdata().tolist() == [32, 16, 8, 4, 2]
    assert demos.plot_gn_paper_groups(ax=b)["group"].get_ydata().tolist() == list(demos.GN_PAPER_GROUPS["error"])
    # G = 1 is layer norm: the ablation's last entry is the paper's layer-norm number
    assert demos.GN_PAPER_GROUPS["error"][-1] == demos.GN_PAPER_METHODS["layer"]
    plt.close(fig)


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: demos.check_invariance("instance", "dataset_rescaling"), ValueError, "method must be one of"),
        (lambda: demos.check_invariance("layer", "flip"), ValueError, "transform must be one of"),
        (lambda: demos.check_invariance("group", "dataset_rescaling", num_groups=5), ValueError,
         r"out_features \(12\) must be divisible by num_groups \(5\); try num_groups in \(1, 2, 3, 4, 6, 12\)"),
        (lambda: demos.check_invariance("batch", "dataset_rescaling", num_samples=1), ValueError,
         "num_samples must be at least 2"),
        (lambda: demos.check_invariance("batch", "dataset_rescaling", eps=0.0), ValueError, "eps must be > 0"),
        (lambda: demos.check_invariance("batch", "dataset_rescaling", seed=1.5), TypeError, "seed must be an int"),
        (lambda: demos.invariance_table(["layer"], seeds=()), ValueError, "seeds must contain at least one int"),
        (lambda: demos.format_invariance_table({}, tol=-1.0), ValueError, "tol must be > 0"),
        (lambda: demos.plot_shared_statistics_matrix("batch", (2, 3, 4), (0, 0, 0)), ValueError,
         r"shape must be \(N, D\) for the matrix picture"),
        (lambda: demos.plot_shared_statistics_matrix("batch", (2, 3), (0, 0), values=np.zeros((3, 2))),
         ValueError, r"values must have shape \(2, 3\), got \(3, 2\)"),
    ],
)
def test_errors_say_what_was_expected(call, error, match):
    with pytest.raises(error, match=match):
        call()
