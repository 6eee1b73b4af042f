r"""Part 1, feature scaling: min-max, z-score, robust and power transforms, with scikit-learn's function API.

Every function takes ``X`` of shape ``(n_samples, n_features)`` (or 1-D, one feature) and scales each
feature (column) with statistics computed from that column alone; ``axis=1`` scales each sample (row)
instead. The formulas are written out in numpy the way the notebook states them:

=====================  ===========================================  ==============================
function               formula, per feature                          scikit-learn twin
=====================  ===========================================  ==============================
:func:`minmax_scale`   :math:`a + (x - \min)\,(b - a) / (\max - \min)`  ``minmax_scale``/``MinMaxScaler``
:func:`scale`          :math:`(x - \bar x) / \sigma`                  ``scale``/``StandardScaler``
:func:`robust_scale`   :math:`(x - \mathrm{median}) / (q_3 - q_1)`    ``robust_scale``/``RobustScaler``
:func:`power_transform`  Box-Cox or Yeo-Johnson, then z-score        ``power_transform``
=====================  ===========================================  ==============================

The outputs equal scikit-learn's (float64, to 1e-7; the tests check it on random and on every bundled real
dataset), including its deliberate edge cases:

* **constant features** get scale 1, so they map to 0 (or to ``feature_range[0]``) instead of 0/0;
* **NaN** is ignored when the statistics are computed and stays NaN in the output;
* **1-D input** is one feature.

Fitting on one array and applying to another (the training split, then the test split: the leakage lesson
of the notebook) uses the fitted parameters: ``X_train_s, params = scale(X_train, return_params=True)``,
then ``params.transform(X_test)``; ``params.inverse(X_s)`` (or :func:`inverse_transform`) undoes it.

Deviations from scikit-learn, on purpose: ``axis=1`` with 1-D input is rejected (scikit-learn returns a
constant); ``quantile_range`` must have ``q_min < q_max`` (equal quantiles give a zero scale everywhere);
:func:`power_transform` accepts 1-D input; Box-Cox on a constant feature raises a ValueError that names
the feature; a constant feature that also holds NaN is recognised as constant by Yeo-Johnson (scikit-learn
computes its variance with the NaN and does not).

References
----------
.. [1] scikit-learn user guide, "Preprocessing data", https://scikit-learn.org/stable/modules/preprocessing.html
.. [2] G. E. P. Box and D. R. Cox, "An analysis of transformations", Journal of the Royal Statistical
       Society B, 26(2):211-252, 1964.
.. [3] I.-K. Yeo and R. A. Johnson, "A new family of power transformations to improve normality or
       symmetry", Biometrika, 87(4):954-959, 2000.
"""

from __future__ import annotations

import difflib
import numbers
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = [
    "minmax_scale",
    "scale",
    "z_score",
    "robust_scale",
    "power_transform",
    "box_cox",
    "yeo_johnson",
    "inverse_box_cox",
    "inverse_yeo_johnson",
    "fit_power_lambdas",
    "power_log_likelihood",
    "inverse_minmax_scale",
    "inverse_scale",
    "inverse_robust_scale",
    "inverse_power_transform",
    "inverse_transform",
    "MinMaxParams",
    "StandardParams",
    "RobustParams",
    "PowerParams",
    "POWER_METHODS",
]

#: The two power transforms, by scikit-learn's names.
POWER_METHODS = ("yeo-johnson", "box-cox")

_EPS = np.finfo(np.float64).eps


# ----------------------------------------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------------------------------------
def _type_name(obj) -> str:
    cls = type(obj)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _check_X(X, name: str = "X") -> np.ndarray:
    """``X`` as a float64 array of 1 or 2 dimensions, finite or NaN; TypeError/ValueError otherwise."""
    if X is None or isinstance(X, (str, bytes, dict)):
        raise TypeError(
            f"{name} must be an array of real numbers of shape (n_samples, n_features), got {_type_name(X)}"
        )
    if hasattr(X, "detach") and hasattr(X, "cpu"):  # a torch tensor: numpy cannot read one that needs grad
        X = X.detach().cpu().numpy()
    array = np.asarray(X)
    if array.dtype.kind in "biuf":
        array = array.astype(np.float64)
    elif array.dtype.kind == "O":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"{name} must contain only real numbers, got an object array holding "
                f"{sorted({_type_name(v) for v in array.ravel()})}; convert it with np.asarray({name}, dtype=float)"
            ) from None
    else:
        kind = {"U": "str", "S": "bytes", "c": "complex", "M": "datetime", "m": "timedelta"}.get(
            array.dtype.kind, str(array.dtype)
        )
        raise TypeError(
            f"{name} must contain real numbers, got an array of dtype {array.dtype} ({kind}); "
            f"convert it with np.asarray({name}, dtype=float)"
        )
    if array.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be 1-D (one feature) or 2-D (n_samples, n_features), got {array.ndim}-D of "
            f"shape {array.shape}; reshape it, e.g. {name}.reshape(len({name}), -1)"
        )
    if array.shape[0] == 0 or array.size == 0:
        raise ValueError(f"{name} must hold at least one sample, got shape {array.shape}")
    infinite = np.isinf(array)
    if infinite.any():
        where = np.argwhere(infinite)[0]
        raise ValueError(
            f"{name} must be finite (NaN is allowed and ignored), got {array[tuple(where)]} at index "
            f"{tuple(int(i) for i in where)}; replace infinities with NaN or a finite value"
        )
    return array


def _check_axis(axis, ndim: int) -> int:
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or axis not in (0, 1):
        raise ValueError(
            f"axis must be 0 (scale each feature, a column) or 1 (scale each sample, a row), got {axis!r}"
        )
    if axis == 1 and ndim == 1:
        raise ValueError(
            "axis=1 needs 2-D X: a 1-D X is one feature, scaled with axis=0; "
            "for one sample, pass X.reshape(1, -1)"
        )
    return int(axis)


def _check_bool(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {_type_name(value)} ({value!r})")
    return bool(value)


def _check_pair(value, name: str, meaning: str) -> tuple[float, float]:
    """A pair of finite real numbers, as a tuple of floats."""
    try:
        low, high = value
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair ({meaning}), got {_type_name(value)} ({value!r})") from None
    for v in (low, high):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"{name} must hold two real numbers ({meaning}), got {value!r}")
        if not np.isfinite(v):
            raise ValueError(f"{name} must hold two finite numbers ({meaning}), got {value!r}")
    return float(low), float(high)


def _check_feature_range(feature_range) -> tuple[float, float]:
    low, high = _check_pair(feature_range, "feature_range", "min, max")
    if low >= high:
        fix = f"; swap them: feature_range=({high:g}, {low:g})" if low > high else ""
        raise ValueError(
            f"feature_range must be (min, max) with min < max, got {tuple(feature_range)!r}{fix}"
        )
    return low, high


def _check_quantile_range(quantile_range, unit_variance: bool) -> tuple[float, float]:
    q_min, q_max = _check_pair(quantile_range, "quantile_range", "q_min, q_max, percentiles in [0, 100]")
    if not (0.0 <= q_min <= 100.0 and 0.0 <= q_max <= 100.0):
        raise ValueError(
            f"quantile_range must hold percentiles between 0 and 100, got {tuple(quantile_range)!r}; "
            "the interquartile range is (25.0, 75.0)"
        )
    if q_min >= q_max:
        fix = f"; swap them: quantile_range=({q_max:g}, {q_min:g})" if q_min > q_max else ""
        raise ValueError(
            f"quantile_range must be (q_min, q_max) with q_min < q_max, got {tuple(quantile_range)!r}{fix}"
        )
    if unit_variance and (q_min == 0.0 or q_max == 100.0):
        raise ValueError(
            f"unit_variance=True needs quantile_range strictly inside (0, 100), got {tuple(quantile_range)!r}: "
            "the normal distribution's 0th and 100th percentiles are infinite"
        )
    return q_min, q_max


def _check_method(method) -> str:
    if method not in POWER_METHODS:
        close = difflib.get_close_matches(str(method), POWER_METHODS, n=1, cutoff=0.5)
        fix = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"method must be 'yeo-johnson' or 'box-cox', got {method!r}{fix}")
    return method


def _to_features(X: np.ndarray, axis: int) -> np.ndarray:
    """View ``X`` as (n_samples, n_features): a 1-D X is one feature, axis=1 makes rows the features."""
    if X.ndim == 1:
        return X.reshape(-1, 1)  # (n_samples, 1)
    return X.T if axis == 1 else X  # (n_samples, n_features)


def _from_features(Xf: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    if ndim == 1:
        return Xf.ravel()
    return Xf.T if axis == 1 else Xf


@contextmanager
def _ignoring_empty_slices():
    """Silence numpy's "All-NaN slice" and "Mean of empty slice" warnings: a column of NaN stays NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _handle_zeros_in_scale(scale: np.ndarray, constant_mask: np.ndarray | None = None) -> np.ndarray:
    """Replace the scale of (near-)constant features by 1, as scikit-learn does.

    Dividing by a scale at the level of rounding noise would blow rounding errors up into values of order 1,
    so scikit-learn treats a scale below ``10 * eps`` (about 2.2e-15) as zero, unless the caller detected
    constant features itself (``constant_mask``).
    """
    scale = np.array(scale, dtype=np.float64)  # a copy: the caller's statistics stay untouched
    if constant_mask is None:
        constant_mask = scale < 10 * _EPS
    scale[constant_mask] = 1.0
    return scale


def _corrected_mean_var(Xf: np.ndarray):
    """Per-feature mean, biased variance and count of non-NaN values, as scikit-learn's StandardScaler.

    The "corrected two-pass" variance: the sum of the deviations from the computed mean should be 0; what
    is left is the mean's rounding error, and subtracting its square removes that error from the variance
    (Chan, Golub and LeVeque). It matters when a feature's spread is tiny compared with its mean.
    """
    with _ignoring_empty_slices(), np.errstate(invalid="ignore", divide="ignore"):
        count = np.sum(~np.isnan(Xf), axis=0)  # (n_features,)
        mean = np.nansum(Xf, axis=0) / count
        deviation = Xf - mean  # (n_samples, n_features)
        correction = np.nansum(deviation, axis=0)
        var = (np.nansum(deviation**2, axis=0) - correction**2 / count) / count
    return mean, var, count


def _is_constant_feature(var: np.ndarray, mean: np.ndarray, n_samples) -> np.ndarray:
    """scikit-learn's test for "the variance is only rounding error" (StandardScaler, PowerTransformer).

    Computing a variance with two passes in float64 leaves an error of at most about
    ``n * eps * var + (n * mean * eps)**2`` (Chan, Golub and LeVeque), so a variance below that bound is
    indistinguishable from 0: the feature is constant.
    """
    upper_bound = n_samples * _EPS * var + (n_samples * mean * _EPS) ** 2
    return var <= upper_bound


# ----------------------------------------------------------------------------------------------------------
# Fitted parameters: apply to new data, and invert
# ----------------------------------------------------------------------------------------------------------
class _Params:
    """Shared behaviour of the fitted-parameter records: apply to new data in the fitted layout, invert."""

    axis: int

    def _apply(self, X, fn) -> np.ndarray:
        X = _check_X(X)
        axis = _check_axis(self.axis, X.ndim)
        Xf = _to_features(X, axis)
        n_features = self.n_features
        if Xf.shape[1] != n_features:
            raise ValueError(
                f"X has {Xf.shape[1]} features, but these parameters were fitted on {n_features}; "
                "apply them to data with the same features (columns) as the data they were fitted on"
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            return _from_features(fn(Xf), X.ndim, axis)


@dataclass(frozen=True)
class MinMaxParams(_Params):
    """Fitted min-max scaling: ``x_scaled = x * scale + min``, as scikit-learn's ``MinMaxScaler`` stores it.

    Attributes
    ----------
    data_min, data_max : ndarray of shape (n_features,)
        Per-feature minimum and maximum (NaN ignored).
    scale, min : ndarray of shape (n_features,)
        ``scale = (b - a) / (data_max - data_min)`` (range 1 for a constant feature), ``min = a - data_min * scale``.
    feature_range : tuple of float
    axis : int
    """

    data_min: np.ndarray
    data_max: np.ndarray
    scale: np.ndarray
    min: np.ndarray
    feature_range: tuple
    axis: int = 0

    @property
    def n_features(self) -> int:
        return self.scale.shape[0]

    def transform(self, X) -> np.ndarray:
        """Scale new data with the fitted minimum and maximum."""
        return self._apply(X, lambda Xf: Xf * self.scale + self.min)

    def inverse(self, X_scaled) -> np.ndarray:
        """Undo :meth:`transform`: ``x = (x_scaled - min) / scale``."""
        return self._apply(X_scaled, lambda Xf: (Xf - self.min) / self.scale)


@dataclass(frozen=True)
class StandardParams(_Params):
    """Fitted z-scoring: ``x_scaled = (x - mean) / scale``.

    Attributes
    ----------
    mean : ndarray of shape (n_features,) or None
        Per-feature mean (None when ``with_mean=False``).
    scale : ndarray of shape (n_features,) or None
        Per-feature biased standard deviation, 1 for a constant feature (None when ``with_std=False``).
    axis : int
    """

    mean: np.ndarray | None
    scale: np.ndarray | None
    n_features: int
    axis: int = 0

    def transform(self, X) -> np.ndarray:
        """Standardize new data with the fitted mean and standard deviation."""

        def fn(Xf):
            if self.mean is not None:
                Xf = Xf - self.mean
            return Xf / self.scale if self.scale is not None else Xf

        return self._apply(X, fn)

    def inverse(self, X_scaled) -> np.ndarray:
        """Undo :meth:`transform`: ``x = x_scaled * scale + mean``."""

        def fn(Xf):
            if self.scale is not None:
                Xf = Xf * self.scale
            return Xf + self.mean if self.mean is not None else Xf

        return self._apply(X_scaled, fn)


@dataclass(frozen=True)
class RobustParams(StandardParams):
    """Fitted robust scaling: ``x_scaled = (x - center) / scale`` with the median and the quantile range.

    ``mean`` holds the per-feature median (the name is shared with :class:`StandardParams`, whose
    ``transform`` and ``inverse`` this reuses); ``scale`` the quantile range (divided by the normal
    distribution's, with ``unit_variance``), 1 where it is 0.
    """

    @property
    def center(self):
        """The per-feature median (None when ``with_centering=False``)."""
        return self.mean


@dataclass(frozen=True)
class PowerParams(_Params):
    """Fitted power transform: per-feature lambdas, then (with ``standardize``) a z-score.

    Attributes
    ----------
    method : str
    lambdas : ndarray of shape (n_features,)
    standardizer : StandardParams or None
    """

    method: str
    lambdas: np.ndarray
    standardizer: StandardParams | None
    axis: int = 0

    @property
    def n_features(self) -> int:
        return self.lambdas.shape[0]

    def transform(self, X) -> np.ndarray:
        """Transform new data with the fitted lambdas (Box-Cox needs it positive)."""
        X = _check_X(X)
        if self.method == "box-cox":
            _check_positive(_to_features(X, 0))

        def fn(Xf):
            out = _power_columns(Xf, self.lambdas, self.method)
            return self.standardizer.transform(out) if self.standardizer is not None else out

        return self._apply(X, fn)

    def inverse(self, X_transformed) -> np.ndarray:
        """Undo :meth:`transform`."""
        inverse_fn = inverse_box_cox if self.method == "box-cox" else inverse_yeo_johnson

        def fn(Xf):
            if self.standardizer is not None:
                Xf = self.standardizer.inverse(Xf)
            columns = [inverse_fn(Xf[:, j], lmbda) for j, lmbda in enumerate(self.lambdas)]
            return np.column_stack(columns)

        return self._apply(X_transformed, fn)


def inverse_transform(X_scaled, params) -> np.ndarray:
    """Undo any of this module's scalings, given the parameters its ``return_params=True`` returned.

    Examples
    --------
    >>> X = np.array([[1.0, 10.0], [3.0, 30.0], [2.0, 50.0]])
    >>> X_s, params = robust_scale(X, return_params=True)
    >>> np.allclose(inverse_transform(X_s, params), X)
    True
    """
    if not isinstance(params, _Params):
        raise TypeError(
            "params must be the parameters returned with return_params=True (MinMaxParams, StandardParams, "
            f"RobustParams or PowerParams), got {_type_name(params)}"
        )
    return params.inverse(X_scaled)


def inverse_minmax_scale(X_scaled, params: MinMaxParams) -> np.ndarray:
    """Undo :func:`minmax_scale`: ``x = (x_scaled - min) / scale``. See :func:`inverse_transform`."""
    return _check_params(params, MinMaxParams).inverse(X_scaled)


def inverse_scale(X_scaled, params: StandardParams) -> np.ndarray:
    """Undo :func:`scale`: ``x = x_scaled * std + mean``. See :func:`inverse_transform`."""
    return _check_params(params, StandardParams).inverse(X_scaled)


def inverse_robust_scale(X_scaled, params: RobustParams) -> np.ndarray:
    """Undo :func:`robust_scale`: ``x = x_scaled * iqr + median``. See :func:`inverse_transform`."""
    return _check_params(params, RobustParams).inverse(X_scaled)


def inverse_power_transform(X_transformed, params: PowerParams) -> np.ndarray:
    """Undo :func:`power_transform`: un-standardize, then invert Box-Cox / Yeo-Johnson per feature."""
    return _check_params(params, PowerParams).inverse(X_transformed)


def _check_params(params, cls):
    if not isinstance(params, cls):
        raise TypeError(
            f"params must be the {cls.__name__} returned with return_params=True, got {_type_name(params)}"
        )
    return params


# ----------------------------------------------------------------------------------------------------------
# Min-max, z-score, robust
# ----------------------------------------------------------------------------------------------------------
def minmax_scale(X, feature_range=(0, 1), *, axis=0, return_params=False):
    r"""Scale each feature to ``feature_range`` by its minimum and maximum.

    .. math:: x' = a + (x - \min x)\,\frac{b - a}{\max x - \min x}, \qquad (a, b) = \text{feature\_range}

    The minimum and maximum are taken per feature (over the samples, ``axis=0``) ignoring NaN.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or (n_samples,)
        The data.
    feature_range : tuple (min, max), default=(0, 1)
        The range of the output; min < max.
    axis : {0, 1}, default=0
        0 scales each feature (column), 1 each sample (row).
    return_params : bool, default=False
        Also return the fitted :class:`MinMaxParams` (to scale other data the same way, or to invert).

    Returns
    -------
    X_scaled : ndarray of the shape of X, float64
    params : MinMaxParams, only with ``return_params=True``

    Raises
    ------
    TypeError
        If X is not numeric.
    ValueError
        If ``feature_range`` is reversed or not finite, or ``axis`` is not 0 or 1.

    Notes
    -----
    Preserves the shape of each distribution and the zeros' *order* but not sparsity (zeros move to
    ``a - min * scale``); one outlier sets the maximum and squeezes every other value into a sliver.
    A constant feature (range below ``10 * eps``) gets range 1, so it maps to ``a``.

    Examples
    --------
    >>> minmax_scale([[-2.0, 1.0, 2.0], [-1.0, 0.0, 1.0]])
    array([[0., 1., 1.],
           [1., 0., 0.]])
    >>> minmax_scale(np.array([1.0, np.nan, 3.0]), feature_range=(-1, 1))
    array([-1., nan,  1.])
    """
    X = _check_X(X)
    axis = _check_axis(axis, X.ndim)
    a, b = _check_feature_range(feature_range)
    return_params = _check_bool(return_params, "return_params")
    Xf = _to_features(X, axis)  # (n_samples, n_features)
    with _ignoring_empty_slices():
        data_min = np.nanmin(Xf, axis=0)  # (n_features,)
        data_max = np.nanmax(Xf, axis=0)
    data_range = _handle_zeros_in_scale(data_max - data_min)
    scale_ = (b - a) / data_range
    min_ = a - data_min * scale_
    X_scaled = _from_features(Xf * scale_ + min_, X.ndim, axis)
    if return_params:
        return X_scaled, MinMaxParams(data_min, data_max, scale_, min_, (a, b), axis)
    return X_scaled


def scale(X, *, axis=0, with_mean=True, with_std=True, return_params=False):
    r"""Standardize each feature: subtract its mean, divide by its standard deviation (the z-score).

    .. math:: x' = \frac{x - \bar x}{\sigma}, \qquad \sigma^2 = \frac{1}{n}\sum_i (x_i - \bar x)^2

    The mean and the *biased* standard deviation (divide by n, not n - 1) are taken per feature, ignoring NaN.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or (n_samples,)
    axis : {0, 1}, default=0
        0 standardizes each feature (column), 1 each sample (row).
    with_mean : bool, default=True
        Subtract the mean.
    with_std : bool, default=True
        Divide by the standard deviation.
    return_params : bool, default=False
        Also return the fitted :class:`StandardParams`.

    Returns
    -------
    X_scaled : ndarray of the shape of X, float64
    params : StandardParams, only with ``return_params=True``

    Notes
    -----
    Each feature ends with mean 0 and standard deviation 1, but an outlier still inflates the standard
    deviation and, being far out, stays far out; skew is untouched. Centering destroys sparsity. A
    standard deviation below ``10 * eps`` is treated as 0 and replaced by 1, as scikit-learn does.
    As scikit-learn's ``scale``, it re-centres a second time, with a ``UserWarning``, when rounding leaves
    the mean visibly off 0 (huge values, or a standard deviation at the level of rounding noise). Never fit
    it on data that includes the test split (leakage).

    Examples
    --------
    >>> scale([[-2.0, 1.0, 2.0], [-1.0, 0.0, 1.0]])
    array([[-1.,  1.,  1.],
           [ 1., -1., -1.]])
    >>> z_score is scale
    True
    """
    X = _check_X(X)
    axis = _check_axis(axis, X.ndim)
    with_mean = _check_bool(with_mean, "with_mean")
    with_std = _check_bool(with_std, "with_std")
    return_params = _check_bool(return_params, "return_params")
    Xf = _to_features(X, axis)  # (n_samples, n_features)
    with _ignoring_empty_slices():
        mean = np.nanmean(Xf, axis=0) if with_mean else None  # (n_features,)
        std = _handle_zeros_in_scale(np.nanstd(Xf, axis=0)) if with_std else None
    params = StandardParams(mean, std, Xf.shape[1], axis)
    X_scaled = _from_features(_recentred(Xf, mean, std), X.ndim, axis)
    return (X_scaled, params) if return_params else X_scaled


def _recentred(Xf: np.ndarray, mean, std) -> np.ndarray:
    """``(Xf - mean) / std`` with scikit-learn's ``scale`` safety net for rounding in the mean.

    With large values, the computed mean can be off by a few ulps, so the centred data does not average to 0;
    dividing by a tiny standard deviation (a feature that is constant up to rounding, but above the
    ``10 * eps`` cut-off) then blows that error up to order 1. scikit-learn checks the mean after centring
    and after scaling, and subtracts it again if it is not close to 0, with a warning; so does this.
    """
    with np.errstate(invalid="ignore", divide="ignore"), _ignoring_empty_slices():
        Xc = Xf
        if mean is not None:
            Xc = Xf - mean
            mean_1 = np.nanmean(Xc, axis=0)
            if not np.allclose(np.nan_to_num(mean_1), 0):  # an all-NaN feature has no mean to fix
                warnings.warn(
                    "Numerical issues were encountered when centering the data and might not be solved: "
                    "the data may contain values too large to centre; divide the feature by its maximum first",
                    UserWarning,
                    stacklevel=3,
                )
                Xc = Xc - np.nan_to_num(mean_1)
        if std is not None:
            Xc = Xc / std
            if mean is not None:
                mean_2 = np.nanmean(Xc, axis=0)
                if not np.allclose(np.nan_to_num(mean_2), 0):
                    warnings.warn(
                        "Numerical issues were encountered when scaling the data and might not be solved: "
                        "the standard deviation of a feature is probably very close to 0",
                        UserWarning,
                        stacklevel=3,
                    )
                    Xc = Xc - np.nan_to_num(mean_2)
    return Xc


#: The z-score is :func:`scale` under its textbook name.
z_score = scale


def robust_scale(
    X,
    *,
    axis=0,
    with_centering=True,
    with_scaling=True,
    quantile_range=(25.0, 75.0),
    unit_variance=False,
    return_params=False,
):
    r"""Centre each feature on its median and divide by its interquartile range (IQR).

    .. math:: x' = \frac{x - \mathrm{median}(x)}{q_{75}(x) - q_{25}(x)}

    Medians and percentiles (linear interpolation) are taken per feature, ignoring NaN.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or (n_samples,)
    axis : {0, 1}, default=0
    with_centering : bool, default=True
        Subtract the median.
    with_scaling : bool, default=True
        Divide by the quantile range.
    quantile_range : tuple (q_min, q_max), default=(25.0, 75.0)
        Percentiles, 0 <= q_min < q_max <= 100.
    unit_variance : bool, default=False
        Also divide by the quantile range of the standard normal distribution (1.349 for the IQR), so
        normally distributed features end with variance close to 1.
    return_params : bool, default=False
        Also return the fitted :class:`RobustParams`.

    Returns
    -------
    X_scaled : ndarray of the shape of X, float64
    params : RobustParams, only with ``return_params=True``

    Notes
    -----
    The median and the IQR hardly move when a few outliers appear, so the bulk of the data keeps the same
    scale; the outliers themselves are not removed, they stay far out. A quantile range below ``10 * eps``
    is replaced by 1.

    Examples
    --------
    >>> robust_scale([[-2.0, 1.0, 2.0], [-1.0, 0.0, 1.0]])
    array([[-1.,  1.,  1.],
           [ 1., -1., -1.]])
    """
    X = _check_X(X)
    axis = _check_axis(axis, X.ndim)
    with_centering = _check_bool(with_centering, "with_centering")
    with_scaling = _check_bool(with_scaling, "with_scaling")
    unit_variance = _check_bool(unit_variance, "unit_variance")
    q_min, q_max = _check_quantile_range(quantile_range, unit_variance)
    return_params = _check_bool(return_params, "return_params")
    Xf = _to_features(X, axis)  # (n_samples, n_features)
    with _ignoring_empty_slices():
        median = np.nanmedian(Xf, axis=0) if with_centering else None  # (n_features,)
        iqr = None
        if with_scaling:
            q_low, q_high = np.nanpercentile(Xf, [q_min, q_max], axis=0)  # (n_features,) each
            iqr = _handle_zeros_in_scale(q_high - q_low)
            if unit_variance:
                normal = NormalDist()
                iqr = iqr / (normal.inv_cdf(q_max / 100.0) - normal.inv_cdf(q_min / 100.0))
    params = RobustParams(median, iqr, Xf.shape[1], axis)
    X_scaled = params.transform(X)
    return (X_scaled, params) if return_params else X_scaled


# ----------------------------------------------------------------------------------------------------------
# Power transforms
# ----------------------------------------------------------------------------------------------------------
def _lambda_grid(x: np.ndarray, lmbda):
    """Broadcast data ``(n,)`` against lambdas ``(...)``: returns x ``(1,...,1, n)`` and lmbda ``(..., 1)``."""
    lmbda = np.asarray(lmbda, dtype=np.float64)
    return x.reshape((1,) * lmbda.ndim + (-1,)), lmbda[..., None]


def box_cox(x, lmbda):
    r"""The Box-Cox transform of positive data.

    .. math:: \psi(x, \lambda) = \begin{cases} (x^\lambda - 1)/\lambda & \lambda \ne 0 \\
              \log x & \lambda = 0 \end{cases}

    Computed as ``expm1(lmbda * log(x)) / lmbda``, the same number without the rounding loss of
    ``x**lmbda - 1`` when ``lmbda * log(x)`` is small.

    Parameters
    ----------
    x : array-like
        Positive data (NaN passes through).
    lmbda : float
        The power.

    Returns
    -------
    ndarray of the shape of x

    Examples
    --------
    >>> box_cox(np.array([1.0, np.e]), 0.0)
    array([0., 1.])
    >>> box_cox(np.array([1.0, 4.0]), 0.5)
    array([0., 2.])
    """
    x = np.asarray(x, dtype=np.float64)
    lmbda = float(lmbda)
    with np.errstate(invalid="ignore", divide="ignore"):
        if lmbda == 0:
            return np.log(x)
        return np.expm1(lmbda * np.log(x)) / lmbda


def inverse_box_cox(y, lmbda):
    r"""Undo :func:`box_cox`: :math:`x = (1 + \lambda y)^{1/\lambda}`, or :math:`e^y` when :math:`\lambda = 0`.

    Examples
    --------
    >>> inverse_box_cox(box_cox(np.array([0.5, 2.0, 9.0]), -0.7), -0.7)
    array([0.5, 2. , 9. ])
    """
    y = np.asarray(y, dtype=np.float64)
    lmbda = float(lmbda)
    with np.errstate(invalid="ignore", divide="ignore"):
        if lmbda == 0:
            return np.exp(y)
        return np.exp(np.log1p(lmbda * y) / lmbda)


def yeo_johnson(x, lmbda):
    r"""The Yeo-Johnson transform, defined for any real data.

    .. math:: \psi(x, \lambda) = \begin{cases}
              ((x + 1)^\lambda - 1)/\lambda & x \ge 0,\ \lambda \ne 0 \\
              \log(x + 1) & x \ge 0,\ \lambda = 0 \\
              -((1 - x)^{2 - \lambda} - 1)/(2 - \lambda) & x < 0,\ \lambda \ne 2 \\
              -\log(1 - x) & x < 0,\ \lambda = 2
              \end{cases}

    It is Box-Cox of ``x + 1`` for the non-negative values and a mirrored Box-Cox (power ``2 - lambda``)
    for the negative ones, so it needs no shift. ``lambda = 1`` is the identity.

    Examples
    --------
    >>> yeo_johnson(np.array([-1.0, 0.0, 3.0]), 1.0)
    array([-1.,  0.,  3.])
    >>> yeo_johnson(np.array([np.e - 1.0]), 0.0)
    array([1.])
    """
    x = np.asarray(x, dtype=np.float64)
    lmbda = float(lmbda)
    out = np.zeros_like(x)
    pos = x >= 0  # NaN compares False and lands in the negative branch, where it stays NaN
    with np.errstate(invalid="ignore", divide="ignore"):
        if abs(lmbda) < _EPS:
            out[pos] = np.log1p(x[pos])
        else:
            out[pos] = np.expm1(lmbda * np.log1p(x[pos])) / lmbda
        if abs(lmbda - 2) > _EPS:
            out[~pos] = -np.expm1((2 - lmbda) * np.log1p(-x[~pos])) / (2 - lmbda)
        else:
            out[~pos] = -np.log1p(-x[~pos])
    return out


def inverse_yeo_johnson(y, lmbda):
    """Undo :func:`yeo_johnson` (the sign of the output is the sign of ``y``).

    Examples
    --------
    >>> x = np.array([-3.0, -0.5, 0.0, 2.0, 40.0])
    >>> np.allclose(inverse_yeo_johnson(yeo_johnson(x, 0.4), 0.4), x)
    True
    """
    y = np.asarray(y, dtype=np.float64)
    lmbda = float(lmbda)
    x = np.zeros_like(y)
    pos = y >= 0
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if abs(lmbda) < _EPS:
            x[pos] = np.exp(y[pos]) - 1
        else:
            x[pos] = np.power(y[pos] * lmbda + 1, 1 / lmbda) - 1
        if abs(lmbda - 2) > _EPS:
            x[~pos] = 1 - np.power(-(2 - lmbda) * y[~pos] + 1, 1 / (2 - lmbda))
        else:
            x[~pos] = 1 - np.exp(-y[~pos])
    return x


def _log_var_box_cox(log_x: np.ndarray, lmbda: np.ndarray) -> np.ndarray:
    """log of the biased variance of ``box_cox(x, lmbda)`` over the last axis, for each lambda.

    Subtracting the constant ``1 / lmbda`` does not change a variance, so var(psi) = var(x**lmbda) / lmbda**2.
    ``x**lmbda = exp(z)`` with ``z = lmbda * log(x)`` overflows for large ``z``, so the variance is computed
    from logarithms with ``logsumexp`` (as scipy's ``boxcox_llf`` does, which makes the fitted lambdas
    identical to scipy's and scikit-learn's):
    log var = logsumexp(2 log|exp(z) - mean|) - log n, with log|exp(z) - mean| = logsumexp([z, log mean], b=[1, -1]).
    """
    from scipy.special import logsumexp  # imported here to keep `import normviz.scaling` fast

    n = log_x.shape[-1]
    z = lmbda * log_x  # (..., n)
    log_mean = logsumexp(z, axis=-1, keepdims=True) - np.log(n)  # (..., 1)
    stacked = np.stack(np.broadcast_arrays(z, log_mean), axis=0)  # (2, ..., n)
    signs = np.stack([np.ones_like(z), -np.ones_like(z)], axis=0)
    log_abs_dev, _ = logsumexp(stacked, axis=0, b=signs, return_sign=True)  # (..., n)
    log_var_z = logsumexp(2 * log_abs_dev, axis=-1) - np.log(n)  # (...)
    safe = np.where(lmbda == 0, 1.0, lmbda)[..., 0]
    log_var = log_var_z - 2 * np.log(np.abs(safe))
    log_var_at_zero = np.log(np.var(log_x, axis=-1))  # lambda = 0: psi = log(x)
    return np.where(lmbda[..., 0] == 0, log_var_at_zero, log_var)


def power_log_likelihood(x, lmbda, method="yeo-johnson"):
    r"""The profile log-likelihood of ``lmbda``: how normal the transformed data looks, up to a constant.

    If :math:`\psi(x, \lambda)` is exactly normal with its own mean and variance, the log-likelihood of
    the original data, maximized over the mean and variance, is (up to a constant)

    .. math:: \ell(\lambda) = -\frac{n}{2} \log \hat\sigma^2_\lambda + (\lambda - 1) \sum_i s(x_i)

    where :math:`\hat\sigma^2_\lambda` is the biased variance of the transformed data and the second term is
    the log of the Jacobian, with :math:`s(x) = \log x` (Box-Cox) or
    :math:`s(x) = \mathrm{sign}(x) \log(1 + |x|)` (Yeo-Johnson). The maximum-likelihood lambda maximizes it.
    Equal to ``scipy.stats.boxcox_llf`` / ``yeojohnson_llf``.

    Parameters
    ----------
    x : array-like of shape (n_samples,)
        One feature; NaN is ignored.
    lmbda : float or array-like
        One or many lambdas (vectorised: pass a grid to plot the curve).
    method : {'yeo-johnson', 'box-cox'}, default='yeo-johnson'

    Returns
    -------
    float or ndarray of the shape of ``lmbda``

    Raises
    ------
    ValueError
        If x is not 1-D, or holds non-positive values for Box-Cox.

    Examples
    --------
    >>> x = np.random.default_rng(0).lognormal(size=200)
    >>> grid = np.linspace(-1, 1, 201)
    >>> llf = power_log_likelihood(x, grid, "box-cox")
    >>> print(f"{grid[np.argmax(llf)]:.2f}")  # log-normal data: close to the log (lambda = 0)
    0.08
    >>> print(f"{fit_power_lambdas(x, 'box-cox')[0]:.4f}")  # the optimizer finds the peak between grid points
    0.0764
    """
    method = _check_method(method)
    x = _check_X(x, "x")
    if x.ndim != 1:
        raise ValueError(f"x must be 1-D (one feature), got shape {x.shape}; pass one column, X[:, j]")
    x = x[~np.isnan(x)]
    if method == "box-cox":
        _check_positive(x.reshape(-1, 1))
    scalar = np.ndim(lmbda) == 0
    x_b, lmbda_b = _lambda_grid(x, lmbda)  # (1,..., n), (..., 1)
    n = x.shape[0]
    with np.errstate(all="ignore"):
        if method == "box-cox":
            log_x = np.log(x_b)
            llf = (lmbda_b[..., 0] - 1) * np.sum(log_x, axis=-1) - n / 2 * _log_var_box_cox(log_x, lmbda_b)
        else:
            lmbdas = np.asarray(lmbda, dtype=np.float64)
            transformed = np.stack([yeo_johnson(x, v) for v in lmbdas.ravel()]).reshape(lmbdas.shape + (n,))
            var = np.var(transformed, axis=-1)
            # A variance below the smallest normal float means the data became constant: log(0) = -inf.
            log_var = np.where(var >= np.finfo(np.float64).smallest_normal, np.log(var), -np.inf)
            jacobian = np.sum(np.sign(x) * np.log1p(np.abs(x)))
            llf = -n / 2 * log_var + (lmbdas - 1) * jacobian
    return float(llf) if scalar else llf


def _check_positive(Xf: np.ndarray) -> None:
    """Box-Cox needs x > 0: name the first feature that is not, with its minimum."""
    with _ignoring_empty_slices():
        minima = np.nanmin(Xf, axis=0)
    bad = np.flatnonzero(minima <= 0)
    if bad.size:
        j = int(bad[0])
        count = int(np.sum(Xf[:, j] <= 0))
        raise ValueError(
            f"Box-Cox needs strictly positive data, but feature {j} has minimum {minima[j]:.6g} "
            f"({count} value{'s' if count > 1 else ''} <= 0); use method='yeo-johnson', or shift the "
            f"feature to be positive first"
        )


def _fit_lambda(x: np.ndarray, method: str, feature: int) -> float:
    """The maximum-likelihood lambda of one feature, found like scipy (and so scikit-learn) finds it."""
    from scipy import optimize  # scipy comes with scikit-learn; imported here to keep `import` fast

    x = x[~np.isnan(x)]
    if x.size == 0:
        raise ValueError(f"feature {feature} is all NaN: no lambda can be fitted; drop that feature")

    def negative_llf(lmbda):
        llf = power_log_likelihood(x, lmbda, method)
        return np.inf if np.isinf(llf) else -llf  # an infinite likelihood means a degenerate fit: reject it

    if method == "box-cox":
        if np.all(x == x[0]):
            raise ValueError(
                f"Box-Cox cannot fit feature {feature}: it is constant (every value is {x[0]:.6g}), so the "
                "likelihood has no maximum; drop the feature or use method='yeo-johnson'"
            )
        # scipy.stats.boxcox: Brent's method, starting from the bracket (-2, 2).
        with np.errstate(invalid="ignore", over="ignore"):  # as scikit-learn: a trial lambda may overflow
            return float(optimize.brent(negative_llf, brack=(-2.0, 2.0)))
    if np.all(x == 0):
        return 1.0
    # scipy.stats.yeojohnson: a bounded search, with bounds that keep the transformed data from
    # overflowing or underflowing for values up to 20 times the largest one seen.
    log1p_max_x = np.log1p(20 * np.max(np.abs(x)))
    log_eps = np.log(_EPS)
    log_tiny = (np.log(np.finfo(np.float64).tiny) - log_eps) / 2
    log_max = (np.log(np.finfo(np.float64).max) + log_eps) / 2
    lower, upper = log_tiny / log1p_max_x, log_max / log1p_max_x
    if np.all(x < 0):
        lower, upper = 2 - upper, 2 - lower
    elif np.any(x < 0):
        lower, upper = max(2 - upper, lower), min(2 - lower, upper)
    with np.errstate(invalid="ignore", over="ignore"):  # as scikit-learn: a trial lambda may overflow
        return float(optimize.fminbound(negative_llf, lower, upper, xtol=1.48e-08))


def fit_power_lambdas(X, method="yeo-johnson"):
    """The maximum-likelihood lambda of each feature, as :func:`power_transform` (and scikit-learn) fits them.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or (n_samples,)
        NaN is ignored.
    method : {'yeo-johnson', 'box-cox'}, default='yeo-johnson'

    Returns
    -------
    lambdas : ndarray of shape (n_features,)

    Raises
    ------
    ValueError
        For an unknown method; for Box-Cox, on a feature with a value <= 0 (named, with its minimum) or a
        constant feature; on a feature that is all NaN.

    Notes
    -----
    Each lambda maximizes :func:`power_log_likelihood`. A Yeo-Johnson feature that is constant (variance
    within rounding error of 0) gets lambda = 1, the identity, as in scikit-learn.

    Examples
    --------
    >>> X = np.random.default_rng(0).lognormal(size=(500, 2))
    >>> print(np.round(fit_power_lambdas(X, "box-cox"), 2))  # log-normal data: close to 0, the log
    [ 0.06 -0.01]
    """
    method = _check_method(method)
    X = _check_X(X)
    Xf = _to_features(X, 0)  # (n_samples, n_features)
    if method == "box-cox":
        _check_positive(Xf)
    with _ignoring_empty_slices():
        mean = np.nanmean(Xf, axis=0)
        var = np.nanvar(Xf, axis=0)
    n_seen = np.sum(~np.isnan(Xf), axis=0)
    constant = _is_constant_feature(var, mean, n_seen)
    lambdas = np.empty(Xf.shape[1])
    for j in range(Xf.shape[1]):
        if method == "yeo-johnson" and constant[j]:
            lambdas[j] = 1.0  # the identity: a constant feature has nothing to make normal
        else:
            lambdas[j] = _fit_lambda(Xf[:, j], method, j)
    return lambdas


def _power_columns(Xf: np.ndarray, lambdas: np.ndarray, method: str) -> np.ndarray:
    transform = box_cox if method == "box-cox" else yeo_johnson
    out = np.empty_like(Xf)
    for j, lmbda in enumerate(lambdas):
        # Yeo-Johnson with lambda = 1 is the identity; skipping it keeps constant features bit-exact.
        out[:, j] = Xf[:, j] if (method == "yeo-johnson" and lmbda == 1.0) else transform(Xf[:, j], lmbda)
    return out


def power_transform(X, method="yeo-johnson", *, standardize=True, return_params=False):
    r"""Make each feature more Gaussian-like with a power transform fitted by maximum likelihood.

    For each feature, the lambda that maximizes :func:`power_log_likelihood` is found
    (:func:`fit_power_lambdas`), the feature is transformed with :func:`yeo_johnson` or :func:`box_cox`,
    and, with ``standardize``, z-scored.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or (n_samples,)
        NaN is ignored when fitting and stays NaN.
    method : {'yeo-johnson', 'box-cox'}, default='yeo-johnson'
        Box-Cox needs strictly positive data; Yeo-Johnson takes any real data.
    standardize : bool, default=True
        Z-score the result (a constant feature gets scale 1).
    return_params : bool, default=False
        Also return the fitted :class:`PowerParams` (``params.lambdas``).

    Returns
    -------
    X_transformed : ndarray of the shape of X, float64
    params : PowerParams, only with ``return_params=True``

    Raises
    ------
    ValueError
        Unknown method; Box-Cox on a feature with a value <= 0 (the message names the feature and its
        minimum); Box-Cox on a constant feature.

    Notes
    -----
    Reduces skew; does not remove outliers; monotonic, so the order of the values is kept. Unlike
    scikit-learn's ``power_transform``, 1-D input (one feature) is accepted.

    Examples
    --------
    >>> X = np.random.default_rng(0).lognormal(size=(500, 1))
    >>> Xt, params = power_transform(X, "box-cox", return_params=True)
    >>> print(f"lambda {params.lambdas[0]:.3f}, mean {Xt.mean():.3f}, std {Xt.std():.3f}")
    lambda 0.046, mean 0.000, std 1.000
    """
    method = _check_method(method)
    standardize = _check_bool(standardize, "standardize")
    return_params = _check_bool(return_params, "return_params")
    X = _check_X(X)
    Xf = _to_features(X, 0)  # (n_samples, n_features)
    lambdas = fit_power_lambdas(Xf, method)
    Xt = _power_columns(Xf, lambdas, method)
    standardizer = None
    if standardize:
        # As scikit-learn's StandardScaler: a feature whose variance is only rounding error gets scale 1.
        mean, var, n_seen = _corrected_mean_var(Xt)
        std = _handle_zeros_in_scale(np.sqrt(var), constant_mask=_is_constant_feature(var, mean, n_seen))
        standardizer = StandardParams(mean, std, Xf.shape[1], 0)
        Xt = standardizer.transform(Xt)
    params = PowerParams(method, lambdas, standardizer, 0)
    out = _from_features(Xt, X.ndim, 0)
    return (out, params) if return_params else out
