"""Offline data for the training experiments: scikit-learn's bundled datasets, split and standardized once.

Nothing is downloaded: ``load_digits`` (1,797 images of 8x8 pixels, 10 classes), ``load_breast_cancer``
(569 samples, 30 features, 2 classes) and ``load_wine`` (178 samples, 13 features, 3 classes) ship inside
scikit-learn.

Each split is stratified and seeded, so the same arguments give the same tensors on every machine. Features are
standardized with statistics of the **training** split only: computing them on all the data would leak the
validation set into training (the scalers of Part 1 make the same point). A feature that is constant on the
training split (several corner pixels of the digits are always 0) keeps scale 1, as scikit-learn's
``StandardScaler`` does, instead of dividing by zero.

The arrays are prepared once per argument set (``functools.lru_cache``); each call returns fresh tensors, so a
caller that modifies them in place cannot corrupt the next caller's data.
"""

from __future__ import annotations

import functools
import numbers

import numpy as np
import torch

__all__ = ["load_digits_split", "load_tabular_split", "TABULAR_DATASETS"]

#: Names accepted by :func:`load_tabular_split` (bundled classification sets of scikit-learn).
TABULAR_DATASETS = ("breast_cancer", "wine")


def _check_split_args(val_fraction, seed) -> tuple[float, int]:
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, numbers.Real):
        raise TypeError(f"val_fraction must be a float in (0, 1), got {type(val_fraction).__name__}")
    if not 0.0 < float(val_fraction) < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}; try val_fraction=0.25")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise TypeError(f"seed must be a non-negative int, got {seed!r}; try seed=0")
    return float(val_fraction), int(seed)


def _standardize(X_train: np.ndarray, X_val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Z-score both splits with the training split's per-feature mean and (biased) std."""
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    # A constant feature carries no information; scale 1 leaves it at 0 instead of producing NaN.
    std = np.where(std < 1e-12, 1.0, std)
    return (X_train - mean) / std, (X_val - mean) / std


@functools.lru_cache(maxsize=8)
def _prepared(name: str, val_fraction: float, seed: int):
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    loader = {
        "digits": datasets.load_digits,
        "breast_cancer": datasets.load_breast_cancer,
        "wine": datasets.load_wine,
    }[name]
    bunch = loader()
    X = bunch.data.astype(np.float64)
    y = bunch.target.astype(np.int64)
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=val_fraction, random_state=seed, stratify=y
    )
    X_train, X_val = _standardize(X_train, X_val)
    arrays = (X_train.astype(np.float32), y_train, X_val.astype(np.float32), y_val)
    for array in arrays:
        array.setflags(write=False)  # the cached copy is shared; callers get copies
    return arrays


def load_digits_split(val_fraction: float = 0.25, seed: int = 0, flat: bool = False):
    """The digits images, split into train and validation and standardized with training statistics.

    Parameters
    ----------
    val_fraction : float, default=0.25
        Fraction of the 1,797 images held out for validation (stratified by class).
    seed : int, default=0
        Seed of the split.
    flat : bool, default=False
        Return ``(N, 64)`` feature vectors (for an MLP) instead of ``(N, 1, 8, 8)`` images (for a CNN).

    Returns
    -------
    X_train, y_train, X_val, y_val : torch.Tensor
        Float32 inputs and int64 labels in ``0..9``. Each pixel is standardized with the mean and biased
        standard deviation of that pixel over the training split; pixels constant on the training split keep
        scale 1.

    Shape
    -----
    ``X_*``: ``(N, 1, 8, 8)``, or ``(N, 64)`` when ``flat``; ``y_*``: ``(N,)``. With the defaults, 1,347
    training and 450 validation images.

    Examples
    --------
    >>> X_train, y_train, X_val, y_val = load_digits_split()
    >>> tuple(X_train.shape), tuple(X_val.shape), X_train.dtype, y_train.dtype
    ((1347, 1, 8, 8), (450, 1, 8, 8), torch.float32, torch.int64)
    >>> round(float(X_train.mean()), 4), round(float(X_val.mean()), 2)  # train is centred; val only nearly
    (0.0, 0.01)
    """
    val_fraction, seed = _check_split_args(val_fraction, seed)
    X_train, y_train, X_val, y_val = _prepared("digits", val_fraction, seed)
    X_train, X_val = torch.tensor(X_train), torch.tensor(X_val)
    if not flat:
        X_train = X_train.reshape(-1, 1, 8, 8)  # (N, 64) -> (N, C=1, H=8, W=8)
        X_val = X_val.reshape(-1, 1, 8, 8)
    return X_train, torch.tensor(y_train), X_val, torch.tensor(y_val)


def load_tabular_split(name: str = "breast_cancer", val_fraction: float = 0.25, seed: int = 0):
    """A bundled tabular classification set, split and standardized with training statistics.

    Parameters
    ----------
    name : {"breast_cancer", "wine"}, default="breast_cancer"
        ``"breast_cancer"``: 569 samples, 30 features whose scales differ by four orders of magnitude, 2 classes.
        ``"wine"``: 178 samples, 13 features, 3 classes.
    val_fraction : float, default=0.25
        Fraction held out for validation (stratified by class).
    seed : int, default=0
        Seed of the split.

    Returns
    -------
    X_train, y_train, X_val, y_val : torch.Tensor
        Float32 features of shape ``(N, F)`` and int64 labels of shape ``(N,)``.

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`TABULAR_DATASETS`.

    Examples
    --------
    >>> X_train, y_train, X_val, y_val = load_tabular_split("wine")
    >>> tuple(X_train.shape), tuple(X_val.shape), int(y_train.max()) + 1
    ((133, 13), (45, 13), 3)
    """
    if name not in TABULAR_DATASETS:
        raise ValueError(f"name must be one of {TABULAR_DATASETS}, got {name!r}; try name='breast_cancer'")
    val_fraction, seed = _check_split_args(val_fraction, seed)
    X_train, y_train, X_val, y_val = _prepared(name, val_fraction, seed)
    return torch.tensor(X_train), torch.tensor(y_train), torch.tensor(X_val), torch.tensor(y_val)
