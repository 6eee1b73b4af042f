"""Exercises of notebook 01, feature scaling: min-max, z-score, robust scaling and the Box-Cox formula.

Each reference below is the short version a learner writes (its source is what ``reveal`` prints); the full
versions, with NaN handling, ``axis`` and inverses, are in :mod:`normviz.scaling`, and the tests check that
the two agree. Inputs are ``(n_samples, n_features)`` arrays: every statistic is taken per feature (column).

Examples
--------
>>> from normviz.exercises import check
>>> check("zscore_scale", zscore_scale).passed
True
"""

from __future__ import annotations

import numpy as np

from normviz.exercises._core import Case, Exercise, WrongAnswer, register

__all__ = ["minmax_scale", "zscore_scale", "robust_scale", "box_cox"]


# ----------------------------------------------------------------------------------------------------------
# Reference solutions (what reveal() prints)
# ----------------------------------------------------------------------------------------------------------
def minmax_scale(X):
    X_min = X.min(axis=0)  # one minimum per feature (column)
    X_max = X.max(axis=0)
    data_range = X_max - X_min
    data_range[data_range == 0] = 1.0  # a constant feature: divide by 1, not by 0 (as scikit-learn does)
    return (X - X_min) / data_range


def zscore_scale(X):
    mean = X.mean(axis=0)  # one mean per feature (column)
    std = X.std(axis=0)  # biased standard deviation (ddof=0), as scikit-learn uses
    std[std == 0] = 1.0  # a constant feature: divide by 1, not by 0
    return (X - mean) / std


def robust_scale(X):
    median = np.median(X, axis=0)  # one median per feature (column)
    q1, q3 = np.percentile(X, [25, 75], axis=0)
    iqr = q3 - q1  # interquartile range: the spread of the middle half of the data
    iqr[iqr == 0] = 1.0  # a feature whose middle half is constant: divide by 1, not by 0
    return (X - median) / iqr


def box_cox(x, lmbda):
    if lmbda == 0:
        return np.log(x)  # the limit of (x**lmbda - 1) / lmbda as lmbda -> 0
    return (x**lmbda - 1) / lmbda


# ----------------------------------------------------------------------------------------------------------
# Inputs: ordinary, with an outlier, with a constant feature, a single feature, negative values
# ----------------------------------------------------------------------------------------------------------
def _scaling_cases() -> list[Case]:
    rng = np.random.default_rng(0)
    # Features on very different scales and offsets, so that any mix-up between features shows.
    ordinary = rng.normal(size=(8, 3)) * [1.0, 10.0, 0.1] + [0.0, 50.0, -3.0]
    with_outlier = rng.normal(size=(9, 2)) * [2.0, 1.0] + [5.0, 1.0]
    with_outlier[4, 0] = 100.0
    constant = np.column_stack([rng.normal(size=7), np.full(7, 5.0), rng.uniform(0, 4, size=7)])
    one_feature = rng.exponential(size=(6, 1))
    negative = -np.abs(rng.normal(size=(5, 4))) * [1.0, 3.0, 0.5, 8.0] - 1.0
    return [
        Case("8 samples of 3 features on different scales", ordinary),
        Case("data with an outlier (100.0) in feature 0", with_outlier),
        Case("data whose feature 1 is constant (all 5.0)", constant),
        Case("a single feature", one_feature),
        Case("negative data", negative),
    ]


def _box_cox_cases() -> list[Case]:
    x = np.random.default_rng(1).lognormal(size=12)
    return [
        Case("lmbda = 0.5", x, 0.5),
        Case("lmbda = 2", x, 2.0),
        Case("lmbda = -1", x, -1.0),
        Case("lmbda = 0", x, 0.0),
    ]


def _has_nan_where_reference_has_none(got, expected, case) -> bool:
    got = np.asarray(got, dtype=float)
    return got.shape == expected.shape and bool(np.any(np.isnan(got) & ~np.isnan(expected)))


# ----------------------------------------------------------------------------------------------------------
# Typical wrong answers
# ----------------------------------------------------------------------------------------------------------
_NAN_CONSTANT = (
    "your output has NaN for the constant feature: its {short} is 0, so you divided 0 by 0. Where the "
    "{what} is 0, divide by 1 instead (scikit-learn does the same), e.g. `{var}[{var} == 0] = 1.0`"
)

register(
    Exercise(
        name="minmax_scale",
        reference=minmax_scale,
        cases=_scaling_cases,
        wrong_answers=[
            WrongAnswer(
                "you used the minimum and maximum of the whole array, not of each feature: "
                "use X.min(axis=0) and X.max(axis=0), one value per column",
                implementation=lambda X: (X - X.min()) / (X.max() - X.min()),
            ),
            WrongAnswer(
                "you took the minimum and maximum of each sample (row, axis=1), not of each feature "
                "(column, axis=0)",
                implementation=lambda X: (
                    (X - X.min(axis=1, keepdims=True))
                    / (X.max(axis=1, keepdims=True) - X.min(axis=1, keepdims=True))
                ),
            ),
            WrongAnswer(
                "you divided by the maximum instead of by the range (max - min): "
                "the result must be (X - min) / (max - min)",
                implementation=lambda X: (X - X.min(axis=0)) / X.max(axis=0),
            ),
            WrongAnswer(
                "you divided X itself by the range without subtracting the minimum first: "
                "the result must be (X - min) / (max - min)",
                implementation=lambda X: X / (X.max(axis=0) - X.min(axis=0)),
            ),
            WrongAnswer(
                _NAN_CONSTANT.format(short="range", what="range", var="data_range"),
                predicate=_has_nan_where_reference_has_none,
            ),
        ],
        hint="compute X.min(axis=0) and X.max(axis=0) (one value per feature), then (X - min) / (max - min); "
        "a constant feature has max == min.",
    )
)

register(
    Exercise(
        name="zscore_scale",
        reference=zscore_scale,
        cases=_scaling_cases,
        wrong_answers=[
            WrongAnswer(
                "you divided by the standard deviation of all features together, not per feature: "
                "use X.mean(axis=0) and X.std(axis=0)",
                implementation=lambda X: (X - X.mean(axis=0)) / X.std(),
            ),
            WrongAnswer(
                "you centred each feature, then divided by the standard deviation of all the centred features "
                "together, not per feature: use X.std(axis=0)",
                implementation=lambda X: (X - X.mean(axis=0)) / (X - X.mean(axis=0)).std(),
            ),
            WrongAnswer(
                "you used the mean and standard deviation of the whole array, not of each feature: "
                "use X.mean(axis=0) and X.std(axis=0)",
                implementation=lambda X: (X - X.mean()) / X.std(),
            ),
            WrongAnswer(
                "you standardized each sample (row, axis=1) instead of each feature (column, axis=0)",
                implementation=lambda X: (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, keepdims=True),
            ),
            WrongAnswer(
                "you used the unbiased standard deviation (ddof=1); scikit-learn's scale and "
                "StandardScaler use the biased one, X.std(axis=0) with the default ddof=0",
                implementation=lambda X: (X - X.mean(axis=0)) / X.std(axis=0, ddof=1),
            ),
            WrongAnswer(
                "you divided by the variance instead of the standard deviation (its square root)",
                implementation=lambda X: (X - X.mean(axis=0)) / X.var(axis=0),
            ),
            WrongAnswer(
                "you divided by the standard deviation but did not subtract the mean first",
                implementation=lambda X: X / X.std(axis=0),
            ),
            WrongAnswer(
                "you subtracted the mean but did not divide by the standard deviation",
                implementation=lambda X: X - X.mean(axis=0),
            ),
            WrongAnswer(
                _NAN_CONSTANT.format(short="spread", what="standard deviation", var="std"),
                predicate=_has_nan_where_reference_has_none,
            ),
        ],
        hint="mean = X.mean(axis=0), std = X.std(axis=0) (one value per feature), then (X - mean) / std; "
        "a constant feature has std == 0.",
    )
)


def _percentile_iqr(X, percents=(25, 75)):
    q1, q3 = np.percentile(X, list(percents), axis=0)
    return q3 - q1


def _guarded_scale(X, centre, scale):
    # (X - centre) / scale with a zero scale replaced by 1, as the reference does for a constant feature
    return (X - centre) / np.where(scale == 0, 1.0, scale)


register(
    Exercise(
        name="robust_scale",
        reference=robust_scale,
        cases=_scaling_cases,
        wrong_answers=[
            WrongAnswer(
                "you centred on the mean; robust scaling centres on the median, which one outlier "
                "cannot drag: use np.median(X, axis=0)",
                implementation=lambda X: (X - X.mean(axis=0)) / _percentile_iqr(X),
            ),
            WrongAnswer(
                "you divided by the standard deviation; robust scaling divides by the interquartile "
                "range, q3 - q1 with np.percentile(X, [25, 75], axis=0)",
                implementation=lambda X: (X - np.median(X, axis=0)) / X.std(axis=0),
            ),
            WrongAnswer(
                "you divided by the full range (max - min), which the outlier sets; use the "
                "interquartile range q3 - q1 instead",
                implementation=lambda X: (X - np.median(X, axis=0)) / (X.max(axis=0) - X.min(axis=0)),
            ),
            WrongAnswer(
                "you used the median and quartiles of the whole array, not of each feature: pass axis=0 "
                "to np.median and np.percentile",
                implementation=lambda X: (X - np.median(X)) / np.subtract(*np.percentile(X, [75, 25])),
            ),
            WrongAnswer(
                "you divided by q3 alone; the scale is the interquartile range q3 - q1",
                implementation=lambda X: (X - np.median(X, axis=0)) / np.percentile(X, 75, axis=0),
            ),
            WrongAnswer(
                "you divided by q1 alone; the scale is the interquartile range q3 - q1",
                implementation=lambda X: (X - np.median(X, axis=0)) / np.percentile(X, 25, axis=0),
            ),
            WrongAnswer(
                "np.percentile takes percents from 0 to 100: use [25, 75] (or np.quantile with [0.25, 0.75]); "
                "[0.25, 0.75] asks for the 0.25th and 0.75th percentiles, just above the minimum",
                implementation=lambda X: _guarded_scale(X, np.median(X, axis=0), _percentile_iqr(X, (0.25, 0.75))),
            ),
            WrongAnswer(
                _NAN_CONSTANT.format(short="IQR", what="interquartile range", var="iqr"),
                predicate=_has_nan_where_reference_has_none,
            ),
        ],
        hint="median = np.median(X, axis=0); q1, q3 = np.percentile(X, [25, 75], axis=0); then "
        "(X - median) / (q3 - q1); guard a zero IQR.",
    )
)

register(
    Exercise(
        name="box_cox",
        reference=box_cox,
        cases=_box_cox_cases,
        wrong_answers=[
            WrongAnswer(
                "at lmbda = 0 the formula (x**lmbda - 1) / lmbda is 0 / 0; Box-Cox defines that case as "
                "its limit, np.log(x): add an `if lmbda == 0:` branch",
                predicate=lambda got, expected, case: case.args[1] == 0 and not np.all(np.isfinite(got)),
            ),
            WrongAnswer(
                "you forgot the '- 1': the transform is (x**lmbda - 1) / lmbda, which is what makes it "
                "tend to log(x) as lmbda -> 0",
                implementation=lambda x, lmbda: np.log(x) if lmbda == 0 else x**lmbda / lmbda,
            ),
            WrongAnswer(
                "at lmbda = 0 you used log10; Box-Cox uses the natural logarithm np.log",
                implementation=lambda x, lmbda: np.log10(x) if lmbda == 0 else (x**lmbda - 1) / lmbda,
            ),
            WrongAnswer(
                "you did not divide by lmbda: the transform is (x**lmbda - 1) / lmbda",
                implementation=lambda x, lmbda: np.log(x) if lmbda == 0 else x**lmbda - 1,
            ),
        ],
        hint="(x**lmbda - 1) / lmbda for lmbda != 0, and np.log(x) for lmbda == 0.",
    )
)
