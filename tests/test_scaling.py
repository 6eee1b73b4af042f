"""normviz.scaling against scikit-learn and scipy (oracles computed here), its edge cases and its errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import special, stats
from sklearn import datasets, preprocessing

from normviz import scaling

RTOL, ATOL = 1e-7, 1e-7  # the float64 parity tolerance


def _random_data(seed=0, n=60, with_nan=True):
    """Skewed features on different scales, one exactly constant, one constant up to rounding, some NaN."""
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            rng.lognormal(size=n) * 100.0,
            rng.normal(-5.0, 0.01, size=n),
            np.full(n, 3.25),  # exactly constant
            0.1 + 1e-17 * rng.normal(size=n),  # constant up to rounding: scikit-learn gives it scale 1
            rng.exponential(size=n) - 0.5,  # negative and positive
            rng.standard_t(2, size=n),  # heavy tails
        ]
    )
    if with_nan:
        mask = rng.random(X.shape) < 0.08
        mask[:, 2:4] = False  # NaN in a constant column is a documented deviation (see the module docstring)
        X[mask] = np.nan
    return X


def _assert_same(ours, theirs):
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))  # NaN kept exactly where sklearn keeps it
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


SCALERS = [
    (scaling.minmax_scale, preprocessing.minmax_scale, {}),
    (scaling.minmax_scale, preprocessing.minmax_scale, {"feature_range": (-3, 0.5)}),
    (scaling.scale, preprocessing.scale, {}),
    (scaling.scale, preprocessing.scale, {"with_mean": False}),
    (scaling.scale, preprocessing.scale, {"with_std": False}),
    (scaling.robust_scale, preprocessing.robust_scale, {}),
    (scaling.robust_scale, preprocessing.robust_scale, {"quantile_range": (10.0, 90.0)}),
    (scaling.robust_scale, preprocessing.robust_scale, {"unit_variance": True}),
    (scaling.robust_scale, preprocessing.robust_scale, {"with_centering": False}),
    (scaling.robust_scale, preprocessing.robust_scale, {"with_scaling": False}),
]
SCALER_IDS = [f"{ours.__name__}-{kwargs}" for ours, _, kwargs in SCALERS]


# ----------------------------------------------------------------------------------------------------------
# Parity with scikit-learn
# ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("ours", "theirs", "kwargs"), SCALERS, ids=SCALER_IDS)
@pytest.mark.parametrize("axis", [0, 1])
def test_scalers_match_sklearn_on_random_data(ours, theirs, kwargs, axis):
    X = _random_data()
    _assert_same(ours(X, axis=axis, **kwargs), theirs(X, axis=axis, **kwargs))


@pytest.mark.parametrize(("ours", "theirs", "kwargs"), SCALERS, ids=SCALER_IDS)
def test_scalers_match_sklearn_on_1d_input(ours, theirs, kwargs):
    x = _random_data(seed=1)[:, 0]
    out = ours(x, **kwargs)
    assert out.shape == x.shape
    _assert_same(out, theirs(x, **kwargs))


@pytest.mark.parametrize("method", scaling.POWER_METHODS)
@pytest.mark.parametrize("standardize", [True, False])
def test_power_transform_matches_sklearn_on_random_data(method, standardize):
    X = _random_data()
    if method == "box-cox":
        X = X[:, [0, 1, 3]]  # positive features only; Box-Cox of an exactly constant one is an error
        X[:, 1] += 10.0
    else:
        X = np.delete(X, 3, axis=1)  # 1e-17 noise: both fit a meaningless lambda to pure rounding error
    ours, params = scaling.power_transform(X, method, standardize=standardize, return_params=True)
    fitted = preprocessing.PowerTransformer(method=method, standardize=standardize).fit(X)
    _assert_same(ours, fitted.transform(X))
    np.testing.assert_allclose(params.lambdas, fitted.lambdas_, rtol=1e-9, atol=1e-12)


def _bundled(name):
    return getattr(datasets, name)().data


BUNDLED = ["load_wine", "load_breast_cancer", "load_diabetes", "load_iris", "load_digits"]


@pytest.mark.parametrize("name", BUNDLED)
def test_every_scaler_matches_sklearn_on_bundled_data(name):
    X = _bundled(name)
    for ours, theirs, kwargs in SCALERS:
        _assert_same(ours(X, **kwargs), theirs(X, **kwargs))
    _assert_same(scaling.power_transform(X), preprocessing.power_transform(X))
    # Box-Cox needs positive data: shift each feature to start at 1 (digits and diabetes have zeros/negatives).
    positive = X - X.min(axis=0) + 1.0
    positive = positive[:, np.ptp(positive, axis=0) > 0]  # digits has all-zero pixels: constant, an error
    _assert_same(
        scaling.power_transform(positive, "box-cox"),
        preprocessing.power_transform(positive, method="box-cox"),
    )


@pytest.mark.parametrize("method", scaling.POWER_METHODS)
def test_fit_power_lambdas_match_sklearn(method):
    X = _bundled("load_wine")
    fitted = preprocessing.PowerTransformer(method=method).fit(X)
    np.testing.assert_allclose(scaling.fit_power_lambdas(X, method), fitted.lambdas_, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    ("ours", "scaler", "kwargs"),
    [
        (scaling.minmax_scale, preprocessing.MinMaxScaler, {"feature_range": (-1, 2)}),
        (scaling.scale, preprocessing.StandardScaler, {}),
        (scaling.robust_scale, preprocessing.RobustScaler, {"quantile_range": (5.0, 95.0)}),
        (scaling.power_transform, preprocessing.PowerTransformer, {}),
    ],
)
def test_params_transform_new_data_like_a_fitted_sklearn_scaler(ours, scaler, kwargs):
    # Fit on the training split, apply to the test split: the leakage-free workflow.
    X = _bundled("load_breast_cancer")
    train, test = X[:400], X[400:]
    _, params = ours(train, return_params=True, **kwargs)
    _assert_same(params.transform(test), scaler(**kwargs).fit(train).transform(test))


@pytest.mark.parametrize(
    ("ours", "scaler"),
    [
        (scaling.minmax_scale, preprocessing.MinMaxScaler),
        (scaling.scale, preprocessing.StandardScaler),
        (scaling.robust_scale, preprocessing.RobustScaler),
    ],
)
def test_fitted_statistics_match_sklearn_attributes(ours, scaler):
    X = _random_data(seed=4)
    _, params = ours(X, return_params=True)
    fitted = scaler().fit(X)
    np.testing.assert_allclose(params.scale, fitted.scale_, rtol=1e-12)
    if isinstance(params, scaling.MinMaxParams):
        np.testing.assert_allclose(params.min, fitted.min_, rtol=1e-12)
    elif isinstance(params, scaling.RobustParams):
        np.testing.assert_allclose(params.center, fitted.center_, rtol=1e-12)
    else:
        np.testing.assert_allclose(params.mean, fitted.mean_, rtol=1e-12)


# ----------------------------------------------------------------------------------------------------------
# The power-transform building blocks against scipy
# ----------------------------------------------------------------------------------------------------------
LAMBDAS = [-2.5, -1.0, -1e-3, 0.0, 1e-3, 0.5, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("lmbda", LAMBDAS)
def test_box_cox_and_inverse_match_scipy(lmbda):
    x = np.random.default_rng(2).lognormal(size=40)
    np.testing.assert_allclose(scaling.box_cox(x, lmbda), special.boxcox(x, lmbda), rtol=1e-12)
    y = special.boxcox(x, lmbda)
    np.testing.assert_allclose(scaling.inverse_box_cox(y, lmbda), special.inv_boxcox(y, lmbda), rtol=1e-12)


@pytest.mark.parametrize("lmbda", LAMBDAS)
def test_yeo_johnson_matches_scipy_and_inverts(lmbda):
    x = np.random.default_rng(3).normal(0, 3, size=40)
    np.testing.assert_allclose(
        scaling.yeo_johnson(x, lmbda), stats.yeojohnson(x, lmbda), rtol=1e-12, atol=1e-15
    )
    np.testing.assert_allclose(
        scaling.inverse_yeo_johnson(scaling.yeo_johnson(x, lmbda), lmbda), x, atol=1e-9
    )


@pytest.mark.parametrize(
    ("method", "oracle"), [("box-cox", stats.boxcox_llf), ("yeo-johnson", stats.yeojohnson_llf)]
)
def test_power_log_likelihood_is_vectorised_and_matches_scipy(method, oracle):
    x = np.random.default_rng(5).lognormal(size=80)
    grid = np.linspace(-3, 3, 13).reshape(1, 13)
    llf = scaling.power_log_likelihood(x, grid, method)
    assert llf.shape == grid.shape
    np.testing.assert_allclose(llf[0], [oracle(v, x) for v in grid[0]], rtol=1e-12)
    assert isinstance(scaling.power_log_likelihood(x, 0.5, method), float)


def test_power_log_likelihood_ignores_nan():
    x = np.random.default_rng(6).lognormal(size=30)
    with_nan = np.concatenate([x, [np.nan, np.nan]])
    assert scaling.power_log_likelihood(with_nan, 0.3, "box-cox") == scaling.power_log_likelihood(
        x, 0.3, "box-cox"
    )


def test_fitted_lambda_is_the_maximum_of_the_log_likelihood():
    x = _bundled("load_wine")[:, 4]  # magnesium: right-skewed
    for method in scaling.POWER_METHODS:
        (lmbda,) = scaling.fit_power_lambdas(x, method)
        around = scaling.power_log_likelihood(x, lmbda + np.array([-1e-3, 0.0, 1e-3]), method)
        assert around[1] >= around[0] and around[1] >= around[2]


# ----------------------------------------------------------------------------------------------------------
# Edge cases handled as scikit-learn deliberately does
# ----------------------------------------------------------------------------------------------------------
def test_constant_feature_gets_scale_one():
    X = np.column_stack([np.arange(5.0), np.full(5, 7.0)])
    np.testing.assert_array_equal(scaling.minmax_scale(X, feature_range=(2, 3))[:, 1], 2.0)
    np.testing.assert_array_equal(scaling.scale(X)[:, 1], 0.0)
    np.testing.assert_array_equal(scaling.robust_scale(X)[:, 1], 0.0)
    Xt, params = scaling.power_transform(X, return_params=True)
    assert params.lambdas[1] == 1.0
    np.testing.assert_array_equal(Xt[:, 1], 0.0)
    for fn in (scaling.minmax_scale, scaling.scale, scaling.robust_scale):
        assert fn(X, return_params=True)[1].scale[1] == 1.0


def test_nan_is_kept_and_ignored_when_fitting():
    X = np.array([[1.0, 10.0], [np.nan, 20.0], [3.0, np.nan], [5.0, 40.0]])
    out = scaling.minmax_scale(X)
    assert np.isnan(out[1, 0]) and np.isnan(out[2, 1])
    np.testing.assert_allclose(out[[0, 3], 0], [0.0, 1.0])
    _assert_same(scaling.scale(X), preprocessing.scale(X))


def test_all_nan_feature_stays_nan_without_warnings(recwarn):
    X = np.column_stack([np.arange(4.0), np.full(4, np.nan)])
    for fn in (scaling.minmax_scale, scaling.scale, scaling.robust_scale):
        out = fn(X)
        assert np.isnan(out[:, 1]).all() and not np.isnan(out[:, 0]).any()
    assert len(recwarn) == 0


def test_z_score_is_scale():
    assert scaling.z_score is scaling.scale


def test_integer_bool_list_and_tensor_inputs():
    X = [[1, 2], [3, 5], [4, 9]]
    expected = preprocessing.minmax_scale(np.asarray(X, dtype=float))
    for value in (X, np.asarray(X), torch.tensor(X, dtype=torch.float32, requires_grad=True)):
        out = scaling.minmax_scale(value)
        assert out.dtype == np.float64
        np.testing.assert_allclose(out, expected, rtol=1e-7)
    np.testing.assert_allclose(
        scaling.scale(np.array([True, False, True])), preprocessing.scale([1.0, 0.0, 1.0])
    )


def test_inputs_are_not_modified():
    X = _random_data(seed=7)
    before = X.copy()
    for fn in (scaling.minmax_scale, scaling.scale, scaling.robust_scale, scaling.power_transform):
        fn(X)
    np.testing.assert_array_equal(X, before)


@pytest.mark.parametrize(
    ("fn", "kwargs"),
    [
        (scaling.minmax_scale, {"feature_range": (-2, 5)}),
        (scaling.scale, {}),
        (scaling.robust_scale, {"unit_variance": True}),
        (scaling.power_transform, {"method": "yeo-johnson"}),
        (scaling.power_transform, {"method": "box-cox"}),
        (scaling.power_transform, {"method": "box-cox", "standardize": False}),
    ],
)
def test_inverse_round_trip(fn, kwargs):
    X = np.abs(_random_data(seed=8)[:, [0, 1, 4, 5]]) + 0.5
    X_s, params = fn(X, return_params=True, **kwargs)
    np.testing.assert_allclose(scaling.inverse_transform(X_s, params), X, rtol=1e-9, atol=1e-9)
    specific = {
        scaling.MinMaxParams: scaling.inverse_minmax_scale,
        scaling.RobustParams: scaling.inverse_robust_scale,
        scaling.StandardParams: scaling.inverse_scale,
        scaling.PowerParams: scaling.inverse_power_transform,
    }[type(params)]
    np.testing.assert_allclose(specific(X_s, params), X, rtol=1e-9, atol=1e-9)


def test_inverse_with_axis_1():
    X = _random_data(seed=9, with_nan=False)
    X_s, params = scaling.scale(X, axis=1, return_params=True)
    np.testing.assert_allclose(params.inverse(X_s), X, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------------------------------------
# Properties (hypothesis)
# ----------------------------------------------------------------------------------------------------------
_finite = st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)
_matrices = arrays(np.float64, st.tuples(st.integers(2, 12), st.integers(1, 4)), elements=_finite)


@settings(max_examples=40, deadline=None)
@given(X=_matrices)
def test_minmax_output_lies_in_the_feature_range(X):
    out = scaling.minmax_scale(X, feature_range=(-1.0, 2.0))
    assert np.all(out >= -1.0 - 1e-9) and np.all(out <= 2.0 + 1e-9)
    _assert_same(out, preprocessing.minmax_scale(X, feature_range=(-1.0, 2.0)))


@settings(max_examples=40, deadline=None)
@given(X=_matrices, a=st.floats(0.1, 100.0), b=st.floats(-100.0, 100.0))
def test_scalers_ignore_a_positive_affine_change_of_units(X, a, b):
    # Measuring a feature in other units (x -> a x + b, a > 0) must not change any of these outputs.
    # Columns whose scale is (nearly) 0 are skipped: there the scale is replaced by 1, which no unit change
    # rescales, and rounding dominates.
    size = np.abs(X).max(axis=0) + 1.0
    spreads = {
        scaling.minmax_scale: np.ptp(X, axis=0),
        scaling.scale: X.std(axis=0),
        scaling.robust_scale: np.subtract(*np.percentile(X, [75, 25], axis=0)),
    }
    for fn, spread in spreads.items():
        keep = spread > 1e-3 * size
        if keep.any():
            np.testing.assert_allclose(fn(a * X[:, keep] + b), fn(X[:, keep]), rtol=1e-6, atol=1e-6)


def test_scale_recentres_like_sklearn_when_rounding_spoils_the_mean():
    # A feature constant up to the rounding of its mean: its std (~1e-11) passes the 10 * eps cut-off, so
    # (x - mean) / std is rounding error blown up to order 1. scikit-learn subtracts the mean again, warning.
    X = np.full((11, 1), 190651.15904576)
    with pytest.warns(UserWarning, match="Numerical issues were encountered when scaling the data"):
        ours = scaling.scale(X)
    with pytest.warns(UserWarning, match="Numerical issues were encountered when scaling the data"):
        theirs = preprocessing.scale(X)
    _assert_same(ours, theirs)
    np.testing.assert_allclose(ours, 0.0, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(X=_matrices)
def test_scale_gives_zero_mean_unit_std(X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the recentring warning of near-constant features
        out = scaling.scale(X)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-9)
    std = out.std(axis=0)
    assert np.all((np.abs(std - 1.0) < 1e-9) | (std < 1e-6))  # 1, or 0 for a constant feature


# ----------------------------------------------------------------------------------------------------------
# Errors: every message
# ----------------------------------------------------------------------------------------------------------
def test_box_cox_on_non_positive_data_names_feature_and_minimum():
    X = np.column_stack([np.arange(1.0, 6.0), np.array([1.0, 2.0, -0.5, 0.0, 3.0])])
    match = r"Box-Cox needs strictly positive data, but feature 1 has minimum -0.5 \(2 values <= 0\); use method='yeo-johnson'"
    with pytest.raises(ValueError, match=match):
        scaling.power_transform(X, "box-cox")
    with pytest.raises(ValueError, match="feature 1 has minimum -0.5"):
        scaling.fit_power_lambdas(X, "box-cox")
    with pytest.raises(ValueError, match="feature 0 has minimum 0 "):
        scaling.power_log_likelihood(np.array([0.0, 1.0]), 1.0, "box-cox")
    _, params = scaling.power_transform(X[:, :1], "box-cox", return_params=True)
    with pytest.raises(ValueError, match="feature 0 has minimum -1"):
        params.transform(np.array([[-1.0]]))


def test_box_cox_on_constant_feature():
    X = np.column_stack([np.arange(1.0, 6.0), np.full(5, 2.0)])
    with pytest.raises(
        ValueError, match=r"Box-Cox cannot fit feature 1: it is constant \(every value is 2\)"
    ):
        scaling.power_transform(X, "box-cox")


def test_all_nan_feature_cannot_be_power_transformed():
    X = np.column_stack([np.arange(1.0, 6.0), np.full(5, np.nan)])
    with pytest.raises(ValueError, match="feature 1 is all NaN: no lambda can be fitted"):
        scaling.power_transform(X, "box-cox")


@pytest.mark.parametrize(
    ("feature_range", "error", "match"),
    [
        (
            (1, 0),
            ValueError,
            r"feature_range must be \(min, max\) with min < max, got \(1, 0\); swap them: feature_range=\(0, 1\)",
        ),
        ((2, 2), ValueError, r"min < max, got \(2, 2\)$"),
        ((0, np.inf), ValueError, r"feature_range must hold two finite numbers \(min, max\), got \(0, inf\)"),
        ((0, 1, 2), TypeError, r"feature_range must be a pair \(min, max\), got tuple \(\(0, 1, 2\)\)"),
        (("a", 1), TypeError, r"feature_range must hold two real numbers \(min, max\), got \('a', 1\)"),
    ],
)
def test_bad_feature_range(feature_range, error, match):
    with pytest.raises(error, match=match):
        scaling.minmax_scale(np.ones((3, 2)), feature_range=feature_range)


@pytest.mark.parametrize(
    ("quantile_range", "kwargs", "match"),
    [
        ((75.0, 25.0), {}, r"q_min < q_max, got \(75.0, 25.0\); swap them: quantile_range=\(25, 75\)"),
        ((-5.0, 75.0), {}, r"quantile_range must hold percentiles between 0 and 100, got \(-5.0, 75.0\)"),
        ((25.0, 101.0), {}, r"percentiles between 0 and 100, got \(25.0, 101.0\)"),
        (
            (0.0, 75.0),
            {"unit_variance": True},
            r"unit_variance=True needs quantile_range strictly inside \(0, 100\)",
        ),
    ],
)
def test_bad_quantile_range(quantile_range, kwargs, match):
    with pytest.raises(ValueError, match=match):
        scaling.robust_scale(np.ones((3, 2)), quantile_range=quantile_range, **kwargs)


@pytest.mark.parametrize(
    ("method", "match"),
    [
        ("boxcox", r"method must be 'yeo-johnson' or 'box-cox', got 'boxcox'; did you mean 'box-cox'\?"),
        ("log", r"method must be 'yeo-johnson' or 'box-cox', got 'log'$"),
        (None, r"method must be 'yeo-johnson' or 'box-cox', got None$"),
    ],
)
def test_unknown_method(method, match):
    with pytest.raises(ValueError, match=match):
        scaling.power_transform(np.ones((3, 2)), method)
    with pytest.raises(ValueError, match=match):
        scaling.fit_power_lambdas(np.ones((3, 2)), method)
    with pytest.raises(ValueError, match=match):
        scaling.power_log_likelihood(np.ones(3), 1.0, method)


@pytest.mark.parametrize(
    ("X", "match"),
    [
        (
            [["a", "b"], ["c", "d"]],
            r"X must contain real numbers, got an array of dtype <U1 \(str\); convert it with np.asarray\(X, dtype=float\)",
        ),
        (np.array([1 + 2j, 3j]), r"got an array of dtype complex128 \(complex\)"),
        (
            np.array([1.0, "x", None], dtype=object),
            r"X must contain only real numbers, got an object array holding \['NoneType', 'float', 'str'\]",
        ),
        (None, r"X must be an array of real numbers of shape \(n_samples, n_features\), got NoneType"),
        ("1,2,3", r"X must be an array of real numbers of shape \(n_samples, n_features\), got str$"),
    ],
)
def test_non_numeric_input(X, match):
    with pytest.raises(TypeError, match=match):
        scaling.scale(X)


def test_bad_shapes_and_values():
    with pytest.raises(
        ValueError,
        match=r"X must be 1-D \(one feature\) or 2-D \(n_samples, n_features\), got 3-D of shape \(2, 2, 2\)",
    ):
        scaling.minmax_scale(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match=r"X must hold at least one sample, got shape \(0, 3\)"):
        scaling.scale(np.ones((0, 3)))
    with pytest.raises(
        ValueError, match=r"X must be finite \(NaN is allowed and ignored\), got inf at index \(1, 0\)"
    ):
        scaling.robust_scale(np.array([[1.0, 2.0], [np.inf, 3.0]]))
    with pytest.raises(
        ValueError, match=r"x must be 1-D \(one feature\), got shape \(3, 2\); pass one column"
    ):
        scaling.power_log_likelihood(np.ones((3, 2)), 1.0)


@pytest.mark.parametrize("axis", [2, -1, True, 0.0, "rows"])
def test_bad_axis(axis):
    with pytest.raises(
        ValueError,
        match=r"axis must be 0 \(scale each feature, a column\) or 1 \(scale each sample, a row\), got",
    ):
        scaling.scale(np.ones((3, 2)), axis=axis)


def test_axis_1_on_1d_input():
    with pytest.raises(ValueError, match=r"axis=1 needs 2-D X: a 1-D X is one feature"):
        scaling.minmax_scale(np.arange(3.0), axis=1)


@pytest.mark.parametrize("name", ["with_mean", "with_std", "return_params"])
def test_flags_must_be_bool(name):
    with pytest.raises(TypeError, match=rf"{name} must be True or False, got int \(1\)"):
        scaling.scale(np.ones((3, 2)), **{name: 1})


def test_params_errors():
    _, params = scaling.scale(np.ones((4, 3)), return_params=True)
    with pytest.raises(ValueError, match="X has 2 features, but these parameters were fitted on 3"):
        params.transform(np.ones((4, 2)))
    with pytest.raises(
        TypeError, match="params must be the parameters returned with return_params=True .* got dict"
    ):
        scaling.inverse_transform(np.ones((4, 3)), {})
    with pytest.raises(
        TypeError, match="params must be the MinMaxParams returned with return_params=True, got"
    ):
        scaling.inverse_minmax_scale(np.ones((4, 3)), params)
