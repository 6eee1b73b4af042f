"""The Part 1 explorers: their pure helpers against oracles, and their artists after a control change."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from scipy import stats
from sklearn import datasets, preprocessing

from normviz import scaling
from normviz import scaling_explorers as se


# ----------------------------------------------------------------------------------------------------------
# Pure helpers
# ----------------------------------------------------------------------------------------------------------
def test_load_feature_pair_is_the_bundled_data():
    bunch = datasets.load_breast_cancer()
    names = list(bunch.feature_names)
    X = se.load_feature_pair("breast_cancer", ("mean texture", "area error"))
    np.testing.assert_array_equal(X, bunch.data[:, [names.index("mean texture"), names.index("area error")]])


def test_distort_features_without_distortion_is_the_identity():
    X = se.load_feature_pair()
    Xd, is_outlier = se.distort_features(X, 50.0, 0.0, 0.0)
    np.testing.assert_array_equal(Xd, X)
    assert not is_outlier.any()


def test_distort_features_outliers():
    X = se.load_feature_pair()
    Xd, is_outlier = se.distort_features(X, 30.0, 0.05, 0.0, seed=3)
    assert is_outlier.sum() == round(0.05 * len(X))
    np.testing.assert_array_equal(Xd[~is_outlier], X[~is_outlier])
    q1, median, q3 = np.percentile(X, [25, 50, 75], axis=0)
    distance = (Xd[is_outlier] - median) / (q3 - q1)  # in IQRs above the median
    assert np.all(distance >= 30.0) and np.all(distance <= 30.0 * 1.3)
    again, same = se.distort_features(X, 30.0, 0.05, 0.0, seed=3)
    np.testing.assert_array_equal(again, Xd)  # deterministic
    np.testing.assert_array_equal(same, is_outlier)


def test_distort_features_skew_keeps_range_and_order_and_adds_skew():
    X = se.load_feature_pair()
    Xd, _ = se.distort_features(X, 20.0, 0.0, 3.0)
    np.testing.assert_allclose(Xd.min(axis=0), X.min(axis=0))
    np.testing.assert_allclose(Xd.max(axis=0), X.max(axis=0))
    np.testing.assert_array_equal(np.argsort(Xd[:, 0], kind="stable"), np.argsort(X[:, 0], kind="stable"))
    assert np.all(stats.skew(Xd) > stats.skew(X))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"outlier_fraction": 0.7}, r"outlier_fraction must be in \[0, 0.5\], got 0.7"),
        ({"skewness": -1.0}, r"outlier_magnitude and skewness must be >= 0, got 20.0 and -1.0"),
    ],
)
def test_distort_features_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        se.distort_features(np.ones((4, 2)), **kwargs)
    with pytest.raises(ValueError, match=r"X must be 2-D \(n_samples, n_features\), got shape \(4,\)"):
        se.distort_features(np.ones(4))


@pytest.mark.parametrize(
    ("name", "oracle"),
    [
        ("Min-max", preprocessing.minmax_scale),
        ("Z-score", preprocessing.scale),
        ("Robust", preprocessing.robust_scale),
        ("Yeo-Johnson", preprocessing.power_transform),
        ("Unscaled", lambda X: X),
    ],
)
def test_apply_scaler_matches_sklearn(name, oracle):
    X, _ = se.distort_features(se.load_feature_pair(), 20.0, 0.03, 1.0)
    np.testing.assert_allclose(se.apply_scaler(name, X), oracle(X), rtol=1e-7, atol=1e-7)


def test_scaler_names_are_the_ones_shown():
    assert se.SCALER_NAMES == ("Unscaled", "Min-max", "Z-score", "Robust", "Yeo-Johnson")


@pytest.mark.parametrize(
    ("current", "low", "high", "kept"),
    [((0.0, 10.0), 1.0, 9.0, True), ((0.0, 10.0), 4.0, 6.0, False), ((0.0, 10.0), -1.0, 9.0, False)],
)
def test_sticky_range(current, low, high, kept):
    new = se._sticky_range(current, low, high)
    assert (new == current) is kept
    assert new[0] <= low and high <= new[1]
    assert high - low >= 0.6 * (new[1] - new[0])


def test_zoom_window_uses_the_inliers_percentiles():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    is_outlier = np.zeros(200, dtype=bool)
    is_outlier[:5] = True
    X[:5] = 1e3
    window = se.zoom_window(X, is_outlier)
    low, high = np.percentile(X[5:], [0, 99], axis=0)
    np.testing.assert_allclose(window[:, 0], low - 0.05 * (high - low))
    np.testing.assert_allclose(window[:, 1], high + 0.05 * (high - low))


@pytest.mark.parametrize(("method", "lmbda"), [("box-cox", 0.0), ("box-cox", -0.5), ("yeo-johnson", 0.3)])
def test_standardized_power_matches_scipy_then_sklearn_scale(method, lmbda):
    x = se.load_feature("breast_cancer", "area error")
    transform = stats.boxcox if method == "box-cox" else stats.yeojohnson
    np.testing.assert_allclose(
        se.standardized_power(x, lmbda, method),
        preprocessing.scale(transform(x, lmbda)),
        rtol=1e-9,
        atol=1e-9,
    )


def test_normal_quantiles_match_scipy():
    n = 57
    np.testing.assert_allclose(
        se.normal_quantiles(n), stats.norm.ppf((np.arange(1, n + 1) - 0.5) / n), rtol=1e-10
    )


def test_loader_errors():
    with pytest.raises(
        ValueError, match=r"dataset must be one of \('breast_cancer', 'wine', 'diabetes'\).*got 'mnist'"
    ):
        se.load_feature("mnist", "x")
    with pytest.raises(ValueError, match=r"feature must be one of the wine features .* got 'area error'"):
        se.load_feature("wine", "area error")
    with pytest.raises(ValueError, match=r"features must name two features, got 'area error'"):
        se.load_feature_pair("breast_cancer", "area error")
    with pytest.raises(ValueError, match=r"name must be one of \('Unscaled'.*got 'MaxAbs'"):
        se.apply_scaler("MaxAbs", np.ones((3, 2)))


# ----------------------------------------------------------------------------------------------------------
# The scaler-comparison explorer
# ----------------------------------------------------------------------------------------------------------
def _without_rendering(explorer):
    """Skip the PNG render of each change (about 0.2 s of CPU): these tests read artist data, not pixels.
    ``test_*_renders`` below runs the real drawing path."""
    explorer.draw = lambda: None
    return explorer


@pytest.fixture(scope="module")
def comparison():
    return _without_rendering(se.make_scaler_comparison_explorer())


def _check_comparison_artists(explorer, magnitude, fraction, skewness):
    X, is_outlier = se.distort_features(explorer.base, magnitude, fraction, skewness, seed=0)
    for name in se.SCALER_NAMES:
        Xs = se.apply_scaler(name, X)
        a = explorer.artists
        for view in ("full", "zoom"):
            np.testing.assert_allclose(a[f"{name}/{view}_inliers"].get_xydata(), Xs[~is_outlier])
            np.testing.assert_allclose(
                a[f"{name}/{view}_outliers"].get_xydata().reshape(-1, 2), Xs[is_outlier]
            )
        # The zoom frames the same data without injected outliers: its limits contain that data's window,
        # which fills at least 60% of them (sticky limits).
        clean, no_outliers = se.distort_features(explorer.base, 0.0, 0.0, skewness, seed=0)
        window = se.zoom_window(se.apply_scaler(name, clean), no_outliers)
        np.testing.assert_array_equal(explorer.windows[name], window)
        zoom = a[f"{name}/zoom_inliers"].axes
        for limits, (low, high) in ((zoom.get_xlim(), window[0]), (zoom.get_ylim(), window[1])):
            assert limits[0] <= low and high <= limits[1]
            assert high - low >= 0.6 * (limits[1] - limits[0])
        counts, edges = np.histogram(Xs[:, 1], bins=30, range=zoom.get_ylim())
        hist = a[f"{name}/hist_y"].get_data()
        np.testing.assert_array_equal(hist.values, counts)
        np.testing.assert_allclose(hist.edges, edges)
        full = a[f"{name}/full_inliers"].axes
        assert full.get_xlim()[0] <= Xs[:, 0].min() and full.get_xlim()[1] >= Xs[:, 0].max()


def test_comparison_initial_state(comparison):
    v = comparison.values()
    _check_comparison_artists(comparison, v["outlier_magnitude"], v["outlier_fraction"], v["skewness"])
    assert "Min-max" in comparison.readouts["summary"].value


def test_comparison_sliders_update_every_scaler(comparison):
    comparison.controls["outlier_fraction"].value = 0.05
    comparison.controls["outlier_magnitude"].value = 60.0
    comparison.controls["skewness"].value = 2.0
    assert comparison.error is None
    _check_comparison_artists(comparison, 60.0, 0.05, 2.0)
    assert "28 injected outliers at 60 IQRs, extra skewness 2.00" in comparison.readouts["summary"].value
    comparison.controls["outlier_fraction"].value = 0.0
    assert comparison.error is None
    _check_comparison_artists(comparison, 60.0, 0.0, 2.0)
    assert len(comparison.artists["Robust/full_outliers"].get_xdata()) == 0


def test_zoom_frames_stay_put_while_the_outlier_sliders_move(comparison):
    comparison.controls["skewness"].value = 1.0
    comparison.controls["outlier_fraction"].value = 0.0
    zooms = [comparison._axes[name]["zoom"] for name in se.SCALER_NAMES]
    frames = [(ax.get_xlim(), ax.get_ylim()) for ax in zooms]
    for fraction, magnitude in ((0.01, 20.0), (0.05, 60.0), (0.1, 100.0), (0.02, 2.0)):
        comparison.controls["outlier_fraction"].value = fraction
        comparison.controls["outlier_magnitude"].value = magnitude
        assert [(ax.get_xlim(), ax.get_ylim()) for ax in zooms] == frames
    # ... so min-max's squeeze shows as the real samples shrinking inside its frame, to a third or less
    min_max = comparison._axes["Min-max"]["zoom"]
    comparison.controls["outlier_fraction"].value = 0.05
    comparison.controls["outlier_magnitude"].value = 60.0
    low, high = se.middle_span(
        comparison.scaled["Min-max"], comparison.is_outlier
    )  # the real samples' middle 98%
    assert np.all(high - low < np.diff([min_max.get_xlim(), min_max.get_ylim()], axis=1).ravel() / 3)
    # Skew changes the data without outliers too: then the frames follow.
    comparison.controls["skewness"].value = 3.0
    assert [(ax.get_xlim(), ax.get_ylim()) for ax in zooms] != frames


def test_comparison_rooms_hold_every_label():
    """Each full view and zoom redraws only its room (ScalerComparisonExplorer._cell): every text it draws
    (tick labels, axis labels, the scaler's name) must lie in one of its room's rectangles, over the sliders."""
    explorer = se.make_scaler_comparison_explorer()
    explorer.draw = lambda: None
    canvas = explorer._agg_canvas()
    states = [(m, f, s) for m in (2.0, 10.0, 35.0, 100.0) for f in (0.0, 0.01, 0.1) for s in (0.0, 1.5, 4.0)]
    for magnitude, fraction, skewness in states:
        explorer.controls["outlier_magnitude"].value = magnitude
        explorer.controls["outlier_fraction"].value = fraction
        explorer.controls["skewness"].value = skewness
        canvas.draw()
        renderer = canvas.get_renderer()
        for ax, (column, view) in explorer._rooms.items():
            rooms = explorer._extent(ax, renderer)
            texts = [
                t for t in ax.texts + [ax.xaxis.label, ax.yaxis.label] if t.get_visible() and t.get_text()
            ]
            for axis in (ax.xaxis, ax.yaxis):  # the tick labels drawn: those of ticks inside the view
                low, high = sorted(axis.get_view_interval())
                locs = axis.get_majorticklocs()
                ticks = axis.get_major_ticks(len(locs))
                texts += [
                    tick.label1
                    for loc, tick in zip(locs, ticks, strict=True)
                    if low - 1e-9 * (high - low) <= loc <= high + 1e-9 * (high - low)
                    and tick.label1.get_text()
                ]
            assert len(texts) >= 5
            for text in texts:
                box = text.get_window_extent(renderer)
                inside = any(
                    x0 - 1 <= box.x0 and box.x1 <= x1 + 1 and y0 - 1 <= box.y0 and box.y1 <= y1 + 1
                    for x0, y0, x1, y1 in rooms
                )
                state = (magnitude, fraction, skewness)
                assert inside, (se.SCALER_NAMES[column], view, text.get_text(), box.bounds, rooms, state)


def test_minmax_squeezes_the_inliers_when_outliers_grow(comparison):
    comparison.controls["skewness"].value = 0.0
    comparison.controls["outlier_fraction"].value = 0.02
    comparison.controls["outlier_magnitude"].value = 10.0
    near_outliers = comparison.is_outlier.copy()
    near = np.ptp(comparison.scaled["Min-max"][~near_outliers], axis=0)
    robust_near = comparison.scaled["Robust"][~near_outliers].copy()
    comparison.controls["outlier_magnitude"].value = 90.0
    np.testing.assert_array_equal(comparison.is_outlier, near_outliers)  # the same samples, only moved further
    far = np.ptp(comparison.scaled["Min-max"][~comparison.is_outlier], axis=0)
    assert np.all(far < near)  # the inliers occupy less of [0, 1]
    robust_far = comparison.scaled["Robust"][~comparison.is_outlier]
    # what the explorer shows is scikit-learn's robust scaling of the data it shows
    np.testing.assert_allclose(
        robust_far, preprocessing.robust_scale(comparison.data)[~comparison.is_outlier], rtol=1e-7, atol=1e-7
    )
    # unchanged: the median and IQR barely move, here not at all (the same 2% of samples move further)
    np.testing.assert_allclose(robust_far, robust_near, rtol=1e-12, atol=1e-12)


def _pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


_RENDER_CHANGES = {
    "comparison": [
        ("outlier_fraction", 0.03),
        ("outlier_magnitude", 60.0),
        ("skewness", 2.0),
        ("outlier_magnitude", 5.0),
    ],
    "lambda": [("lmbda", 0.5), ("lmbda", -2.0), ("method", "yeo-johnson"), ("feature", "mean texture")],
}


@pytest.mark.parametrize(
    ("builder", "changes"),
    [
        (se.make_scaler_comparison_explorer, _RENDER_CHANGES["comparison"]),
        (se.make_lambda_explorer, _RENDER_CHANGES["lambda"]),
    ],
)
def test_explorers_render(builder, changes):
    explorer = builder()
    widget = explorer.widget  # builds the controls and draws the first frame
    assert widget is explorer.widget
    for control, value in changes:
        explorer.controls[control].value = value
        assert explorer.error is None and explorer.last_latency > 0
        # The fast path (kept background, moving artists redrawn) shows what a full redraw shows.
        fast, full = _pixels(explorer.png()), _pixels(explorer.full_png())
        assert fast.shape == full.shape
        assert np.mean(np.any(fast != full, axis=-1)) < 0.0005  # a few anti-aliased edge pixels at most
        # full_png dropped the kept background; keep this frame's, so the next change starts from it and has
        # to notice what it changes (a change missed would leave stale ticks, which the comparison catches).
        explorer.png()
    assert explorer.png()[:4] == b"\x89PNG"


def test_comparison_redraws_only_the_axes_that_changed():
    explorer = se.make_scaler_comparison_explorer()
    explorer.png()
    children = len(explorer._static_children())
    # More outliers move the z-score and robust views' limits; the min-max full view (always [0, 1]) stays.
    full_minmax = explorer._axes["Min-max"]["full"]
    limits = full_minmax.get_xlim(), full_minmax.get_ylim()
    explorer.controls["outlier_fraction"].value = 0.1
    assert (full_minmax.get_xlim(), full_minmax.get_ylim()) == limits
    assert 0 < explorer.last_redrawn < children
    first = _pixels(explorer.png())
    # Back and forth: the pictures kept for recent slider values are reused, nothing is redrawn.
    explorer.controls["outlier_fraction"].value = 0.01
    explorer.controls["outlier_fraction"].value = 0.1
    assert explorer.last_redrawn == 0
    again = _pixels(explorer.png())
    np.testing.assert_array_equal(again, first)
    assert np.mean(np.any(again != _pixels(explorer.full_png()), axis=-1)) < 0.0005


def test_comparison_pastes_rooms_seen_before():
    """An axes whose limits come back is pasted from its kept room, and the picture is still a full redraw's."""
    fast = se.make_scaler_comparison_explorer()
    reference = se.make_scaler_comparison_explorer()  # the same moves, each frame rendered from scratch
    reference.draw = lambda: None
    fast.png()
    pasted = 0
    moves = [
        ("outlier_magnitude", 60.0),
        ("outlier_fraction", 0.05),
        ("outlier_magnitude", 20.0),
        ("outlier_fraction", 0.0),
        ("skewness", 2.0),
        ("outlier_magnitude", 60.0),
        ("skewness", 0.0),
    ]
    for control, value in moves:
        fast.controls[control].value = value
        reference.controls[control].value = value
        pasted += fast.last_pasted
        assert fast.last_pasted <= fast.last_redrawn
        picture, expected = _pixels(fast.png()), _pixels(reference.full_png())
        assert np.mean(np.any(picture != expected, axis=-1)) < 0.0005
    assert pasted >= 3


def test_fast_png_encoder_is_lossless():
    from PIL import Image

    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, size=(7, 5, 4), dtype=np.uint8)
    decoded = np.asarray(Image.open(io.BytesIO(se._encode_rgba_png(rgba))))
    assert decoded.shape == (7, 5, 4)
    np.testing.assert_array_equal(decoded, rgba)


# ----------------------------------------------------------------------------------------------------------
# The lambda explorer
# ----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lam():
    return _without_rendering(se.make_lambda_explorer())


def _check_lambda_artists(explorer, feature, method, lmbda):
    x = se.load_feature("breast_cancer", feature)
    z = se.standardized_power(x, lmbda, method)
    a = explorer.artists
    ax = a["hist"].axes
    assert ax.get_xlim()[0] <= min(z.min(), -3.5) and ax.get_xlim()[1] >= max(z.max(), 3.5)
    counts, edges = np.histogram(z, bins=40, range=ax.get_xlim(), density=True)
    hist = a["hist"].get_data()
    np.testing.assert_allclose(hist.values, counts)
    np.testing.assert_allclose(hist.edges, edges)
    qx, qy = a["qq"].get_data()
    np.testing.assert_allclose(qx, stats.norm.ppf((np.arange(1, len(x) + 1) - 0.5) / len(x)), rtol=1e-10)
    np.testing.assert_allclose(qy, np.sort(z))
    grid, llf = a["llf"].get_data()
    np.testing.assert_allclose(llf, scaling.power_log_likelihood(x, np.asarray(grid), method))
    oracle = stats.boxcox_llf if method == "box-cox" else stats.yeojohnson_llf
    np.testing.assert_allclose(llf[::40], [oracle(g, x) for g in np.asarray(grid)[::40]], rtol=1e-10)
    ml = preprocessing.PowerTransformer(method=method).fit(x.reshape(-1, 1)).lambdas_[0]
    np.testing.assert_allclose(a["ml_line"].get_xdata(), [ml, ml], rtol=1e-8)
    qq_low, qq_high = a["qq"].axes.get_ylim()
    assert qq_low <= z.min() and z.max() <= qq_high
    cx, cy = a["current"].get_data()
    np.testing.assert_allclose(cx, [lmbda])
    np.testing.assert_allclose(cy, [oracle(lmbda, x)], rtol=1e-10)
    llf_low, llf_high = a["llf"].axes.get_ylim()
    assert llf_low <= min(cy[0], llf.max() - 100.0) and llf.max() <= llf_high


def test_lambda_initial_state(lam):
    _check_lambda_artists(lam, "area error", "box-cox", 1.0)


def test_lambda_slider_method_and_feature(lam):
    lam.controls["lmbda"].value = -0.5
    assert lam.error is None
    _check_lambda_artists(lam, "area error", "box-cox", -0.5)
    lam.controls["method"].value = "yeo-johnson"
    _check_lambda_artists(lam, "area error", "yeo-johnson", -0.5)
    lam.controls["feature"].value = "mean area"
    lam.controls["lmbda"].value = 0.25
    assert lam.error is None
    _check_lambda_artists(lam, "mean area", "yeo-johnson", 0.25)
    assert "Yeo-Johnson of 'mean area'" in lam.artists["title"].get_text()
    assert "Skewness of 'mean area'" in lam.readouts["summary"].value


def test_lambda_at_the_maximum_is_most_normal(lam):
    # At the maximum-likelihood lambda the skewness of the transformed feature is near 0; at 1 it is not.
    lam.controls["method"].value = "box-cox"
    lam.controls["feature"].value = "area error"
    lam.controls["lmbda"].value = 1.0
    skew_identity = abs(stats.skew(lam.z))
    lam.controls["lmbda"].value = round(lam.ml_lambda / 0.05) * 0.05
    assert abs(stats.skew(lam.z)) < 0.2 < skew_identity


def test_lambda_explorer_rejects_unknown_method():
    with pytest.raises(ValueError, match="method must be 'box-cox' or 'yeo-johnson', got 'log'"):
        se.make_lambda_explorer(method="log")
